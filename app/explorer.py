"""The explorer page: the live tree, the run's controls and the node inspector."""

from __future__ import annotations

import time
from typing import Any

import streamlit as st
from sqlmodel import Session

from treelight.app.charts import run_charts
from treelight.app.inspector import inspector
from treelight.app.run_controls import controls
from treelight.app.run_status import status_below_tree, status_line
from treelight.app.services import get_engine
from treelight.app.teaching import presentation_toggle, presenting
from treelight.app.tree_component import live_tree
from treelight.app.tree_rows import current_nodes
from treelight.engine.options import describe
from treelight.engine.strategies import strategy_classes
from treelight.engine.strategies.base import LOOP_RULES, StrategyOptions
from treelight.engine.views.best_path import best_path
from treelight.engine.views.folding import FOCUS_LIMIT, fold_for_view, neighbourhood
from treelight.engine.views.palette import legend
from treelight.engine.views.radial import radial_positions, wants_rings
from treelight.engine.views.vis import vis_elements
from treelight.storage import queries
from treelight.storage.models import Run
from treelight.storage.vocabulary import NodeStatus, RunStatus

LIVE = (RunStatus.QUEUED, RunStatus.RUNNING)
WHOLE_PAGE_SHOWN = "explorer_whole_page_shown"
# With the tree sent alone, how long to wait for the browser to say it drew it
# before sending the rest anyway (a browser that never says so still gets a page).
TREE_FIRST_WAIT = 3.0
PROBLEM_INLINE = 70  # a longer problem is shown in full in an expander
# Streamlit's own Material icons: they render without an emoji font, and the
# status is also written out in words on the status line.
STATUS_ICON = {
    RunStatus.QUEUED: ":material/schedule:",
    RunStatus.RUNNING: ":material/play_circle:",
    RunStatus.PAUSED: ":material/pause_circle:",
    RunStatus.DONE: ":material/check_circle:",
    RunStatus.STOPPED: ":material/stop_circle:",
}


def chosen_run_id() -> int | None:
    raw = st.query_params.get("run")
    if raw and raw.isdigit():
        return int(raw)
    with Session(get_engine()) as session:
        runs = queries.list_runs(session, limit=1)
    return runs[0].id if runs else None


def page() -> None:
    engine = get_engine()
    run_id = chosen_run_id()
    with Session(engine) as session:
        run = queries.get_run(session, run_id) if run_id else None
        busy = bool(run_id and queries.pending_commands(session, run_id))
    if run is None or run.id is None:
        st.title(":material/account_tree: Treelight")
        if run_id:
            st.error(f"There is no run #{run_id}. Pick one on the Runs page or start a new one.")
        else:
            st.info("No runs yet. Start one on the **New run** page (at the top).")
        return
    if st.query_params.get("run") != str(run.id):
        st.query_params["run"] = str(run.id)

    # One header row (what run, on what problem, the projector switch), then one
    # toolbar: at 1280 x 720 the tree must start on the first screen.
    title, problem, present = st.columns([2.4, 2.6, 1.6], vertical_alignment="center")
    title.markdown(
        f"### {STATUS_ICON.get(run.status, '')} Run #{run.id} · {run.task} · {run.strategy}"
    )
    with problem:
        first_line = run.problem.strip().splitlines()[0] if run.problem.strip() else ""
        if len(run.problem) <= PROBLEM_INLINE and first_line == run.problem.strip():
            st.text(f"Problem: {run.problem.strip()}")
        else:
            with st.expander(f"Problem: {first_line[:PROBLEM_INLINE]}…"):
                st.text(run.problem)
    with present:
        presentation_toggle()
    controls(run)
    live = following(run, busy)
    if presenting():  # the tree full width; the inspector beside it only if wanted
        # (its switch sits in the tree's own row of switches: see tree_panel)
        side = bool(st.session_state.get("present_inspector"))
        left, right = st.columns([3, 1.3], gap="medium") if side else (st.container(), None)
    else:
        left, right = st.columns([3, 2], gap="medium")
    tree_first = not st.session_state.get(WHOLE_PAGE_SHOWN)
    with left:
        tree_panel(run.id, live, tree_first)
        method_note(run)
    if tree_first:
        # A browser session's first explorer page sends the tree alone: the
        # browser draws nothing until every element of a page is ready, and the
        # inspector, charts and log (code blocks, a chart, a table) would hold the
        # tree back by a second or more. The rest follows once the tree is drawn.
        st.session_state[WHOLE_PAGE_SHOWN] = True
        return
    if right is not None:
        with right:
            inspector(run.id, live)
    st.divider()
    # Only the open tab is computed (switching tabs reruns the page).
    charts, log = st.tabs(["Charts", "Event log"], key="run_tabs", on_change="rerun")
    if charts.open:
        with charts:
            run_charts(run.id)
    if log.open:
        with log:
            event_log(run.id)


