"""Plain values passed between the roles: the tree as strategies see it, and actions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

# The stored vocabulary (plain enums, no database access), for roles that may not
# import storage: see the import contracts in pyproject.toml.
from treelight.storage.vocabulary import NodeStatus, Origin, PrunedBy, RunStatus

__all__ = [
    "Action",
    "ExpansionMode",
    "NodeStatus",
    "NodeView",
    "Origin",
    "PrunedBy",
    "RunStatus",
    "TreeView",
    "judge_key",
]


class ExpansionMode(StrEnum):
    """How a node is expanded: what the model is asked for."""

    STEP = "step"  # the next thoughts
    SOLUTION = "solution"  # a whole answer
    CRITIQUE = "critique"  # what is wrong with this answer, given the verdicts
    REVISE = "revise"  # a better answer, given a critique
    MUTATE = "mutate"  # a variation of an answer, given its verdicts


def judge_key(config: Mapping[str, Any]) -> str:
    """One judge's identity in a set (its name and options), as verdicts record it."""
    return repr(sorted(config.items()))


@dataclass(frozen=True)
class NodeView:
    """A read-only snapshot of one node, as a strategy or judge sees it."""

    id: int
    key: str
    parent_id: int | None
    depth: int
    text: str
    state: dict[str, Any]
    status: str
    status_reason: str
    origin: str
    branch: str
    score: float | None
    visits: int
    value: float
    pinned: bool
    evaluated: bool  # has a verdict from every judge of the active set
    verdicts: frozenset[str] = frozenset()  # keys of the active judges that judged it
    rejected: bool = False  # a gate of the active set rejected it (a person may restore it)
    pruned_by: str = ""  # who pruned it (storage/vocabulary.py: PrunedBy); "" unless pruned
    # A person's label ("good", "bad" or "") and its note, filled where a person reads
    # the tree (engine/api.py). The search never reads a label: an opinion, not a steer.
    label: str = ""
    label_note: str = ""
    # The model's log-probability of this thought (None: not written by a model that
    # gives probabilities); MCTS with priors=logprob reads it.
    logprob: float | None = None


@dataclass
class TreeView:
    """The materialized tree. Strategies decide from this alone.

    Kept up to date incrementally (`upsert`), with an index by status so a
    strategy's look at the frontier costs the frontier's size, not the tree's.
    """

    nodes: dict[int, NodeView] = field(default_factory=dict)
    children: dict[int, list[int]] = field(default_factory=dict)
    priors: dict[int, list[str]] = field(default_factory=dict)
    by_status: dict[str, dict[int, None]] = field(default_factory=dict)  # ordered sets
    newest_main: int = 0

    @classmethod
    def build(cls, nodes: list[NodeView], priors: dict[int, list[str]] | None = None) -> TreeView:
        tree = cls(priors=priors or {})
        for node in sorted(nodes, key=lambda n: n.id):
            tree.upsert(node)
        return tree

    def upsert(self, node: NodeView) -> None:
        old = self.nodes.get(node.id)
        if old is None:
            if node.parent_id is not None:
                self.children.setdefault(node.parent_id, []).append(node.id)
        elif old.branch == "main":
            self.by_status[old.status].pop(node.id, None)
        self.nodes[node.id] = node
        if node.branch == "main":
            self.by_status.setdefault(node.status, {})[node.id] = None
            self.newest_main = max(self.newest_main, node.id)

    @property
    def root(self) -> NodeView:
        return next(n for n in self.nodes.values() if n.parent_id is None)

    def main(self) -> list[NodeView]:
        """Nodes of the main search (not person-made reruns kept beside it)."""
        return [n for n in self.nodes.values() if n.branch == "main"]

    def with_status(self, *statuses: str) -> list[NodeView]:
        """Main-search nodes with one of `statuses`, oldest first."""
        ids = sorted(i for status in statuses for i in self.by_status.get(status, {}))
        return [self.nodes[i] for i in ids]

    def kids(self, node_id: int) -> list[NodeView]:
        return [self.nodes[i] for i in self.children.get(node_id, [])]

    def path(self, node_id: int) -> list[NodeView]:
        """Root first, `node_id` last."""
        path: list[NodeView] = []
        current: int | None = node_id
        while current is not None:
            node = self.nodes[current]
            path.append(node)
            current = node.parent_id
        return path[::-1]

    def priors_on_path(self, node_id: int) -> list[str]:
        return [text for n in self.path(node_id) for text in self.priors.get(n.id, [])]


@dataclass(frozen=True)
class Expand:
    node_id: int
    samples: int = 1
    # "step": next thoughts; "solution": whole answers in one go; "critique": what is
    # wrong with this answer; "revise": a better answer given the critique above;
    # "mutate": a variation of this answer, guided by its verdicts.
    mode: str = "step"
    note: str = ""  # why this node (e.g. "backtrack from #12")
    origin: Origin = Origin.MODEL  # MORE / BACKTRACK when a loop rule asked for it
    # The first sample's index: a node sampled in rounds asks for samples k.. next
    # time, so each round draws new samples (with the seeds one round of all would).
    first_sample: int = 0


@dataclass(frozen=True)
class Evaluate:
    node_ids: tuple[int, ...]


@dataclass(frozen=True)
class Prune:
    reasons: dict[int, str]  # node id -> why
    kind: PrunedBy = PrunedBy.BEAM


@dataclass(frozen=True)
class Backup:
    """MCTS backpropagation: each leaf's reward is added along its path to the root."""

    rewards: dict[int, float]  # leaf id -> reward in [0, 1]


@dataclass(frozen=True)
class Critique:
    """A critique node under `node_id` written from the verifiers' feedback (no model)."""

    node_id: int
    text: str


@dataclass(frozen=True)
class Finish:
    node_id: int | None
    reason: str
    answer: str | None = None


Action = Expand | Evaluate | Prune | Backup | Critique | Finish
