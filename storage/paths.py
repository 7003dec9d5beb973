"""Where Treelight keeps its data: one function per answer, each with an env-var override."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_data_dir


def treelight_home() -> Path:
    """The data directory: `$TREELIGHT_HOME`, else the per-user data directory."""
    override = os.environ.get("TREELIGHT_HOME")
    home = Path(override).expanduser() if override else Path(user_data_dir("treelight"))
    home.mkdir(parents=True, exist_ok=True)
    return home


def database_url() -> str:
    """`$DATABASE_URL` (e.g. PostgreSQL for a team), else SQLite in the data directory."""
    return os.environ.get("DATABASE_URL") or f"sqlite:///{treelight_home() / 'treelight.db'}"
