"""Replaying a run from its event log: the tree as it stood after event k.

No model is called: node rows, their creation times and the events are
enough. A node exists from its creation; it is `expanded` from its expand
event, `pruned` from its prune event (with that event's reason), carries its
score from the evaluate event that judged it, and shows its final status
(solved, terminal, invalid) from then on.
"""

from __future__ import annotations

from treelight.storage.models import Event, Node
from treelight.storage.vocabulary import EventKind, NodeStatus, PrunedBy


def tree_at(nodes: list[Node], events: list[Event], step: int) -> list[Node]:
    """Copies of the nodes as they were after `events[step]` (0-based)."""
    if not events:
        return []
    last = min(step, len(events) - 1)
    until = events[last]
    status: dict[int, tuple[NodeStatus, str]] = {}
    pruned_by: dict[int, PrunedBy] = {}
    judged: set[int] = set()
    for event in events[: last + 1]:
        if event.kind in (EventKind.EVALUATE, EventKind.VERIFY):
            judged.update(event.details.get("nodes", []))
        elif event.kind == EventKind.UNEXPLORED:  # the run ended with these open
            for node_id in event.details.get("nodes", []):
                status[node_id] = (NodeStatus.UNEXPLORED, "the run ended before expanding it")
        elif event.kind == EventKind.REOPEN:  # a stopped run resumed
            for node_id in event.details.get("nodes", []):
                status.pop(node_id, None)
        if event.node_id is None:
            continue
        if event.kind in (EventKind.EXPAND,):
            status[event.node_id] = (NodeStatus.EXPANDED, "")
        elif event.kind == EventKind.PRUNE:
            status[event.node_id] = (NodeStatus.PRUNED, event.reason)
            pruned_by[event.node_id] = PrunedBy(str(event.details.get("by", "")))
        elif event.kind == EventKind.RESTORE:
            restored = NodeStatus(event.reason.removeprefix("restored to "))
            status[event.node_id] = (restored, "restored")
    shown: list[Node] = []
    for node in nodes:
        if node.parent_id is not None and node.created_at > until.created_at:
            continue
        node_id = node.id or 0
        copy = Node.model_validate(node.model_dump())
        if node_id in status:
            copy.status, copy.status_reason = status[node_id]
            pruned = copy.status == NodeStatus.PRUNED
            copy.pruned_by = pruned_by.get(node_id, PrunedBy.NONE) if pruned else PrunedBy.NONE
        elif node.status == NodeStatus.INVALID or (
            node_id in judged and node.status == NodeStatus.SOLVED
        ):
            pass  # invalid from birth; solved once judged
        else:
            copy.status = NodeStatus.TERMINAL if "answer" in node.state else NodeStatus.OPEN
            copy.status_reason = ""
        copy.score = node.score if node_id in judged else None
        shown.append(copy)
    return shown


def notes_at(notes: list[Event], shown: list[Node], events: list[Event], step: int) -> list[Event]:
    """An instructor's notes to show at `step` of a replay: a note is about a node,
    so it shows from the event that drew that node; a note written while the run
    was going shows from when it was written, if that is later."""
    if not events:
        return []
    moment = events[max(0, min(step, len(events) - 1))].created_at
    worked = [e.created_at for e in events if e.kind != EventKind.NOTE]
    ended = max(worked) if worked else moment
    there = {n.id for n in shown}
    return [
        note
        for note in notes
        if note.node_id in there and (note.created_at <= moment or note.created_at > ended)
    ]
