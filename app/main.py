"""Treelight explorer: the Streamlit entry script (`treelight app` runs it; so does
`streamlit run app/main.py` once the package is installed)."""

from __future__ import annotations

import streamlit as st

from treelight.app.pages import (
    explorer_alias_page,
    explorer_page,
    judges_page,
    new_run_page,
    runs_page,
)
from treelight.app.services import ensure_worker
from treelight.app.teaching import presentation_toggle

st.set_page_config(page_title="Treelight", page_icon="🌳", layout="wide")
ensure_worker()
presentation_toggle()
st.navigation(
    [explorer_page(), new_run_page(), runs_page(), judges_page(), explorer_alias_page()]
).run()
