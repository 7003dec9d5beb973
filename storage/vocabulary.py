"""The words a run and its nodes are described with, as stored.

Each is a StrEnum, so a value is also its plain string: the database stays
readable from any SQLite shell, and code compares fields, never parses reasons.
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"  # with a reason; `resume` continues it
    DONE = "done"  # the strategy finished
    STOPPED = "stopped"  # a budget or a person ended it; `resume` can continue it


ENDED = (RunStatus.DONE, RunStatus.STOPPED)


class RunRequest(StrEnum):
    """What a person asked of a run that a runner applies between two actions; until
    it has, the run keeps its status and the app says "pausing…" / "stopping…"."""

    NONE = ""
    PAUSE = "pause"
    STOP = "stop"


class NodeStatus(StrEnum):
    OPEN = "open"
    EXPANDED = "expanded"
    PRUNED = "pruned"  # `pruned_by` says who
    TERMINAL = "terminal"  # a finished path, not (yet) proven right
    SOLVED = "solved"
    INVALID = "invalid"  # the task's rules rejected it; the reason names the rule
    CRITIQUE = "critique"  # a note on an answer (self-refine), never judged, revised below
    UNEXPLORED = "unexplored"  # left open when the run ended; the reason says why


class Origin(StrEnum):
    MODEL = "model"
    PERSON = "person"
    RERUN = "rerun"
    MORE = "more"  # made by a loop rule (engine/strategies/base.py)
    BACKTRACK = "backtrack"  # made by a loop rule
    JUDGE = "judge"  # a critique written from a verifier's feedback, no model call
    COUNTERFACTUAL = "counterfactual"  # a pruned node's children, expanded on request


class PrunedBy(StrEnum):
    """Who pruned a node: a field of its own, so readers never parse the reason."""

    NONE = ""
    PERSON = "person"
    JUDGE = "judge"  # a gate rejected it
    BEAM = "beam cutoff"
    THRESHOLD = "threshold"
    SELECTION = "selection"  # not selected into the next generation (evolve)
    DUPLICATE = "duplicate"  # a sibling reached the same state first
    PARENT = "parent pruned"  # born while its parent was being pruned


class LabelVerdict(StrEnum):
    """A person's good/bad label on a node: an opinion, so it changes no status.
    The latest label of a node wins; "none" clears it."""

    GOOD = "good"
    BAD = "bad"
    NONE = "none"
