"""Count from 0 to a target in steps of +1, +2 or +3: a task small enough to read
in one sitting, a greedy strategy, and a free judge that checks the count."""

from __future__ import annotations

import re
from typing import Any

from treelight.engine.judges.base import Judge, JudgeContext, Verdict
from treelight.engine.options import Field
from treelight.engine.strategies.base import Strategy, StrategyOptions, pending_evaluation, ranked
from treelight.engine.tasks.base import (
    AnswerCheck,
    Example,
    Task,
    TaskOptions,
    Transition,
    prior_lines,
)
from treelight.engine.types import Action, Expand, NodeView, TreeView

STEP = re.compile(r"^\s*\+\s*([123])\s*$")


class CountTo(Task):
    name = "count-to"
    description = "Count from 0 to a target in steps of +1, +2 or +3 (an example plugin)."
    default_judges = ("on-target",)
    default_depth = 8
    step_max_tokens = 24
    solution_max_tokens = 64

    class Options(TaskOptions):
        target: int = Field(5, ge=1, le=1000, description="the number to reach")

    example = Example(
        problem="Count to the target.",
        options={"target": 4},
        outputs=("+1", "+2", "+3", "+2\n+1", "+3\n+3", "+4", "go up", "", "+1\n+1\n+1\n+1"),
    )

    @property
    def target(self) -> int:
        return int(self.params["target"])

    def initial_state(self) -> dict[str, Any]:
        return {"value": 0}

    def propose_prompt(self, path: list[NodeView], priors: list[str]) -> str:
        value = path[-1].state["value"]
        return (
            f"Count from 0 to {self.target}. You are at {value}.\n{prior_lines(priors)}"
            "Write the next step on one line: +1, +2 or +3.\n"
        )

    def solution_prompt(self, priors: list[str]) -> str:
        return (
            f"Count from 0 to {self.target}.\n{prior_lines(priors)}"
            "Write every step on its own line: +1, +2 or +3.\n"
        )

    def parse_candidates(self, output: str, mode: str) -> list[str]:
        if mode != "step":
            return [output.strip()] if output.strip() else []
        return [line.strip() for line in output.splitlines() if line.strip()][:5]

    def apply(self, state: dict[str, Any], thought: str, mode: str) -> Transition:
        lines = thought.splitlines() if mode != "step" else [thought]
        value = int(state.get("value", 0))
        for line in lines:
            step = STEP.match(line)
            if step is None:
                return Transition(invalid=f"count-to rules: {line.strip()!r} is not +1, +2 or +3")
            value += int(step[1])
            if value > self.target:
                return Transition(
                    invalid=f"count-to rules: {value} passes the target {self.target}"
                )
        if value == self.target:
            return Transition(
                state={"value": value, "answer": str(value)}, terminal=True, answer=str(value)
            )
        if mode != "step":
            return Transition(
                invalid=f"count-to rules: the steps end at {value}, not {self.target}"
            )
        return Transition(state={"value": value})

    def value_prompt(self, path: list[NodeView]) -> str | None:
        return None  # the on-target judge needs no model

    def check_answer(self, answer: str) -> AnswerCheck | None:
        passed = answer.strip() == str(self.target)
        return AnswerCheck(passed, f"{answer} {'is' if passed else 'is not'} {self.target}")

    def state_key(self, state: dict[str, Any]) -> str | None:
        return str(state.get("value"))


class Greedy(Strategy):
    name = "greedy"
    summary = "Greedy: expand the best open node, one at a time (an example plugin)."
    explanation = (
        "Always expands the best-scored open node, wherever it is in the tree, and "
        "stops at the first solved node. No beam, no backtracking rule: the judges' "
        "scores alone steer it."
    )

    class Options(StrategyOptions):
        samples: int = Field(3, ge=1, le=20, description="model outputs asked for per expansion")
        steps: int | None = Field(
            None, ge=1, le=1000, description="depth of the tree (blank: the task's)"
        )

    def decide(self, tree: TreeView) -> Action:
        if tree.with_status("solved"):
            return self.finish(tree, "solved")
        evaluate = pending_evaluation(tree)
        if evaluate:
            return evaluate
        frontier = [n for n in tree.with_status("open") if n.depth < int(self.params["steps"])]
        if not frontier:
            return self.finish(tree, "nothing left to expand")
        return Expand(ranked(frontier)[0].id, samples=self.samples())


class OnTarget(Judge):
    name = "on-target"
    tasks = ("count-to",)
    free = True  # no model call: it runs before any model judge, and before a run rests
    # A weight: its score ranks the nodes (a gate's only passes or rejects them). A
    # finished count is checked by the task's `check_answer` and marked solved.
    default_role = "weight"
    description = "Scores how close a count is to the target (a free weight judge)."

    def judge(self, nodes: list[NodeView], ctx: JudgeContext) -> list[Verdict]:
        if not isinstance(ctx.task, CountTo):
            return [Verdict(None, None, "not a count-to problem") for _ in nodes]
        target = ctx.task.target
        verdicts = []
        for node in nodes:
            value = int(node.state.get("value", 0))
            verdicts.append(Verdict(value / target, None, f"at {value} of {target}"))
        return verdicts
