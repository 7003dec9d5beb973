"""The Strategy role: decides the next action from the materialized tree alone.

A strategy keeps no memory between calls. Everything it needs (which nodes are
open, scored, pruned, pinned) is in the tree, which is what makes pause,
resume after a crash, a person's edits and judge swaps work without special
cases.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from treelight.engine.options import Field, Options, validate
from treelight.engine.tasks.base import Task
from treelight.engine.types import (
    Action,
    Evaluate,
    Expand,
    Finish,
    NodeStatus,
    NodeView,
    Origin,
    Prune,
    PrunedBy,
    TreeView,
)


class StrategyOptions(Options):
    """Loop rules any strategy takes (0 = off); a strategy's Options class adds its own.

    They wrap the strategy's own decision:
    - more_if_below X, more K: when the search would end with no solution and its
      best score below X, ask for K more candidates beside the best one (at most
      `more_rounds` times, each time at another node);
    - backtrack_after N: after N expansions in a row that gave no live candidate
      (all invalid or pruned), expand the most recent good node (open, judged,
      score at least `good_score`) instead, once per node.
    """

    more_if_below: float = Field(
        0.0,
        ge=0,
        le=1,
        description="if the best score is below this when the search would end, generate more",
    )
    more: int = Field(3, ge=1, le=100, description="how many more candidates, beside the best one")
    more_rounds: int = Field(1, ge=0, le=100, description="at most this many times")
    backtrack_after: int = Field(
        0,
        ge=0,
        le=100,
        description="after this many failed expansions in a row, go back to the last good node",
    )
    good_score: float = Field(
        0.5, ge=0, le=1, description="a node at least this good counts as good for backtracking"
    )


LOOP_RULES = tuple(StrategyOptions.model_fields)


class Strategy(ABC):
    name: ClassVar[str]
    summary: ClassVar[str]  # one line, for the CLI help and the app
    explanation: ClassVar[str]  # what it keeps, what it prunes, why (for teaching)
    # The strategy's parameters and the loop rules, typed (engine/options.py).
    Options: ClassVar[type[StrategyOptions]] = StrategyOptions

    def __init__(self, task: Task, params: dict[str, Any] | None = None) -> None:
        self.task = task
        self.options = validate(self.Options, dict(params or {}), f"strategy {self.name!r}")
        self.params = self.options.model_dump()
        if "steps" in self.params and self.params["steps"] is None:
            self.params["steps"] = task.default_depth

    @abstractmethod
    def decide(self, tree: TreeView) -> Action:
        """The strategy's own next action."""

    def next_action(self, tree: TreeView) -> Action:
        """The strategy's decision, with the loop rules applied on top."""
        action = self.decide(tree)
        if not isinstance(action, Expand | Finish):
            return action  # judging, pruning and backing up are never postponed
        if float(self.params["backtrack_after"]) > 0:
            backtrack = self._backtrack(tree)
            if backtrack is not None:
                return backtrack
        if isinstance(action, Finish) and float(self.params["more_if_below"]) > 0:
            more = self._more(tree)
            if more is not None:
                return more
        return action

    def mode_for(self, node: NodeView) -> str:
        """How this strategy expands `node` (re-runs and loop rules ask the same way)."""
        return "step"

    def samples(self) -> int:
        return int(self.params.get("samples", self.params.get("n", 1)))

    def _more(self, tree: TreeView) -> Expand | None:
        if tree.with_status(NodeStatus.SOLVED):
            return None
        threshold = float(self.params["more_if_below"])
        scored = [n for n in tree.main() if n.parent_id is not None and n.score is not None]
        best = max(scored, key=rank_key) if scored else None
        if best is not None and best.score is not None and best.score >= threshold:
            return None
        used = {n.parent_id for n in tree.main() if n.origin == Origin.MORE}
        if len(used) >= int(self.params["more_rounds"]):
            return None
        target = tree.nodes[best.parent_id] if best and best.parent_id else tree.root
        if target.id in used or target.status == NodeStatus.PRUNED:
            return None
        k = int(self.params["more"])
        best_text = "no candidate was scored" if best is None else f"best score {score_text(best)}"
        return Expand(
            target.id,
            samples=k,
            mode=self.mode_for(target),
            origin=Origin.MORE,
            note=f"more: {best_text} < {threshold:g}, so {k} more candidates at #{target.id}",
        )

    def _backtrack(self, tree: TreeView) -> Expand | None:
        failures = int(self.params["backtrack_after"])
        newest_child: dict[int, int] = {}
        for node in tree.main():
            if node.parent_id is not None and node.origin != Origin.JUDGE:
                newest_child[node.parent_id] = max(newest_child.get(node.parent_id, 0), node.id)
        recent = sorted(newest_child, key=newest_child.__getitem__, reverse=True)[:failures]
        if len(recent) < failures:
            return None
        for parent_id in recent:
            kids = [k for k in tree.kids(parent_id) if k.branch == "main"]
            if any(k.status not in (NodeStatus.INVALID, NodeStatus.PRUNED) for k in kids):
                return None  # one of the last N expansions gave a live candidate
        good_score = float(self.params["good_score"])
        good = [
            n
            for n in tree.with_status(NodeStatus.OPEN)
            if (n.score is None or n.score >= good_score)
            and (n.evaluated or n.parent_id is None)
            and not any(k.origin == Origin.BACKTRACK for k in tree.kids(n.id))
        ]
        if not good:
            return None
        target = max(good, key=lambda n: n.id)  # the most recent good node
        return Expand(
            target.id,
            samples=self.samples(),
            mode=self.mode_for(target),
            origin=Origin.BACKTRACK,
            note=f"backtrack: the last {failures} expansions gave no live candidate; "
            f"back to the last good node #{target.id}",
        )

    def best(self, tree: TreeView) -> NodeView | None:
        """The answer to report: a solved node first, else the best-scored finished path."""
        for statuses in ((NodeStatus.SOLVED,), (NodeStatus.TERMINAL,)):
            finished = tree.with_status(*statuses)
            if finished:
                return max(finished, key=rank_key)
        return None

    def finish(self, tree: TreeView, reason: str) -> Finish:
        best = self.best(tree)
        if best is None:
            return Finish(None, reason + "; no finished path")
        return Finish(best.id, reason, best.state.get("answer"))


