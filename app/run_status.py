"""A run's state in words and bars, above its tree: the status line (a pending
pause or stop said as such), the answer or the best so far (marked as not an
answer), the tally of finished answers, and the budget used.

Shows what the database holds; decides nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st
from sqlmodel import Session

from treelight.app.safe import md
from treelight.app.services import get_engine
from treelight.engine.views.best_path import answer_tally, best_node
from treelight.engine.views.step_summary import step_summary
from treelight.storage import queries
from treelight.storage.models import Command, Node, Run
from treelight.storage.vocabulary import CommandKind, NodeStatus, RunRequest, RunStatus

REQUESTED = {
    RunRequest.PAUSE: "pausing after the current step…",
    RunRequest.STOP: "stopping after the current step…",
}


# A person's request waiting for the worker, said at once (a re-run can wait for a
# model call in flight before the worker takes it).
WAITING = {
    CommandKind.RERUN: "Re-running #{node}",
    CommandKind.COUNTERFACTUAL: "Expanding pruned #{node} anyway",
    CommandKind.RESCORE_TREE: "Re-scoring the whole tree",
    CommandKind.RESCORE_FRONTIER: "Re-scoring the open frontier",
}


def status_line(run: Run, nodes: list[Node], pending: Sequence[Command] = ()) -> None:
    node_total = len(nodes)
    tokens = run.prompt_tokens + run.completion_tokens
    shown = REQUESTED.get(run.requested)  # asked for, not yet applied by the runner
    line = (
        (f"**{shown}** (still {run.status})" if shown else f"**{run.status}**")
        + (f" — {md(run.status_reason)}" if run.status_reason else "")
        + f" · {node_total} nodes · {run.model_calls} model calls · {tokens:,} tokens · "
        f"{run.elapsed_seconds:.1f} s"
    )
    with st.container():  # always there, whatever it holds: see app/run_controls.py
        if (
            run.status == RunStatus.PAUSED
            and run.status_reason
            and run.status_reason != "paused by a person"
        ):
            st.error(
                f"Paused: {md(run.status_reason)}\n\nFix the cause, then press **Resume**: "
                "every node made so far is kept."
            )
        else:
            st.markdown(line.replace("\n", " "))
        waiting(pending)


def waiting(pending: Sequence[Command]) -> None:
    """A person's requests the worker has not served yet, said at once."""
    for command in pending:
        what = WAITING.get(command.kind, str(command.kind)).format(node=command.node_id)
        settings = ", ".join(f"{k}={str(v)[:40]}" for k, v in command.payload.items())
        st.info(
            md(f"{what}{f' ({settings})' if settings else ''}… waiting for the worker"),
            icon=":material/hourglass_top:",
        )


def status_below_tree(run: Run, nodes: list[Node]) -> None:
    """The answer (or the best so far), the tally and the budget, under the tree."""
    if run.answer is not None:
        st.success("Answer")
        st.code(run.answer, language=None)
    results(run, nodes)
    budget_bars(run, len(nodes))


def results(run: Run, nodes: list[Node]) -> None:
    """What the search has found, always in sight: with no answer, the best so far
    (marked as not an answer); with several finished paths, the tally of answers."""
    if run.answer is None:
        best = best_node(nodes, run)
        if best is not None:
            why = (
                "it passed its checks; the run chooses its answer when it ends"
                if best.status == NodeStatus.SOLVED
                else "not an answer: it has not passed its checks"
            )
            st.info(
                f"Best so far ({why}) — #{best.id}, {best.status}, depth {best.depth}"
                + (f", score {best.score:.2f}" if best.score is not None else "")
            )
            st.text(best.text)
    tally = answer_tally(nodes)
    if len(tally) > 1 or (tally and tally[0][1] > 1):
        chosen = run.answer_node_id
        rows = [
            {
                "answer": answer,
                "paths": count,
                "chosen": "← the run's answer" if chosen in ids else "",
                "nodes": ", ".join(f"#{i}" for i in ids),
            }
            for answer, count, ids in tally
        ]
        st.caption("Finished answers, most common first (the vote for self-consistency)")
        st.dataframe(rows, hide_index=True, width="stretch")


def budget_bars(run: Run, node_total: int) -> None:
    budget = run.budget
    used = {
        "max_calls": (run.model_calls, "model calls"),
        "max_tokens": (run.prompt_tokens + run.completion_tokens, "tokens"),
        "max_nodes": (node_total, "nodes"),
        "max_seconds": (run.elapsed_seconds, "seconds"),
    }
    shown = [(key, *used[key]) for key in used if budget.get(key)]
    if not shown:
        return
    for column, (key, value, label) in zip(st.columns(len(shown)), shown, strict=True):
        limit = float(budget[key])
        column.progress(
            min(1.0, value / limit) if limit else 0.0, text=f"{label}: {value:,.0f} / {limit:,.0f}"
        )


def step_report(run: Run) -> None:
    """What the last Step did, from the log: "expanded #12: 8 candidates, 2 invalid ·
    cut #14, #15 by the beam" (shown until the next Step, Resume or Stop)."""
    stepped = st.session_state.get("step_from")
    if not stepped or stepped[0] != run.id:
        return
    if run.steps_requested > 0 or run.status in (RunStatus.QUEUED, RunStatus.RUNNING):
        st.info("Stepping: one action, then the run pauses again…", icon=":material/hourglass_top:")
        return
    with Session(get_engine()) as session:
        done = step_summary(queries.events_after(session, run.id or 0, stepped[1]))
    if done:  # engine text (counts, ids, reasons it wrote): escaped all the same
        st.info(md(f"Step: {done}"), icon=":material/footprint:")
