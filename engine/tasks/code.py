"""Write a Python function that passes given tests.

Every candidate is a whole program (a model's answer, possibly wrapped in a
Markdown code fence). The task only extracts the code and checks that it
parses — parsing runs nothing. Running it is the `code-tests` judge's job,
inside the sandbox (engine/judges/sandbox.py), never here.

The tests (`--tests FILE.py`) are plain `assert` lines, pytest-style `test_*`
functions, or both — or, as HumanEval ships them, a `check(candidate)` function
called with the function named by the `entry_point` option. They are stored
with the run, so the run is complete without the file. `setup` is code run
before the candidate (MBPP's `test_setup_code`, HumanEval's imports).
"""

from __future__ import annotations

import ast
import re
from typing import Any

from treelight.engine.errors import BadArguments
from treelight.engine.options import Field
from treelight.engine.tasks.base import (
    WHOLE_ANSWER_MODES,
    Example,
    Shape,
    Task,
    TaskOptions,
    Transition,
    prior_lines,
)
from treelight.engine.types import NodeView

FENCE = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(?P<code>.*?)(?:```|\Z)", re.DOTALL)
# A fenced block that opens with a definition or an import and holds no backtick.
CODE_GRAMMAR = (
    'root ::= "```python\\n" start [^`]+ "```"\nstart ::= "def " | "import " | "from " | "class "'
)
LOOKS_LIKE_CODE = re.compile(r"^\s*(def |class |import |from \w+ import )", re.MULTILINE)
MAX_CODE_CHARS = 20_000


def extract_code(output: str) -> str | None:
    """The code in a model's answer: the first fenced block, else the whole text when
    it reads as Python; None when there is none."""
    fenced = FENCE.search(output)
    if fenced:
        return fenced["code"].strip("\n") or None
    if LOOKS_LIKE_CODE.search(output):
        return output.strip("\n")
    return None


def test_names(tests: str, entry_point: str | None = None) -> list[str]:
    """What the code-tests judge counts as tests, in file order: each top-level
    assert ("assert on line N") and each test_* function; then, when the tests
    define check(candidate) and an entry point is named, "check(NAME)"."""
    module = ast.parse(tests)
    names = [
        f"assert on line {n.lineno}" if isinstance(n, ast.Assert) else n.name
        for n in module.body
        if isinstance(n, ast.Assert)
        or (isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name.startswith("test"))
    ]
    if entry_point and defines_check(module):
        names.append(f"check({entry_point})")
    return names


def defines_check(module: ast.Module) -> bool:
    return any(isinstance(n, ast.FunctionDef) and n.name == "check" for n in module.body)


class CodeTask(Task):
    name = "code"
    # Programs that pass, fail, crash or do not parse, in fences or not, and chatter.
    example = Example(
        problem="Write add(a, b) that returns the sum.",
        options={"tests": "assert add(1, 2) == 3\n"},
        judges="code-tests",
        outputs=(
            "```python\ndef add(a, b):\n    return a + b\n```",
            "def add(a, b):\n    return a - b",
            "```python\ndef add(a b):\n```",
            "I would write a function.",
            "```\nraise SystemExit(3)\n```",
            "The add function has a bug: it subtracts.",
            "sure",
        ),
        cheap=False,
    )
    description = (
        "Write a Python function that passes the given tests (the 'tests' option: "
        "asserts, pytest-style test functions, or HumanEval's check(candidate) with the "
        "'entry_point' option); the code-tests judge runs them in the sandbox."
    )
    default_judges = ("code-tests",)
    default_depth = 2
    # A whole program: room for a real function (a HumanEval reference solution with
    # its prompt is up to ~900 tokens).
    step_max_tokens = 1024
    solution_max_tokens = 1024
    chat = True

    class Options(TaskOptions):
        tests: str | None = Field(
            None,
            description="the tests the code must pass: plain asserts or test_* functions",
            json_schema_extra={"flag": "--tests", "from_file": True, "multiline": True},
        )
        show_tests: bool = Field(True, description="show the tests to the model in the prompt")
        entry_point: str | None = Field(
            None,
            pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
            description="the function the tests' check(candidate) is called with (HumanEval)",
        )
        setup: str | None = Field(
            None,
            description="code run before the candidate, e.g. imports (MBPP's test_setup_code)",
            json_schema_extra={"multiline": True},
        )

    def __init__(self, problem: str, params: dict[str, Any] | None = None) -> None:
        super().__init__(problem, params)
        if not self.problem:
            raise BadArguments(
                "Say what the function must do in Problem "
                '(on the command line, --problem "Write add(a, b) ...").'
            )
        self.tests = str(self.params.get("tests") or "")
        if not self.tests.strip():
            raise BadArguments(
                "The code task needs tests (the option 'tests'; on the command line "
                "--tests FILE.py): plain asserts or test_* functions."
            )
        self.entry_point = self.params.get("entry_point") or None
        self.setup = str(self.params.get("setup") or "")
        try:
            module = ast.parse(self.tests)
            names = test_names(self.tests, self.entry_point)
        except SyntaxError as error:
            raise BadArguments(
                f"The tests do not parse: line {error.lineno}: {error.msg}."
            ) from None
        if not names and defines_check(module):
            raise BadArguments(
                "The tests define check(candidate): name the function it checks with "
                "--task-option entry_point=NAME."
            )
        if not names:
            raise BadArguments(
                "The tests have no assert, no test_* function and no check(candidate): "
                "nothing to run."
            )
        try:
            ast.parse(self.setup)
        except SyntaxError as error:
            raise BadArguments(
                f"The setup code does not parse: line {error.lineno}: {error.msg}."
            ) from None

    def initial_state(self) -> dict[str, Any]:
        return {}

    def _ask(self, priors: list[str]) -> str:
        shown = (
            f"It must pass these tests:\n```python\n{self.tests.strip()}\n```\n"
            if self.params["show_tests"]
            else ""
        )
        return (
            f"Task: {self.problem}\n{shown}{prior_lines(priors)}"
            "Reply with the complete Python code in one ```python block.\n"
        )

    def propose_prompt(self, path: list[NodeView], priors: list[str]) -> str:
        if len(path) > 1:  # improving on an earlier attempt
            return self.revise_prompt(path[-1].text, "", priors)
        return self._ask(priors)

    def solution_prompt(self, priors: list[str]) -> str:
        return self._ask(priors)

    def parse_candidates(self, output: str, mode: str) -> list[str]:
        return [output.strip()] if output.strip() else []

    def apply(self, state: dict[str, Any], thought: str, mode: str) -> Transition:
        code = extract_code(thought)
        if code is None:
            return Transition(invalid="code rules: no Python code in the answer")
        code = code[:MAX_CODE_CHARS]
        try:
            ast.parse(code)
        except SyntaxError as error:
            return Transition(
                invalid=f"code rules: SyntaxError at line {error.lineno}: {error.msg}"
            )
        return Transition(state={"answer": code}, terminal=True, answer=code)

    def describe_path(self, path: list[NodeView]) -> str:
        return f"Task: {self.problem}\nCode:\n{path[-1].text}\n"

    def shape(self, mode: str, path: list[NodeView], priors: list[str]) -> Shape | None:
        """An answer is one fenced Python block and nothing else: no prose around it,
        no second block (CODE_GRAMMAR). What the code says is the model's; the tests
        judge it."""
        if mode == "step" or mode in WHOLE_ANSWER_MODES:
            return Shape(grammar=CODE_GRAMMAR)
        return None
