"""Game of 24 verifier: a code gate. It checks, it never searches.

For a step: re-applies the step to the parent's numbers and confirms the
arithmetic. For a finished path: checks the answer expression strictly (uses
exactly the four numbers, equals 24).
"""

from __future__ import annotations

from treelight.engine.judges.base import Judge, JudgeContext, Verdict
from treelight.engine.types import NodeView


class Game24Verifier(Judge):
    name = "game24-verifier"
    tasks = ("game24",)
    free = True
    default_role = "gate"
    description = "Checks each step's arithmetic and that a finished path makes exactly 24."

    def judge(self, nodes: list[NodeView], ctx: JudgeContext) -> list[Verdict]:
        return [self._verify(node, ctx) for node in nodes]

    def _verify(self, node: NodeView, ctx: JudgeContext) -> Verdict:
        state = node.state
        checked = "the problem itself"
        if "left" in state and node.parent_id is not None:
            parent = ctx.tree.nodes[node.parent_id]
            replay = ctx.task.apply(parent.state, node.text, "step")
            if replay.invalid:
                return Verdict(0.0, False, replay.invalid)
            if replay.state.get("left") != state["left"]:
                return Verdict(0.0, False, "the stored numbers do not follow from the step")
            checked = f"arithmetic checks; left: {' '.join(state['left'])}"
        if "answer" in state:
            return self._verify_answer(state["answer"], ctx)
        return Verdict(None, True, checked)

    def _verify_answer(self, answer: str, ctx: JudgeContext) -> Verdict:
        check = ctx.task.check_answer(answer)
        if check is None:
            return Verdict(None, None, "this task has no answer checker")
        return Verdict(1.0 if check.passed else 0.0, check.passed, check.reason)
