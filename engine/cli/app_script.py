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
