"""One set of invariants, parametrized over every strategy and both tasks."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from tests.conftest import (
    DATABASES,
    code_script,
    engine_on_each_database,
    game24_script,
    math_script,
    question_script,
)
from tests.invariants import check_tree_invariants, tree_signature
from treelight.engine import commands
from treelight.engine.runner import Runner, create_run
from treelight.engine.strategies import STRATEGIES


@pytest.fixture(params=DATABASES)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    """Every test here runs on SQLite and on PostgreSQL."""
    return engine_on_each_database(request, tmp_path)


TASKS = {
    "game24": ("4 4 4 4", game24_script, "game24-verifier,value"),
    "question": ("What is the capital of France?", question_script, "value:samples=2"),
    "math": ("Anna has 12 pencils and gets 5 more. How many?", math_script, "calculator,answer"),
}
TASK_PARAMS = {"math": {"answer": "17"}, "code": {"tests": "assert add(1, 2) == 3\n"}}
# Scripted outputs are not aimed at the prompt, so ask for three proposals per
# node: enough valid ones for the trees to grow a few levels.
PARAMS = {(s, t): {"samples": 3} for s in ("bfs", "dfs") for t in TASKS}
# The code task runs each candidate's tests in the sandbox: checked once per
# strategy, on SQLite, with a small budget.
CODE = ("Write add(a, b) that returns the sum.", code_script, "code-tests")
BUDGETS = [{"max_calls": 30}, {"max_tokens": 2500}, {"max_nodes": 12}]


def new_run(engine: Engine, strategy: str, task: str, seed: int, budget: dict) -> int:
    problem, script, judges = TASKS[task] if task in TASKS else CODE
    from treelight.engine.judges import parse_judge_specs

    run = create_run(
        engine,
        task=task,
        problem=problem,
        strategy=strategy,
        strategy_params=PARAMS.get((strategy, task), {}),
        task_params=TASK_PARAMS.get(task),
        generator={"backend": "scripted", "outputs": script(seed)},
        judges=parse_judge_specs(judges),
        budget=budget,
        seed=seed,
        status="running",
    )
    assert run.id is not None
    return run.id


@pytest.mark.parametrize("budget", BUDGETS, ids=["calls", "tokens", "nodes"])
@pytest.mark.parametrize("task", sorted(TASKS))
@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_invariants_hold(engine: Engine, strategy: str, task: str, budget: dict) -> None:
    run_id = new_run(engine, strategy, task, seed=7, budget=budget)
    outcome = Runner(engine, run_id).run_until_idle()
    assert outcome.error is None, outcome.error
    assert outcome.run.status in ("done", "stopped")
    if outcome.run.status == "stopped":
        assert "budget" in outcome.run.status_reason
    check_tree_invariants(engine, run_id)


@pytest.mark.parametrize("task", sorted(TASKS))
@pytest.mark.parametrize("strategy", list(STRATEGIES))
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
    commands.pause(engine, interrupted)
    paused = Runner(engine, interrupted).run_until_idle()
    if paused.run.status == "paused":
        commands.resume(engine, interrupted)
    Runner(engine, interrupted).run_until_idle()  # a fresh runner, as after a restart

    assert tree_signature(engine, interrupted) == expected
    check_tree_invariants(engine, interrupted)


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_invariants_hold_for_code(tmp_path: Path, strategy: str) -> None:
    from treelight.storage.database import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'code.db'}")
    run_id = new_run(engine, strategy, "code", seed=5, budget={"max_calls": 8})
    outcome = Runner(engine, run_id).run_until_idle()
    assert outcome.error is None, outcome.error
    assert outcome.run.status in ("done", "stopped")
    check_tree_invariants(engine, run_id)
