"""Which node a run's tree leads to: the answer, or while searching the most
promising node, and the path to it (drawn gold); the tally of answers found.

Reads nodes only; draws nothing.
"""

from __future__ import annotations

from treelight.storage.models import Node, Run
from treelight.storage.vocabulary import NodeStatus


def best_path(nodes: list[Node], run: Run) -> set[int]:
    """The path to the answer, or while searching, to the most promising node."""
    by_id = {n.id: n for n in nodes}
    target = best_node(nodes, run)
    path: set[int] = set()
    while target is not None and target.id is not None:
        path.add(target.id)
        target = by_id.get(target.parent_id) if target.parent_id else None
    return path if len(path) > 1 else set()


def best_node(nodes: list[Node], run: Run) -> Node | None:
    """The run's answer node; with no answer, the best so far: a finished path
    (solved first), else the deepest, best-scored live node of the main search."""
    by_id = {n.id: n for n in nodes}
    target = by_id.get(run.answer_node_id) if run.answer_node_id else None
    if target is None:
        finished = [
            n
            for n in nodes
            if n.status in (NodeStatus.SOLVED, NodeStatus.TERMINAL) and n.branch == "main"
        ]
        alive = [
            n
            for n in nodes
            if n.status in (NodeStatus.OPEN, NodeStatus.EXPANDED, NodeStatus.UNEXPLORED)
            and n.branch == "main"
        ]
        pool = finished or alive
        if pool:
            target = max(
                pool, key=lambda n: (n.status == NodeStatus.SOLVED, n.depth, n.score or 0.0)
            )
    return target if target is not None and target.parent_id is not None else None


def answer_tally(nodes: list[Node]) -> list[tuple[str, int, list[int]]]:
    """Each distinct answer the main search finished with (not pruned), how many
    paths reached it and which nodes: the vote self-consistency takes, and for any
    strategy, what the search found. Most common first."""
    found: dict[str, tuple[str, list[int]]] = {}
    for node in nodes:
        answer = node.state.get("answer")
        if node.branch != "main" or not answer:
            continue
        if node.status not in (NodeStatus.SOLVED, NodeStatus.TERMINAL):
            continue
        key = " ".join(str(answer).lower().replace(" ", "").split())
        shown, ids = found.setdefault(key, (str(answer), []))
        ids.append(node.id or 0)
    tally = [(shown, len(ids), ids) for shown, ids in found.values()]
    return sorted(tally, key=lambda row: (-row[1], row[2][0]))
