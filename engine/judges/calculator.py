"""Code verifiers for numeric work: the arithmetic in each step, and the final answer.

`calculator` finds every "a op b = c" claim in a thought and recomputes the left
side exactly (engine/tasks/arithmetic.py: parsed, never eval'd). `answer`
checks a finished path with the task's own checker (for `math`, against
`--answer`). Both are gates: a wrong sum or a wrong answer prunes the node, and
the reason says what the right value is.
"""

from __future__ import annotations

from treelight.engine.judges.base import Judge, JudgeContext, Verdict
from treelight.engine.tasks.arithmetic import NotArithmetic, equations, evaluate, show, to_number
from treelight.engine.types import NodeView


class Calculator(Judge):
    name = "calculator"
    tasks = ("math",)
    free = True
    default_role = "gate"
    description = "Recomputes every 'a op b = c' in a step; a wrong result rejects the step."

    def judge(self, nodes: list[NodeView], ctx: JudgeContext) -> list[Verdict]:
        return [self._check(node.text) for node in nodes]

    @staticmethod
    def _check(text: str) -> Verdict:
        claims = equations(text)
        if not claims:
            return Verdict(None, None, "no arithmetic to check")
        for lhs, rhs in claims:
            try:
                value = evaluate(lhs)
            except NotArithmetic as error:
                return Verdict(0.0, False, f"{lhs} = {rhs}: {error}")
            if value != to_number(rhs):
                return Verdict(0.0, False, f"{lhs} = {rhs} is wrong: {lhs} = {show(value)}")
        listed = "; ".join(f"{lhs} = {rhs}" for lhs, rhs in claims)
        return Verdict(None, True, f"arithmetic checks: {listed}")


class AnswerChecker(Judge):
    name = "answer"
    tasks = ("math",)
    free = True
    default_role = "gate"
    description = "Checks a finished path's answer with the task's checker (e.g. --answer)."

    def judge(self, nodes: list[NodeView], ctx: JudgeContext) -> list[Verdict]:
        verdicts = []
        for node in nodes:
            if "answer" not in node.state:
                verdicts.append(Verdict(None, None, "not an answer yet"))
                continue
            check = ctx.task.check_answer(node.state["answer"])
            if check is None:
                verdicts.append(Verdict(None, None, "no expected answer to check against"))
            else:
                verdicts.append(
                    Verdict(1.0 if check.passed else 0.0, check.passed, check.reason, solves=True)
                )
        return verdicts
