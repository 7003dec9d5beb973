"""An open question: free-text thoughts, one per model output.

A path ends when a thought contains a line "Answer: ...". There is no checker:
answers are judged by model judges or by a person, never marked solved.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from treelight.engine.errors import BadArguments
from treelight.engine.tasks.base import Example, Task, Transition, prior_lines
from treelight.engine.types import NodeView

ANSWER = re.compile(r"^\s*answer\s*:\s*(?P<answer>.+)$", re.IGNORECASE | re.MULTILINE)
MAX_THOUGHT_CHARS = 2_000


def reasoning_so_far(path: list[NodeView]) -> str:
    steps = [n.text for n in path[1:]]
    if not steps:
        return "(none yet)\n"
    return "".join(f"Step {i + 1}: {s}\n" for i, s in enumerate(steps))


class Question(Task):
    name = "question"
    example = Example(
        problem="What is the capital of France?",
        judges="value:samples=2",
        outputs=(
            "Paris is the capital.",
            "Think about geography.",
            "Answer: Paris",
            "Answer: Lyon",
            "",
            "It is a city in France. sure",
            "likely correct",
            "The best choice is 1",
            "impossible",
            "Answer: paris",
        ),
    )
    description = "An open question answered step by step; a line 'Answer: ...' ends a path."
    default_judges: ClassVar[tuple[str, ...]] = ("value",)
    default_depth = 3
    step_max_tokens = 80
    solution_max_tokens = 200
    stop = ("\n\n",)
    chat = True

    def __init__(self, problem: str, params: dict[str, Any] | None = None) -> None:
        super().__init__(problem, params)
        if not self.problem:
            raise BadArguments(
                'The question is empty: write it in Problem (on the command line, --problem "...").'
            )

    def initial_state(self) -> dict[str, Any]:
        return {}

    def propose_prompt(self, path: list[NodeView], priors: list[str]) -> str:
        last_step = len(path) >= self.default_depth
        ask = (
            "Now give the final answer as a line 'Answer: ...'."
            if last_step
            else "Write the next step of reasoning in one or two sentences. "
            "If you already know the answer, write a line 'Answer: ...'."
        )
        return (
            f"Question: {self.problem}\n{prior_lines(priors)}"
            f"Reasoning so far:\n{reasoning_so_far(path)}{ask}\nNext step:"
        )

    def solution_prompt(self, priors: list[str]) -> str:
        return (
            f"Question: {self.problem}\n{prior_lines(priors)}"
            "Think step by step, then end with a line 'Answer: ...'.\n"
        )

    def parse_candidates(self, output: str, mode: str) -> list[str]:
        text = output.strip()
        return [text[:MAX_THOUGHT_CHARS]] if text else []

    def apply(self, state: dict[str, Any], thought: str, mode: str) -> Transition:
        found = ANSWER.search(thought)
        if found:
            answer = found["answer"].strip()
            return Transition(state={"answer": answer}, terminal=True, answer=answer)
        if mode == "solution":
            return Transition(invalid="question rules: no 'Answer:' line in the solution")
        return Transition(state={})

    def describe_path(self, path: list[NodeView]) -> str:
        return f"Question: {self.problem}\nReasoning:\n{reasoning_so_far(path)}"
