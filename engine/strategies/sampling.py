"""Whole-answer sampling: best-of-N and self-consistency.

Both ask for N complete solutions from the root in one expansion and never go
deeper. Best-of-N keeps the best-judged answer; self-consistency takes a
majority vote over the extracted answers (judges, if any, only remove answers
that a gate rejects before the vote).
"""

from __future__ import annotations

from collections import Counter

from treelight.engine.options import Field
from treelight.engine.strategies.base import Strategy, StrategyOptions, pending_evaluation, ranked
from treelight.engine.types import Action, Expand, Finish, NodeStatus, NodeView, TreeView


def _normalize(answer: str) -> str:
    return " ".join(answer.lower().replace(" ", "").split())


class _Sampling(Strategy):
    class Options(StrategyOptions):
        n: int = Field(8, ge=1, le=1000, description="how many whole answers are sampled")

    def mode_for(self, node: NodeView) -> str:
        return "solution" if node.parent_id is None else "step"

    def _sample_or_judge(self, tree: TreeView) -> Action | None:
        root = tree.root
        if root.status == NodeStatus.OPEN:
            return Expand(root.id, samples=int(self.params["n"]), mode="solution")
        return pending_evaluation(tree)


class BestOfN(_Sampling):
    name = "best-of-n"
    summary = "Sample N whole answers, keep the one the judges score best."
    explanation = (
        "Asks for N complete answers at once and keeps the one the judges like best. "
        "Nothing is pruned during the search: the judges only rank. Its quality is "
        "bounded by the judges' ability to spot the right answer."
    )

    def decide(self, tree: TreeView) -> Action:
        return self._sample_or_judge(tree) or self.finish(
            tree, f"best of {len(tree.kids(tree.root.id))} samples"
        )


class SelfConsistency(_Sampling):
    name = "self-consistency"
    summary = "Sample N whole answers and take a majority vote over the final answers."
    explanation = (
        "Asks for N complete answers and returns the most common final answer. "
        "Reasoning paths that reach the same answer reinforce each other; the judges "
        "only remove answers a gate rejects. No model judge is needed."
    )

    class Options(StrategyOptions):
        n: int = Field(10, ge=1, le=1000, description="how many whole answers are sampled")

    def decide(self, tree: TreeView) -> Action:
        pending = self._sample_or_judge(tree)
        if pending:
            return pending
        answered = [
            n
            for n in tree.with_status(NodeStatus.TERMINAL, NodeStatus.SOLVED)
            if n.state.get("answer")
        ]
        if not answered:
            return Finish(None, "no sample gave an answer that survived the judges")
        votes = Counter(_normalize(n.state["answer"]) for n in answered)
        winner, count = votes.most_common(1)[0]
        best = ranked([n for n in answered if _normalize(n.state["answer"]) == winner])[0]
        return Finish(
            best.id,
            f"majority vote: {count} of {len(answered)} answers agree",
            best.state["answer"],
        )
