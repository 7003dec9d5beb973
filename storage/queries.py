"""The queries the engine and the app need, each in one place."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Table, func, or_, update
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
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
    RunRequest,
    RunStatus,
)


def get_run(session: Session, run_id: int) -> Run | None:
    return session.get(Run, run_id)


@dataclass(frozen=True)
class RunLedger:
    """The few columns the runner checks before every action and call (cheap to read:
    no problem text, no generator spec)."""

    status: str
    requested: RunRequest
    steps_requested: int
    judge_set: int
    budget: dict[str, Any]
    replay: bool
    model_calls: int
    prompt_tokens: int
    completion_tokens: int
    actions: int

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


LEDGER_COLUMNS = (
    "status",
    "requested",
    "steps_requested",
    "judge_set",
    "budget",
    "replay",
    "model_calls",
    "prompt_tokens",
    "completion_tokens",
    "actions",
)


def run_ledger(session: Session, run_id: int) -> RunLedger:
    table: Table = Run.__table__  # type: ignore[attr-defined]
    query = sa_select(*(table.c[name] for name in LEDGER_COLUMNS)).where(table.c.id == run_id)
    return RunLedger(*session.execute(query).one())


def run_script(session: Session, run_id: int) -> list[str] | None:
    script = session.get(RunScript, run_id)
    return list(script.outputs) if script else None


def list_runs(session: Session, limit: int = 500) -> list[Run]:
    return list(session.exec(select(Run).order_by(col(Run.id).desc()).limit(limit)))


def run_nodes(session: Session, run_id: int) -> list[Node]:
    return list(session.exec(select(Node).where(Node.run_id == run_id).order_by(col(Node.id))))


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


def judged_node_ids(session: Session, run_id: int, judge_set: int) -> set[int]:
    query = select(Evaluation.node_id).where(
        Evaluation.run_id == run_id, Evaluation.judge_set == judge_set
    )
    return set(session.exec(query))


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


def find_model_calls(
    session: Session, fingerprints: list[str], run_id: int | None
) -> dict[str, ModelCall]:
    """Earlier successful calls by fingerprint (in `run_id`, or anywhere), oldest first."""
    if not fingerprints:
        return {}
    query = select(ModelCall).where(
        col(ModelCall.fingerprint).in_(set(fingerprints)), col(ModelCall.error).is_(None)
    )
    if run_id is not None:
        query = query.where(ModelCall.run_id == run_id)
    found: dict[str, ModelCall] = {}
    for call in session.exec(query.order_by(col(ModelCall.id))):
        found.setdefault(call.fingerprint, call)
    return found


def run_fingerprints(session: Session, run_id: int) -> set[str]:
    query = select(ModelCall.fingerprint).where(
        ModelCall.run_id == run_id, col(ModelCall.error).is_(None)
    )
    return set(session.exec(query))


def insert_model_call(connection: Connection, call: ModelCall) -> ModelCall:
    """Insert with SQLAlchemy Core: the hottest write skips the ORM's bookkeeping."""
    table: Table = ModelCall.__table__  # type: ignore[attr-defined]
    values = {c.name: getattr(call, c.name) for c in table.columns if c.name != "id"}
    result = connection.execute(table.insert(), values)  # one compiled statement, reused
    key = result.inserted_primary_key
    assert key is not None
    call.id = int(key[0])
    return call


def add_event(
    session: Session,
    run_id: int,
    kind: EventKind,
    reason: str = "",
    *,
    node_id: int | None = None,
    actor: str = "engine",
    details: dict[str, Any] | None = None,
) -> Event:
    event = Event(
        run_id=run_id,
        kind=kind,
        actor=actor,
        node_id=node_id,
        reason=reason,
        details=details or {},
    )
    session.add(event)
    return event


# --- leases: one process works on a run at a time -------------------------------------


def lease_owner_is_dead(owner: str | None) -> bool:
    """True when `owner` ("host:pid:nonce") is a process on this host that has exited."""
    if not owner:
        return True
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        import os

        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def lease_is_live(run: Run) -> bool:
    """True while a live process holds the run (a runner is working on it)."""
    return (
        run.lease_owner is not None
        and run.lease_until is not None
        and run.lease_until >= utcnow()
        and not lease_owner_is_dead(run.lease_owner)
    )


def claim_run(engine: Engine, run_id: int, owner: str, seconds: float) -> bool:
    """Take or renew the lease on a run; False when another live process holds it."""
    now = utcnow()
    with Session(engine) as session:
        run = session.get(Run, run_id)
        if run is None:
            return False
        current = run.lease_owner
        free = (
            current is None
            or current == owner
            or run.lease_until is None
            or run.lease_until < now
            or lease_owner_is_dead(current)
        )
        if not free:
            return False
        # Compare-and-swap on the owner we saw, so two claimants cannot both win.
        owner_matches = (
            col(Run.lease_owner).is_(None) if current is None else col(Run.lease_owner) == current
        )
        result = session.execute(
            update(Run)
            .where(col(Run.id) == run_id, owner_matches)
            .values(lease_owner=owner, lease_until=now + timedelta(seconds=seconds))
        )
        session.commit()
        return bool(getattr(result, "rowcount", 0) == 1)


def renew_lease(engine: Engine, run_id: int, owner: str, seconds: float) -> None:
    """Extend a lease this owner holds (a no-op for anyone else)."""
    with Session(engine) as session:
        session.execute(
            update(Run)
            .where(col(Run.id) == run_id, col(Run.lease_owner) == owner)
            .values(lease_until=utcnow() + timedelta(seconds=seconds))
        )
        session.commit()


def release_run(engine: Engine, run_id: int, owner: str) -> None:
    with Session(engine) as session:
        session.execute(
            update(Run)
            .where(col(Run.id) == run_id, col(Run.lease_owner) == owner)
            .values(lease_owner=None, lease_until=None)
        )
        session.commit()


def claimable_runs(session: Session, eval_id: int | None = None) -> list[Run]:
    """Runs a worker should pick up: running, queued, paused with a step asked
    for, a pause or stop asked for and not yet applied, or any run with a pending
    command (a re-run, a re-score). With `eval_id`, only that eval's runs."""
    pending = select(Command.run_id).where(Command.status == CommandStatus.PENDING)
    query = select(Run).where(
        or_(
            col(Run.status).in_((RunStatus.QUEUED, RunStatus.RUNNING)),
            (col(Run.status) == RunStatus.PAUSED) & (col(Run.steps_requested) > 0),
            col(Run.requested) != RunRequest.NONE,
            col(Run.id).in_(pending),
        )
    )
    if eval_id is not None:
        members = select(EvalItem.run_id).where(EvalItem.eval_id == eval_id)
        query = query.where(col(Run.id).in_(members))
    return list(session.exec(query.order_by(col(Run.id))))


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
