"""The app's pages, built in one place so any page can link to another.

Each page is a two-line script in app/views/ (file pages let AppTest switch
between them); the code lives in the module it imports.
"""

from __future__ import annotations

import streamlit as st
from streamlit.navigation.page import StreamlitPage


def explorer_page() -> StreamlitPage:
    """The home page: the explorer, at the app's root URL (`/?run=ID`)."""
    return st.Page(
        "views/explorer.py",
        title="Explorer",
        icon=":material/account_tree:",
        url_path="home",  # a default page is served at "/", not at its url_path
        default=True,
    )


def explorer_alias_page() -> StreamlitPage:
    """The explorer at `/explorer?run=ID` too (the path people guess and share);
    hidden from the menu, where the home page already stands for it."""
    return st.Page("views/explorer.py", title="Explorer", url_path="explorer", visibility="hidden")


def new_run_page() -> StreamlitPage:
    return st.Page(
        "views/new_run.py", title="New run", icon=":material/add_circle:", url_path="new"
    )


def runs_page() -> StreamlitPage:
    return st.Page("views/runs_page.py", title="Runs", icon=":material/list:", url_path="runs")


def judges_page() -> StreamlitPage:
    return st.Page(
        "views/judges_page.py", title="Judges", icon=":material/gavel:", url_path="judges"
    )
