"""The candidates one model call wrote: read by the task from its output, the last
one marked when the call ended on its token limit, and each one's log-probability."""

from __future__ import annotations

from dataclasses import replace

from treelight.engine.run.state import RunState
from treelight.engine.tasks.base import WHOLE_ANSWER_MODES, Transition
from treelight.engine.types import NodeView
from treelight.storage.models import CallRecord


def read_candidates(
    runner: RunState, output: str, node: NodeView, mode: str
) -> list[tuple[str, Transition]]:
    if mode == "critique":
        return [(output.strip() or output, runner.task.parse_critique(output))]
    state = node.state
    if mode in WHOLE_ANSWER_MODES:  # a whole answer, from the problem's own state
        state, mode = runner.tree_cache.tree.root.state, "solution"
    texts = runner.task.parse_candidates(output, mode)
    if not texts:
        why = (
            "the model returned an empty output"
            if not output.strip()
            else "no candidate could be read from the model output"
        )
        return [(output, Transition(invalid=f"{runner.task.name} rules: {why}"))]
    return [(text, runner.task.apply(state, text, mode)) for text in texts]


def mark_cut(
    runner: RunState, call: CallRecord, candidates: list[tuple[str, Transition]]
) -> list[tuple[str, Transition]]:
    """A call that ended on its token limit wrote its last candidate only in part:
    when that one is invalid, its reason says so first, so a cut program reads as
    "cut at the 1024-token limit …", not as the model's syntax error."""
    reason = call.extra.get("finish_reason") or call.extra.get("done_reason")
    if reason != "length" or not candidates or not candidates[-1][1].invalid:
        return candidates
    limit = int(call.params.get("max_tokens") or 0)
    own = max(runner.task.step_tokens, runner.task.solution_tokens)
    how = (
        "the run's token budget had no more room"
        if limit < runner.task.step_tokens
        else f"raise it with --task-option max_tokens={max(2 * limit, own)}"
    )
    text, transition = candidates[-1]
    cut = f"cut at the {limit}-token limit ({how}): {transition.invalid}"
    return [*candidates[:-1], (text, replace(transition, invalid=cut))]


def candidate_logprob(call: CallRecord, text: str, *, alone: bool) -> float | None:
    """The sum of the log-probabilities of the tokens that wrote a candidate: all of
    the call's when it is the call's only candidate; else those overlapping where
    its text stands in the output (None if the task rewrote it, so it is not there)."""
    tokens = call.logprobs
    if not tokens:
        return None
    if alone:
        return sum(token["logprob"] for token in tokens)
    written = "".join(token["token"] for token in tokens)
    wanted = text.strip()
    start = written.find(wanted) if wanted else -1
    if start < 0:
        return None
    end, at, total = start + len(wanted), 0, 0.0
    for token in tokens:
        if at < end and at + len(token["token"]) > start:
            total += token["logprob"]
        at += len(token["token"])
    return total
