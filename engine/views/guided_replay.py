"""A guided replay for a class: at each decision of a finished run, ask what the
search will do before showing it.

The questions come from the run's own event log: "which node does the search
expand next?" before each expansion the engine chose, and "which candidate is
cut next?" before each prune by the beam, a threshold or a judge. The choices
are the nodes that could have been picked at that moment (the tree rebuilt from
the log, as the replay draws it); the answer is the one the engine picked, with
its reason. Duplicates and a person's prunes are not asked: nothing to predict.
"""

from __future__ import annotations

from dataclasses import dataclass

from treelight.engine.views.replay import tree_at
from treelight.storage.models import Event, Node
from treelight.storage.vocabulary import EventKind, NodeStatus, PrunedBy

QUESTIONS = {
    "expand": "Which node does the search expand next?",
    "prune": "Which candidate is cut next?",
}


@dataclass(frozen=True)
class Question:
    event_index: int  # the decision's place in the log: the tree before it is at index - 1
    kind: str  # "expand" or "prune"
    prompt: str
    choices: tuple[int, ...]  # node ids, in tree order
    answer: int
    reason: str


def questions(nodes: list[Node], events: list[Event]) -> list[Question]:
    """Every decision worth predicting in the run, in order."""
    asked = []
    for index, event in enumerate(events):
        if event.actor != "engine" or event.node_id is None or event.kind not in QUESTIONS:
            continue
        if event.kind == EventKind.PRUNE and event.details.get("by") in (
            PrunedBy.DUPLICATE,
            PrunedBy.PARENT,
        ):
            continue
        before = tree_at(nodes, events, index - 1)
        possible = [n for n in before if _could_be_picked(n, event.kind)]
        choices = tuple(n.id or 0 for n in possible)
        if len(choices) < 2 or event.node_id not in choices:
            continue  # one possibility is not a question
        reason = event.reason
        if (
            event.kind == EventKind.EXPAND
        ):  # the event says what came of it; show what it was chosen on
            scores = ", ".join(f"#{n.id} {_score(n)}" for n in possible)
            reason = f"the scores then: {scores}. It gave {event.reason}."
        asked.append(
            Question(
                event_index=index,
                kind=event.kind,
                prompt=QUESTIONS[event.kind],
                choices=choices,
                answer=event.node_id,
                reason=reason,
            )
        )
    return asked


def _could_be_picked(node: Node, kind: str) -> bool:
    if node.branch != "main":
        return False
    if kind == EventKind.EXPAND:
        return node.status == NodeStatus.OPEN
    return node.parent_id is not None and node.status in (NodeStatus.OPEN, NodeStatus.EXPANDED)


def _score(node: Node) -> str:
    return "unscored" if node.score is None else f"{node.score:.2f}"
