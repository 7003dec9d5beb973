"""Kill a real `treelight resume` process with SIGKILL mid-run, resume, lose nothing.

Twenty seeded trials, going through every strategy in turn."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlmodel import Session

from tests.conftest import game24_script
from tests.invariants import check_tree_invariants, tree_signature
from treelight.engine.judges import parse_judge_specs
from treelight.engine.run.creation import create_run
from treelight.engine.run.loop import Runner
from treelight.engine.strategies import strategy_classes
from treelight.storage import queries
from treelight.storage.database import make_engine

STRATEGY_PARAMS = {"bfs": {"samples": 3}, "dfs": {"samples": 3}, "mcts": {"samples": 3}}


def start_run(url: str, seed: int, delay: float, strategy: str) -> int:
    run = create_run(
        make_engine(url),
        task="game24",
        problem="4 4 4 4",
        strategy=strategy,
        strategy_params=STRATEGY_PARAMS.get(strategy, {}),
        generator={"backend": "scripted", "outputs": game24_script(seed), "delay": delay},
        judges=parse_judge_specs("game24-verifier,value"),
        budget={"max_calls": 45},
        seed=seed,
        status="running",
    )
    assert run.id is not None
    return run.id


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(20))
def test_sigkill_mid_run_then_resume_loses_and_duplicates_nothing(
    tmp_path: Path, trial: int
) -> None:
    rng = random.Random(1000 + trial)
    seed = rng.randint(1, 10_000)

    reference_url = f"sqlite:///{tmp_path / 'reference.db'}"
    strategy = list(strategy_classes())[trial % len(strategy_classes())]  # every strategy, in turn
    reference = start_run(reference_url, seed, delay=0.0, strategy=strategy)
    Runner(make_engine(reference_url), reference).run_until_idle()
    expected = tree_signature(make_engine(reference_url), reference)

    url = f"sqlite:///{tmp_path / 'killed.db'}"
    run_id = start_run(url, seed, delay=0.02, strategy=strategy)
    env = {**os.environ, "DATABASE_URL": url}
    process = subprocess.Popen(
        [sys.executable, "-m", "treelight.engine.cli", "resume", str(run_id), "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    engine = make_engine(url)
    # Wait until the search is under way, then kill it at a random moment.
    deadline, started = time.monotonic() + 60, False
    while time.monotonic() < deadline and not started:
        with Session(engine) as session:
            started = bool(queries.run_model_calls(session, run_id))
        assert started or process.poll() is None, "`treelight resume` exited before any call"
        time.sleep(0.02)
    time.sleep(rng.uniform(0.0, 0.6))
    process.send_signal(signal.SIGKILL)
    process.wait()

    with Session(engine) as session:
        before = {(n.id, n.key, n.text) for n in queries.run_nodes(session, run_id)}
        status_before = queries.get_run(session, run_id).status  # type: ignore[union-attr]
    if status_before == "running":  # the usual case: killed mid-search
        outcome = Runner(engine, run_id).run_until_idle()
        assert outcome.error is None, outcome.error

    with Session(engine) as session:
        after = {(n.id, n.key, n.text) for n in queries.run_nodes(session, run_id)}
    assert before <= after, "a node committed before the kill is gone"
    check_tree_invariants(engine, run_id)
    assert tree_signature(engine, run_id) == expected
