"""One set of invariants, parametrized over every installed strategy and task."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from tests.conftest import DATABASES, engine_on_each_database
from tests.invariants import check_tree_invariants, tree_signature
from treelight.engine import steering
from treelight.engine.judges import parse_judge_specs
from treelight.engine.run.creation import create_run
from treelight.engine.run.loop import Runner
from treelight.engine.strategies import strategy_classes
from treelight.engine.tasks import task_classes


@pytest.fixture(params=DATABASES)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    """Every test here runs on SQLite and on PostgreSQL."""
    return engine_on_each_database(request, tmp_path)


# Every installed task and strategy, built in or from a plugin: each task runs on
# its own example problem (Task.example) with a scripted model playing its outputs.
TASKS = task_classes()
STRATEGIES = list(strategy_classes())
CHEAP = sorted(name for name, task in TASKS.items() if task.example.cheap)
SLOW = sorted(name for name, task in TASKS.items() if not task.example.cheap)
# Scripted outputs are not aimed at the prompt, so ask for three proposals per
# node: enough valid ones for the trees to grow a few levels.
PARAMS = {s: {"samples": 3} for s in ("bfs", "dfs")}
BUDGETS = [{"max_calls": 30}, {"max_tokens": 2500}, {"max_nodes": 12}]


def new_run(engine: Engine, strategy: str, task: str, seed: int, budget: dict) -> int:
    example = TASKS[task].example
    judges = parse_judge_specs(example.judges) if example.judges else None
    run = create_run(
        engine,
        task=task,
        problem=example.problem,
        strategy=strategy,
        strategy_params=PARAMS.get(strategy, {}),
        task_params=example.options,
        generator={"backend": "scripted", "outputs": example.script(seed)},
        judges=judges,
        budget=budget,
        seed=seed,
        status="running",
    )
    assert run.id is not None
    return run.id


@pytest.mark.parametrize("budget", BUDGETS, ids=["calls", "tokens", "nodes"])
@pytest.mark.parametrize("task", CHEAP)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_invariants_hold(engine: Engine, strategy: str, task: str, budget: dict) -> None:
    run_id = new_run(engine, strategy, task, seed=7, budget=budget)
    outcome = Runner(engine, run_id).run_until_idle()
    assert outcome.error is None, outcome.error
    assert outcome.run.status in ("done", "stopped")
    if outcome.run.status == "stopped":
        assert "budget" in outcome.run.status_reason
    check_tree_invariants(engine, run_id)


@pytest.mark.parametrize("task", CHEAP)
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pause_at_random_action_then_resume_gives_same_tree(
    engine: Engine, strategy: str, task: str, seed: int
) -> None:
    budget = {"max_calls": 40}
    straight = new_run(engine, strategy, task, seed, budget)
    Runner(engine, straight).run_until_idle()
    expected = tree_signature(engine, straight)

    interrupted = new_run(engine, strategy, task, seed, budget)
    runner = Runner(engine, interrupted)
    pause_after = random.Random(seed).randint(1, 6)
    for _ in range(pause_after):
        if runner.reload().status != "running":
            break
        runner.step()
    steering.pause(engine, interrupted)
    paused = Runner(engine, interrupted).run_until_idle()
    if paused.run.status == "paused":
        steering.resume(engine, interrupted)
    Runner(engine, interrupted).run_until_idle()  # a fresh runner, as after a restart

    assert tree_signature(engine, interrupted) == expected
    check_tree_invariants(engine, interrupted)


@pytest.mark.parametrize("task", SLOW)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_invariants_hold_for_slow_tasks(tmp_path: Path, strategy: str, task: str) -> None:
    """Tasks judged in a sandbox: once per strategy, on SQLite, with a small budget."""
    from treelight.storage.database import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'slow.db'}")
    run_id = new_run(engine, strategy, task, seed=5, budget={"max_calls": 8})
    outcome = Runner(engine, run_id).run_until_idle()
    assert outcome.error is None, outcome.error
    assert outcome.run.status in ("done", "stopped")
    check_tree_invariants(engine, run_id)
