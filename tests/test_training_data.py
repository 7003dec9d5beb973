"""Trees as training data: preference pairs, process labels and solved paths."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.conftest import game24_script
from treelight.engine.cli import main
from treelight.engine.judges import parse_judge_specs
from treelight.engine.runner import Runner, create_run
from treelight.storage import queries
from treelight.storage.training import training_lines


def finished_run(engine: Engine, generator: dict, max_calls: int = 30) -> int:
    run = create_run(
        engine,
        task="game24",
        problem="4 4 4 4",
        strategy="bfs",
        strategy_params={"samples": 3, "beam": 3},
        generator=generator,
        judges=parse_judge_specs("game24-verifier"),
        budget={"max_calls": max_calls},
        status="running",
    )
    assert run.id is not None
    Runner(engine, run.id).run_until_idle()
    return run.id


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
