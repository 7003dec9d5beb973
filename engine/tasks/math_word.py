"""Math word problems with a numeric answer.

Thoughts are reasoning steps, as in the open question task; a line "Answer: …"
ends a path, and its last number is the answer. With an expected answer
(`--answer VALUE`), the checker compares numbers exactly (fractions, so 0.5
equals 1/2); the `calculator` judge checks the arithmetic claimed in each step.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from treelight.engine.errors import BadArguments
from treelight.engine.options import Field
from treelight.engine.tasks.arithmetic import NotArithmetic, show, to_number
from treelight.engine.tasks.base import (
    WHOLE_ANSWER_MODES,
    AnswerCheck,
    Example,
    Shape,
    TaskOptions,
    Transition,
    prior_lines,
)
from treelight.engine.tasks.question import ANSWER, Question, reasoning_so_far
from treelight.engine.types import NodeView

# The rules a constrained step or answer is written in (MathWordProblem.shape).
ANSWER_GRAMMAR = (
    'answer ::= "Answer: " num',
    "line ::= [^\\n]+",
    'num ::= "-"? digit{1,7} ("." digit{1,2})?',
    "digit ::= " + " | ".join(f'"{d}"' for d in range(10)),
)
NUMBERS = re.compile(r"-?\$?\d+(?:,\d{3})*(?:\.\d+)?(?:/\d+)?")


def final_number(text: str) -> Fraction | None:
    """The last number in `text` ('$1,250.50' and '3/4' included), or None."""
    for token in reversed(NUMBERS.findall(text)):
        try:
            return to_number(token)
        except NotArithmetic:
            continue
    return None


class MathWordProblem(Question):
    """An open question whose answer is a number: the same thoughts and paths, with
    its own prompts, answer extraction and checker."""

    name = "math"
    example = Example(
        problem="Anna has 12 pencils and gets 5 more. How many?",
        options={"answer": "17"},
        judges="calculator,answer",
        outputs=(
            "12 + 5 = 17",
            "12 + 5 = 18",
            "17 * 2 = 34",
            "Answer: 17",
            "Answer: 18",
            "so she has 17 pencils. sure",
            "likely",
            "impossible",
            "",
            "No idea.",
        ),
    )
    description = (
        "A word problem with a numeric answer; 'Answer: N' ends a path; "
        "the expected answer (the 'answer' option) checks it, the calculator judge "
        "checks each step's arithmetic."
    )
    default_judges = ("calculator", "answer")
    default_depth = 4
    solution_max_tokens = 220

    class Options(TaskOptions):
        answer: str | None = Field(
            None,
            description="the expected answer, checked exactly (e.g. 42, 2.5 or 3/4)",
            json_schema_extra={"flag": "--answer"},
        )

    def __init__(self, problem: str, params: dict[str, Any] | None = None) -> None:
        super().__init__(problem, params)
        expected = self.params.get("answer")
        self.expected: Fraction | None = None
        if expected not in (None, ""):
            try:
                self.expected = to_number(str(expected))
            except NotArithmetic:
                raise BadArguments(
                    f"The expected answer must be a number (e.g. 42, 2.5 or 3/4), not {expected!r}."
                ) from None

    def propose_prompt(self, path: list[NodeView], priors: list[str]) -> str:
        last_step = len(path) >= self.default_depth
        ask = (
            "Now give the final answer as a line 'Answer: <number>'."
            if last_step
            else "Write the next step: one short calculation with its result. "
            "If you know the result, write a line 'Answer: <number>'."
        )
        return (
            f"Problem: {self.problem}\n{prior_lines(priors)}"
            f"Steps so far:\n{reasoning_so_far(path)}{ask}\nNext step:"
        )

    def solution_prompt(self, priors: list[str]) -> str:
        return (
            f"Problem: {self.problem}\n{prior_lines(priors)}"
            "Solve it step by step, showing each calculation. "
            "End with a line 'Answer: <number>'.\n"
        )

    def apply(self, state: dict[str, Any], thought: str, mode: str) -> Transition:
        found = ANSWER.search(thought)
        if found:
            number = final_number(found["answer"])
            if number is None:
                return Transition(invalid="math rules: the 'Answer:' line has no number")
            answer = show(number)
            return Transition(state={"answer": answer}, terminal=True, answer=answer)
        if mode == "solution":
            # A whole solution without the line: its last number is the answer, as
            # GSM8K-style evaluations read it ("… so he has 17 apples.").
            number = final_number(thought)
            if number is None:
                return Transition(invalid="math rules: no number in the solution")
            answer = show(number)
            return Transition(
                state={"answer": answer, "answer_from": "the last number (no 'Answer:' line)"},
                terminal=True,
                answer=answer,
            )
        return Transition(state={})

    def describe_path(self, path: list[NodeView]) -> str:
        return f"Problem: {self.problem}\nSteps:\n{reasoning_so_far(path)}"

    def shape(self, mode: str, path: list[NodeView], priors: list[str]) -> Shape | None:
        """A step is one line (the calculator judge checks any "a op b = c" in it), or
        "Answer: N"; on the last step, the answer line only. A whole answer is up to
        six lines of working, then "Answer: N" — always a number to check. The
        working stays the model's own words: forced into bare calculations, this
        model numbered its steps as if they were numbers ("1.15 + 5 = 16.25")."""
        if mode == "step":
            last_step = len(path) >= self.default_depth
            root = "root ::= answer" if last_step else "root ::= answer | line"
        elif mode in WHOLE_ANSWER_MODES:
            root = 'root ::= (line "\\n"){0,6} answer'
        else:
            return None
        return Shape(grammar="\n".join([root, *ANSWER_GRAMMAR]))

    def check_answer(self, answer: str) -> AnswerCheck | None:
        if self.expected is None:
            return None
        got = final_number(answer)
        if got is None:
            return AnswerCheck(False, f"no number in the answer {answer!r}")
        if got == self.expected:
            return AnswerCheck(True, f"{show(got)} is the expected answer")
        # The expected value is not named: this reason is feedback a model may read
        # (self-refine, evolve), and naming it would hand over the answer.
        return AnswerCheck(False, f"{show(got)} is not the expected answer")
