"""Schema migrations: small named functions, each applied once and recorded.

The first migration creates the tables from the models. Every later one must
be idempotent against a database that `m001` created at a newer model version
(use `add_column`, which skips a column that is already there); a test checks
that a migrated database matches the models exactly.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlalchemy import JSON, Column, Connection, Float, Integer, String, inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

Migration = Callable[[Connection], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append((fn.__name__, fn))
    return fn


def add_column(conn: Connection, table: str, column: Column) -> None:
    """Add `column` to `table` unless it exists (a helper for future migrations)."""
    existing = {c["name"] for c in inspect(conn).get_columns(table)}
    if column.name not in existing:
        ddl = column.type.compile(dialect=conn.dialect)
        conn.execute(text(f'ALTER TABLE "{table}" ADD COLUMN "{column.name}" {ddl}'))


@migration
def m001_initial(conn: Connection) -> None:
    from treelight.storage import models  # noqa: F401  (registers the tables on the metadata)

    SQLModel.metadata.create_all(conn)


@migration
def m002_commands(conn: Connection) -> None:
    from treelight.storage.models import Command

    Command.__table__.create(conn, checkfirst=True)  # type: ignore[attr-defined]


@migration
def m003_model_call_extra(conn: Connection) -> None:
    add_column(conn, "modelcall", Column("extra", JSON))


@migration
def m004_revisions(conn: Connection) -> None:
    add_column(conn, "run", Column("revision", Integer, nullable=False, server_default="0"))
    add_column(conn, "node", Column("rev", Integer, nullable=False, server_default="0"))
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_node_rev ON node (rev)"))
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_node_run_rev ON node (run_id, rev)"))


@migration
def m005_run_totals_trigger(conn: Connection) -> None:
    """The run's call and token totals follow its model-call rows, in the database
    itself: whoever inserts a call, the totals match the rows in the same commit."""
    if conn.dialect.name == "sqlite":
        conn.execute(
            text("""
            CREATE TRIGGER IF NOT EXISTS modelcall_totals AFTER INSERT ON modelcall
            WHEN NEW.error IS NULL AND NEW.run_id IS NOT NULL
            BEGIN
              UPDATE run SET model_calls = model_calls + 1,
                             prompt_tokens = prompt_tokens + NEW.prompt_tokens,
                             completion_tokens = completion_tokens + NEW.completion_tokens
              WHERE id = NEW.run_id;
            END
        """)
        )
    elif conn.dialect.name == "postgresql":
        conn.execute(
            text("""
            CREATE OR REPLACE FUNCTION modelcall_totals() RETURNS trigger AS $$
            BEGIN
              IF NEW.error IS NULL AND NEW.run_id IS NOT NULL THEN
                UPDATE run SET model_calls = model_calls + 1,
                               prompt_tokens = prompt_tokens + NEW.prompt_tokens,
                               completion_tokens = completion_tokens + NEW.completion_tokens
                WHERE id = NEW.run_id;
              END IF;
              RETURN NEW;
            END $$ LANGUAGE plpgsql
        """)
        )
        conn.execute(text("DROP TRIGGER IF EXISTS modelcall_totals ON modelcall"))
        conn.execute(
            text("""
            CREATE TRIGGER modelcall_totals AFTER INSERT ON modelcall
            FOR EACH ROW EXECUTE FUNCTION modelcall_totals()
        """)
        )
    else:
        raise RuntimeError(f"No run-totals trigger for {conn.dialect.name}: add one here.")


@migration
def m006_run_scripts(conn: Connection) -> None:
    from treelight.storage.models import RunScript

    RunScript.__table__.create(conn, checkfirst=True)  # type: ignore[attr-defined]
    # Move the outputs of existing scripted runs out of the run row.
    rows = conn.execute(text("SELECT id, generator FROM run")).fetchall()
    for run_id, generator in rows:
        spec = json.loads(generator) if isinstance(generator, str) else generator
        if spec and "outputs" in spec:
            outputs = spec.pop("outputs")
            conn.execute(
                text("INSERT INTO runscript (run_id, outputs) VALUES (:id, :outputs)"),
                {"id": run_id, "outputs": json.dumps(outputs)},
            )
            conn.execute(
                text("UPDATE run SET generator = :spec WHERE id = :id"),
                {"id": run_id, "spec": json.dumps(spec)},
            )


@migration
def m007_run_requests(conn: Connection) -> None:
    add_column(conn, "run", Column("requested", String, nullable=False, server_default=""))


@migration
def m008_run_plugins(conn: Connection) -> None:
    add_column(conn, "run", Column("plugins", JSON))
    conn.execute(text("UPDATE run SET plugins = '{}' WHERE plugins IS NULL"))


@migration
def m009_node_pruned_by(conn: Connection) -> None:
    """Who pruned a node, as a field; filled in for stored runs from their prune events
    (or, for the oldest, from the wording of the reason)."""
    add_column(conn, "node", Column("pruned_by", String))
    pruned = conn.execute(
        text("SELECT id, status_reason FROM node WHERE status = 'pruned'")
    ).fetchall()
    for node_id, reason in pruned:
        last = conn.execute(
            text(
                "SELECT details FROM event WHERE node_id = :id AND kind = 'prune' "
                "ORDER BY id DESC LIMIT 1"
            ),
            {"id": node_id},
        ).first()
        details = (json.loads(last[0]) if isinstance(last[0], str) else last[0]) if last else {}
        by = (details or {}).get("by") or _pruned_by_from_reason(reason or "")
        conn.execute(
            text("UPDATE node SET pruned_by = :by WHERE id = :id"), {"by": by, "id": node_id}
        )
    conn.execute(text("UPDATE node SET pruned_by = '' WHERE pruned_by IS NULL"))


def _pruned_by_from_reason(reason: str) -> str:
    for start, by in (
        ("pruned by a person", "person"),
        ("rejected by", "judge"),
        ("duplicate of", "duplicate"),
        ("its parent #", "parent pruned"),
        ("not selected", "selection"),
        ("value ", "threshold"),
    ):
        if reason.startswith(start):
            return by
    return "beam cutoff"


@migration
def m010_model_call_logprobs(conn: Connection) -> None:
    """Per-token log-probabilities on model calls, and a candidate's own on its node."""
    add_column(conn, "modelcall", Column("logprobs", JSON))
    add_column(conn, "node", Column("logprob", Float))


@migration
def m012_dataset_evals(conn: Connection) -> None:
    from treelight.storage.models import DatasetEval, EvalItem

    DatasetEval.__table__.create(conn, checkfirst=True)  # type: ignore[attr-defined]
    EvalItem.__table__.create(conn, checkfirst=True)  # type: ignore[attr-defined]


def migrate(engine: Engine) -> list[str]:
    """Apply every migration not yet recorded; return the names applied."""
    applied: list[str] = []
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS _migrations (name VARCHAR(200) PRIMARY KEY)"))
        done = {row[0] for row in conn.execute(text("SELECT name FROM _migrations"))}
        for name, fn in MIGRATIONS:
            if name in done:
                continue
            fn(conn)
            conn.execute(text("INSERT INTO _migrations (name) VALUES (:n)"), {"n": name})
            applied.append(name)
    return applied
