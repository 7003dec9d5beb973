"""The materialized tree as strategies see it, loaded from storage.

`load_tree` reads a whole run. `TreeCache` keeps one in memory and, on each
refresh, reads only what was written since its last look: nodes by revision
(storage/revisions.py; plain rows, no ORM objects: storage/hot_path.py
nodes_since), verdicts and priors by id. The result is the same as a full load
(a test checks this), at a cost that does not grow with the tree.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy.engine import Engine

from treelight.engine.types import NodeView, TreeView, judge_key
from treelight.storage import hot_path


def _view(node: Any, verdicts: frozenset[str], evaluated: bool, rejected: bool) -> NodeView:
    """A NodeView of a node row (storage/hot_path.py: nodes_since) or a Node."""
    return NodeView(
        id=node.id or 0,
        key=node.key,
        parent_id=node.parent_id,
        depth=node.depth,
        text=node.text,
        state=node.state,
        status=node.status,
        status_reason=node.status_reason,
        origin=node.origin,
        pruned_by=node.pruned_by or "",
        branch=node.branch,
        score=node.score,
        visits=node.visits,
        value=node.value,
        pinned=node.pinned,
        evaluated=evaluated,
        verdicts=verdicts,
        rejected=rejected,
        logprob=node.logprob,
    )


def load_tree(
    engine: Engine, run_id: int, judge_set: int, judges: frozenset[str] | None = None
) -> TreeView:
    return TreeCache(engine, run_id).refresh(judge_set, judges)


class TreeCache:
    def __init__(self, engine: Engine, run_id: int) -> None:
        self.engine = engine
        self.run_id = run_id
        # (judge set, active judges' keys) of the cache; see `refresh`
        self.key: tuple[int, frozenset[str] | None] | None = None
        self._forget()

    def _forget(self) -> None:
        self.tree = TreeView()
        self.last_rev = -1
        self.last_evaluation = 0
        self.last_prior = 0
        self.judged: dict[int, frozenset[str]] = {}  # node -> keys of the judges that spoke
        self.rejected: set[int] = set()  # nodes a gate of this set rejected

    def _evaluated(self, node_id: int, verdicts: frozenset[str]) -> bool:
        assert self.key is not None
        wanted = self.key[1]
        if wanted is None:
            return bool(verdicts)
        # A gate's rejection settles a node: the judges after it are not asked (and a
        # person who restores it anyway is not overruled by asking again).
        return wanted <= verdicts or node_id in self.rejected

    def refresh(self, judge_set: int, judges: frozenset[str] | None = None) -> TreeView:
        """The tree as of now. A node is `evaluated` once every judge in `judges` (the
        active set's keys, see `judge_key`) has a verdict on it in `judge_set`, or a
        gate of that set rejected it; with `judges` None, once any judge has spoken."""
        if self.key != (judge_set, judges):  # "judged" means judged by this set
            self._forget()
            self.key = (judge_set, judges)
        with self.engine.connect() as connection:  # one snapshot (SQLite: one read transaction)
            nodes = hot_path.nodes_since(connection, self.run_id, self.last_rev)
            evaluations = hot_path.evaluations_since(
                connection, self.run_id, self.last_evaluation, judge_set
            )
            priors = hot_path.priors_since(connection, self.run_id, self.last_prior)
        newly_judged = set()
        for evaluation in evaluations:
            node_id = evaluation.node_id
            self.last_evaluation = max(self.last_evaluation, evaluation.id)
            if evaluation.role == "gate" and evaluation.passed is False:
                self.rejected.add(node_id)
            verdicts = self.judged.get(node_id, frozenset()) | {judge_key(evaluation.judge_config)}
            self.judged[node_id] = verdicts
            newly_judged.add(node_id)
        for node in nodes:
            self.last_rev = max(self.last_rev, node.rev)
            verdicts = self.judged.get(node.id or 0, frozenset())
            node_id = node.id or 0
            self.tree.upsert(
                _view(
                    node,
                    verdicts,
                    self._evaluated(node_id, verdicts),
                    node_id in self.rejected,
                )
            )
        for node_id in newly_judged:
            view = self.tree.nodes.get(node_id)
            verdicts = self.judged[node_id]
            if view is not None and view.verdicts != verdicts:
                self.tree.upsert(
                    replace(
                        view,
                        verdicts=verdicts,
                        evaluated=self._evaluated(node_id, verdicts),
                        rejected=node_id in self.rejected,
                    )
                )
        for prior in priors:
            self.last_prior = max(self.last_prior, prior.id or 0)
            self.tree.priors.setdefault(prior.node_id, []).append(prior.text)
        return self.tree
