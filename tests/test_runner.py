"""Runner behaviours a person relies on, one by one."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session

from treelight.engine.run.creation import create_run
from treelight.engine.run.expansion import MAX_NODE_TEXT
from treelight.engine.run.loop import Runner
from treelight.storage import queries


def expand_root(engine: Engine, outputs: list[str], samples: int = 1) -> list:
    run = create_run(
        engine,
        task="game24",
        problem="4 4 4 4",
        strategy="bfs",
        strategy_params={"samples": samples},
        judges=[],
        generator={"backend": "scripted", "outputs": outputs},
        status="running",
    )
    assert run.id is not None
    Runner(engine, run.id).step()
    with Session(engine) as session:
        return [n for n in queries.run_nodes(session, run.id) if n.parent_id is not None]


def test_a_repeated_state_is_kept_but_pruned_as_a_duplicate(engine: Engine) -> None:
    first, second, third = expand_root(engine, ["4 + 4 = 8\n4 + 4 = 8 (left: 4 4 8)\n4 * 4 = 16"])
    assert first.status == "open"
    assert (second.status, second.status_reason) == (
        "pruned",
        f"duplicate of #{first.id}: the same state",
    )
    assert third.status == "open"


def test_empty_and_huge_outputs_become_nodes_with_a_reason(engine: Engine) -> None:
    huge = "9" * 100_000
    empty, big = expand_root(engine, ["   ", huge], samples=2)
    assert (empty.status, empty.status_reason) == (
        "invalid",
        "game24 rules: the model returned an empty output",
    )
    assert big.status == "invalid"
    assert len(big.text) < MAX_NODE_TEXT + 200
    assert big.text.endswith(
        f"[truncated: 100,000 characters in all; see model call #{big.model_call_id}]"
    )
    with Session(engine) as session:
        calls = queries.run_model_calls(session, big.run_id)
    assert calls[1].output == huge  # the full text is kept where the model call is


def test_the_incremental_tree_equals_a_full_load_at_every_step(engine: Engine) -> None:
    import random

    from tests.conftest import game24_script
    from treelight.engine import steering
    from treelight.engine.run.tree_cache import TreeCache, load_tree

    run = create_run(
        engine,
        task="game24",
        problem="4 4 4 4",
        strategy="bfs",
        strategy_params={"samples": 3},
        generator={"backend": "scripted", "outputs": game24_script(4)},
        budget={"max_calls": 40},
        status="running",
    )
    assert run.id is not None
    runner, cache, rng = Runner(engine, run.id), TreeCache(engine, run.id), random.Random(4)
    for step in range(30):
        if runner.reload().status != "running":
            break
        runner.step()
        full = load_tree(engine, run.id, runner.judge_set)
        if step % 4 == 3:  # a person steps in between two actions
            node = rng.choice([n for n in full.nodes.values() if n.parent_id])
            steering.pin(engine, run.id, node.id)
            steering.add_prior(engine, run.id, node.id, f"hint {step}")
            full = load_tree(engine, run.id, runner.judge_set)
        incremental = cache.refresh(runner.judge_set)
        assert incremental.nodes == full.nodes
        assert incremental.priors == full.priors
        assert incremental.children == full.children
        assert {s: set(ids) for s, ids in incremental.by_status.items() if ids} == {
            s: set(ids) for s, ids in full.by_status.items() if ids
        }
