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


class EventKind(StrEnum):
    """What an Event row records: the audit log's verbs, engine's and people's."""

    # A run's life.
    CREATE = "create"
    START = "start"
    FINISH = "finish"  # the strategy finished: the run is done
    BUDGET_STOP = "budget_stop"
    ERROR = "error"  # paused by an error (model unavailable, ...), with the reason
    PAUSE = "pause"  # a person asked (the run keeps going until the action in flight ends)
    RESUME = "resume"
    STEP = "step"
    STOP = "stop"
    PAUSED = "paused"  # a person's pause, applied between two actions
    STOPPED = "stopped"  # a person's stop, applied between two actions
    UNEXPLORED = "unexplored"  # the open frontier closed when the run ended
    REOPEN = "reopen"  # a resumed run opened what it had left unexplored
    # The search's actions.
    EXPAND = "expand"
    CRITIQUE = "critique"
    EVALUATE = "evaluate"
    VERIFY = "verify"  # free judges settling candidates before a run rests
    RESCORE = "rescore"  # judges re-scoring nodes after a judge swap
    RESCORE_REPORT = "rescore_report"
    PRUNE = "prune"
    BACKTRACK = "backtrack"
    BACKUP = "backup"  # MCTS: a value carried up the path
    # A person's steering.
    RESTORE = "restore"
    PIN = "pin"
    UNPIN = "unpin"
    PRIOR = "prior"
    NOTE = "note"
    LABEL = "label"
    JUDGE_SWAP = "judge_swap"
    RERUN_REQUEST = "rerun_request"
    RERUN = "rerun"  # the re-run branch, grown by the runner
    COUNTERFACTUAL_REQUEST = "counterfactual_request"
    COUNTERFACTUAL = "counterfactual"


class CommandKind(StrEnum):
    """A person's request that needs the runner (and maybe a model)."""

    RERUN = "rerun"  # a branch again, with other settings
    COUNTERFACTUAL = "counterfactual"  # a pruned node expanded anyway
    RESCORE_TREE = "rescore_tree"  # the whole tree re-judged after a judge swap
    RESCORE_FRONTIER = "rescore_frontier"  # the open frontier judged at once after a swap


class CommandStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