def rank_key(node: NodeView) -> tuple[bool, float, int]:
    """Pinned first, then higher score, then older (so ties are deterministic)."""
    return (node.pinned, node.score if node.score is not None else -1.0, -node.id)


def ranked(nodes: list[NodeView]) -> list[NodeView]:
    return sorted(nodes, key=rank_key, reverse=True)


def shuffled_ties(node: NodeView) -> tuple[bool, float, int]:
    """Pinned first, then higher score; equal scores in an order that looks random
    but is fixed by the node's place in the tree (a hash of its key). A beam that
    keeps b of many equal candidates then keeps a random b of them, not the
    children of whichever parent was expanded first — which matters most for
    chance, whose candidates all score the same."""
    digest = hashlib.sha256(node.key.encode()).digest()
    return (node.pinned, node.score if node.score is not None else -1.0, int.from_bytes(digest[:8]))


def cut_below(
    ranked_nodes: list[NodeView],
    keep: int,
    what: str,
    note: str = "",
    kind: PrunedBy = PrunedBy.BEAM,
) -> Prune | None:
    """Prune all but the first `keep` of `ranked_nodes` (best first), each with its rank
    and the score it fell short of; None when there is nothing to cut."""
    if len(ranked_nodes) <= keep:
        return None
    cutoff = ranked_nodes[keep - 1]
    return Prune(
        {
            n.id: f"{what} — rank {rank} of {len(ranked_nodes)}, {behind(n, cutoff)}{note}"
            for rank, n in enumerate(ranked_nodes[keep:], start=keep + 1)
        },
        kind=kind,
    )


def behind(node: NodeView, last_kept: NodeView) -> str:
    """Why `node` ranked below the last node kept, in words that are true: a lower
    score, a pin, or a tie settled by the tie rule (never "0.33 < 0.33")."""
    if last_kept.pinned and not node.pinned:
        return f"score {score_text(node)}, behind #{last_kept.id}, which a person pinned"
    if node.score == last_kept.score:
        return (
            f"tied at {score_text(node)} with #{last_kept.id}, cut by the tie rule "
            "(equal scores in a fixed random order)"
        )
    ours, theirs = score_text(node), score_text(last_kept)
    if ours == theirs and node.score is not None and last_kept.score is not None:
        ours, theirs = f"{node.score:.4g}", f"{last_kept.score:.4g}"
    return f"score {ours} < {theirs}"


def pending_evaluation(tree: TreeView) -> Evaluate | None:
    """The first sibling group with unjudged open or finished nodes, if any."""
    waiting = [
        n
        for n in tree.with_status(NodeStatus.OPEN, NodeStatus.TERMINAL)
        if not n.evaluated and n.parent_id is not None  # the problem itself is not judged
    ]
    if not waiting:
        return None
    first_parent = min(waiting, key=lambda n: n.id).parent_id
    return Evaluate(tuple(n.id for n in waiting if n.parent_id == first_parent))


def score_text(node: NodeView) -> str:
    return "unscored" if node.score is None else f"{node.score:.2f}"
