"""What one action did, in one line, from the events it logged: what a person who
pressed Step reads ("expanded #12: 8 candidates, 2 invalid · cut #14, #15 by the
beam"). Built from the audit log alone, so it says what was written, not what the
page guessed."""

from __future__ import annotations

from treelight.storage.models import Event
from treelight.storage.vocabulary import EventKind, PrunedBy

# Who cut a node, as a person reads it.
_BY: dict[str, str] = {
    PrunedBy.BEAM: "the beam",
    PrunedBy.THRESHOLD: "the threshold",
    PrunedBy.SELECTION: "the selection",
    PrunedBy.JUDGE: "a judge",
    PrunedBy.DUPLICATE: "duplicate states",
    PrunedBy.PARENT: "their parent's prune",
}

# Bookkeeping around an action, not the action.
_QUIET = {EventKind.STEP, EventKind.PAUSED, EventKind.RESUME, EventKind.START}


def _ids(node_ids: list[int], most: int = 6) -> str:
    shown = ", ".join(f"#{i}" for i in node_ids[:most])
    return shown + (f" and {len(node_ids) - most} more" if len(node_ids) > most else "")


def step_summary(events: list[Event]) -> str:
    """One line for the engine's events of one action (oldest first); "" if none."""
    parts: list[str] = []
    cuts: dict[str, list[int]] = {}
    for event in events:
        if event.actor != "engine" or event.kind in _QUIET:
            continue
        details = event.details or {}
        match event.kind:
            case EventKind.EXPAND | EventKind.RERUN | EventKind.COUNTERFACTUAL:
                parts.append(f"expanded #{event.node_id}: {event.reason}")
            case EventKind.EVALUATE | EventKind.VERIFY | EventKind.RESCORE:
                judged = [int(i) for i in details.get("nodes", [])]
                verb = "re-scored" if event.kind == EventKind.RESCORE else "judged"
                parts.append(f"{verb} {_ids(judged)} ({event.reason})")
            case EventKind.PRUNE:
                by = str(details.get("by", ""))  # StrEnum members look up as their words
                cuts.setdefault(_BY.get(by, by), []).append(event.node_id or 0)
            case EventKind.BACKUP:
                parts.append(f"carried rewards up the path ({event.reason})")
            case EventKind.CRITIQUE:
                parts.append(f"wrote a critique under #{event.node_id}")
            case EventKind.BACKTRACK:
                parts.append(event.reason)
            case EventKind.FINISH | EventKind.BUDGET_STOP | EventKind.ERROR | EventKind.STOPPED:
                parts.append(f"{event.kind.replace('_', ' ')}: {event.reason}")
            case _:
                parts.append(f"{event.kind}: {event.reason}" if event.reason else str(event.kind))
    parts += [f"cut {_ids(ids)} by {who}" for who, ids in cuts.items()]
    return " · ".join(parts)
