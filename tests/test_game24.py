"""Game of 24 bookkeeping and the strict checker: exact, and never searching."""

from __future__ import annotations

from fractions import Fraction

import pytest

from treelight.engine.errors import BadArguments
from treelight.engine.tasks.game24 import Game24, check_expression


@pytest.fixture
def task() -> Game24:
    return Game24("4 9 10 13")


def test_engine_computes_numbers_left_and_ignores_the_models_list(task: Game24) -> None:
    step = task.apply(task.initial_state(), "13 - 9 = 4 (left: 1 2 3)", "step")
    assert step.invalid is None
    assert step.state["left"] == ["4", "10", "4"]
    assert step.state["model_left"] == "1 2 3"


def test_fractions_are_exact(task: Game24) -> None:
    state = task.apply(task.initial_state(), "10 / 4 = 5/2", "step").state
    assert state["left"] == ["9", "13", "5/2"]
    state = task.apply(state, "5/2 * 9 = 45/2", "step").state
    assert state["left"] == ["13", "45/2"]
    final = task.apply(state, "45/2 + 13 = 71/2", "step")
    assert final.terminal and final.answer == "((10 / 4) * 9) + 13"
    assert Fraction(eval(final.answer)) == Fraction(71, 2)  # noqa: S307 (our own text)


@pytest.mark.parametrize(
    ("thought", "reason"),
    [
        ("8 + 4 = 12", "game24 rules: 8 is not among 4 9 10 13"),
        ("4 + 9 = 14 (left: 10 13 14)", "game24 rules: miscalculation, 4 + 9 = 13, not 14"),
        ("9 + 9 = 18", "game24 rules: 9 is not among 4 9 10 13"),
        ("let us think", "game24 rules: not a step of the form 'a + b = c (left: ...)'"),
    ],
)
def test_invalid_steps_say_why(task: Game24, thought: str, reason: str) -> None:
    assert task.apply(task.initial_state(), thought, "step").invalid == reason


def test_division_by_zero_is_invalid() -> None:
    task = Game24("0 4 6 8")
    assert "divides by zero" in (
        task.apply(task.initial_state(), "4 / 0 = 0", "step").invalid or ""
    )


def test_unicode_operators_and_numbered_lines(task: Game24) -> None:
    step = task.apply(task.initial_state(), "1. 4 × 9 = 36 (left: 10 13 36)", "step")
    assert step.state["left"] == ["10", "13", "36"]


@pytest.mark.parametrize(
    ("expression", "passed", "reason"),
    [
        ("(10 - 4) * (13 - 9)", True, "= 24"),
        ("(13 - 9) * (10 - 4) = 24", True, "= 24"),
        ("4 * 6", False, "must use exactly"),
        ("(10 - 4) * (13 - 9) + 0", False, "must use exactly"),
        ("10 + 13 + 9 - 4", False, "not 24"),
        ("__import__('os')", False, "only numbers"),
        ("(10 - 4) ** (13 - 9)", False, "only numbers"),
        ("10 +", False, "not an arithmetic expression"),
    ],
)
def test_strict_checker(expression: str, passed: bool, reason: str) -> None:
    check = check_expression(expression, [Fraction(n) for n in (4, 9, 10, 13)])
    assert check.passed is passed
    assert reason in check.reason


def test_solution_mode_reads_the_answer_line(task: Game24) -> None:
    text = "13 - 9 = 4 (left: 4 4 10)\nAnswer: (10 - 4) * (13 - 9) = 24"
    step = task.apply(task.initial_state(), text, "solution")
    assert step.terminal and step.answer == "(10 - 4) * (13 - 9)"
    assert task.apply(task.initial_state(), "no answer here", "solution").invalid


@pytest.mark.parametrize("problem", ["1 2 3", "a b c d", "1 2 3 4 5", ""])
def test_bad_problems_are_clear_errors(problem: str) -> None:
    with pytest.raises(BadArguments, match="four whole numbers"):
        Game24(problem)


def test_candidate_parsing_stops_at_a_new_example(task: Game24) -> None:
    output = "4 + 9 = 13 (left: 10 13 13)\n\n10 - 4 = 6\nInput: 1 1 1 1\n1 + 1 = 2"
    assert task.parse_candidates(output, "step") == ["4 + 9 = 13 (left: 10 13 13)", "10 - 4 = 6"]
