"""Long-lived resources of the app: the database engine and the background worker."""

from __future__ import annotations

import os

import streamlit as st
from sqlalchemy.engine import Engine

from treelight.engine.run.worker import Worker
from treelight.storage.database import make_engine
from treelight.storage.paths import database_url


@st.cache_resource(show_spinner=False)
def _engine_for(url: str) -> Engine:
    return make_engine(url)


def get_engine() -> Engine:
    return _engine_for(database_url())


@st.cache_resource(show_spinner=False)
def _worker_for(url: str) -> Worker:
    # One worker per app process: searches run one at a time, in the
    # background, and keep running while no browser is watching.
    worker = Worker(_engine_for(url))
    worker.start_thread()
    return worker


def ensure_worker() -> Worker | None:
    """Start the in-app worker, unless TREELIGHT_WORKER=off (when `treelight worker`
    processes run the searches instead, e.g. several on a team database)."""
    if os.environ.get("TREELIGHT_WORKER", "on").lower() in ("off", "0", "false", "no"):
        return None
    return _worker_for(database_url())
