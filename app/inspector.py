"""The node inspector: everything about one node, and what a person can do to it.

All model text (thought, prompt, raw output, rationales) is shown with
st.code / st.text / st.dataframe, which show characters, never markup.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st
from sqlmodel import Session

from treelight.app.safe import md
from treelight.app.services import get_engine
from treelight.app.token_view import least_sure, token_html
from treelight.engine import steering
from treelight.engine.errors import TreelightError
from treelight.engine.judges import judges_for, parse_judge_specs
from treelight.engine.views.text import decision
from treelight.storage import queries
from treelight.storage.models import Evaluation, ModelCall, Node, Run
from treelight.storage.queries import Label
from treelight.storage.vocabulary import EventKind, LabelVerdict, NodeStatus

# Streamlit's Material icons: they render without an emoji font.
LABEL_ICON: dict[str, str] = {
    LabelVerdict.GOOD: ":material/thumb_up:",
    LabelVerdict.BAD: ":material/thumb_down:",
}


def inspector(run_id: int, live: bool) -> None:
    @st.fragment(run_every=3.0 if live else None)
    def details() -> None:
        with Session(get_engine()) as session:
            run = queries.get_run(session, run_id)
            nodes = {n.id: n for n in queries.run_nodes(session, run_id)}
            selected = st.session_state.get("selected_node")
            node = nodes.get(selected) if selected else None
            if node is None:
                node = nodes.get(run.answer_node_id) if run and run.answer_node_id else None
            if node is None:
                node = next(iter(nodes.values()), None)
            if run is None or node is None or node.id is None:
                st.info("Click a node in the tree to inspect it.")
                return
            evaluations = [
                e for e in queries.run_evaluations(session, run_id) if e.node_id == node.id
            ]
            call = session.get(ModelCall, node.model_call_id) if node.model_call_id else None
            wanted = [i for e in evaluations for i in e.model_call_ids]
            judge_calls = {c.id or 0: c for c in queries.model_calls_by_id(session, wanted)}
            priors = [p for p in queries.run_priors(session, run_id) if p.node_id == node.id]
            children = [n for n in nodes.values() if n.parent_id == node.id]
            notes = [e.reason for e in queries.run_notes(session, run_id) if e.node_id == node.id]
            label = queries.run_labels(session, run_id).get(node.id)
        show_node(run, node, evaluations, call, [p.text for p in priors], judge_calls, label)
        for note in notes:
            st.text(f"Note: {note}")
        compare_branches(children)

    details()
    steering_panel(run_id)


def show_node(
    run: Run,
    node: Node,
    evaluations: list[Evaluation],
    call: ModelCall | None,
    priors: list[str],
    judge_calls: dict[int, ModelCall],
    label: Label | None = None,
) -> None:
    st.markdown(
        f"#### Node #{node.id} · {node.status}"
        + (" · pinned" if node.pinned else "")
        + (f" · {md(node.branch)}" if node.branch != "main" else "")
    )
    st.caption("Decision")
    st.text(decision(node))
    if label is not None:
        show_label(label)
    if node.visits:
        st.text(
            f"MCTS: {node.visits} visits · total value {node.value:.2f} · "
            f"mean {node.value / node.visits:.2f}"
        )
    if node.branch.startswith("counterfactual"):
        st.info("Counterfactual: the search pruned this branch; a person expanded it anyway.")
    st.caption("Thought")
    st.code(node.text or "(empty)", language=None, wrap_lines=True)
    if call is not None and call.logprobs:
        show_tokens(call.logprobs, "The output it came from")
    if node.state:
        st.caption("State (kept by the engine)")
        st.json(node.state, expanded=False)
    if priors:
        st.caption("Priors at this node")
        for text in priors:
            st.text(f"Hint: {text}")
    if evaluations:
        st.caption("Verdicts")
        for evaluation in evaluations:
            show_verdict(evaluation, judge_calls)
    elif node.parent_id is not None and node.status != NodeStatus.INVALID:
        st.caption("Verdicts: none yet")
    if call is not None:
        with st.expander(f"Model call #{call.id}: {call.backend}:{call.model}"):
            show_call(call, tokens=False)  # shown under the thought
    st.session_state["inspected"] = {
        "id": node.id,
        "status": node.status,
        "pinned": node.pinned,
        "depth": node.depth,
        "label": label.verdict if label is not None else "",
    }


def show_label(label: Label) -> None:
    """A person's label: what, who and when; the note as plain text."""
    st.markdown(
        f"{LABEL_ICON.get(label.verdict, '')} **Labelled {label.verdict}** by "
        f"{md(label.actor)} · {label.at:%Y-%m-%d %H:%M:%S} UTC"
    )
    if label.note:
        st.text(label.note)


