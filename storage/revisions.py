"""Node revisions: every write of a node stamps it with its run's next revision.

Whoever writes (the runner, a person steering from the app, another worker),
the stamp is set here, in the same transaction: by a `before_flush` hook for
ORM writes, by `reserve` for rows written with Core (the runner's expansions). A
reader that remembers the highest revision it has seen can then fetch only
the nodes written since, which keeps the runner's per-action cost independent
of the tree's size.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, event, update
from sqlmodel import Session, col

from treelight.storage.models import Node, Run


def reserve(connection: Connection, run_id: int, count: int) -> int:
    """Take `count` revisions of a run for rows written with Core; returns the first.

    One atomic increment: the run's row stays locked until the transaction
    commits, so two writers never hand out the same revision."""
    result = connection.execute(_RESERVE, {"run": run_id, "count": count})
    return int(result.scalar_one()) - count + 1


_RESERVE = (
    update(Run)
    .where(col(Run.id) == bindparam("run"))
    .values(revision=col(Run.revision) + bindparam("count"))
    .returning(col(Run.revision))
)


@event.listens_for(Session, "before_flush")
def _stamp_nodes(session: Session, _context: Any, _instances: Any) -> None:
    touched: dict[int, list[Node]] = {}
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, Node) and (obj in session.new or session.is_modified(obj)):
            touched.setdefault(obj.run_id, []).append(obj)
    for run_id, nodes in touched.items():
        first = reserve(session.connection(), run_id, len(nodes))
        for offset, node in enumerate(nodes):
            node.rev = first + offset
