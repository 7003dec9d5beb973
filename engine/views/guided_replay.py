"""A guided replay for a class: at each decision of a finished run, ask what the
search will do before showing it.

The questions come from the run's own event log: "which node does the search
expand next?" before each expansion the engine chose, and "which candidate is
cut next?" before each prune by the beam, a threshold or a judge. The choices
are the nodes that could have been picked at that moment (the tree rebuilt from
the log, as the replay draws it); the answer is the one the engine picked, with
every reason it had (its score, a person's pin or prior, the tie rule). Any choice
the engine could as well have made counts as right: another candidate cut in the
same step, a node tied with the answer. Duplicates and a person's prunes are not
asked: nothing to predict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from treelight.engine.views.replay import tree_at
from treelight.storage.models import Event, Node, Prior
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
    # Every choice as right as the answer: the others cut in the same step, or the
    # nodes tied with it (the engine's tie rule picked one of them).
    accepted: tuple[int, ...] = ()

    def is_right(self, choice: int | None) -> bool:
        return choice == self.answer or choice in self.accepted


def questions(
    nodes: list[Node], events: list[Event], priors: Sequence[Prior] = ()
) -> list[Question]:
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
        accepted: list[int] = []
        if event.kind == EventKind.EXPAND:  # the event says what came of it: say why it
            picked = next(n for n in possible if n.id == event.node_id)
            scores = ", ".join(f"#{n.id} {_score(n)}" for n in possible)
            why = [f"the scores then: {scores}"]
            if picked.pinned:
                why.append(f"#{picked.id} was pinned by a person (a pinned node goes first)")
            hints = [
                p.text
                for p in priors
                if p.node_id == picked.id and p.created_at <= event.created_at
            ]
            if hints:
                why.append(f"a person's prior on #{picked.id}: {hints[-1]!r}")
            tied = [
                n.id or 0
                for n in possible
                if n.id != picked.id and (n.pinned, n.score) == (picked.pinned, picked.score)
            ]
            if tied:
                others = ", ".join(f"#{i}" for i in tied)
                why.append(
                    f"tied with {others} at {_score(picked)}: the tie rule (a fixed random "
                    "order) chose it, so any of them counts"
                )
                accepted = tied
            reason = ". ".join(why) + f". It gave {event.reason}."
        else:  # every candidate this same step cut is as right as the first
            by = event.details.get("by")
            for later in events[index + 1 :]:
                if later.kind != EventKind.PRUNE or later.actor != "engine":
                    break
                if later.details.get("by") == by and later.node_id in choices:
                    accepted.append(later.node_id or 0)
            if accepted:
                reason += f" (cut in the same step: {', '.join(f'#{i}' for i in accepted)})"
        asked.append(
            Question(
                event_index=index,
                kind=event.kind,
                prompt=QUESTIONS[event.kind],
                choices=choices,
                answer=event.node_id,
                reason=reason,
                accepted=tuple(accepted),
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
