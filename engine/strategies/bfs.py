"""BFS / beam search, as in Tree of Thoughts.

Level by level: expand every kept node, judge all the new candidates, keep the
best `beam` of them (equal scores in a fixed random-looking order, so a beam of
equals keeps a random few), prune the rest as "beam cutoff", and go one level
deeper, up to `steps` levels. Defaults are the paper's Game of 24 settings: one
proposal call per node, the value judge sampled 3 times, keep 5, 4 steps.
Unlike the paper's loop, it stops at the first checked solution (set
`stop_at_first=false` to run all levels).
"""

from __future__ import annotations

from treelight.engine.options import Field
from treelight.engine.strategies.base import (
    Strategy,
    StrategyOptions,
    cut_below,
    pending_evaluation,
    shuffled_ties,
)
from treelight.engine.types import Action, Expand, NodeStatus, TreeView


class BeamSearch(Strategy):
    name = "bfs"
    summary = "Tree of Thoughts beam search: expand a level, judge, keep the best b, repeat."
    explanation = (
        "Breadth-first, one level at a time. Every kept node is expanded, every new "
        "candidate is judged, and only the best `beam` candidates of the level survive; "
        "the rest are pruned as 'beam cutoff' with their rank and score. Good when judges "
        "can compare partial solutions; costs grow with beam × samples × steps."
    )

    class Options(StrategyOptions):
        beam: int = Field(5, ge=1, le=100_000, description="how many nodes are kept at each depth")
        steps: int | None = Field(
            None, ge=1, le=100_000, description="depth of the tree (blank: the task's)"
        )
        samples: int = Field(1, ge=1, le=100, description="model outputs asked for per expansion")
        stop_at_first: bool = Field(True, description="end at the first solved node")

    def decide(self, tree: TreeView) -> Action:
        if self.params["stop_at_first"] and tree.with_status(NodeStatus.SOLVED):
            return self.finish(tree, "solved")
        evaluate = pending_evaluation(tree)
        if evaluate:
            return evaluate
        steps = int(self.params["steps"])
        frontier = [n for n in tree.with_status(NodeStatus.OPEN) if n.depth < steps]
        if not frontier:
            deepest = max(n.depth for n in tree.main())
            if deepest >= steps:
                return self.finish(tree, f"all {steps} levels searched")
            return self.finish(
                tree,
                f"nothing left to expand at depth {deepest}: every candidate there was "
                "invalid or pruned",
            )
        depth = min(n.depth for n in frontier)
        level = sorted((n for n in frontier if n.depth == depth), key=shuffled_ties, reverse=True)
        beam = int(self.params["beam"])
        cut = cut_below(level, beam, "beam cutoff", f" (beam {beam})")
        return cut or Expand(level[0].id, samples=int(self.params["samples"]))
