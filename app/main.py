"""Treelight explorer: the Streamlit entry script (`streamlit run app/main.py`)."""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run app/main.py` from a checkout: make the project importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import streamlit as st  # noqa: E402

from app.pages import explorer_page, new_run_page, runs_page  # noqa: E402
from app.services import ensure_worker  # noqa: E402

st.set_page_config(page_title="Treelight", page_icon="🌳", layout="wide")
ensure_worker()
st.navigation([explorer_page(), new_run_page(), runs_page()]).run()
