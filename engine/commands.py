"""Steering commands a person gives a run: pause, resume, step, stop.

They only change the run row and log an event with the person as actor; the
runner applies them between two actions, so an action in flight is never cut.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from engine.errors import BadArguments, RunNotFound
from storage import queries
from storage.database import unit_of_work
from storage.models import Run

FINISHED = ("done", "failed", "stopped")


def _change(engine: Engine, run_id: int, kind: str, reason: str = "", actor: str = "person") -> Run:
    with unit_of_work(engine, run_id) as session:
        run = session.get(Run, run_id)
        if run is None:
            raise RunNotFound(f"No run #{run_id}: `treelight runs` lists the runs there are.")
        if kind == "pause":
            if run.status in ("running", "queued"):
                run.status, run.status_reason = "paused", reason or "paused by a person"
        elif kind == "resume":
            if run.status in FINISHED and run.status != "stopped":
                raise BadArguments(f"Run #{run_id} is {run.status}; it cannot be resumed.")
            run.status, run.status_reason = "running", ""
        elif kind == "step":
            if run.status in FINISHED:
                raise BadArguments(f"Run #{run_id} is {run.status}; there is nothing to step.")
            run.status = "paused"
            run.steps_requested += 1
        elif kind == "stop":
            if run.status not in FINISHED:
                run.status, run.status_reason = "stopped", reason or "stopped by a person"
        queries.add_event(session, run_id, kind, reason, actor=actor)
    return run


def pause(engine: Engine, run_id: int, reason: str = "", actor: str = "person") -> Run:
    return _change(engine, run_id, "pause", reason, actor)


def resume(engine: Engine, run_id: int) -> Run:
    return _change(engine, run_id, "resume")


def step(engine: Engine, run_id: int) -> Run:
    return _change(engine, run_id, "step")


def stop(engine: Engine, run_id: int, reason: str = "") -> Run:
    return _change(engine, run_id, "stop", reason)
