"""A person steering a search: every change shows in the tree and the event log."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.conftest import game24_script
from treelight.engine import commands, steering
from treelight.engine.errors import BadArguments
from treelight.engine.runner import Runner, create_run
from treelight.engine.tree import load_tree
from treelight.storage import queries


def paused_run(engine: Engine, actions: int = 2) -> int:
    run = create_run(
        engine,
        task="game24",
        problem="4 4 4 4",
        strategy="bfs",
        strategy_params={"samples": 3},
        generator={"backend": "scripted", "outputs": game24_script(5)},
        budget={"max_calls": 60},
        status="running",
    )
    assert run.id is not None
    runner = Runner(engine, run.id)
    for _ in range(actions):
        runner.step()
    commands.pause(engine, run.id)
    return run.id


def person_events(engine: Engine, run_id: int) -> list[tuple[str, int | None]]:
    with Session(engine) as session:
        return [
            (e.kind, e.node_id) for e in queries.run_events(session, run_id) if e.actor == "person"
        ]


def open_child(engine: Engine, run_id: int) -> int:
    tree = load_tree(engine, run_id, 1)
    return next(n.id for n in tree.main() if n.status == "open" and n.depth == 1)


def test_prune_and_restore_a_branch(engine: Engine) -> None:
    run_id = paused_run(engine)
    node_id = open_child(engine, run_id)
    assert steering.prune(engine, run_id, node_id, note="looks wrong") == 1
    tree = load_tree(engine, run_id, 1)
    assert tree.nodes[node_id].status == "pruned"
    assert tree.nodes[node_id].status_reason == "pruned by a person: looks wrong"
    assert steering.restore(engine, run_id, node_id) == 1
    assert load_tree(engine, run_id, 1).nodes[node_id].status == "open"
    assert person_events(engine, run_id)[-2:] == [("prune", node_id), ("restore", node_id)]
    with pytest.raises(BadArguments, match="cannot be pruned"):
        steering.prune(engine, run_id, load_tree(engine, run_id, 1).root.id)


def test_a_pinned_node_is_expanded_first(engine: Engine) -> None:
    run_id = paused_run(engine)
    tree = load_tree(engine, run_id, 1)
    level = [n for n in tree.main() if n.status == "open" and n.depth == 1]
    assert len(level) >= 2
    underdog = min(level, key=lambda n: (n.score or 0, -n.id))
    steering.pin(engine, run_id, underdog.id)
    commands.resume(engine, run_id)
    runner = Runner(engine, run_id)
    for _ in range(3):
        runner.step()
        if load_tree(engine, run_id, 1).nodes[underdog.id].status != "open":
            break
    assert load_tree(engine, run_id, 1).nodes[underdog.id].status == "expanded"


def test_a_prior_goes_into_the_prompts_below_its_node(engine: Engine) -> None:
    run_id = paused_run(engine)
    node_id = open_child(engine, run_id)
    steering.pin(engine, run_id, node_id)
    steering.add_prior(engine, run_id, node_id, "try multiplying the two fours")
    commands.step(engine, run_id)
    Runner(engine, run_id).run_until_idle()
    with Session(engine) as session:
        calls = [c for c in queries.run_model_calls(session, run_id) if c.node_id == node_id]
    assert calls and all(
        "Hint from a person: try multiplying the two fours" in c.prompt
        for c in calls
        if c.purpose == "expand"
    )
    assert ("prior", node_id) in person_events(engine, run_id)


def test_swapping_judges_rescores_the_frontier_and_reports_the_rest(engine: Engine) -> None:
    run_id = paused_run(engine, actions=3)
    run = steering.swap_judges(engine, run_id, [{"name": "game24-verifier"}], whole_tree=True)
    assert run.judge_set == 2
    Runner(engine, run_id).run_until_idle()  # serves the re-score command while paused
    with Session(engine) as session:
        cmds = queries.run_commands(session, run_id)
        events = queries.run_events(session, run_id)
        new_verdicts = [e for e in queries.run_evaluations(session, run_id) if e.judge_set == 2]
    assert cmds[-1].kind == "rescore_tree" and cmds[-1].status == "done"
    assert any(e.kind == "rescore_report" for e in events)
    assert new_verdicts and all(e.judge == "game24-verifier" for e in new_verdicts)
    frontier = {
        n.id for n in load_tree(engine, run_id, 2).main() if n.status == "open" and n.parent_id
    }
    assert frontier and not any(load_tree(engine, run_id, 2).nodes[i].evaluated for i in frontier)
    for _ in range(len(frontier)):  # re-scoring the frontier comes before anything else
        commands.step(engine, run_id)
        Runner(engine, run_id).run_until_idle()
    tree = load_tree(engine, run_id, 2)
    assert all(tree.nodes[i].evaluated for i in frontier)


def test_rerun_grows_a_separate_branch_the_main_search_ignores(engine: Engine) -> None:
    run_id = paused_run(engine)
    node_id = open_child(engine, run_id)
    steering.rerun(engine, run_id, node_id, temperature=1.2, seed=99, prior="use 4 * 4")
    Runner(engine, run_id).run_until_idle()
    tree = load_tree(engine, run_id, 1)
    rerun_nodes = [n for n in tree.nodes.values() if n.branch == "rerun-1"]
    assert rerun_nodes and all(n.parent_id == node_id and n.origin == "rerun" for n in rerun_nodes)
    assert tree.nodes[node_id].status == "open"  # the main search has not touched it
    with Session(engine) as session:
        calls = [c for c in queries.run_model_calls(session, run_id) if c.purpose == "rerun-1"]
    assert calls and calls[0].params["temperature"] == 1.2
    assert "Hint from a person: use 4 * 4" in calls[0].prompt
    with pytest.raises(BadArguments, match="can change"):
        steering.rerun(engine, run_id, node_id, colour="blue")
