"""DFS with a value threshold and backtracking, as in Tree of Thoughts.

Always expands the deepest open node (best-scored first). Children scored
below `threshold` are pruned; when a subtree runs out of open nodes the search
backtracks to the deepest open node elsewhere, and says so in the event log.
"""

from __future__ import annotations

from treelight.engine.options import Field
from treelight.engine.strategies.base import (
    Strategy,
    StrategyOptions,
    pending_evaluation,
    rank_key,
    score_text,
)
from treelight.engine.types import Action, Expand, NodeStatus, Prune, PrunedBy, TreeView


class DepthFirst(Strategy):
    name = "dfs"
    summary = "Depth-first: follow the best child, prune below a value threshold, backtrack."
    explanation = (
        "Goes deep first: it always expands the deepest open node, best score first. "
        "A candidate whose score is below the threshold is pruned at once; when a "
        "branch dies out the search backtracks to the deepest open node left. Cheap "
        "when the judge is good, wasteful when it is not."
    )

    class Options(StrategyOptions):
        threshold: float = Field(0.01, ge=0, le=1, description="prune open nodes scored below this")
        steps: int | None = Field(
            None, ge=1, le=100_000, description="depth of the tree (blank: the task's)"
        )
        samples: int = Field(1, ge=1, le=100, description="model outputs asked for per expansion")
        solutions: int = Field(1, ge=1, le=1000, description="end after this many solved nodes")

    def decide(self, tree: TreeView) -> Action:
        if len(tree.with_status(NodeStatus.SOLVED)) >= int(self.params["solutions"]):
            return self.finish(tree, "solved")
        evaluate = pending_evaluation(tree)
        if evaluate:
            return evaluate
        threshold = float(self.params["threshold"])
        weak = [
            n
            for n in tree.with_status(NodeStatus.OPEN)
            if n.score is not None and n.score < threshold and not n.pinned
        ]
        if weak:
            return Prune(
                {n.id: f"value {score_text(n)} below threshold {threshold:g}" for n in weak},
                kind=PrunedBy.THRESHOLD,
            )
        steps = int(self.params["steps"])
        frontier = [n for n in tree.with_status(NodeStatus.OPEN) if n.depth < steps]
        if not frontier:
            return self.finish(tree, "every branch explored")
        chosen = max(frontier, key=lambda n: (n.depth, *rank_key(n)))
        newest = tree.nodes[tree.newest_main]
        note = ""
        if chosen.parent_id != newest.parent_id and newest.parent_id is not None:
            note = f"backtrack: the branch under #{newest.parent_id} has no open node left"
        return Expand(chosen.id, samples=int(self.params["samples"]), note=note)
