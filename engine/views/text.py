"""The tree as indented text, for `treelight show` and for bug reports."""

from __future__ import annotations

from collections.abc import Mapping

from treelight.storage.models import Evaluation, Node, Run
from treelight.storage.queries import Label
from treelight.storage.vocabulary import NodeStatus, Origin

MAX_LINE = 110


def one_line(text: str, limit: int = MAX_LINE) -> str:
    flat = " ⏎ ".join(part.strip() for part in text.strip().splitlines() if part.strip())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def format_tree(
    run: Run,
    nodes: list[Node],
    evaluations: list[Evaluation],
    labels: Mapping[int, Label] | None = None,
) -> str:
    children: dict[int | None, list[Node]] = {}
    for node in nodes:
        children.setdefault(node.parent_id, []).append(node)
    verdicts: dict[int, list[Evaluation]] = {}
    for ev in evaluations:
        if ev.judge_set == run.judge_set:
            verdicts.setdefault(ev.node_id, []).append(ev)
    answer = run.answer if run.answer is not None else "(none)"
    lines = [
        f"Run #{run.id} · {run.task} · {run.strategy} · {run.status}"
        + (f" ({run.status_reason})" if run.status_reason else ""),
        f"Answer: {answer} · {len(nodes)} nodes · {run.model_calls} model calls · "
        f"{run.prompt_tokens + run.completion_tokens:,} tokens · {run.elapsed_seconds:.1f} s",
        "",
    ]

    def visit(node: Node, indent: int) -> None:
        score = "" if node.score is None else f" {node.score:.2f}"
        if node.visits:  # MCTS statistics
            score += f" N={node.visits} Q={node.value / node.visits:.2f}"
        pin = " [pinned]" if node.pinned else ""
        origin = "" if node.origin == Origin.MODEL else f" <{node.origin}>"
        line = (
            f"{'  ' * indent}#{node.id} [{node.status}{score}]{pin}{origin} {one_line(node.text)}"
        )
        if (
            node.status in (NodeStatus.PRUNED, NodeStatus.INVALID, NodeStatus.UNEXPLORED)
            and node.status_reason
        ):
            line += f"\n{'  ' * indent}    ↳ {node.status_reason}"
        elif node.status == NodeStatus.SOLVED:
            line += f"\n{'  ' * indent}    ✓ {node.status_reason}"
        label = (labels or {}).get(node.id or 0)
        if label is not None:
            note = f": {one_line(label.note)}" if label.note else ""
            line += f"\n{'  ' * indent}    labelled {label.verdict} by {label.actor}{note}"
        lines.append(line)
        for child in children.get(node.id, []):
            visit(child, indent + 1)

    for root in children.get(None, []):
        visit(root, 0)
    return "\n".join(lines)


def decision(node: Node) -> str:
    """How the search settled a node, in words (for the inspector)."""
    score = "" if node.score is None else f" (score {node.score:.2f})"
    if node.parent_id is None:
        return "the problem itself"
    if node.status == NodeStatus.INVALID:
        return f"invalid — {node.status_reason}"
    if node.status == NodeStatus.PRUNED:
        return f"pruned — {node.status_reason}"
    if node.status == NodeStatus.SOLVED:
        return f"solved — {node.status_reason}"
    if node.status == NodeStatus.UNEXPLORED:
        return f"unexplored — {node.status_reason}{score}"
    if node.status == NodeStatus.TERMINAL:
        return (
            f"finished with answer {node.state.get('answer', '?')!r}: it passed the checks "
            f"it has had, none proves it right{score}"
        )
    if node.status == NodeStatus.EXPANDED:
        return f"kept and expanded{score}"
    if node.branch != "main":
        return f"in re-run branch {node.branch}{score}; the main search does not expand it"
    if node.score is None:
        return "waiting for the judges"
    return f"open: waiting to be expanded{score}"
