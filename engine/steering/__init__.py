"""What a person can do to a search at any moment, in one place.

    from treelight.engine import steering
    steering.pause(engine, run_id)
    steering.prune(engine, run_id, node_id)

Owns the requests and edits: pause, resume, step and stop (`control`: requests
the runner applies between two actions) and prune, restore, pin, prior, note,
label, swap judges, re-run and counterfactual (`edits`: direct changes to the
tree, each re-reading its node inside the write, or queued model work).

Does not own: carrying a request out mid-search (`engine/run/`) or model calls
(a re-run is queued here and served by the runner).
"""

from treelight.engine.steering.control import FINISHED, apply_if_idle, pause, resume, step, stop
from treelight.engine.steering.edits import (
    LABEL_NOTE_CHARS,
    NOTE_CHARS,
    PRUNABLE,
    add_note,
    add_prior,
    counterfactual,
    label,
    pin,
    prune,
    rerun,
    restore,
    swap_judges,
)

__all__ = [
    "FINISHED",
    "LABEL_NOTE_CHARS",
    "NOTE_CHARS",
    "PRUNABLE",
    "add_note",
    "add_prior",
    "apply_if_idle",
    "counterfactual",
    "label",
    "pause",
    "pin",
    "prune",
    "rerun",
    "restore",
    "resume",
    "step",
    "stop",
    "swap_judges",
]
