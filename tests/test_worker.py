"""The background worker, leases, and the steering commands it obeys."""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.conftest import DATABASES, engine_on_each_database, game24_script, game24_search
from treelight.engine import steering
from treelight.engine.errors import RunBusy
from treelight.engine.run.creation import RunSettings, check_run, store_run
from treelight.engine.run.loop import Runner
from treelight.engine.run.state import new_owner
from treelight.engine.run.worker import Worker, wait_until_idle
from treelight.storage import queries
from treelight.storage.database import unit_of_work
from treelight.storage.models import Run, utcnow
from treelight.storage.vocabulary import RunStatus


@pytest.fixture(params=DATABASES)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    """Every test here runs on SQLite and on PostgreSQL."""
    return engine_on_each_database(request, tmp_path)


def queued_run(engine: Engine, status: str = "queued", delay: float = 0.0) -> int:
    return game24_search(
        engine, status, script=5, delay=delay, judges=None, max_calls=15, work=False
    )


def set_lease(engine: Engine, run_id: int, owner: str) -> None:
    with unit_of_work(engine) as session:
        run = session.get(Run, run_id)
        assert run is not None
        run.status, run.lease_owner = "running", owner
        run.lease_until = utcnow() + timedelta(hours=1)


def test_worker_runs_a_queued_run_to_the_end(engine: Engine) -> None:
    run_id = queued_run(engine)
    assert Worker(engine).work_once() == run_id
    with Session(engine) as session:
        run = queries.get_run(session, run_id)
        assert run is not None and run.status == "stopped"
        assert run.status_reason == "model-call budget: 15 of 15 used"
        kinds = [e.kind for e in queries.run_events(session, run_id)]
    assert kinds[:3] == ["create", "start", "expand"]


def test_a_run_left_by_a_dead_process_is_picked_up(engine: Engine) -> None:
    run_id = queued_run(engine)
    set_lease(engine, run_id, f"{socket.gethostname()}:999999999:dead")
    assert Worker(engine).work_once() == run_id
    with Session(engine) as session:
        assert queries.get_run(session, run_id).status in ("done", "stopped")  # type: ignore


def test_a_run_held_by_a_live_process_is_left_alone(engine: Engine) -> None:
    run_id = queued_run(engine)
    set_lease(engine, run_id, f"{socket.gethostname()}:{os.getpid()}:someone-else")
    assert Worker(engine).work_once() is None
    with Session(engine) as session:
        assert queries.get_run(session, run_id).model_calls == 0  # type: ignore[union-attr]


def test_pause_step_and_stop(engine: Engine) -> None:
    run_id = queued_run(engine, status="paused")
    assert Worker(engine).work_once() is None  # paused: nothing to do
    steering.step(engine, run_id)
    assert Worker(engine).work_once() == run_id
    with Session(engine) as session:
        run = queries.get_run(session, run_id)
        assert run is not None
        assert (run.status, run.actions, run.steps_requested) == ("paused", 1, 0)
    run = steering.stop(engine, run_id)  # nobody works on it: applied at once
    assert (run.status, run.requested) == ("stopped", "")
    with Session(engine) as session:
        events = queries.run_events(session, run_id)
        nodes = queries.run_nodes(session, run_id)
    assert [(e.kind, e.actor) for e in events if e.actor == "person"][-3:] == [
        ("step", "person"),
        ("stop", "person"),
        ("stopped", "person"),
    ]
    assert "open" not in {n.status for n in nodes}


def test_background_thread_picks_up_new_runs(engine: Engine) -> None:
    worker = Worker(engine, poll_seconds=0.05)
    thread = worker.start_thread()
    try:
        run_id = queued_run(engine)
        wait_until_idle(engine, run_id, timeout=30)
    finally:
        worker.stopping.set()
        thread.join(timeout=5)
    with Session(engine) as session:
        assert queries.get_run(session, run_id).status in ("done", "stopped")  # type: ignore


def test_a_run_started_by_treelight_run_is_born_leased_to_it(engine: Engine) -> None:
    """The app's worker polls for running runs: one that `treelight run` has just
    stored must not be taken from under it (it once printed "another process
    (None)" for a run the app's worker had taken and finished)."""
    owner = new_owner()
    settings = RunSettings(
        task="game24",
        problem="4 4 4 4",
        strategy="bfs",
        generator={"backend": "scripted", "outputs": game24_script(2)},
        budget={"max_calls": 6},
    )
    run = store_run(engine, check_run(settings), RunStatus.RUNNING, lease_owner=owner)
    assert run.id is not None
    assert Worker(engine).work_once() is None  # the worker sees it and leaves it
    with pytest.raises(RunBusy, match=owner.split(":")[0]):
        Runner(engine, run.id).run_until_idle()  # any other runner is told who has it
    outcome = Runner(engine, run.id, owner=owner).run_until_idle()
    assert outcome.run.status == RunStatus.STOPPED and outcome.run.model_calls == 6
