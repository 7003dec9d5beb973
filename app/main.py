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
from treelight.app.teaching import APP_CSS, PRESENTATION_CSS, presenting

st.set_page_config(page_title="Treelight", page_icon="🌳", layout="wide")
st.html(APP_CSS)  # our own fixed styles: a compact top, so the tree is on the first screen
if presenting():
    st.html(PRESENTATION_CSS)
ensure_worker()
# The pages along the top: no sidebar, so the tree gets the window's whole width (on a
# projector's 1280 x 720 the sidebar took a quarter of it).
st.navigation(
    [explorer_page(), new_run_page(), runs_page(), judges_page(), explorer_alias_page()],
    position="top",
).run()
