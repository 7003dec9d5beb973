"""Steering commands a person gives a run: pause, resume, step, stop.

Pause and stop are requests: the runner applies them between two actions (an
action in flight is never cut), after checking every candidate its free judges
can settle (engine/run/resting.py). Until then the run keeps its status and
`run.requested` says what is coming, so a page can say "pausing…" and no figure
shown as final is still moving. When no runner is working on the run, the
request is applied at once, here. Each command is an event with its actor.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session

from treelight.engine.errors import BadArguments, RunBusy, RunNotFound
from treelight.storage import leases, queries
from treelight.storage.database import unit_of_work
from treelight.storage.models import Run
from treelight.storage.vocabulary import ENDED, EventKind, RunRequest, RunStatus

FINISHED = ENDED


def _change(
    engine: Engine, run_id: int, kind: EventKind, reason: str = "", actor: str = "person"
) -> Run:
    with unit_of_work(engine, run_id) as session:
        run = session.get(Run, run_id)
        if run is None:
            raise RunNotFound(f"No run #{run_id}: `treelight runs` lists the runs there are.")
        if kind == EventKind.PAUSE:
            if run.status == RunStatus.QUEUED or (
                run.status == RunStatus.RUNNING and actor != "person"
            ):
                # Nothing made yet, or the engine itself pausing a run it cannot start.
                run.status, run.status_reason = RunStatus.PAUSED, reason or "paused by a person"
            elif run.status == RunStatus.RUNNING and run.requested != RunRequest.STOP:
                run.requested = RunRequest.PAUSE
        elif kind == EventKind.RESUME:
            if run.status in FINISHED and run.status != RunStatus.STOPPED:
                raise BadArguments(f"Run #{run_id} is {run.status}; it cannot be resumed.")
            if run.status == RunStatus.STOPPED:
                from treelight.engine.run.resting import reopen_unexplored

                reopen_unexplored(session, run_id)
            run.status, run.status_reason = RunStatus.RUNNING, ""
            run.requested = RunRequest.NONE
        elif kind == EventKind.STEP:
            if run.status in FINISHED:
                raise BadArguments(f"Run #{run_id} is {run.status}; there is nothing to step.")
            if run.status == RunStatus.RUNNING:  # the action in flight is the step
                run.requested = run.requested or RunRequest.PAUSE
            else:
                run.status = RunStatus.PAUSED
                run.steps_requested += 1
        elif kind == EventKind.STOP:
            if run.status not in FINISHED:
                run.requested = RunRequest.STOP
        queries.add_event(session, run_id, kind, reason, actor=actor)
    if run.requested:
        return apply_if_idle(engine, run_id)
    return run


def apply_if_idle(engine: Engine, run_id: int) -> Run:
    """Apply a pause or stop at once when no live runner will (none holds the run)."""
    from treelight.engine.run.loop import Runner

    with Session(engine) as session:
        run = queries.get_run(session, run_id)
    assert run is not None
    if not run.requested or leases.lease_is_live(run):
        return run
    try:
        return Runner(engine, run_id).run_until_idle().run
    except RunBusy:  # a worker took it meanwhile: it applies the request
        return run


def pause(engine: Engine, run_id: int, reason: str = "", actor: str = "person") -> Run:
    return _change(engine, run_id, EventKind.PAUSE, reason, actor)


def resume(engine: Engine, run_id: int) -> Run:
    return _change(engine, run_id, EventKind.RESUME)


def step(engine: Engine, run_id: int) -> Run:
    """Exactly one action, then paused. On a running run, the action in flight is the
    step: the run pauses after it."""
    return _change(engine, run_id, EventKind.STEP)


def stop(engine: Engine, run_id: int, reason: str = "") -> Run:
    return _change(engine, run_id, EventKind.STOP, reason)
