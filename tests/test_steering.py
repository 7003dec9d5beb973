"""A person steering a search: every change shows in the tree and the event log."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.conftest import DATABASES, engine_on_each_database, game24_script, game24_search
from treelight.engine import steering
from treelight.engine.errors import BadArguments, RunNotFound
from treelight.engine.run.creation import create_run
from treelight.engine.run.loop import Runner
from treelight.engine.run.tree_cache import load_tree
from treelight.storage import queries
from treelight.storage.models import Node


def paused_run(engine: Engine, actions: int = 2) -> int:
    run_id = game24_search(engine, "running", script=5, judges=None, max_calls=60, work=False)
    runner = Runner(engine, run_id)
    for _ in range(actions):
        runner.step()
    steering.pause(engine, run_id)
    return run_id


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
    steering.resume(engine, run_id)
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
    steering.step(engine, run_id)
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
    # The open frontier was judged by the new set at once, on the paused run: no
    # step or resume was needed (its groups are among the tree's).
    tree = load_tree(engine, run_id, 2)
    frontier = {n.id for n in tree.main() if n.status == "open" and n.parent_id}
    assert frontier and all(tree.nodes[i].evaluated for i in frontier)
    assert queries_run_status(engine, run_id) == "paused"


def queries_run_status(engine: Engine, run_id: int) -> str:
    with Session(engine) as session:
        run = queries.get_run(session, run_id)
    assert run is not None
    return str(run.status)


def test_rerun_grows_a_separate_branch_the_main_search_ignores(engine: Engine) -> None:
    run_id = paused_run(engine)
    node_id = open_child(engine, run_id)
    first = steering.rerun(engine, run_id, node_id, temperature=1.2, seed=99, prior="use 4 * 4")
    # The same request again (a form sent by Enter and by a click) is the same request.
    again = steering.rerun(engine, run_id, node_id, temperature=1.2, seed=99, prior="use 4 * 4")
    assert again.id == first.id
    Runner(engine, run_id).run_until_idle()
    after = steering.rerun(engine, run_id, node_id, temperature=1.2, seed=99, prior="use 4 * 4")
    assert after.id == first.id  # done: the same seed would only draw the same branch
    with Session(engine) as session:
        reruns = [c for c in queries.run_commands(session, run_id) if c.kind == "rerun"]
    assert len(reruns) == 1
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


@pytest.fixture(params=DATABASES)
def each_database(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    return engine_on_each_database(request, tmp_path)


def node_row(engine: Engine, node_id: int) -> tuple:
    with Session(engine) as session:
        node = session.get(Node, node_id)
        assert node is not None
        return (node.status, node.status_reason, node.score, node.pinned, node.rev)


def label_events(engine: Engine, run_id: int) -> list[tuple[str, int | None, dict]]:
    with Session(engine) as session:
        return [
            (e.actor, e.node_id, e.details)
            for e in queries.run_events(session, run_id)
            if e.kind == "label"
        ]


def test_a_label_is_an_event_the_latest_wins_and_none_clears_it(each_database: Engine) -> None:
    engine = each_database
    run_id = paused_run(engine)
    node_id, other = [
        n.id for n in load_tree(engine, run_id, 1).main() if n.status == "open" and n.depth == 1
    ][:2]
    before = node_row(engine, node_id)

    label = steering.label(engine, run_id, node_id, "good", "  uses both fours  ")
    assert label is not None
    assert (label.node_id, label.verdict, label.note, label.actor) == (
        node_id,
        "good",
        "uses both fours",
        "person",
    )
    assert node_row(engine, node_id) == before, "a label is an opinion: the node is unchanged"
    steering.label(engine, run_id, other, "bad")
    steering.label(engine, run_id, node_id, "bad", "16 is not left")  # replaces "good"
    with Session(engine) as session:
        labels = queries.run_labels(session, run_id)
    assert {i: (lab.verdict, lab.note) for i, lab in labels.items()} == {
        node_id: ("bad", "16 is not left"),
        other: ("bad", ""),
    }
    assert labels[node_id].at >= label.at

    assert steering.label(engine, run_id, node_id, "bad", "16 is not left") == labels[node_id]
    assert steering.label(engine, run_id, other, "none") is None
    assert steering.label(engine, run_id, other, "none") is None  # nothing left to clear
    with Session(engine) as session:
        assert set(queries.run_labels(session, run_id)) == {node_id}
    assert label_events(engine, run_id) == [
        ("person", node_id, {"verdict": "good", "note": "uses both fours"}),
        ("person", other, {"verdict": "bad", "note": ""}),
        ("person", node_id, {"verdict": "bad", "note": "16 is not left"}),
        ("person", other, {"verdict": "none", "note": ""}),
    ], "every change once, with the person as actor; repeats and no-op clears write nothing"
    assert node_row(engine, node_id) == before


def test_labels_on_running_and_finished_runs_change_nothing_in_the_search(engine: Engine) -> None:
    run = create_run(
        engine,
        task="game24",
        problem="4 4 4 4",
        strategy="bfs",
        strategy_params={"samples": 3},
        generator={"backend": "scripted", "outputs": game24_script(5)},
        budget={"max_calls": 30},
        status="running",
    )
    assert run.id is not None
    twin = create_run(
        engine,
        task="game24",
        problem="4 4 4 4",
        strategy="bfs",
        strategy_params={"samples": 3},
        generator={"backend": "scripted", "outputs": game24_script(5)},
        budget={"max_calls": 30},
        status="running",
    )
    assert twin.id is not None
    runner = Runner(engine, run.id)
    runner.step()
    runner.step()
    with Session(engine) as session:
        assert queries.get_run(session, run.id).status == "running"  # type: ignore[union-attr]
    first = open_child(engine, run.id)
    steering.label(engine, run.id, first, "bad", "a person disagrees")  # while running
    Runner(engine, run.id).run_until_idle()
    Runner(engine, twin.id).run_until_idle()

    def shape(run_id: int) -> list[tuple]:
        with Session(engine) as session:
            nodes = queries.run_nodes(session, run_id)
        return [(n.key, n.text, n.status, n.pruned_by, n.score) for n in nodes]  # not ids

    assert shape(run.id) == shape(twin.id), "the search ran as if no one had labelled"
    with Session(engine) as session:
        finished = queries.get_run(session, run.id)
    assert finished is not None and finished.status in ("done", "stopped")
    assert steering.label(engine, run.id, first, "good") is not None  # after the end
    with Session(engine) as session:
        assert queries.run_labels(session, run.id)[first].verdict == "good"


def test_bad_labels_say_what_is_wrong(engine: Engine) -> None:
    run_id = paused_run(engine)
    other_run = paused_run(engine)
    node_id = open_child(engine, run_id)
    foreign = open_child(engine, other_run)
    root = load_tree(engine, run_id, 1).root.id
    with pytest.raises(BadArguments, match=f"Run #{run_id} has no node #999"):
        steering.label(engine, run_id, 999, "good")
    with pytest.raises(BadArguments, match=f"Run #{run_id} has no node #{foreign}"):
        steering.label(engine, run_id, foreign, "good")
    with pytest.raises(RunNotFound, match="No run #4242"):
        steering.label(engine, 4242, node_id, "good")
    with pytest.raises(BadArguments, match="good or bad \\(or none, to clear it\\), not 'great'"):
        steering.label(engine, run_id, node_id, "great")
    with pytest.raises(BadArguments, match="at most 500 characters, not 501"):
        steering.label(engine, run_id, node_id, "bad", "x" * 501)
    with pytest.raises(BadArguments, match="The problem itself takes no label"):
        steering.label(engine, run_id, root, "good")
    assert steering.label(engine, run_id, node_id, "bad", "x" * 500) is not None
    assert len(label_events(engine, run_id)) == 1  # the refused ones wrote nothing
