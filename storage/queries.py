"""The queries the engine and the app need, each in one place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Table, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from treelight.storage.models import (
    Command,
    DatasetEval,
    EvalItem,
    Evaluation,
    Event,
    ModelCall,
    Node,
    Prior,
    Run,
    RunScript,
    utcnow,
)
from treelight.storage.vocabulary import (
    CommandStatus,
    EventKind,
    LabelVerdict,
)


def get_run(session: Session, run_id: int) -> Run | None:
    return session.get(Run, run_id)


def run_script(session: Session, run_id: int) -> list[str] | None:
    script = session.get(RunScript, run_id)
    return list(script.outputs) if script else None


def list_runs(session: Session, limit: int = 500) -> list[Run]:
    return list(session.exec(select(Run).order_by(col(Run.id).desc()).limit(limit)))


def run_nodes(session: Session, run_id: int) -> list[Node]:
    return list(session.exec(select(Node).where(Node.run_id == run_id).order_by(col(Node.id))))


NODE_TABLE: Table = Node.__table__  # type: ignore[attr-defined]


def tree_rows(session: Session, run_id: int) -> list[Row[Any]]:
    """What labelling reads of a run's nodes (id, parent_id, text, state, status,
    pruned_by), as plain rows: self-play trees hold thousands of nodes each."""
    c = NODE_TABLE.c
    query = (
        sa_select(c.id, c.parent_id, c.text, c.state, c.status, c.pruned_by)
        .where(c.run_id == run_id)
        .order_by(c.id)
    )
    return list(session.execute(query).all())


def run_evaluations(session: Session, run_id: int) -> list[Evaluation]:
    query = select(Evaluation).where(Evaluation.run_id == run_id).order_by(col(Evaluation.id))
    return list(session.exec(query))


def node_evaluations(session: Session, node_id: int, judge_set: int) -> list[Evaluation]:
    """One node's verdicts from one judge set, oldest first."""
    query = select(Evaluation).where(
        Evaluation.node_id == node_id, Evaluation.judge_set == judge_set
    )
    return list(session.exec(query.order_by(col(Evaluation.id))))


def group_evaluations(session: Session, node_ids: list[int], judge_set: int) -> list[Evaluation]:
    """The verdicts on a group of nodes from one judge set, oldest first."""
    query = select(Evaluation).where(
        col(Evaluation.node_id).in_(node_ids), Evaluation.judge_set == judge_set
    )
    return list(session.exec(query.order_by(col(Evaluation.id))))


def run_events(session: Session, run_id: int) -> list[Event]:
    return list(session.exec(select(Event).where(Event.run_id == run_id).order_by(col(Event.id))))


def events_after(session: Session, run_id: int, event_id: int) -> list[Event]:
    """The run's events logged after the event `event_id`, oldest first."""
    query = select(Event).where(Event.run_id == run_id, col(Event.id) > event_id)
    return list(session.exec(query.order_by(col(Event.id))))


def last_event_id(session: Session, run_id: int) -> int:
    query = select(func.max(Event.id)).where(Event.run_id == run_id)
    return int(session.exec(query).one() or 0)


def model_calls_by_id(session: Session, call_ids: list[int]) -> list[ModelCall]:
    if not call_ids:
        return []
    return list(session.exec(select(ModelCall).where(col(ModelCall.id).in_(call_ids))))


def run_notes(session: Session, run_id: int) -> list[Event]:
    """A person's notes on nodes (events of kind "note"), oldest first."""
    query = select(Event).where(Event.run_id == run_id, Event.kind == EventKind.NOTE)
    return list(session.exec(query.order_by(col(Event.id))))


@dataclass(frozen=True)
class Label:
    """A person's current label on a node (its latest "label" event)."""

    node_id: int
    verdict: str  # "good" or "bad" (storage/vocabulary.py: LabelVerdict)
    note: str
    actor: str
    at: datetime


