"""Leases: one process works on a run at a time.

A runner claims a run for a while and renews the claim as it works; a claim whose
time ran out, or whose owner (host:pid:nonce) is a process on this host that has
exited, can be taken over, so a crashed worker's run resumes elsewhere and
nothing is done twice.
"""

from __future__ import annotations

import socket
from datetime import timedelta

from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from treelight.storage.models import Command, EvalItem, Run, utcnow
from treelight.storage.vocabulary import CommandStatus, RunRequest, RunStatus


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
