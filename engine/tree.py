"""The materialized tree as strategies see it, loaded from storage.

`load_tree` reads a whole run. `TreeCache` keeps one in memory and, on each
refresh, reads only what was written since its last look: nodes by revision
(storage/revisions.py), verdicts and priors by id. The result is the same as a
full load (a test checks this), at a cost that does not grow with the tree.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from engine.types import NodeView, TreeView
from storage.models import Evaluation, Node, Prior


def _view(node: Node, evaluated: bool) -> NodeView:
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
        branch=node.branch,
        score=node.score,
        visits=node.visits,
        value=node.value,
        pinned=node.pinned,
        evaluated=evaluated,
    )


def load_tree(engine: Engine, run_id: int, judge_set: int, has_judges: bool = True) -> TreeView:
    return TreeCache(engine, run_id).refresh(judge_set, has_judges)


class TreeCache:
    def __init__(self, engine: Engine, run_id: int) -> None:
        self.engine = engine
        self.run_id = run_id
        self.key: tuple[int, bool] | None = None  # (judge set, has judges) of the cache
        self._forget()

    def _forget(self) -> None:
        self.tree = TreeView()
        self.last_rev = -1
        self.last_evaluation = 0
        self.last_prior = 0
        self.judged: set[int] = set()

    def refresh(self, judge_set: int, has_judges: bool = True) -> TreeView:
        if self.key != (judge_set, has_judges):  # "judged" means judged by this set
            self._forget()
            self.key = (judge_set, has_judges)
        with Session(self.engine) as session:
            nodes = list(
                session.exec(
                    select(Node)
                    .where(Node.run_id == self.run_id, col(Node.rev) > self.last_rev)
                    .order_by(col(Node.id))
                )
            )
            evaluations = list(
                session.exec(
                    select(Evaluation.id, Evaluation.node_id).where(
                        Evaluation.run_id == self.run_id,
                        col(Evaluation.id) > self.last_evaluation,
                        Evaluation.judge_set == judge_set,
                    )
                )
            )
            priors = list(
                session.exec(
                    select(Prior)
                    .where(Prior.run_id == self.run_id, col(Prior.id) > self.last_prior)
                    .order_by(col(Prior.id))
                )
            )
        for node in nodes:
            self.last_rev = max(self.last_rev, node.rev)
            self.tree.upsert(_view(node, not has_judges or node.id in self.judged))
        newly_judged = set()
        for evaluation_id, node_id in evaluations:
            self.last_evaluation = max(self.last_evaluation, evaluation_id or 0)
            if node_id not in self.judged:
                self.judged.add(node_id)
                newly_judged.add(node_id)
        for node_id in newly_judged:
            view = self.tree.nodes.get(node_id)
            if view is not None and not view.evaluated:
                self.tree.upsert(replace(view, evaluated=True))
        for prior in priors:
            self.last_prior = max(self.last_prior, prior.id or 0)
            self.tree.priors.setdefault(prior.node_id, []).append(prior.text)
        return self.tree
