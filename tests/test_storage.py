"""Storage: where the database lives, migrations, SQLite settings, export."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import fields as dataclass_fields
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from tests.conftest import DATABASES, engine_on_each_database, game24_script, game24_search
from treelight.engine import steering
from treelight.engine.run.creation import create_run
from treelight.engine.run.loop import Runner
from treelight.storage import hot_path, paths, queries
from treelight.storage.database import make_engine
from treelight.storage.export import run_to_dict, run_to_graphml
from treelight.storage.migrations import MIGRATIONS, migrate
from treelight.storage.models import CallRecord, ModelCall


@pytest.fixture(params=DATABASES)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    """Every test here runs on SQLite and on PostgreSQL."""
    return engine_on_each_database(request, tmp_path)


def test_database_lives_under_treelight_home(treelight_home: Path) -> None:
    assert paths.database_url() == f"sqlite:///{treelight_home / 'treelight.db'}"
    make_engine()
    assert (treelight_home / "treelight.db").exists()


def test_database_url_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'team.db'}")
    assert paths.database_url().endswith("team.db")


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite settings")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000


def test_migrations_apply_once_and_match_the_models(engine: Engine) -> None:
    assert migrate(engine) == []  # make_engine already applied them all
    with engine.connect() as conn:
        recorded = [r[0] for r in conn.execute(text("SELECT name FROM _migrations"))]
    assert recorded == [name for name, _ in MIGRATIONS]
    inspector = inspect(engine)
    for table in SQLModel.metadata.sorted_tables:
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        assert columns == {c.name for c in table.columns}, table.name


def test_who_pruned_a_node_is_filled_in_for_runs_stored_before_the_field(
    engine: Engine,
) -> None:
    """m009 fills `pruned_by` from each node's prune event, or from its reason."""
    from treelight.storage.migrations import m009_node_pruned_by

    run = create_run(
        engine,
        task="game24",
        problem="4 4 4 4",
        strategy="bfs",
        strategy_params={"beam": 1, "samples": 3},
        generator={"backend": "scripted", "outputs": game24_script(5)},
        budget={"max_calls": 30},
        status="running",
    )
    assert run.id is not None
    run_id = run.id
    runner = Runner(engine, run_id)
    runner.step()  # the root's children
    chosen = next(n for n in runner.load().with_status("open"))
    assert steering.prune(engine, run_id, chosen.id) == 1  # a person prunes one
    runner.run_until_idle()
    with Session(engine) as session:
        before = {n.id: n.pruned_by for n in queries.run_nodes(session, run_id)}
    kinds = set(before.values()) - {""}
    assert {"person", "beam cutoff", "duplicate"} <= kinds, kinds
    with engine.begin() as conn:
        conn.execute(text("UPDATE node SET pruned_by = ''"))
        # The oldest runs logged prunes without saying by whom: the reason tells.
        conn.execute(text("UPDATE event SET details = '{}' WHERE kind = 'prune'"))
        m009_node_pruned_by(conn)
    with Session(engine) as session:
        after = {n.id: n.pruned_by for n in queries.run_nodes(session, run_id)}
    assert after == before


def _finished_run(engine: Engine) -> int:
    outputs = [
        "4 + 4 = 8 (left: 4 4 8)\n<img src=x onerror=alert(1)>",
        "sure",
        "likely",
        "impossible",
    ] * 20
    run = create_run(
        engine,
        task="game24",
        problem="4 4 4 4",
        strategy="bfs",
        generator={"backend": "scripted", "outputs": outputs},
        budget={"max_calls": 12},
        status="running",
    )
    assert run.id is not None
    Runner(engine, run.id).run_until_idle()
    return run.id


def test_json_export_has_every_part_of_the_run(engine: Engine) -> None:
    run_id = _finished_run(engine)
    with Session(engine) as session:
        data = json.loads(json.dumps(run_to_dict(session, run_id)))
    assert {"id", "status", "task", "strategy", "problem", "answer"} <= set(data["run"])
    node_fields = {"id", "parent_id", "depth", "text", "status", "score", "reason"}
    assert data["nodes"] and all(node_fields <= set(n) for n in data["nodes"])
    eval_fields = {"node_id", "judge", "score", "passed", "rationale"}
    assert data["evaluations"] and all(eval_fields <= set(e) for e in data["evaluations"])
    assert data["events"] and data["model_calls"]
    invalid = [n for n in data["nodes"] if n["status"] == "invalid"]
    assert invalid and all(n["reason"] for n in invalid)


def test_graphml_export_is_the_tree_with_text_as_data(engine: Engine) -> None:
    run_id = _finished_run(engine)
    with Session(engine) as session:
        graphml = run_to_graphml(session, run_id)
        node_total = len(run_to_dict(session, run_id)["nodes"])
    root = ET.fromstring(graphml)
    ns = {"g": "http://graphml.graphdrawing.org/xmlns"}
    assert len(root.findall(".//g:node", ns)) == node_total
    assert len(root.findall(".//g:edge", ns)) == node_total - 1
    assert "<img" not in graphml and "&lt;img src=x onerror=alert(1)&gt;" in graphml


def test_the_hot_path_writes_what_the_orm_would(engine: Engine) -> None:
    """The runner writes nodes, calls, verdicts and decisions with Core
    (storage/hot_path.py): every write still gets its own revision, in the order
    written, whoever wrote it (a person's ORM prune in between), and a stored call
    reads back field for field."""
    run_id = game24_search(engine, "paused", max_calls=12)
    runner = Runner(engine, run_id)
    runner.step()  # expand the root (Core)
    with Session(engine) as session:
        child = queries.run_nodes(session, run_id)[1]
    steering.prune(engine, run_id, child.id or 0, note="a person's cut")  # ORM
    steering.resume(engine, run_id)
    Runner(engine, run_id).run_until_idle()  # judging, beam prunes, more expansions
    with Session(engine) as session:
        nodes = queries.run_nodes(session, run_id)
        run = queries.get_run(session, run_id)
        calls = queries.run_model_calls(session, run_id)
    assert run is not None and len(nodes) > 4 and calls
    revs = [n.rev for n in nodes]
    assert len(set(revs)) == len(revs) and max(revs) <= run.revision
    assert all(n.created_at is not None and n.rev > 0 for n in nodes)
    with engine.connect() as connection:
        records = hot_path.find_model_calls(connection, [c.fingerprint for c in calls], run_id)
    by_id = {call.id: call for call in calls}
    assert set(records) == {call.fingerprint for call in calls}
    for record in records.values():  # the oldest call of each fingerprint
        call = by_id[record.id]
        assert {name: getattr(record, name) for name in hot_path.CALL_FIELDS} == {
            name: getattr(call, name) for name in hot_path.CALL_FIELDS
        }
    assert {f.name for f in dataclass_fields(CallRecord)} == {
        c.name
        for c in ModelCall.__table__.columns  # type: ignore[attr-defined]
    }
