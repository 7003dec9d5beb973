"""Where the app's entry script is, found without importing the app: the engine
starts Streamlit on it (`treelight app`, the browser benchmarks) but never
imports the app layer (the layering contract in pyproject.toml)."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def app_script() -> Path:
    spec = importlib.util.find_spec("treelight.app")
    if spec is None or spec.origin is None:
        raise RuntimeError("The package treelight.app is not installed: reinstall Treelight.")
    return Path(spec.origin).resolve().parent / "main.py"


# How the explorer's server runs, wherever it is started (`treelight app`, the browser
# tests and benchmarks). Streamlit's defaults suit editing an app, not watching a
# search: with a full garbage collection after every script run and a watcher
# polling the source files, one tab on a live run (its tree redrawn every second)
# cost the server about a third of a core, on machines whose cores the model needs.
SERVER_FLAGS = (
    "--server.headless", "true",
    "--browser.gatherUsageStats", "false",
    "--client.toolbarMode", "minimal",
    "--runner.postScriptGC", "false",
    "--server.fileWatcherType", "none",
)  # fmt: skip
