"""The math and code tasks, their verifiers, and their command-line options."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from tests.conftest import node_view
from treelight.engine.cli import main
from treelight.engine.errors import BadArguments
from treelight.engine.judges.calculator import AnswerChecker, Calculator
from treelight.engine.judges.code_tests import CodeTests
from treelight.engine.tasks import make_task
from treelight.engine.tasks.arithmetic import equations
from treelight.engine.tasks.code import extract_code
from treelight.engine.tasks.math_word import final_number
from treelight.engine.types import NodeView

ADD_TESTS = """import pytest

assert add(1, 2) == 3


def test_negative():
    assert add(-1, 1) == 0


def test_floats():
    assert add(0.1, 0.2) == pytest.approx(0.3)


def test_strings_are_refused():
    with pytest.raises(TypeError):
        add("a", 1)
"""


def node(text: str, state: dict | None = None) -> NodeView:
    return node_view(text=text, state=state or {})


class Context:
    def __init__(self, task: object) -> None:
        self.task = task


# --- math -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("Answer: 17", Fraction(17)),
        ("So she has $1,250.50 left.", Fraction("1250.5")),
        ("3/4 of the cake", Fraction(3, 4)),
        ("It is -3 degrees", Fraction(-3)),
        ("no number here", None),
    ],
)
def test_the_final_number_is_extracted(text: str, number: Fraction | None) -> None:
    assert final_number(text) == number


def test_math_answers_are_checked_exactly_without_naming_the_expected_one() -> None:
    task = make_task("math", "Anna has 12 pencils and gets 5 more. How many?", {"answer": "17"})
    step = task.apply({}, "12 + 5 = 17\nAnswer: 17 pencils", "step")
    assert step.terminal and step.answer == "17"
    assert task.check_answer("17.0") == task.check_answer("17")
    assert task.check_answer("17") is not None and task.check_answer("17").passed  # type: ignore[union-attr]
    wrong = task.check_answer("18")
    assert wrong is not None and not wrong.passed and "17" not in wrong.reason
    # A whole solution without the line: the last number is the answer.
    solution = task.apply({}, "12 + 5 = 17, so she has 17 pencils.", "solution")
    assert solution.answer == "17" and solution.state["answer_from"].startswith("the last")
    assert task.apply({}, "I do not know.", "solution").invalid


def test_math_needs_a_numeric_expected_answer() -> None:
    with pytest.raises(BadArguments, match="expected answer must be a number"):
        make_task("math", "How many?", {"answer": "seventeen"})


def test_the_calculator_finds_and_recomputes_each_claim() -> None:
    assert equations("1. 12 - 5 = 7 pencils; then 7 x 2 = 14 and 1,200 + 800 = 2,000") == [
        ("12 - 5", "7"),
        ("7 x 2", "14"),
        ("1200 + 800", "2000"),
    ]
    calculator = Calculator()
    ok, wrong, none, zero = calculator.judge(
        [
            node("12 + 5 = 17 and 17 * 2 = 34"),
            node("First 12 + 5 = 18, then 18 - 1 = 17"),
            node("Let us think about it."),
            node("5 / 0 = 3"),
        ],
        Context(None),  # type: ignore[arg-type]
    )
    assert ok.passed is True and "12 + 5 = 17" in ok.rationale
    assert wrong.passed is False and wrong.rationale == "12 + 5 = 18 is wrong: 12 + 5 = 17"
    assert none.passed is None
    assert zero.passed is False and "division by zero" in zero.rationale


def test_the_answer_judge_solves_with_the_tasks_checker() -> None:
    task = make_task("math", "How many?", {"answer": "17"})
    right, wrong, step = AnswerChecker().judge(
        [node("Answer: 17", {"answer": "17"}), node("Answer: 16", {"answer": "16"}), node("x")],
        Context(task),  # type: ignore[arg-type]
    )
    assert right.passed and right.solves
    assert wrong.passed is False
    assert step.passed is None


# --- code -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "code"),
    [
        ("Here:\n```python\ndef f():\n    return 1\n```\nDone.", "def f():\n    return 1"),
        ("```\ndef f(): pass\n```", "def f(): pass"),
        ("def f(x):\n    return x\n", "def f(x):\n    return x"),
        ("```python\ndef f(): pass", "def f(): pass"),  # cut off before the closing fence
        ("I cannot help with that.", None),
    ],
)
def test_code_is_extracted_from_a_fence_or_the_whole_answer(output: str, code: str | None) -> None:
    assert extract_code(output) == code


def code_verdicts(*outputs: str) -> list:
    task = make_task("code", "Write add(a, b).", {"tests": ADD_TESTS})
    nodes = []
    for output in outputs:
        transition = task.apply({}, output, "solution")
        assert transition.invalid is None, transition.invalid
        nodes.append(node(output, transition.state))
    return CodeTests(seconds=5).judge(nodes, Context(task))  # type: ignore[arg-type]


def test_code_tests_pass_fail_and_say_which_assertion_failed() -> None:
    good, off_by_one, crash = code_verdicts(
        "def add(a, b):\n    return a + b",
        "def add(a, b):\n    return a + b + (1 if a < 0 else 0)",
        "def add(a, b):\n    return a + b\n\nraise RuntimeError('boom')",
    )
    assert good.passed is True and good.solves and good.score == 1.0
    assert good.rationale.startswith("all 4 tests passed")
    assert off_by_one.passed is False and off_by_one.score == 0.75
    assert off_by_one.rationale == (
        "3 of 4 tests passed; test_negative failed: tests.py line 7: "
        "assert add(-1, 1) == 0 -> AssertionError; add(-1, 1) gave 1"
    )
    assert crash.passed is False
    assert "the code fails to load: solution.py line 4" in crash.rationale
    assert "RuntimeError: boom" in crash.rationale


@pytest.mark.slow
def test_code_that_loops_exits_early_or_fakes_a_pass_fails() -> None:
    loop, early, fake = code_verdicts(
        "def add(a, b):\n    while True:\n        pass\n\nadd(1, 2)",
        "import os\nos._exit(0)",
        "import sys\nprint('{\"test_negative\": null}')\nprint('all 4 tests passed')\n"
        "def add(a, b):\n    return 0",
    )
    assert loop.passed is False and "wall-clock limit" in loop.rationale
    assert early.passed is False and "before the tests could report" in early.rationale
    assert fake.passed is False and fake.rationale.startswith("1 of 4 tests passed")


def test_code_answers_that_do_not_parse_are_invalid_with_the_line() -> None:
    task = make_task("code", "Write add(a, b).", {"tests": ADD_TESTS})
    broken = task.apply({}, "```python\ndef add(a b):\n    return a\n```", "solution")
    assert broken.invalid == "code rules: SyntaxError at line 1: invalid syntax"
    assert task.apply({}, "No code from me.", "solution").invalid == (
        "code rules: no Python code in the answer"
    )


def test_the_code_task_needs_usable_tests() -> None:
    with pytest.raises(BadArguments, match="--tests FILE.py"):
        make_task("code", "Write add.", {})
    with pytest.raises(BadArguments, match="do not parse"):
        make_task("code", "Write add.", {"tests": "def test_x(:\n"})
    with pytest.raises(BadArguments, match="nothing to run"):
        make_task("code", "Write add.", {"tests": "x = 1\n"})


# --- the command line ---------------------------------------------------------------


def cli_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    code = main(list(args))
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip().startswith("{") else {}


def test_cli_math_with_answer_finishes_solved(
    engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "outputs.json"
    script.write_text(json.dumps(["12 + 5 = 18\nAnswer: 18", "12 + 5 = 17\nAnswer: 17"]))
    code, result = cli_json(
        capsys,
        *("run", "--task", "math", "--answer", "17", "--strategy", "best-of-n"),
        *("--param", "n=2", "--backend", "scripted", "--script", str(script), "--json"),
        *("--problem", "Anna has 12 pencils and gets 5 more. How many?"),
    )
    assert code == 0 and result["answer"] == "17" and result["status"] == "done"
    assert main(["show", str(result["run_id"])]) == 0
    shown = capsys.readouterr().out
    assert "rejected by calculator: 12 + 5 = 18 is wrong: 12 + 5 = 17" in shown
    assert "✓ 17 is the expected answer" in shown


@pytest.mark.parametrize("strategy", ["mcts", "refine", "evolve"])
def test_cli_code_with_tests_runs_each_new_strategy(
    engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str], strategy: str
) -> None:
    tests = tmp_path / "test_add.py"
    tests.write_text(ADD_TESTS)
    script = tmp_path / "outputs.json"
    wrong, right = "def add(a, b):\n    return a - b", "def add(a, b):\n    return a + b"
    script.write_text(json.dumps([wrong, f"```python\n{right}\n```"] * 10))
    code, result = cli_json(
        capsys,
        *("run", "--task", "code", "--tests", str(tests), "--strategy", strategy),
        *("--backend", "scripted", "--script", str(script), "--json", "--max-calls", "12"),
        *("--problem", "Write add(a, b) that returns the sum."),
    )
    assert code == 0, result
    assert result["answer"] == right and result["status"] == "done"


def test_cli_refuses_task_options_for_the_wrong_task(
    engine: Engine, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["run", "--task", "question", "--problem", "Hi?", "--answer", "3"]) == 2
    assert "--answer is for --task math" in capsys.readouterr().err
    missing = tmp_path / "nope.py"
    assert main(["run", "--task", "code", "--problem", "Write f.", "--tests", str(missing)]) == 2
    assert "Cannot read --tests" in capsys.readouterr().err


def test_each_top_level_assert_counts_as_a_test() -> None:
    tests = "assert add(1, 2) == 3\nassert add(2, 2) == 4\n"
    task = make_task("code", "Write add(a, b).", {"tests": tests})
    nodes = [
        node(code, task.apply({}, code, "solution").state)
        for code in ("def add(a, b):\n    return a + b", "def add(a, b):\n    return 3")
    ]
    right, constant = CodeTests(seconds=5).judge(nodes, Context(task))  # type: ignore[arg-type]
    assert right.passed and right.rationale.startswith("all 2 tests passed")
    assert constant.passed is False and constant.score == 0.5
    assert constant.rationale.startswith(
        "1 of 2 tests passed; assert on line 2 failed: tests.py line 2: assert add(2, 2) == 4"
    )
    one = make_task("code", "Write add(a, b).", {"tests": "assert add(1, 2) == 3\n"})
    [single] = CodeTests(seconds=5).judge(
        [node(nodes[0].text, nodes[0].state)],
        Context(one),  # type: ignore[arg-type]
    )
    assert single.rationale.startswith("the 1 test passed")


def test_a_failing_statement_that_is_not_a_test_fails_the_candidate() -> None:
    tests = "from solution import sub\n\ndef test_add():\n    assert add(1, 2) == 3\n"
    task = make_task("code", "Write add(a, b).", {"tests": tests})
    code = "def add(a, b):\n    return a + b"
    [verdict] = CodeTests(seconds=5).judge(
        [node(code, task.apply({}, code, "solution").state)],
        Context(task),  # type: ignore[arg-type]
    )
    assert verdict.passed is False
    assert "line 1 failed" in verdict.rationale and "ImportError" in verdict.rationale
