"""Trees as training data: preference pairs, process labels and solved paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.conftest import DATABASES, engine_on_each_database, game24_script, game24_search
from treelight.engine import steering
from treelight.engine.cli import main
from treelight.storage import queries
from treelight.storage.database import unit_of_work
from treelight.storage.models import Node, Run
from treelight.storage.training import training_lines


def finished_run(engine: Engine, generator: dict, max_calls: int = 30) -> int:
    return game24_search(
        engine,
        "running",
        generator=generator,
        judges="game24-verifier",
        max_calls=max_calls,
        beam=3,
    )


def check_pairs(engine: Engine, run_id: int, pairs: list[dict]) -> None:
    """Every pair: siblings, the chosen one survived, the rejected one was rejected by
    a named judge (or the rules) for the recorded reason; no pair twice."""
    with Session(engine) as session:
        nodes = {n.id: n for n in queries.run_nodes(session, run_id)}
    seen = set()
    for pair in pairs:
        chosen, rejected = nodes[pair["chosen_node"]], nodes[pair["rejected_node"]]
        assert chosen.parent_id == rejected.parent_id
        assert chosen.status in ("solved", "terminal", "expanded")
        assert (chosen.text, rejected.text) == (pair["chosen"], pair["rejected"])
        if pair["rejected_by"] == "rules":
            assert rejected.status == "invalid" and pair["reason"] == rejected.status_reason
        else:
            assert rejected.pruned_by == "judge"
            assert rejected.status_reason.startswith(f"rejected by {pair['rejected_by']}:")
        key = (pair["prompt"], pair["chosen"], pair["rejected"])
        assert key not in seen
        seen.add(key)


def test_preference_prm_and_sft_from_a_scripted_run(
    app_engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = app_engine  # the database the command line uses too
    run_id = finished_run(engine, {"backend": "scripted", "outputs": game24_script(5)})
    with Session(engine) as session:
        pairs = list(training_lines(session, run_id, "preference"))
        steps = list(training_lines(session, run_id, "prm"))
        solved = list(training_lines(session, run_id, "sft"))
        nodes = queries.run_nodes(session, run_id)
    assert pairs, "this run has rejected siblings of kept nodes: the test would prove nothing"
    check_pairs(engine, run_id, pairs)
    assert {s["label"] for s in steps} <= {0, 1}
    assert len(solved) == len([n for n in nodes if n.status == "solved"])
    for line in solved:
        assert line["completion"].splitlines()[-1].endswith("(left: 24)")
    assert main(["export", str(run_id), "--format", "preference"]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert printed == pairs
    for field in ("prompt", "chosen", "rejected", "run_id", "chosen_node", "rejected_node"):
        assert field in printed[0]
    assert main(["export", str(run_id), "--format", "preference", "--judges", "value"]) == 0
    only_value = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert all(p["rejected_by"] == "rules" for p in only_value)  # no value rejections


@pytest.mark.model
def test_preference_pairs_from_a_real_embedded_run(engine: Engine) -> None:
    run_id = finished_run(engine, {"backend": "embedded", "constrain": "off"}, max_calls=6)
    with Session(engine) as session:
        pairs = list(training_lines(session, run_id, "preference"))
    assert pairs
    check_pairs(engine, run_id, pairs)


@pytest.fixture(params=DATABASES)
def each_database(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    return engine_on_each_database(request, tmp_path)


SOLVED_WHY = "(4 + 4) + 4 * 4 = 24, using each of the numbers once"


def labelled_tree(engine: Engine) -> tuple[int, dict[str, int]]:
    """A small finished tree, written directly so that every case is present: kept,
    judge-rejected, invalid, beam-cut and solved nodes, a person's labels on some."""
    shape = [  # name, parent, text, status, pruned_by, reason, answer
        ("a", "root", "4 + 4 = 8 (left: 4 4 8)", "expanded", "", "", None),
        ("b", "root", "4 * 4 = 16 (left: 4 4 16)", "expanded", "", "", None),
        ("c", "root", "4 / 4 = 1 (left: 1 4 4)", "pruned", "judge", "rejected by value: no", None),
        ("d", "root", "4 - 4 = 0 (left: 0 4 4)", "pruned", "judge", "rejected by value: 0", None),
        ("e", "root", "1 + 4 = 5 (left: 4 5)", "invalid", "", "game24 rules: 1 is not", None),
        ("e2", "root", "1 + 4 = 5 (left: 4 5)", "invalid", "", "game24 rules: 1 is not", None),
        ("f", "root", "4 + 4 = 8 (left: 8 4 4)", "pruned", "beam cutoff", "beam cutoff", None),
        ("t", "root", "Answer: 4 + 4 + 4 + 4", "pruned", "judge", "rejected by value: 16", "16"),
        ("a1", "a", "4 * 4 = 16 (left: 8 16)", "expanded", "", "", None),
        ("a2", "a", "8 - 4 = 4 (left: 4 4)", "expanded", "", "", None),
        ("a1x", "a1", "Answer: (4 + 4) + 4 * 4", "solved", "", SOLVED_WHY, "(4 + 4) + 4 * 4"),
        ("b1", "b", "16 + 4 = 20 (left: 4 20)", "expanded", "", "", None),
        ("b1x", "b1", "Answer: 4 * 4 + 4 + 4", "solved", "", SOLVED_WHY, "4 * 4 + 4 + 4"),
    ]
    with unit_of_work(engine) as session:
        run = Run(
            task="game24",
            problem="4 4 4 4",
            strategy="bfs",
            judges=[{"name": "game24-verifier"}, {"name": "value"}],
            status="done",
        )
        session.add(run)
        session.flush()
        assert run.id is not None
        root = Node(run_id=run.id, key="0", text="4 4 4 4", status="expanded")
        session.add(root)
        session.flush()
        ids, depth = {"root": root.id or 0}, {"root": 0}
        for i, (name, parent, text, status, pruned_by, reason, answer) in enumerate(shape):
            node = Node(
                run_id=run.id,
                key=f"0/{i}",
                parent_id=ids[parent],
                depth=depth[parent] + 1,
                text=text,
                status=status,
                pruned_by=pruned_by,
                status_reason=reason,
                state={"answer": answer} if answer else {},
            )
            session.add(node)
            session.flush()
            ids[name], depth[name] = node.id or 0, depth[parent] + 1
    for name, verdict, note in [
        ("a", "bad", "a person dislikes it"),
        ("a2", "bad", ""),
        ("c", "good", "dividing first is fine"),
        ("t", "good", "16 is what I asked for"),
        ("b1", "bad", "changed my mind"),
        ("b1", "none", ""),  # cleared: no label
    ]:
        steering.label(engine, run.id, ids[name], verdict, note)
    return run.id, ids


