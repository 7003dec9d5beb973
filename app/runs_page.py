"""The Runs page: every run, a side-by-side comparison, and a step-by-step replay."""

from __future__ import annotations

import streamlit as st
from sqlmodel import Session

from treelight.app.safe import md
from treelight.app.services import get_engine
from treelight.app.teaching import guided_replay, presentation_toggle, show_notes
from treelight.app.tree_component import live_tree
from treelight.engine.views import compare
from treelight.engine.views.best_path import best_path
from treelight.engine.views.folding import fold_for_view
from treelight.engine.views.replay import notes_at, tree_at
from treelight.engine.views.text import format_tree
from treelight.engine.views.vis import vis_elements
from treelight.storage import queries
from treelight.storage.models import Run
from treelight.storage.vocabulary import EventKind


def page() -> None:
    st.title("Runs")
    engine = get_engine()
    with Session(engine) as session:
        runs = queries.list_runs(session)
        counts = {r.id: queries.node_count(session, r.id or 0) for r in runs}
    if not runs:
        st.info("No runs yet: start one on the New run page.")
        return
    st.dataframe(
        [
            {
                "open": f"/?run={r.id}",
                "run": r.id,
                "status": r.status,
                "task": r.task,
                "strategy": r.strategy,
                "problem": r.problem[:60],
                "answer": r.answer if r.answer is not None else "no answer",
                "nodes": counts[r.id],
                "model calls": r.model_calls,
                "tokens": r.prompt_tokens + r.completion_tokens,
                "seconds": round(r.elapsed_seconds, 1),
                "reason": r.status_reason,
            }
            for r in runs
        ],
        column_config={"open": st.column_config.LinkColumn("open", display_text="open ↗")},
        hide_index=True,
        width="stretch",
    )
    labels: dict[int, str] = {
        r.id or 0: f"#{r.id} · {r.task} · {r.strategy} · {r.status}" for r in runs
    }
    ids = list(labels)
    compare, replay = st.tabs(["Compare two runs", "Replay a run"])
    with compare:
        a, b = st.columns(2)
        first = a.selectbox("Run", ids, format_func=labels.__getitem__, key="cmp_a")
        second = b.selectbox(
            "Against",
            ids,
            index=min(1, len(ids) - 1),
            format_func=labels.__getitem__,
            key="cmp_b",
        )
        if first is not None and second is not None:
            compare_runs(first, second)
    with replay:
        replay_panel(ids, labels)


def compare_runs(first: int, second: int) -> None:
    """Settings and outcome as two columns with the differences marked, then the
    two trees drawn the same way, side by side."""
    loaded = []
    with Session(get_engine()) as session:
        for run_id in (first, second):
            run = queries.get_run(session, run_id)
            if run is None:
                return
            nodes = queries.run_nodes(session, run_id)
            text = format_tree(run, nodes, queries.run_evaluations(session, run_id))
            marks = (queries.run_notes(session, run_id), queries.run_labels(session, run_id))
            loaded.append((run, nodes, queries.run_priors(session, run_id), text, marks))
    (run_a, nodes_a, *_), (run_b, nodes_b, *_) = loaded
    left, right = st.columns(2)
    with left:
        st.caption(
            f"Settings: #{run_a.id} (first) against #{run_b.id} (second); ≠ marks a difference"
        )
        st.dataframe(
            compare.side_by_side(compare.settings(run_a), compare.settings(run_b)),
            hide_index=True,
            width="stretch",
        )
    with right:
        st.caption("Outcome")
        st.dataframe(
            compare.side_by_side(compare.outcome(run_a, nodes_a), compare.outcome(run_b, nodes_b)),
            hide_index=True,
            width="stretch",
        )
    columns = st.columns(2)
    for column, (run, nodes, priors, text, (notes, labels)), key in zip(
        columns, loaded, ("cmp_tree_a", "cmp_tree_b"), strict=True
    ):
        with column:
            answer = f"answer: {md(run.answer)}" if run.answer is not None else "no answer"
            st.markdown(f"**#{run.id}** · {md(run.strategy)} · {answer}")
            path = best_path(nodes, run)
            vis_nodes, vis_edges = vis_elements(
                fold_for_view(nodes, path),
                priors=priors,
                highlight=path,
                task=run.task,
                notes=notes,
                labels=labels,
            )
            live_tree(run.id or 0, vis_nodes, vis_edges, None, height=540, key=key, best=list(path))
            with st.expander("As text"):
                st.code(text, language=None)


def replay_panel(run_ids: list[int], labels: dict[int, str]) -> None:
    pick, present = st.columns([4, 1.3], vertical_alignment="bottom")
    run_id = pick.selectbox(
        "Run to replay", run_ids, format_func=labels.__getitem__, key="replay_run"
    )
    with present:
        presentation_toggle()
    if run_id is None:
        return
    with Session(get_engine()) as session:
        run = queries.get_run(session, run_id)
        nodes = queries.run_nodes(session, run_id)
        events = queries.run_events(session, run_id)
        priors = queries.run_priors(session, run_id)
    notes = [e for e in events if e.kind == EventKind.NOTE]
    if run is None or not events:
        st.info("This run has no events yet.")
        return
    if st.toggle(
        "Guided: ask the class to predict each decision before it is shown",
        key=f"guided_{run_id}",
    ):
        guided_replay(run, nodes, events, priors, notes)
        return
    if len(events) > 1:
        step = st.slider(
            "Event",
            1,
            len(events),
            len(events),
            key=f"replay_step_{run_id}",
            help="Drag to watch the search unfold; no model is called.",
        )
    else:  # a slider needs two ends: a run just made has one event
        step = 1
    event = events[step - 1]
    st.markdown(
        f"**{step}/{len(events)}** · {md(event.kind)} by {md(event.actor)}"
        + (f" on #{event.node_id}" if event.node_id else "")
        + (f" — {md(event.reason)}" if event.reason else "")
    )
    shown = tree_at(nodes, events, step - 1)
    replay_run = Run.model_validate(
        {**run.model_dump(), "answer_node_id": None} if step < len(events) else run.model_dump()
    )
    so_far = notes_at(notes, shown, events, step - 1)  # each at the event that drew its node
    path = best_path(shown, replay_run)
    # Drawn as the explorer draws it: big trees around the best path and the node
    # this event is about.
    focus = path | ({event.node_id} if event.node_id else set())
    vis_nodes, vis_edges = vis_elements(
        fold_for_view(shown, focus, keep=event.node_id),
        priors=[p for p in priors if p.created_at <= event.created_at],
        highlight=path,
        task=run.task,
        notes=so_far,
    )
    live_tree(
        run_id,
        vis_nodes,
        vis_edges,
        None,
        height=480,
        key="replay_tree",
        best=list(path),
        near=[event.node_id] if event.node_id else None,
    )
    show_notes(so_far)
