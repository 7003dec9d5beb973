"""The Strategy role: decides the next action from the materialized tree alone.

A strategy keeps no memory between calls. Everything it needs (which nodes are
open, scored, pruned, pinned) is in the tree, which is what makes pause,
resume after a crash, a person's edits and judge swaps work without special
cases.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from engine.errors import BadArguments
from engine.tasks.base import Task
from engine.types import Action, Evaluate, Finish, NodeView, TreeView


class Strategy(ABC):
    name: ClassVar[str]
    summary: ClassVar[str]  # one line, for the CLI help and the app
    explanation: ClassVar[str]  # what it keeps, what it prunes, why (for teaching)
    defaults: ClassVar[dict[str, Any]]

    def __init__(self, task: Task, params: dict[str, Any] | None = None) -> None:
        params = dict(params or {})
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise BadArguments(
                f"Strategy {self.name!r} has no parameter {', '.join(sorted(unknown))}; "
                f"it takes: {', '.join(sorted(self.defaults)) or 'none'}."
            )
        self.task = task
        self.params = {**self.defaults, **params}
        if "steps" in self.params and self.params["steps"] is None:
            self.params["steps"] = task.default_depth

    @abstractmethod
    def next_action(self, tree: TreeView) -> Action: ...

    def best(self, tree: TreeView) -> NodeView | None:
        """The answer to report: a solved node first, else the best-scored finished path."""
        for statuses in (("solved",), ("terminal",)):
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


def pending_evaluation(tree: TreeView) -> Evaluate | None:
    """The first sibling group with unjudged open or finished nodes, if any."""
    waiting = [
        n
        for n in tree.with_status("open", "terminal")
        if not n.evaluated and n.parent_id is not None  # the problem itself is not judged
    ]
    if not waiting:
        return None
    first_parent = min(waiting, key=lambda n: n.id).parent_id
    return Evaluate(tuple(n.id for n in waiting if n.parent_id == first_parent))


def score_text(node: NodeView) -> str:
    return "unscored" if node.score is None else f"{node.score:.2f}"
