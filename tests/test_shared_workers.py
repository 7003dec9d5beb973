"""Two `treelight worker` processes sharing one database (SQLite file or PostgreSQL).

They must never work on the same run at once (leases), and when one dies with
SIGKILL mid-run, the other takes its run over and finishes it. Every run must
end exactly as the same run does when a single process runs it alone: a run
worked on twice at once would show duplicated expansions and model calls.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.conftest import DATABASES, engine_on_each_database, game24_script
from tests.invariants import check_tree_invariants, tree_signature
from treelight.engine.judges import parse_judge_specs
from treelight.engine.run.creation import create_run
from treelight.engine.run.loop import Runner
from treelight.storage import queries
from treelight.storage.database import make_engine

RUNS = 5


@pytest.fixture(params=DATABASES)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    return engine_on_each_database(request, tmp_path)


def queue_run(engine: Engine, seed: int, delay: float) -> int:
    run = create_run(
        engine,
        task="game24",
        problem="4 4 4 4",
        strategy="bfs",
        strategy_params={"samples": 3},
        generator={"backend": "scripted", "outputs": game24_script(seed), "delay": delay},
        judges=parse_judge_specs("game24-verifier,value"),
        budget={"max_calls": 20},
        seed=seed,
    )
    assert run.id is not None
    return run.id


def start_worker(url: str, home: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": url, "TREELIGHT_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-m", "treelight.engine.cli", "worker", "--poll", "0.1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def lease_pids(engine: Engine, run_ids: list[int]) -> dict[int, int]:
    """run id -> pid of the process holding its lease, for runs being worked on."""
    held = {}
    with Session(engine) as session:
        for run_id in run_ids:
            run = queries.get_run(session, run_id)
            if run is not None and run.status == "running" and run.lease_owner:
                held[run_id] = int(run.lease_owner.split(":")[1])
    return held


@pytest.mark.slow
def test_two_workers_share_runs_and_one_takes_over_when_the_other_dies(
    engine: Engine, tmp_path: Path
) -> None:
    url = engine.url.render_as_string(hide_password=False)
    run_ids = [queue_run(engine, seed, delay=0.03) for seed in range(1, RUNS + 1)]
    first, second = start_worker(url, tmp_path / "a"), start_worker(url, tmp_path / "b")
    seen_holders: set[int] = set()
    try:
        # Watch until both hold a run at the same time, then kill the first mid-run.
        deadline = time.monotonic() + 60
        killed_run = None
        while time.monotonic() < deadline and killed_run is None:
            held = lease_pids(engine, run_ids)
            seen_holders |= set(held.values())
            assert len(held) == len(set(held.values())), f"one worker on two runs: {held}"
            if first.pid in held.values() and second.pid in held.values():
                killed_run = next(r for r, pid in held.items() if pid == first.pid)
                first.send_signal(signal.SIGKILL)
                first.wait()
            time.sleep(0.02)
        assert killed_run is not None, "the two workers never held runs at the same time"

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with Session(engine) as session:
                statuses = [queries.get_run(session, r).status for r in run_ids]  # type: ignore[union-attr]
            if all(s in ("done", "stopped") for s in statuses):
                break
            time.sleep(0.1)
        assert all(s in ("done", "stopped") for s in statuses), statuses
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.kill()
                process.wait()
    # The killed run was mid-run when its worker died, and it finished: only the
    # second worker was left to take it over.
    assert second.pid in seen_holders

    alone_url = f"sqlite:///{tmp_path / 'alone.db'}"
    alone = make_engine(alone_url)
    for seed, run_id in enumerate(run_ids, start=1):
        reference = queue_run(alone, seed, delay=0.0)
        Runner(alone, reference).run_until_idle()
        assert tree_signature(engine, run_id) == tree_signature(alone, reference), run_id
        check_tree_invariants(engine, run_id)
