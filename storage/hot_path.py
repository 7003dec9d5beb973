"""The runner's per-action reads and writes, as prebuilt SQLAlchemy Core statements.

A search action reads the run's ledger and what changed in the tree, then writes
model calls, nodes, verdicts and events. Through the ORM that cost about 14 row
objects and as many freshly built statements per node, 30-70 times what SQLite
itself needed (docs/BENCHMARKS.md, engine overhead). Here every statement is
built once, at import, with bound parameters (SQLAlchemy compiles it once and
reuses it), runs on a plain Connection, and reads rows, not objects.

What stays the same: every write is in the caller's transaction, so "every
output is on disk before the next call" and "an expansion is all or nothing"
hold as before; nodes written here get revisions like ORM writes
(storage/revisions.py reserve). Everything else keeps the ORM (storage/queries.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, Table, bindparam, func, select, update

from treelight.storage import revisions
from treelight.storage.models import (
    CallRecord,
    Command,
    Evaluation,
    ModelCall,
    Node,
    Prior,
    Run,
    utcnow,
)
from treelight.storage.vocabulary import CommandStatus, RunRequest

RUN: Table = Run.__table__  # type: ignore[attr-defined]
NODE: Table = Node.__table__  # type: ignore[attr-defined]
CALL: Table = ModelCall.__table__  # type: ignore[attr-defined]
EVALUATION: Table = Evaluation.__table__  # type: ignore[attr-defined]
PRIOR: Table = Prior.__table__  # type: ignore[attr-defined]
COMMAND: Table = Command.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class RunLedger:
    """The few columns the runner checks before every action and call (cheap to read:
    no problem text, no generator spec)."""

    status: str
    requested: RunRequest
    steps_requested: int
    judge_set: int
    budget: dict[str, Any]
    replay: bool
    model_calls: int
    prompt_tokens: int
    completion_tokens: int
    actions: int

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


LEDGER_COLUMNS = (
    "status",
    "requested",
    "steps_requested",
    "judge_set",
    "budget",
    "replay",
    "model_calls",
    "prompt_tokens",
    "completion_tokens",
    "actions",
)
_LEDGER = select(*(RUN.c[name] for name in LEDGER_COLUMNS)).where(RUN.c.id == bindparam("run"))


def run_ledger(connection: Connection, run_id: int) -> RunLedger:
    return RunLedger(*connection.execute(_LEDGER, {"run": run_id}).one())


_COUNT_ACTION = (
    update(RUN)
    .where(RUN.c.id == bindparam("run"))
    .values(
        actions=RUN.c.actions + 1,
        elapsed_seconds=bindparam("elapsed"),
        updated_at=bindparam("now"),
    )
)


def count_action(connection: Connection, run_id: int, elapsed: float) -> None:
    """One more action done, and the seconds worked so far."""
    connection.execute(_COUNT_ACTION, {"run": run_id, "elapsed": elapsed, "now": utcnow()})


_REQUESTED = select(RUN.c.requested).where(RUN.c.id == bindparam("run"))


def requested(connection: Connection, run_id: int) -> str:
    """A person's pending pause or stop ("" when none): the one column a runner
    checks between the model calls of an action."""
    return str(connection.execute(_REQUESTED, {"run": run_id}).scalar_one() or "")


_PENDING = (
    select(COMMAND.c.id)
    .where(COMMAND.c.run_id == bindparam("run"), COMMAND.c.status == CommandStatus.PENDING)
    .limit(1)
)


def has_pending_command(connection: Connection, run_id: int) -> bool:
    return connection.execute(_PENDING, {"run": run_id}).first() is not None


# Nodes ----------------------------------------------------------------------

_NODES_SINCE = (
    select(*NODE.columns)
    .where(NODE.c.run_id == bindparam("run"), NODE.c.rev > bindparam("rev"))
    .order_by(NODE.c.id)
)


def nodes_since(connection: Connection, run_id: int, rev: int) -> list[Row[Any]]:
    """The run's nodes written after revision `rev` (storage/revisions.py), oldest
    first, as plain rows (every column, by name): what an incremental reader (the
    engine's tree cache, the explorer) fetches on each look."""
    return list(connection.execute(_NODES_SINCE, {"run": run_id, "rev": rev}).all())


_NODE = select(*NODE.columns).where(NODE.c.id == bindparam("node"))
_CHILDREN = select(*NODE.columns).where(NODE.c.parent_id == bindparam("node")).order_by(NODE.c.id)
_CHILD_COUNT = select(func.count()).select_from(NODE).where(NODE.c.parent_id == bindparam("node"))
_NODES_BY_ID = select(*NODE.columns).where(NODE.c.id.in_(bindparam("ids", expanding=True)))
_INSERT_NODE = NODE.insert()


def node_row(connection: Connection, node_id: int) -> Row[Any]:
    """One node as a plain row (every column, by name)."""
    return connection.execute(_NODE, {"node": node_id}).one()


def child_rows(connection: Connection, node_id: int) -> list[Row[Any]]:
    """A node's children as plain rows, oldest first."""
    return list(connection.execute(_CHILDREN, {"node": node_id}).all())


def child_count(connection: Connection, node_id: int) -> int:
    return int(connection.execute(_CHILD_COUNT, {"node": node_id}).scalar_one())


def node_rows_by_id(connection: Connection, node_ids: list[int]) -> dict[int, Row[Any]]:
    """Nodes as plain rows, by id."""
    return {row.id: row for row in connection.execute(_NODES_BY_ID, {"ids": list(node_ids)})}


def insert_node(connection: Connection, values: dict[str, Any]) -> int:
    """Write one node; returns its id. The caller stamps its revision (`rev`, from
    storage/revisions.py reserve)."""
    key = connection.execute(_INSERT_NODE, values).inserted_primary_key
    assert key is not None
    return int(key[0])


_NODE_UPDATES: dict[tuple[str, ...], Any] = {}  # one statement per set of changed columns


def update_nodes(connection: Connection, run_id: int, changes: dict[int, dict[str, Any]]) -> None:
    """Write each node's changed columns, each with the run's next revision: one
    executemany per set of changed columns."""
    if not changes:
        return
    rev = revisions.reserve(connection, run_id, len(changes))
    batches: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for offset, (node_id, values) in enumerate(changes.items()):
        row = {**values, "rev": rev + offset, "node_id": node_id}
        batches.setdefault(tuple(sorted(values)), []).append(row)
    for columns, rows in batches.items():
        statement = _NODE_UPDATES.get(columns)
        if statement is None:
            statement = _NODE_UPDATES[columns] = (
                update(NODE)
                .where(NODE.c.id == bindparam("node_id"))
                .values({name: bindparam(name) for name in (*columns, "rev")})
            )
        connection.execute(statement, rows)


# Model calls ------------------------------------------------------------------

CALL_FIELDS = tuple(c.name for c in CALL.columns if c.name != "id")
_INSERT_CALL = CALL.insert()
_CALLS_ANYWHERE = (
    select(CALL)
    .where(CALL.c.fingerprint.in_(bindparam("prints", expanding=True)), CALL.c.error.is_(None))
    .order_by(CALL.c.id)
)
_CALLS_IN_RUN = _CALLS_ANYWHERE.where(CALL.c.run_id == bindparam("run"))


def find_model_calls(
    connection: Connection, fingerprints: list[str], run_id: int | None
) -> dict[str, CallRecord]:
    """Earlier successful calls by fingerprint (in `run_id`, or anywhere), oldest first."""
    if not fingerprints:
        return {}
    params: dict[str, Any] = {"prints": sorted(set(fingerprints))}
    if run_id is not None:
        params["run"] = run_id
    found: dict[str, CallRecord] = {}
    statement = _CALLS_ANYWHERE if run_id is None else _CALLS_IN_RUN
    for row in connection.execute(statement, params):
        found.setdefault(row.fingerprint, CallRecord(**row._mapping))
    return found


def insert_model_call(connection: Connection, call: CallRecord) -> CallRecord:
    """Write one model call (its id set on the record)."""
    values = {name: getattr(call, name) for name in CALL_FIELDS}
    key = connection.execute(_INSERT_CALL, values).inserted_primary_key
    assert key is not None
    call.id = int(key[0])
    return call


# Verdicts and priors ------------------------------------------------------------

_INSERT_EVALUATION = EVALUATION.insert()
_EVALUATIONS_SINCE = select(
    EVALUATION.c.id, EVALUATION.c.node_id, EVALUATION.c.judge_config, EVALUATION.c.role,
    EVALUATION.c.passed,
).where(
    EVALUATION.c.run_id == bindparam("run"),
    EVALUATION.c.id > bindparam("after"),
    EVALUATION.c.judge_set == bindparam("judge_set"),
)  # fmt: skip
_PRIORS_SINCE = (
    select(PRIOR.c.id, PRIOR.c.node_id, PRIOR.c.text)
    .where(PRIOR.c.run_id == bindparam("run"), PRIOR.c.id > bindparam("after"))
    .order_by(PRIOR.c.id)
)


def insert_evaluations(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Verdicts as one executemany (a verdict names its node by id)."""
    if rows:
        connection.execute(_INSERT_EVALUATION, rows)


def evaluations_since(
    connection: Connection, run_id: int, after: int, judge_set: int
) -> list[Row[Any]]:
    """(id, node_id, judge_config, role, passed) of one judge set's verdicts after id
    `after`."""
    params = {"run": run_id, "after": after, "judge_set": judge_set}
    return list(connection.execute(_EVALUATIONS_SINCE, params))


def priors_since(connection: Connection, run_id: int, after: int) -> list[Row[Any]]:
    """(id, node_id, text) of the run's priors after id `after`, oldest first."""
    return list(connection.execute(_PRIORS_SINCE, {"run": run_id, "after": after}))