def following(run: Run, busy: bool) -> bool:
    """Whether the page keeps redrawing: while the run works, and while work a person
    started has not landed (a step on a paused run, a pause or stop on its way, a
    re-run or re-score waiting for the worker)."""
    return run.status in LIVE or busy or bool(run.requested) or run.steps_requested > 0


def method_note(run: Run) -> None:
    """The strategy in one line, and how it works (for teaching), next to the tree."""
    strategy = strategy_classes().get(run.strategy)
    if strategy is None:
        return
    rules = {k: v for k, v in run.strategy_params.items() if k in LOOP_RULES and v}
    loop_help = {info.name: info.help for info in describe(StrategyOptions)}
    # Our own text, not a model's: Markdown is fine here.
    with st.expander(f"**{run.strategy}** — {strategy.summary}", expanded=presenting()):
        st.markdown(strategy.explanation)
        if rules:
            st.caption("Loop rules on this run")
            for name, value in rules.items():
                st.text(f"{name} = {value}: {loop_help[name]}")


def event_log(run_id: int) -> None:
    """The audit log: every decision, by the engine or a person, newest first."""
    with Session(get_engine()) as session:
        events = queries.run_events(session, run_id)
    actors = st.multiselect(
        "Actor", ["engine", "person"], default=["engine", "person"], key="log_actors"
    )
    rows = [
        {
            "#": e.id,
            "time": e.created_at.strftime("%H:%M:%S"),
            "actor": e.actor,
            "event": e.kind,
            "node": e.node_id,
            "reason": e.reason,
        }
        for e in reversed(events)
        if e.actor in actors
    ]
    st.dataframe(rows, hide_index=True, width="stretch", height=320)


