"""The explorer's toolbar: pause, resume, step and stop (each a request the runner
applies between two model calls), the exports, and what the last Step did."""

from __future__ import annotations

import functools
import json

import streamlit as st
from sqlmodel import Session

from treelight.app.run_status import step_report
from treelight.app.safe import md
from treelight.app.services import get_engine
from treelight.engine import steering
from treelight.engine.errors import TreelightError
from treelight.engine.views.html_export import standalone_html
from treelight.storage import queries
from treelight.storage.export import run_to_dict, run_to_graphml
from treelight.storage.models import Run
from treelight.storage.vocabulary import EventKind, RunRequest, RunStatus

LIVE = (RunStatus.QUEUED, RunStatus.RUNNING)


def controls(run: Run) -> None:
    engine = get_engine()
    assert run.id is not None
    run_id = run.id
    columns = st.columns([1, 1, 1, 1, 1.3, 2.7])
    finished = run.status == RunStatus.DONE

    def act(name: EventKind) -> None:
        if name == EventKind.STEP:  # what the step does is read from the log after this
            with Session(engine) as session:
                st.session_state["step_from"] = (run.id, queries.last_event_id(session, run_id))
        elif name in (EventKind.RESUME, EventKind.STOP):
            st.session_state.pop("step_from", None)
        try:
            getattr(steering, str(name))(engine, run.id)
        except TreelightError as error:
            st.session_state["flash"] = str(error)

    columns[0].button(
        "Pause",
        key="pause",
        on_click=act,
        args=(EventKind.PAUSE,),
        disabled=run.status not in LIVE or bool(run.requested),
        width="stretch",
        help="Pause after the action in flight; its candidates are checked first",
    )
    columns[1].button(
        "Resume",
        key="resume",
        on_click=act,
        args=(EventKind.RESUME,),
        disabled=run.status not in (RunStatus.PAUSED, RunStatus.STOPPED),
        width="stretch",
    )
    columns[2].button(
        "Step",
        key="step",
        on_click=act,
        args=(EventKind.STEP,),
        disabled=finished or run.status in LIVE,
        width="stretch",
        help="Do exactly one action (expand, judge, prune, back up, critique or finish), "
        "then pause again",
    )
    columns[3].button(
        "Stop",
        key="stop",
        on_click=act,
        args=(EventKind.STOP,),
        disabled=finished or run.status == RunStatus.STOPPED or run.requested == RunRequest.STOP,
        width="stretch",
        help="End the run after the action in flight (Resume can continue it)",
    )
    exports = [
        ("JSON (everything)", _export_json, "json", "application/json"),
        ("GraphML (the tree)", _export_graphml, "graphml", "application/xml"),
        ("HTML page (the drawing)", _export_html, "html", "text/html"),
    ]
    with columns[4].popover("Export", icon=":material/download:", width="stretch"):
        for label, export, extension, mime in exports:
            st.download_button(
                label,
                data=functools.partial(export, run.id or 0),  # built only when clicked
                file_name=f"treelight-run-{run.id}.{extension}",
                mime=mime,
                key=f"export_{extension}",
                icon=":material/download:",
                width="stretch",
            )
    # One container, always there, for what comes and goes here (an error, what a
    # step did): elements appearing above the tree would shift it, and Streamlit
    # would mount it afresh, losing the view a person chose.
    with st.container():
        if "flash" in st.session_state:
            st.error(md(st.session_state.pop("flash")))
        step_report(run)


def _export_json(run_id: int) -> str:
    with Session(get_engine()) as session:
        return json.dumps(run_to_dict(session, run_id), indent=1)


def _export_graphml(run_id: int) -> str:
    with Session(get_engine()) as session:
        return run_to_graphml(session, run_id)


def _export_html(run_id: int) -> str:
    with Session(get_engine()) as session:
        run = queries.get_run(session, run_id)
        assert run is not None
        return standalone_html(
            run,
            queries.run_nodes(session, run_id),
            queries.run_priors(session, run_id),
            queries.run_notes(session, run_id),
            queries.run_labels(session, run_id),
        )
