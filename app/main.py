"""Treelight explorer: the Streamlit entry script (`streamlit run app/main.py`)."""

from __future__ import annotations

import streamlit as st
from sqlmodel import Session

from app.services import ensure_worker, get_engine
from engine.runner import create_run
from engine.strategies import STRATEGIES
from engine.tasks import TASKS
from engine.textview import format_tree
from storage import queries

st.set_page_config(page_title="Treelight", page_icon="🌳", layout="wide")
engine = get_engine()
ensure_worker()

st.title("🌳 Treelight")
with st.sidebar.form("new_run"):
    st.subheader("New run")
    task = st.selectbox("Task", sorted(TASKS), key="task")
    problem = st.text_input("Problem", "4 9 10 13", key="problem")
    strategy = st.selectbox("Strategy", list(STRATEGIES), key="strategy")
    max_calls = st.number_input("Max model calls", 1, 10_000, 40, key="max_calls")
    if st.form_submit_button("Start"):
        run = create_run(
            engine,
            task=task,
            problem=problem,
            strategy=strategy,
            generator={"backend": "embedded"},
            budget={"max_calls": max_calls},
        )
        st.query_params["run"] = str(run.id)

with Session(engine) as session:
    runs = queries.list_runs(session)
if not runs:
    st.info("No runs yet: start one from the sidebar.")
    st.stop()
run_id = int(st.query_params.get("run") or runs[0].id or 0)


@st.fragment(run_every=1.0)
def show_run() -> None:
    with Session(engine) as session:
        run = queries.get_run(session, run_id)
        if run is None:
            st.error(f"No run #{run_id}.")
            return
        st.code(
            format_tree(
                run, queries.run_nodes(session, run_id), queries.run_evaluations(session, run_id)
            ),
            language=None,
        )


show_run()
