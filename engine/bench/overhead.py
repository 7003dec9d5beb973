"""The engine's own cost per node, with an instant scripted generator.

A beam search on an open question (beam about sqrt(N), ten proposals per node,
the value judge on every candidate) grows to N nodes; every candidate, verdict,
event and model call is persisted to a SQLite file (or the database at `--database-url`, e.g.
PostgreSQL), exactly as in a real run.
Beside it, the same number of rows is written with plain `sqlite3` and the
same number of commits: the floor any engine writing every step would pay.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlmodel import Session

from treelight.engine.run.creation import create_run
from treelight.engine.run.loop import Runner
from treelight.storage import queries
from treelight.storage.database import make_engine
from treelight.storage.vocabulary import RunStatus


@dataclass
class OverheadResult:
    nodes: int
    seconds: float
    ms_per_node: float
    sqlite_seconds: float
    sqlite_ms_per_node: float
    ratio: float
    model_calls: int
    evaluations: int
    events: int
    commits: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def _outputs(count: int) -> list[str]:
    return [f"Idea {i}: look at it from another side. likely" for i in range(count)]


def engine_run(folder: Path, nodes: int, url: str | None = None) -> tuple[float, dict[str, int]]:
    """The engine's seconds for a tree of `nodes`, in a fresh SQLite file in `folder`
    (or the database at `url`, e.g. PostgreSQL), and what it wrote."""
    engine = make_engine(url or f"sqlite:///{folder / 'engine.db'}")
    run = create_run(
        engine,
        task="question",
        problem="How many ways can the search go?",
        strategy="bfs",
        # A tree about as deep as it is wide (levels of beam × 10 nodes), so that
        # prompts, which carry the whole path, stay a realistic size.
        strategy_params={
            "beam": max(10, round(nodes**0.5)),
            "samples": 10,
            "steps": nodes,
            "stop_at_first": False,
        },
        judges=[{"name": "value", "samples": 1}],
        generator={"backend": "scripted", "outputs": _outputs(3 * nodes + 100)},
        budget={"max_nodes": nodes},
        status=RunStatus.RUNNING,
    )
    assert run.id is not None
    started = time.perf_counter()
    Runner(engine, run.id).run_until_idle()
    seconds = time.perf_counter() - started
    with Session(engine) as session:
        counts = {
            "nodes": queries.node_count(session, run.id),
            "model_calls": len(queries.run_model_calls(session, run.id)),
            "evaluations": len(queries.run_evaluations(session, run.id)),
            "events": len(queries.run_events(session, run.id)),
        }
        stored = queries.get_run(session, run.id)
        assert stored is not None
        counts["actions"] = stored.actions
    engine.dispose()
    return seconds, counts


def sqlite_floor(folder: Path, counts: dict[str, int]) -> float:
    """The same rows and commits, with plain sqlite3 (WAL, synchronous=NORMAL)."""
    db = sqlite3.connect(folder / "floor.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(
        "CREATE TABLE node (id INTEGER PRIMARY KEY, run_id, key, parent_id, depth, text,"
        " state, status, status_reason, origin, branch, score, visits, value, pinned,"
        " model_call_id, rev, created_at)"
    )
    db.execute(
        "CREATE TABLE modelcall (id INTEGER PRIMARY KEY, run_id, node_id, purpose,"
        " backend, model, prompt, params, fingerprint, output, prompt_tokens,"
        " completion_tokens, cached_prompt_tokens, latency_seconds, extra, error,"
        " created_at)"
    )
    db.execute(
        "CREATE TABLE evaluation (id INTEGER PRIMARY KEY, run_id, node_id, judge,"
        " judge_config, judge_set, role, score, passed, rationale, model_call_ids,"
        " created_at)"
    )
    db.execute(
        "CREATE TABLE event (id INTEGER PRIMARY KEY, run_id, kind, actor, node_id,"
        " reason, details, created_at)"
    )
    text = "Idea 17: look at it from another side. likely"
    per_action = max(1, counts["actions"])
    started = time.perf_counter()
    for _ in range(counts["model_calls"]):  # one commit per model call, as the engine does
        db.execute("BEGIN")
        db.execute(
            "INSERT INTO modelcall VALUES (NULL,1,1,'expand','scripted','s',?,"
            "'{}','f',?,10,10,0,0,'{}',NULL,'t')",
            (text * 4, text),
        )
        db.execute("UPDATE event SET kind = kind WHERE id = -1")  # the run-total update
        db.execute("COMMIT")
    rows = [
        ("node", counts["nodes"]),
        ("evaluation", counts["evaluations"]),
        ("event", counts["events"]),
    ]
    queue = [table for table, count in rows for _ in range(count)]
    chunk = max(1, len(queue) // per_action)
    for start in range(0, len(queue), chunk):  # one commit per action
        db.execute("BEGIN")
        for table in queue[start : start + chunk]:
            if table == "node":
                db.execute(
                    "INSERT INTO node VALUES (NULL,1,'0/1',1,1,?,'{}','open','','model',"
                    "'main',0.5,0,0,0,1,1,'t')",
                    (text,),
                )
            elif table == "evaluation":
                db.execute(
                    "INSERT INTO evaluation VALUES (NULL,1,1,'value','{}',1,'weight',0.05,"
                    "NULL,'1 samples: likely','[1]','t')"
                )
            else:
                db.execute(
                    "INSERT INTO event VALUES (NULL,1,'expand','engine',1,'10 candidates','{}','t')"
                )
        db.execute("COMMIT")
    seconds = time.perf_counter() - started
    db.close()
    return seconds


def measure(nodes: int, url: str | None = None) -> OverheadResult:
    """One size. The plain-sqlite3 floor is measured beside a SQLite run only."""
    with tempfile.TemporaryDirectory(prefix="treelight-bench-") as tmp:
        folder = Path(tmp)
        seconds, counts = engine_run(folder, nodes, url)
        floor = 0.0 if url else sqlite_floor(folder, counts)
    made = counts["nodes"]
    return OverheadResult(
        nodes=made,
        seconds=round(seconds, 3),
        ms_per_node=round(1000 * seconds / made, 4),
        sqlite_seconds=round(floor, 3),
        sqlite_ms_per_node=round(1000 * floor / made, 4),
        ratio=round(seconds / floor, 2) if floor else 0.0,
        model_calls=counts["model_calls"],
        evaluations=counts["evaluations"],
        events=counts["events"],
        commits=counts["model_calls"] + counts["actions"],
    )
