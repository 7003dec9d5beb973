"""Whole-answer sampling: best-of-N and self-consistency.

Both ask for N complete solutions from the root in one expansion and never go
deeper. Best-of-N keeps the best-judged answer; self-consistency takes a
majority vote over the extracted answers (judges, if any, only remove answers
that a gate rejects before the vote).
"""

from __future__ import annotations

import math
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
    summary = "Sample whole answers until the majority vote is settled (at most N)."
    explanation = (
        "Asks for complete answers a few at a time and returns the most common final "
        "answer. Reasoning paths that reach the same answer reinforce each other; the "
        "judges only remove answers a gate rejects. It stops early once the vote is "
        "settled (adaptive consistency): when the samples left could not change the "
        "winner, or when the leader is ahead with the confidence asked for; the samples "
        "it saved are reported. No model judge is needed."
    )

    class Options(StrategyOptions):
        n: int = Field(10, ge=1, le=1000, description="at most this many whole answers")
        batch: int = Field(
            2, ge=1, le=1000, description="answers sampled per round (n: all at once)"
        )
        confidence: float = Field(
            0.95,
            ge=0.5,
            le=1.0,
            description="stop once the leader beats the runner-up with this probability "
            "(a Beta posterior on their share); 1 stops only when the rest cannot change it",
        )

    def decide(self, tree: TreeView) -> Action:
        root = tree.root
        drawn = len(tree.kids(root.id))
        limit = int(self.params["n"])
        if root.status == NodeStatus.OPEN:
            return Expand(root.id, samples=min(int(self.params["batch"]), limit), mode="solution")
        pending = pending_evaluation(tree)
        if pending:
            return pending
        answered = [
            n
            for n in tree.with_status(NodeStatus.TERMINAL, NodeStatus.SOLVED)
            if n.state.get("answer")
        ]
        votes = Counter(_normalize(n.state["answer"]) for n in answered)
        settled = _settled(votes, limit - drawn, float(self.params["confidence"]))
        if drawn < limit and settled is None:
            return Expand(
                root.id,
                samples=min(int(self.params["batch"]), limit - drawn),
                mode="solution",
                first_sample=drawn,
                note=f"the vote is not settled after {drawn} of {limit} samples",
            )
        if not answered:
            return Finish(None, f"no sample of {drawn} gave an answer that survived the judges")
        winner, count = votes.most_common(1)[0]
        best = ranked([n for n in answered if _normalize(n.state["answer"]) == winner])[0]
        saved = f"; stopped after {drawn} of {limit} samples ({settled})" if drawn < limit else ""
        return Finish(
            best.id,
            f"majority vote: {count} of {len(answered)} answers agree{saved}",
            best.state["answer"],
        )


def _settled(votes: Counter[str], left: int, confidence: float) -> str | None:
    """Why the vote is settled, or None: the samples left cannot change the winner,
    or the leader's lead is sure enough."""
    counts = [c for _, c in votes.most_common(2)] + [0, 0]
    first, second = counts[0], counts[1]
    if first == 0:
        return None
    if first - second > left:
        return f"the {left} left could not change the winner"
    if confidence < 1.0:
        sure = lead_probability(first, second)
        if sure >= confidence:
            return f"the leader is ahead with probability {sure:.3f} ≥ {confidence:g}"
    return None


def lead_probability(first: int, second: int) -> float:
    """P(p > 1/2) for p ~ Beta(first + 1, second + 1): how sure we are that the leader
    is the more likely answer of the two. For whole-number parameters this is a
    binomial sum: P(Binomial(first + second + 1, 1/2) <= first)."""
    trials = first + second + 1
    return sum(math.comb(trials, k) for k in range(first + 1)) / 2**trials