def run_labels(session: Session, run_id: int) -> dict[int, Label]:
    """The current label of every labelled node: its latest "label" event, unless that
    one cleared it. Reads only the run's label events (a person's clicks, a handful),
    never its nodes, so the cost does not grow with the tree."""
    query = sa_select(
        col(Event.node_id), col(Event.details), col(Event.actor), col(Event.created_at)
    ).where(col(Event.run_id) == run_id, col(Event.kind) == EventKind.LABEL)
    labels: dict[int, Label] = {}
    for node_id, details, actor, at in session.execute(query.order_by(col(Event.id))):
        verdict = details.get("verdict")
        if verdict in (LabelVerdict.GOOD, LabelVerdict.BAD):
            labels[node_id] = Label(node_id, verdict, details.get("note", ""), actor, at)
        else:
            labels.pop(node_id, None)
    return labels


def run_model_calls(session: Session, run_id: int) -> list[ModelCall]:
    query = select(ModelCall).where(ModelCall.run_id == run_id).order_by(col(ModelCall.id))
    return list(session.exec(query))


def run_priors(session: Session, run_id: int) -> list[Prior]:
    return list(session.exec(select(Prior).where(Prior.run_id == run_id).order_by(col(Prior.id))))


def nodes_by_id(session: Session, node_ids: list[int]) -> dict[int, Node]:
    nodes = session.exec(select(Node).where(col(Node.id).in_(node_ids)))
    return {n.id or 0: n for n in nodes}


def node_count(session: Session, run_id: int) -> int:
    query = select(func.count()).select_from(Node).where(Node.run_id == run_id)
    return int(session.exec(query).one())


def children(session: Session, node_id: int) -> list[Node]:
    query = select(Node).where(Node.parent_id == node_id).order_by(col(Node.id))
    return list(session.exec(query))


def child_count(session: Session, node_id: int) -> int:
    query = select(func.count()).select_from(Node).where(Node.parent_id == node_id)
    return int(session.exec(query).one())


def run_fingerprints(session: Session, run_id: int) -> set[str]:
    query = select(ModelCall.fingerprint).where(
        ModelCall.run_id == run_id, col(ModelCall.error).is_(None)
    )
    return set(session.exec(query))


EVENT_TABLE: Table = Event.__table__  # type: ignore[attr-defined]
_INSERT_EVENT = EVENT_TABLE.insert()  # built once: every action logs at least one event


def add_event(
    session: Session,
    run_id: int,
    kind: EventKind,
    reason: str = "",
    *,
    node_id: int | None = None,
    actor: str = "engine",
    details: dict[str, Any] | None = None,
) -> datetime:
    """Log an event in the session's transaction; returns when it was logged.

    A Core insert on the session's connection: no ORM object is built, and pending
    ORM objects are not flushed for it (an event names a node by id only)."""
    at = utcnow()
    session.connection().execute(
        _INSERT_EVENT,
        {
            "run_id": run_id,
            "kind": kind,
            "actor": actor,
            "node_id": node_id,
            "reason": reason,
            "details": details or {},
            "created_at": at,
        },
    )
    return at


def pending_commands(session: Session, run_id: int) -> list[Command]:
    query = select(Command).where(Command.run_id == run_id, Command.status == CommandStatus.PENDING)
    return list(session.exec(query.order_by(col(Command.id))))


def run_commands(session: Session, run_id: int) -> list[Command]:
    query = select(Command).where(Command.run_id == run_id).order_by(col(Command.id))
    return list(session.exec(query))


def last_prune_event(session: Session, node_id: int) -> Event | None:
    query = select(Event).where(Event.node_id == node_id, Event.kind == EventKind.PRUNE)
    return session.exec(query.order_by(col(Event.id).desc()).limit(1)).first()


def list_evals(session: Session) -> list[DatasetEval]:
    return list(session.exec(select(DatasetEval).order_by(col(DatasetEval.id))))


def eval_runs(session: Session, eval_id: int) -> list[tuple[EvalItem, Run]]:
    """An eval's items with their runs, item by item."""
    rows = session.exec(
        select(EvalItem, Run)
        .where(EvalItem.eval_id == eval_id, col(EvalItem.run_id) == col(Run.id))
        .order_by(col(EvalItem.item), col(EvalItem.id))
    )
    return [(item, run) for item, run in rows]