def test_a_persons_labels_come_before_the_judges_in_every_format(each_database: Engine) -> None:
    engine = each_database
    run_id, ids = labelled_tree(engine)
    name = {node_id: n for n, node_id in ids.items()}
    with Session(engine) as session:
        pairs = list(training_lines(session, run_id, "preference"))
        only_vote = list(training_lines(session, run_id, "preference", {"vote"}))
        steps = list(training_lines(session, run_id, "prm"))
        solved = list(training_lines(session, run_id, "sft"))

    got = {
        (name[p["chosen_node"]], p["chosen_by"], name[p["rejected_node"]], p["rejected_by"])
        for p in pairs
    }
    assert len(got) == len(pairs), "no pair twice"
    assert got == {
        # Under the problem: b kept by the search, c and t labelled good over the judge
        # that rejected them; a labelled bad although the search kept it; d rejected by
        # the judge, e by the rules (e2 is e's text again: no second pair).
        *((chosen, by, "a", "person") for chosen, by in [("b", "search"), ("c", "person")]),
        *((chosen, by, "d", "value") for chosen, by in [("b", "search"), ("c", "person")]),
        *((chosen, by, "e", "rules") for chosen, by in [("b", "search"), ("c", "person")]),
        ("t", "person", "a", "person"),
        ("t", "person", "d", "value"),
        ("t", "person", "e", "rules"),
        ("a1", "search", "a2", "person"),  # siblings both kept by the search
    }
    reasons = {(name[p["chosen_node"]], name[p["rejected_node"]]): p["reason"] for p in pairs}
    assert reasons["b", "a"] == "a person dislikes it"  # the note
    assert reasons["a1", "a2"] == "labelled bad by person"  # no note given
    assert reasons["b", "d"] == "rejected by value: 0"
    assert {name[p["chosen_node"]] for p in only_vote} == {"b", "c", "t", "a1"}
    assert {name[p["rejected_node"]] for p in only_vote} == {"a", "e", "a2"}, (
        "a person's labels count whichever judges are asked for; value's do not"
    )

    by_step = {name[s["node"]]: (s["label"], s["label_source"], s["why"]) for s in steps}
    assert len(by_step) == len(steps), "one label per step"
    assert by_step == {
        "a": (0, "person", "a person dislikes it"),  # on a solved path, but a person said no
        "a1": (1, "rules", "on a solved path"),
        "a1x": (1, "rules", "on a solved path"),
        "a2": (0, "person", "labelled bad by person"),
        "b": (1, "rules", "on a solved path"),
        "b1": (1, "rules", "on a solved path"),  # its label was cleared
        "b1x": (1, "rules", "on a solved path"),
        "c": (1, "person", "dividing first is fine"),
        "d": (0, "value", "rejected by value: 0"),
        "e": (0, "rules", "game24 rules: 1 is not"),
        "e2": (0, "rules", "game24 rules: 1 is not"),
        "t": (1, "person", "16 is what I asked for"),
    }  # f, cut by the beam and unlabelled, has no label

    assert [(name[s["node"]], s["label_source"], s["checked_by"]) for s in solved] == [
        ("t", "person", "labelled good by person"),  # a judge rejected it; a person did not
        ("b1x", "rules", SOLVED_WHY),
    ]  # a1x is solved, but its path goes through a, which a person labelled bad
    assert next(s for s in solved if s["node"] == ids["t"])["completion"] == (
        "Answer: 4 + 4 + 4 + 4"
    )