def tree_panel(run_id: int, live: bool, tree_first: bool = False) -> None:
    """The tree and its status line. With `tree_first`, the rest of the page is
    not sent yet: the tree reports when it is drawn, and then the page reruns."""
    if presenting():  # one row of switches, so the tree gets the screen's height
        hide, whole, layout, side = st.columns([1, 1, 1.2, 1], vertical_alignment="center")
        side.toggle("Inspector", key="present_inspector", help="Show the inspector beside the tree")
    else:
        hide, whole, layout = st.columns([1, 1, 1.1], vertical_alignment="center")
    hide_invalid = hide.toggle(
        "Hide invalid",
        key="hide_invalid",
        help="Small models propose many unusable steps; they stay in "
        "the database and the exports either way.",
    )
    whole_tree = whole.toggle(
        "Whole tree",
        key="whole_tree",
        help=f"Past {FOCUS_LIMIT} nodes the tree is drawn around the best path and the "
        "selected node, the rest folded into '+N more' boxes (click one to open it). "
        "On: every node, with labels shown only where they are big enough to read.",
    )
    direction = layout.segmented_control(
        "Layout",
        ["top-down", "left-right"],
        default="top-down",
        key="tree_layout",
        label_visibility="collapsed",
        format_func=lambda way: {"top-down": "↓ down", "left-right": "→ across"}[way],
        help="Lay the tree out top-down or left to right",
        width="stretch",
    )

    if tree_first:
        st.session_state["tree_first_at"] = time.monotonic()
        st.session_state.pop("tree_drawn", None)
    # This page run shows the selected node in the inspector: the tree's fragment
    # reruns the page only when a click changes it (below).
    st.session_state["inspected_node"] = st.session_state.get("selected_node")

    @st.fragment(run_every=1.0 if live or tree_first else None)
    def draw() -> None:
        selection = st.session_state.get("selected_node")
        if selection != st.session_state.get("inspected_node"):
            # A click on a node: the inspector beside the tree must follow, so the
            # whole page reruns now, once, instead of after this fragment's own
            # rerun has read and drawn the whole tree for nothing.
            st.session_state["inspected_node"] = selection
            st.rerun()
        with Session(get_engine()) as session:
            run = queries.get_run(session, run_id)
            assert run is not None
            nodes, revision = current_nodes(session, run_id)
            priors = queries.run_priors(session, run_id)
            notes = queries.run_notes(session, run_id)
            labels = queries.run_labels(session, run_id)
            pending = queries.pending_commands(session, run_id)
            busy = bool(pending)
        status_line(run, nodes, pending)  # one line above the tree; the rest below it
        if st.session_state.get("unfolded_run") != run_id:  # folds are per run
            st.session_state["unfolded"], st.session_state["unfolded_run"] = set(), run_id
            st.session_state["opened"] = set()
        selected = st.session_state.get("selected_node")
        # What the picture depends on: when none of it changed (a live run between
        # two writes, a finished run's timed rerun), the last drawing is reused.
        drawn_from = (
            run_id,
            revision,
            run.answer_node_id,
            len(priors),
            len(notes),
            tuple(sorted((i, lb.verdict, lb.note, lb.actor) for i, lb in labels.items())),
            hide_invalid,
            whole_tree,
            selected,
            frozenset(st.session_state["unfolded"]),
            frozenset(st.session_state["opened"]),
        )
        last: tuple[Any, ...] = st.session_state.get("explorer_drawing") or (None,)
        unchanged = last[0] == drawn_from
        if unchanged:
            path, drawn, vis_nodes, vis_edges = last[1:]
        else:
            path = best_path(nodes, run)
            shown = [n for n in nodes if not (hide_invalid and n.status == NodeStatus.INVALID)]
            drawn = fold_for_view(
                shown,
                path | ({selected} if selected is not None else set()),
                st.session_state["unfolded"],
                st.session_state["opened"],
                keep=selected,
                limit=None if whole_tree else FOCUS_LIMIT,
            )
            vis_nodes, vis_edges = vis_elements(
                drawn, priors=priors, highlight=path, task=run.task, notes=notes, labels=labels
            )
            if whole_tree and wants_rings(vis_nodes):  # rings, not a sliver
                radial_positions(vis_nodes, vis_edges)
            st.session_state["explorer_drawing"] = (drawn_from, path, drawn, vis_nodes, vis_edges)
        # A person changed what is shown: fit the view to it again.
        refit = st.session_state.get("tree_shown_as") not in (None, (hide_invalid, whole_tree))
        st.session_state["tree_shown_as"] = (hide_invalid, whole_tree)
        live_tree(
            run_id,
            vis_nodes,
            vis_edges,
            st.session_state.get("selected_node"),
            direction=(
                "RADIAL"
                if whole_tree and wants_rings(vis_nodes)
                else "LR"
                if direction == "left-right"
                else "UD"
            ),
            best=list(path),
            near=neighbourhood(drawn.nodes, selected),
            fit=refit,
            height=1000 if presenting() else 860,  # at most: it fits the window
            large=presenting(),
            report_drawn=tree_first,
            unchanged=unchanged,
        )
        status_below_tree(run, nodes)
        st.html(_legend_html())
        waited = time.monotonic() - st.session_state.get("tree_first_at", 0.0)
        if tree_first and (st.session_state.get("tree_drawn") or waited > TREE_FIRST_WAIT):
            st.session_state.pop("tree_first_at", None)
            st.rerun()  # the tree is drawn: now the rest of the page
        if following(run, busy) != live:
            st.rerun()  # the page around the tree (controls, inspector) is out of date

    draw()


def _legend_html() -> str:
    # Static text and colours from our own table: no model text here.
    items = "".join(
        f'<span style="margin-right:12px;white-space:nowrap;font-size:0.8rem">'
        f'<span style="display:inline-block;width:10px;height:10px;border-radius:50%;'
        f'background:{colour};margin-right:4px"></span>{text}</span>'
        for colour, text in legend()
    )
    return (
        f'<div style="line-height:1.8">{items} <span style="font-size:0.8rem">'
        "· gold: best path · size: score (small, grey border: not scored) · dashed edge: "
        "re-run branch · dashed border: pinned · a +N box: folded invalid or duplicate "
        "siblings (click to open) · a badge: a person's label (the inspector has its "
        "note)</span></div>"
    )
