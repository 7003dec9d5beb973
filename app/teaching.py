"""Teaching: a guided replay that asks the class to predict each decision, and the
presentation view (large type, the tree full width)."""

from __future__ import annotations

import streamlit as st

from treelight.app.safe import md
from treelight.app.tree_component import live_tree
from treelight.engine.views.best_path import best_path
from treelight.engine.views.folding import fold_for_view
from treelight.engine.views.guided_replay import questions
from treelight.engine.views.replay import notes_at, tree_at
from treelight.engine.views.vis import vis_elements
from treelight.storage.models import Event, Node, Prior, Run

# Always: less empty space above the first line of a page (Streamlit's default top
# padding is 6rem), so at 1280 x 720 the tree starts on the first screen.
APP_CSS = """
<style>
.stMainBlockContainer { padding-top: 3.2rem !important; padding-bottom: 2rem !important; }
</style>
"""

PRESENTATION_CSS = """
<style>
.stMainBlockContainer { max-width: 100% !important; padding-left: 2rem; padding-right: 2rem; }
.stMainBlockContainer p, .stMainBlockContainer li, .stMainBlockContainer label,
.stMainBlockContainer .stMarkdown, .stMainBlockContainer button,
.stMainBlockContainer [data-testid="stText"] { font-size: 1.35rem !important; }
.stMainBlockContainer h3 { font-size: 2.2rem !important; }
</style>
"""


def presenting() -> bool:
    return bool(st.session_state.get("present"))


def presentation_toggle() -> None:
    """The switch for the presentation view, where a page puts it (the explorer's
    header, the Runs page's replay). The choice outlives the widget: a page that
    does not draw the switch keeps the view (main.py reads it on every page)."""
    st.toggle(
        "Presentation view",
        value=presenting(),
        key="present_switch",
        on_change=_remember_presenting,
        help="Large type and the tree full width, for a projector; the inspector can be "
        "hidden. Replays can ask the class to predict each decision (Runs page).",
    )


def _remember_presenting() -> None:
    st.session_state["present"] = bool(st.session_state.get("present_switch"))


def show_notes(notes: list[Event]) -> None:
    """An instructor's notes, as plain text."""
    for note in notes:
        st.text(f"Note on #{note.node_id}: {note.reason}")


def guided_replay(
    run: Run, nodes: list[Node], events: list[Event], priors: list[Prior], notes: list[Event]
) -> None:
    """One decision at a time: the tree before it, the question, the class's guess,
    then the answer with the engine's reason and the tree after it."""
    asked = questions(nodes, events, priors)
    if not asked:
        st.info("This run has no decisions with more than one possible choice to ask about.")
        return
    key = f"guide_{run.id}"
    state = st.session_state.setdefault(key, {"at": 0, "revealed": False, "right": 0, "done": 0})
    at = min(state["at"], len(asked) - 1)
    question = asked[at]
    revealed = state["revealed"]
    by_id = {n.id: n for n in nodes}
    st.markdown(
        f"**Decision {at + 1} of {len(asked)}** · predicted right so far: "
        f"{state['right']} of {state['done']}"
    )
    step = question.event_index if revealed else question.event_index - 1
    shown = tree_at(nodes, events, step)
    replay_run = Run.model_validate({**run.model_dump(), "answer_node_id": None})
    # Before the reveal no gold path: the best node so far is often the answer.
    path = best_path(shown, replay_run) if revealed else set()
    # Every choice stays in sight however big the tree (focus folding keeps them).
    drawn = fold_for_view(
        shown,
        path | set(question.choices),
        keep=question.answer if revealed else None,
    )
    moment = events[step].created_at
    so_far = notes_at(notes, shown, events, step)
    vis_nodes, vis_edges = vis_elements(
        drawn,
        priors=[p for p in priors if p.created_at <= moment],
        highlight=path,
        task=run.task,
        notes=so_far,
    )
    # The question beside the tree, so both fit one projector screen.
    ask, picture = st.columns([1, 2], gap="medium")
    with ask:
        st.markdown(f"#### {question.prompt}")
        choice = st.radio(
            "Your prediction",
            question.choices,
            # Radio labels are Markdown: the model's text is escaped (app/safe.py).
            format_func=lambda i: f"#{i} · {md(by_id[i].text[:60])}" if i in by_id else f"#{i}",
            key=f"{key}_choice_{at}",
            disabled=revealed,
        )
        if not revealed and st.button("Reveal", key=f"{key}_reveal", type="primary"):
            state["revealed"] = True
            state["done"] += 1
            state["right"] += int(question.is_right(choice))
            state["refit"] = True  # bring the answer into view
            st.rerun()
        if revealed:
            verdict = "Right" if question.is_right(choice) else "Not this time"
            also = ", ".join(f"#{i}" for i in question.accepted)
            counted = f" ({also} counted as right too)" if also else ""
            st.success(
                f"{verdict}: the search picked #{question.answer}{counted}. "
                f"Why: {md(question.reason)}"
            )
            if at + 1 < len(asked) and st.button("Next decision", key=f"{key}_next"):
                state.update(at=at + 1, revealed=False)
                st.rerun()
            elif at + 1 >= len(asked):
                st.info(f"That was the last decision: {state['right']} of {state['done']} right.")
        if st.button("Start again", key=f"{key}_restart"):
            st.session_state[key] = {"at": 0, "revealed": False, "right": 0, "done": 0}
            st.rerun()
    with picture:
        live_tree(
            run.id or 0,
            vis_nodes,
            vis_edges,
            question.answer if revealed else None,
            height=620 if presenting() else 480,
            key="guided_tree",
            large=presenting(),
            best=list(path),
            # The view keeps the choices readable; after the reveal, the answer.
            near=[question.answer] if revealed else sorted(question.choices),
            fit=bool(state.pop("refit", False)),
        )
    show_notes(so_far)