def show_verdict(evaluation: Evaluation, calls: dict[int, ModelCall]) -> None:
    """One judge's verdict in full, and the model calls it made to reach it."""
    outcome = {True: "passed", False: "failed", None: ""}[evaluation.passed]
    score = f"score {evaluation.score:.3f}" if evaluation.score is not None else "no score"
    st.markdown(
        f"**{md(evaluation.judge)}** · {evaluation.role} · set {evaluation.judge_set} · "
        f"{score}" + (f" · {outcome}" if outcome else "")
    )
    st.text(evaluation.rationale or "(no rationale)")
    made = [calls[i] for i in evaluation.model_call_ids if i in calls]
    if made:
        with st.expander(f"The judge's model calls ({len(made)})"):
            for call in made:
                st.caption(f"Call #{call.id}: {call.purpose}")
                show_call(call)


def show_call(call: ModelCall, tokens: bool = True) -> None:
    """A model call as it was made: settings, tokens, prompt and raw output (as text),
    and with `tokens`, the output shaded by the model's confidence where known."""
    st.text(
        f"temperature {call.params.get('temperature')} · seed "
        f"{call.params.get('seed')} · {call.prompt_tokens} prompt tokens "
        f"({call.cached_prompt_tokens} reused) · {call.completion_tokens} generated · "
        f"{call.latency_seconds:.2f} s"
    )
    if call.extra.get("choices"):
        shares = " · ".join(f"{w} {p:.2f}" for w, p in call.extra["choices"].items())
        st.text(f"read from the next-token probabilities: {shares}")
    st.caption("Prompt")
    st.code(call.prompt, language=None, wrap_lines=True)
    st.caption("Raw output")
    st.code(call.output or "(empty)", language=None, wrap_lines=True)
    if tokens and call.logprobs:
        show_tokens(call.logprobs, "The output")


def show_tokens(logprobs: list[dict[str, Any]], what: str) -> None:
    """A model's output token by token, shaded by confidence (app/token_view.py)."""
    hesitant = " · ".join(f"{token!r} {p:.2f}" for token, p in least_sure(logprobs))
    st.caption(
        f"{what}, token by token: the more orange, the less sure the model was (hover a "
        f"token for its probability and the likeliest alternatives). Least sure: {md(hesitant)}"
    )
    st.html(token_html(logprobs))  # every token HTML-escaped


def compare_branches(children: list[Node]) -> None:
    """The original children next to every re-run's children, side by side."""
    branches = sorted({c.branch for c in children} | {"main"}, key=lambda b: (b != "main", b))
    if len(branches) < 2:
        return  # no re-run here
    st.caption("Children by branch: the original expansion beside each re-run")
    for column, branch in zip(st.columns(len(branches)), branches, strict=True):
        with column:
            st.text("original" if branch == "main" else branch)
            if not any(c.branch == branch for c in children):
                st.text("(not expanded by the search yet)")
                continue
            st.dataframe(
                [
                    {"node": c.id, "status": c.status, "score": c.score, "thought": c.text}
                    for c in children
                    if c.branch == branch
                ],
                hide_index=True,
                width="stretch",
            )


