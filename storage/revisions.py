"""Node revisions: every write of a node stamps it with its run's next revision.

Whoever writes (the runner, a person steering from the app, another worker),
the stamp is set here, in the same transaction, by a `before_flush` hook. A
reader that remembers the highest revision it has seen can then fetch only
the nodes written since, which keeps the runner's per-action cost independent
of the tree's size.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, update
from sqlmodel import Session, col

from treelight.storage.models import Node, Run


@event.listens_for(Session, "before_flush")
def _stamp_nodes(session: Session, _context: Any, _instances: Any) -> None:
    touched: dict[int, list[Node]] = {}
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, Node) and (obj in session.new or session.is_modified(obj)):
            touched.setdefault(obj.run_id, []).append(obj)
    for run_id, nodes in touched.items():
        # One atomic increment per run and flush; the row stays locked until commit,
        # so two writers never hand out the same revision.
        result = session.connection().execute(
            update(Run)
            .where(col(Run.id) == run_id)
            .values(revision=col(Run.revision) + len(nodes))
            .returning(col(Run.revision))
        )
        last = int(result.scalar_one())
        for offset, node in enumerate(nodes):
            node.rev = last - len(nodes) + offset + 1
