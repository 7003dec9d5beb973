"""Monte Carlo tree search over thoughts.

Each iteration walks from the problem down the tree, at every node taking the
child with the best UCT value (mean reward + exploration × √(ln N / n)) — or,
with `priors=logprob`, the best PUCT value (mean reward + exploration × P × √N /
(1 + n), P the child's share of the model's probability among its siblings) — until
it reaches a node not yet expanded; expands it; lets the judges score the new
children (the evaluation; no rollouts); and backs each child's reward up the
path: visits + 1 and value + reward on every node from the child to the root.
Visits and value live on the nodes, so the whole search is in the tree.
"""

from __future__ import annotations

import math
from typing import Literal

from treelight.engine.options import Field
from treelight.engine.strategies.base import Strategy, StrategyOptions, pending_evaluation
from treelight.engine.types import Action, Backup, Expand, NodeStatus, NodeView, TreeView

# A node is worth expanding or descending into only while something below it can grow.
GROWING = ("open", "expanded")


def reward(node: NodeView) -> float:
    """A new child's reward: solved 1, rejected or invalid 0, else the judges' score."""
    if node.status == NodeStatus.SOLVED:
        return 1.0
    if node.status in (NodeStatus.INVALID, NodeStatus.PRUNED):
        return 0.0
    return node.score if node.score is not None else 0.5


class MonteCarlo(Strategy):
    name = "mcts"
    summary = "Monte Carlo tree search: select by UCT, expand, judge, back the value up."
    explanation = (
        "Grows the tree one path at a time. From the problem it follows the child with "
        "the best UCT value — its mean reward so far plus a bonus for being rarely "
        "visited — down to a node not yet expanded, expands it, lets the judges score "
        "the new children, and adds each child's score to the visits and value of every "
        "node above it. Nothing is pruned for being weak: a weak branch just stops being "
        "chosen. `exploration` trades trying new branches against deepening good ones."
    )

    class Options(StrategyOptions):
        iterations: int = Field(
            12, ge=1, le=10_000, description="select-expand-judge-backup rounds"
        )
        samples: int = Field(2, ge=1, le=100, description="model outputs asked for per expansion")
        exploration: float = Field(1.0, ge=0, le=10, description="UCT exploration constant")
        steps: int | None = Field(
            None, ge=1, le=100_000, description="depth of the tree (blank: the task's)"
        )
        solutions: int = Field(1, ge=1, le=1000, description="end after this many solved nodes")
        priors: Literal["none", "logprob"] = Field(
            "none",
            description="none = UCT; logprob = PUCT, the exploration bonus shared among "
            "siblings by the model's own probability of each (its log-probability)",
        )

    def decide(self, tree: TreeView) -> Action:
        if len(tree.with_status(NodeStatus.SOLVED)) >= int(self.params["solutions"]):
            return self.finish(tree, "solved")
        evaluate = pending_evaluation(tree)
        if evaluate:
            return evaluate
        fresh = {
            n.id: reward(n)
            for n in tree.main()
            if n.parent_id is not None and n.visits == 0 and n.status != NodeStatus.CRITIQUE
        }
        if fresh:
            return Backup(fresh)
        expanded = sum(1 for n in tree.main() if tree.kids(n.id))
        iterations = int(self.params["iterations"])
        if expanded >= iterations:
            return self.finish(tree, f"{iterations} iterations done")
        steps = int(self.params["steps"])
        alive: dict[int, bool] = {}

        def can_grow(node: NodeView) -> bool:
            if node.id not in alive:
                if node.status == NodeStatus.OPEN:
                    alive[node.id] = node.depth < steps
                else:
                    alive[node.id] = node.status == NodeStatus.EXPANDED and any(
                        can_grow(k) for k in self._children(tree, node)
                    )
            return alive[node.id]

        node = tree.root
        if not can_grow(node):
            return self.finish(tree, "every branch explored")
        while node.status == NodeStatus.EXPANDED:
            choices = [k for k in self._children(tree, node) if can_grow(k)]
            priors = sibling_priors(choices) if self.params["priors"] == "logprob" else None
            parent = node
            node = max(choices, key=lambda k: self._uct(k, parent, priors))
        return Expand(node.id, samples=int(self.params["samples"]), note=f"UCT path to #{node.id}")

    @staticmethod
    def _children(tree: TreeView, node: NodeView) -> list[NodeView]:
        return [k for k in tree.kids(node.id) if k.branch == "main"]

    def _uct(
        self, child: NodeView, parent: NodeView, priors: dict[int, float] | None = None
    ) -> tuple[bool, float, int]:
        explore = float(self.params["exploration"])
        if priors is not None:  # PUCT (AlphaZero): Q + c · P · √N / (1 + n)
            mean = child.value / child.visits if child.visits else 0.0
            bonus = priors[child.id] * math.sqrt(max(1, parent.visits)) / (1 + child.visits)
            value = mean + explore * bonus
        elif child.visits == 0:
            value = math.inf
        else:
            value = child.value / child.visits + explore * math.sqrt(
                math.log(max(1, parent.visits)) / child.visits
            )
        return (child.pinned, value, -child.id)  # pinned first; ties: the older


def sibling_priors(children: list[NodeView]) -> dict[int, float]:
    """Each child's share of the model's probability among its siblings (a softmax
    of their log-probabilities); a child with none (written by a person, or by a
    backend that gives no probabilities) gets an equal share."""
    known = [c.logprob for c in children if c.logprob is not None]
    if not known:
        return {c.id: 1 / len(children) for c in children}
    top = max(known)
    fallback = math.log(sum(math.exp(lp - top) for lp in known) / len(known)) + top
    weights = {
        c.id: math.exp((c.logprob if c.logprob is not None else fallback) - top) for c in children
    }
    total = sum(weights.values())
    return {i: w / total for i, w in weights.items()}