def steering_panel(run_id: int) -> None:
    engine = get_engine()
    node = st.session_state.get("inspected")
    if not node:
        return
    node_id = node["id"]

    def do(label: str, fn, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        try:
            result = fn(engine, run_id, node_id, *args, **kwargs)
            st.session_state["steer_note"] = f"{label}: done" + (
                f" ({result} nodes)" if isinstance(result, int) else ""
            )
        except TreelightError as error:
            st.session_state["steer_note"] = f"{label}: {error}"

    st.markdown("##### Steer this node")
    a, b, c = st.columns(3)
    if node["status"] == NodeStatus.PRUNED:
        a.button(
            "Restore",
            key="restore",
            on_click=do,
            args=("Restore", steering.restore),
            width="stretch",
            help="Make it searchable again",
        )
        b.button(
            "Restore branch",
            key="restore_branch",
            width="stretch",
            on_click=do,
            args=("Restore branch", steering.restore, True),
        )
        st.button(
            "Expand anyway (counterfactual)",
            key="counterfactual",
            width="stretch",
            on_click=do,
            args=("Counterfactual", steering.counterfactual),
            help="Show what the search dropped: the runner expands this pruned node into a "
            "branch of its own, marked as a counterfactual; the main search ignores it",
        )
    else:
        a.button(
            "Prune",
            key="prune",
            on_click=do,
            args=("Prune", steering.prune, False),
            width="stretch",
            disabled=node["depth"] == 0,
        )
        b.button(
            "Prune branch",
            key="prune_branch",
            on_click=do,
            args=("Prune branch", steering.prune, True),
            width="stretch",
            disabled=node["depth"] == 0,
        )
    c.button(
        "Unpin" if node["pinned"] else "Pin",
        key="pin",
        width="stretch",
        on_click=do,
        args=("Pin", steering.pin, not node["pinned"]),
        help="Explore this more: a pinned node goes first and is never cut",
    )

    with st.form("prior_form", clear_on_submit=True, border=False):
        hint = st.text_input(
            "Inject a prior (a hint for every expansion below this node)",
            key="prior_text",
            placeholder="e.g. try multiplying first",
        )
        if st.form_submit_button("Add prior"):
            do("Prior", steering.add_prior, hint)
            st.rerun()  # the tree above was drawn before the prior existed

    label_panel(node, do)

    with st.expander("Re-run this branch with other settings"):
        with st.form("rerun_form", border=False):
            model = st.text_input(
                "Model (blank: same; a .gguf path or an Ollama model name)", key="rerun_model"
            )
            temperature = st.slider("Temperature", 0.0, 2.0, 1.0, 0.1, key="rerun_temp")
            seed = st.number_input("Seed", 0, 2**31 - 1, 1, key="rerun_seed")
            prior = st.text_input("Extra prior for this re-run only", key="rerun_prior")
            if st.form_submit_button("Re-run"):
                do(
                    "Re-run",
                    steering.rerun,
                    model=model or None,
                    temperature=temperature,
                    seed=int(seed),
                    prior=prior or None,
                )
                st.rerun()  # the page follows the re-run until the worker has done it
    with st.form("note_form", clear_on_submit=True, border=False):
        text = st.text_input(
            "Note for the class (kept with the run; shown in replay and the HTML export)",
            key="note_text",
            placeholder="e.g. see how the value judge misreads this one",
        )
        if st.form_submit_button("Add note"):
            do("Note", steering.add_note, text)
            st.rerun()  # the tree above was drawn before the note existed
    if "steer_note" in st.session_state:  # a confirmation passes; a refusal stays
        note = st.session_state.pop("steer_note")
        if note.endswith(": done") or ": done (" in note or note.startswith("Judges swapped"):
            st.toast(md(note), icon=":material/check:")
        else:
            st.warning(md(note))
    judge_panel(run_id)


def label_panel(node: dict[str, Any], do: Callable[..., None]) -> None:
    """Good / Bad with a short note: a person's opinion, kept as an event. The search
    ignores it; the tree draws it and the training exports prefer it to the judges'."""
    with st.form("label_form", clear_on_submit=True, border=False):
        note = st.text_input(
            "Label this node (your opinion: the search ignores it, training exports prefer it)",
            key="label_note",
            max_chars=steering.LABEL_NOTE_CHARS,
            placeholder="why, in a line (optional)",
        )
        good, bad, clear = st.columns(3)
        for column, verdict in ((good, LabelVerdict.GOOD), (bad, LabelVerdict.BAD)):
            if column.form_submit_button(
                verdict.capitalize(),
                key=f"label_{verdict}",
                icon=LABEL_ICON[verdict],
                disabled=node["depth"] == 0,
                width="stretch",
            ):
                do(f"Labelled {verdict}", steering.label, verdict, note)
                st.rerun()  # the tree and the inspector above were drawn before it
        if clear.form_submit_button(
            "Clear label", key="label_none", disabled=not node["label"], width="stretch"
        ):
            do("Label cleared", steering.label, LabelVerdict.NONE)
            st.rerun()


def judge_panel(run_id: int) -> None:
    engine = get_engine()
    with Session(engine) as session:
        run = queries.get_run(session, run_id)
    if run is None:
        return
    with st.expander(
        f"Judges (set {run.judge_set}): " + (", ".join(j["name"] for j in run.judges) or "none")
    ):
        with st.form("judges_form", border=False):
            current = [j["name"] for j in run.judges]
            kinds = judges_for(run.task)
            chosen = st.multiselect(
                "Active judges",
                sorted(kinds),
                default=[n for n in current if n in kinds],
                key="judges_choice",
                help="; ".join(f"{n}: {j.description}" for n, j in kinds.items()),
            )
            options = st.text_input("Options (e.g. value:samples=5;weight=2)", key="judge_opts")
            whole = st.checkbox(
                "Also re-score the whole tree and list which decisions would change",
                key="judges_whole",
            )
            if st.form_submit_button("Swap judges"):
                specs = [{"name": n} for n in chosen]
                for extra in parse_judge_specs(options or ""):
                    specs = [s if s["name"] != extra["name"] else extra for s in specs]
                try:
                    steering.swap_judges(engine, run_id, specs, whole_tree=whole)
                    st.session_state["steer_note"] = (
                        "Judges swapped: the whole tree is being re-scored now."
                        if whole
                        else "Judges swapped: the open frontier is being re-scored now."
                    )
                except TreelightError as error:
                    st.session_state["steer_note"] = str(error)
                st.rerun()
    with Session(engine) as session:
        events = queries.run_events(session, run_id)
    swaps = [e.id or 0 for e in events if e.kind == EventKind.JUDGE_SWAP]
    reports = [
        e
        for e in events
        if e.kind == EventKind.RESCORE_REPORT and swaps and (e.id or 0) > swaps[-1]
    ]
    if reports:  # in the page, not in the collapsed expander: it is what the swap did
        changes = reports[-1].details.get("changes", [])
        st.info(
            md(f"After the last judge swap: {reports[-1].reason}")
            + "".join(f"\n- {md(change)}" for change in changes[:30])
            + (f"\n- … and {len(changes) - 30} more" if len(changes) > 30 else ""),
            icon=":material/gavel:",
        )