def test_labels_made_through_the_api_reach_the_export_command(
    app_engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = finished_run(app_engine, {"backend": "scripted", "outputs": game24_script(5)})
    with Session(app_engine) as session:
        nodes = queries.run_nodes(session, run_id)
    kept = [n for n in nodes if n.parent_id == nodes[0].id and n.status == "expanded"]
    invalid = [n for n in nodes if n.parent_id == nodes[0].id and n.status == "invalid"]
    assert len(kept) >= 2 and invalid
    steering.label(app_engine, run_id, kept[0].id or 0, "bad", "too easy a start")
    steering.label(app_engine, run_id, invalid[0].id or 0, "good", "the rules are wrong here")
    assert main(["export", str(run_id), "--format", "preference"]) == 0
    pairs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert not any(p["chosen_node"] == kept[0].id for p in pairs)
    assert not any(p["rejected_node"] == invalid[0].id for p in pairs)
    mine = [p for p in pairs if p["rejected_node"] == kept[0].id]
    assert mine and all(
        (p["rejected_by"], p["reason"]) == ("person", "too easy a start") for p in mine
    )
    assert any(p["chosen_node"] == invalid[0].id and p["chosen_by"] == "person" for p in pairs)
    keys = [(p["prompt"], p["chosen"], p["rejected"]) for p in pairs]
    assert len(keys) == len(set(keys))
    assert main(["export", str(run_id), "--format", "prm"]) == 0
    steps = {s["node"]: s for s in map(json.loads, capsys.readouterr().out.splitlines())}
    assert (steps[kept[0].id]["label"], steps[kept[0].id]["label_source"]) == (0, "person")
    assert (steps[invalid[0].id]["label"], steps[invalid[0].id]["label_source"]) == (1, "person")
    assert {s["label_source"] for s in steps.values()} <= {"person", "rules", "game24-verifier"}


def test_an_empty_export_says_why_on_stderr(
    app_engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = game24_search(app_engine, "paused")  # only its root: nothing to learn from
    for format, why in [
        ("preference", "no preference pairs"),
        ("sft", "no sft examples"),
        ("prm", "no prm labels"),
    ]:
        assert main(["export", str(run_id), "--format", format]) == 0
        out, err = capsys.readouterr()
        assert out == "" and f"run #{run_id} has no " in err and why in err
    solved = finished_run(app_engine, {"backend": "scripted", "outputs": game24_script(5)})
    assert main(["export", str(solved), "--format", "prm"]) == 0
    out, err = capsys.readouterr()
    assert out and err == ""  # lines, so nothing to explain
