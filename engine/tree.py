"""Loading the materialized tree from storage into the view strategies decide from."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session

from engine.types import NodeView, TreeView
from storage import queries


def load_tree(engine: Engine, run_id: int, judge_set: int, has_judges: bool = True) -> TreeView:
    with Session(engine) as session:
        nodes = queries.run_nodes(session, run_id)
        judged = queries.judged_node_ids(session, run_id, judge_set) if has_judges else None
        priors: dict[int, list[str]] = {}
        for prior in queries.run_priors(session, run_id):
            priors.setdefault(prior.node_id, []).append(prior.text)
    views = [
        NodeView(
            id=n.id or 0,
            key=n.key,
            parent_id=n.parent_id,
            depth=n.depth,
            text=n.text,
            state=n.state,
            status=n.status,
            status_reason=n.status_reason,
            origin=n.origin,
            branch=n.branch,
            score=n.score,
            visits=n.visits,
            value=n.value,
            pinned=n.pinned,
            evaluated=judged is None or n.id in judged,
        )
        for n in nodes
    ]
    return TreeView.build(views, priors)
