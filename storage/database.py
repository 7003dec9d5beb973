"""The database engine: SQLite with WAL and a busy timeout by default, else any URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from sqlalchemy import bindparam, event, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, create_engine

from treelight.storage import revisions  # noqa: F401  (stamps node revisions on every flush)
from treelight.storage.migrations import migrate
from treelight.storage.models import Run
from treelight.storage.paths import database_url

BUSY_TIMEOUT_MS = 30_000


def _tune_sqlite(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    # WAL lets the app read while the runner writes; the busy timeout makes a
    # writer wait for the other instead of failing with "database is locked".
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str | None = None) -> Engine:
    """A new engine for `url` (default: `database_url()`), migrated to the latest schema."""
    url = url or database_url()
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _tune_sqlite)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    migrate(engine)
    return engine


@cache
def shared_engine(url: str) -> Engine:
    """One engine per URL per process (the app and the worker share it)."""
    return make_engine(url)


def get_engine() -> Engine:
    return shared_engine(database_url())


# Built once: this runs at the start of every write transaction of a run.
_LOCK_RUN = update(Run).where(col(Run.id) == bindparam("run")).values(revision=col(Run.revision))


@contextmanager
def unit_of_work(engine: Engine, run_id: int | None = None) -> Iterator[Session]:
    """One session, one transaction: committed on success, rolled back on any error.

    With `run_id`, the transaction first takes that run's write lock, so whatever
    it reads next is current and stays so until it commits. Every writer of a
    run (the runner, people steering from any number of browser sessions, the
    CLI) does this, which makes their read-then-write steps serial: a person's
    prune cannot be overwritten by a runner that read the node a moment before.
    (A no-op UPDATE of the run row: a row lock on PostgreSQL; on SQLite, whose
    driver starts the transaction at the first write, the database write lock,
    waited for under the busy timeout.)
    """
    with Session(engine, expire_on_commit=False) as session:
        try:
            if run_id is not None:
                session.connection().execute(_LOCK_RUN, {"run": run_id})
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
