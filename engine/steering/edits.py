"""What a person can do to a search at any moment, besides pause/resume/step/stop.

Prune, restore, pin, add a prior, label and swap the judges change the tree directly,
each in one transaction that re-reads the node first, so a command never
applies to a node whose state has moved on (e.g. the runner pruned it a moment
ago). Re-running a branch and re-scoring the whole tree need model calls, so
they are queued as Commands for the runner; the app never calls a model.
Every change is an Event with the person as actor.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from treelight.engine.errors import BadArguments, RunNotFound
from treelight.engine.run.creation import check_learned_judges, normalized_judges
from treelight.engine.run.node_changes import prune_node, unprune_node
from treelight.storage import queries
from treelight.storage.database import unit_of_work
from treelight.storage.models import Command, Node, Prior, Run
from treelight.storage.queries import Label
from treelight.storage.vocabulary import (
    ENDED,
    CommandKind,
    CommandStatus,
    EventKind,
    LabelVerdict,
    NodeStatus,
    PrunedBy,
    RunStatus,
)

PRUNABLE = (
    NodeStatus.OPEN,
    NodeStatus.TERMINAL,
    NodeStatus.EXPANDED,
    NodeStatus.SOLVED,
    NodeStatus.UNEXPLORED,
)


def _node(session: Session, run_id: int, node_id: int) -> Node:
    node = session.get(Node, node_id)
    if node is None or node.run_id != run_id:
        raise BadArguments(f"Run #{run_id} has no node #{node_id}.")
    return node


def _subtree(session: Session, node: Node) -> list[Node]:
    """The node and all its descendants, parents before children."""
    found, frontier = [node], [node]
    while frontier:
        ids = [n.id for n in frontier]
        frontier = list(session.exec(select(Node).where(col(Node.parent_id).in_(ids))))
        found.extend(frontier)
    return found


def prune(engine: Engine, run_id: int, node_id: int, branch: bool = True, note: str = "") -> int:
    """Prune a node (and, with `branch`, everything under it). Returns how many changed."""
    reason = "pruned by a person" + (f": {note}" if note else "")
    changed = 0
    with unit_of_work(engine, run_id) as session:
        root = _node(session, run_id, node_id)
        if root.parent_id is None:
            raise BadArguments("The problem itself cannot be pruned; stop the run instead.")
        for node in _subtree(session, root) if branch else [root]:
            if node.status not in PRUNABLE:
                continue
            prune_node(session, run_id, node, reason, PrunedBy.PERSON, actor="person")
            changed += 1
    return changed


def restore(engine: Engine, run_id: int, node_id: int, branch: bool = False) -> int:
    """Undo a prune (by a person, a judge or a beam cutoff): the node is searchable again."""
    changed = 0
    with unit_of_work(engine, run_id) as session:
        run = session.get(Run, run_id)
        ended = run is not None and run.status in (RunStatus.DONE, RunStatus.STOPPED)
        root = _node(session, run_id, node_id)
        for node in _subtree(session, root) if branch else [root, *_born_pruned(session, root)]:
            if node.status != NodeStatus.PRUNED:
                continue
            last = queries.last_prune_event(session, node.id or 0)
            previous = NodeStatus((last.details.get("previous") if last else None) or "open")
            if previous in (NodeStatus.OPEN, NodeStatus.UNEXPLORED) and _was_expanded(
                session, node
            ):
                # Pruned while the model was writing its children: it was expanded, and
                # an `open` node would be expanded again (the same calls, twice the nodes).
                previous = NodeStatus.EXPANDED
            elif previous in (NodeStatus.OPEN, NodeStatus.UNEXPLORED):
                # An ended run has no open node: it waits for a resume as `unexplored`.
                previous = NodeStatus.UNEXPLORED if ended else NodeStatus.OPEN
            queries.add_event(
                session,
                run_id,
                EventKind.RESTORE,
                f"restored to {previous}",
                node_id=node.id,
                actor="person",
                details={"was": node.status_reason},
            )
            unprune_node(
                node,
                previous,
                "restored by a person after the run ended; resume the run to explore it"
                if previous == NodeStatus.UNEXPLORED
                else "restored by a person",
            )
            changed += 1
    return changed


def _was_expanded(session: Session, node: Node) -> bool:
    return any(k.branch == node.branch for k in queries.children(session, node.id or 0))


def _born_pruned(session: Session, node: Node) -> list[Node]:
    """Children pruned at birth only because `node` was pruned while they were written:
    restoring the node brings them back with it."""
    kids = []
    for kid in queries.children(session, node.id or 0):
        if kid.status == NodeStatus.PRUNED and kid.pruned_by == PrunedBy.PARENT:
            kids.append(kid)
    return kids


def pin(engine: Engine, run_id: int, node_id: int, pinned: bool = True) -> None:
    """A pinned node goes first among its peers and is never cut by a beam or threshold."""
    with unit_of_work(engine, run_id) as session:
        node = _node(session, run_id, node_id)
        if node.pinned == pinned:
            return
        node.pinned = pinned
        queries.add_event(
            session,
            run_id,
            EventKind.PIN if pinned else EventKind.UNPIN,
            "explore this more" if pinned else "",
            node_id=node_id,
            actor="person",
        )


def add_prior(engine: Engine, run_id: int, node_id: int, text: str) -> Prior:
    """A hint that goes into the prompt of every expansion below `node_id` from now on."""
    text = text.strip()
    if not text:
        raise BadArguments("A prior needs some text: the hint to give the model.")
    with unit_of_work(engine, run_id) as session:
        _node(session, run_id, node_id)
        prior = Prior(run_id=run_id, node_id=node_id, text=text, actor="person")
        session.add(prior)
        queries.add_event(session, run_id, EventKind.PRIOR, text, node_id=node_id, actor="person")
    return prior


NOTE_CHARS = 1000


def add_note(engine: Engine, run_id: int, node_id: int, text: str, actor: str = "person") -> None:
    """An instructor's note on a node, kept with the run (an event) and shown in the
    inspector, the replay from its moment on, and the HTML export. It changes nothing
    in the search."""
    text = text.strip()
    if not text:
        raise BadArguments("A note needs some text.")
    if len(text) > NOTE_CHARS:
        raise BadArguments(f"A note takes at most {NOTE_CHARS} characters, not {len(text)}.")
    with unit_of_work(engine, run_id) as session:
        _node(session, run_id, node_id)
        queries.add_event(session, run_id, EventKind.NOTE, text, node_id=node_id, actor=actor)


LABEL_NOTE_CHARS = 500


def label(
    engine: Engine, run_id: int, node_id: int, verdict: str, note: str = "", actor: str = "person"
) -> Label | None:
    """A person's opinion of a node: "good" or "bad", with a short note; "none" clears
    it. The latest label wins. It changes nothing in the search (no status, no score):
    a label is an opinion, not a prune. It is drawn on the tree and counts in the
    training exports, where it is preferred over the judges' (storage/training.py).
    Returns the node's label now (None: unlabelled)."""
    if verdict not in [v.value for v in LabelVerdict]:
        raise BadArguments(f"A label is good or bad (or none, to clear it), not {verdict!r}.")
    note = note.strip()
    if len(note) > LABEL_NOTE_CHARS:
        raise BadArguments(
            f"A label's note takes at most {LABEL_NOTE_CHARS} characters, not {len(note)}: "
            "say why in a line or two."
        )
    if not actor.strip():
        raise BadArguments("A label needs an actor: who says so.")
    with unit_of_work(engine, run_id) as session:
        if session.get(Run, run_id) is None:
            raise RunNotFound(f"No run #{run_id}: `treelight runs` lists the runs there are.")
        node = _node(session, run_id, node_id)
        if node.parent_id is None:
            raise BadArguments("The problem itself takes no label; label the steps below it.")
        current = queries.run_labels(session, run_id).get(node_id)
        if verdict == LabelVerdict.NONE and current is None:
            return None  # nothing to clear
        if current is not None and (current.verdict, current.note) == (verdict, note):
            return current  # said already
        labelled_at = queries.add_event(
            session,
            run_id,
            EventKind.LABEL,
            f"{verdict}: {note}" if note else str(verdict),
            node_id=node_id,
            actor=actor,
            details={"verdict": verdict, "note": note},
        )
    if verdict == LabelVerdict.NONE:
        return None
    return Label(node_id, verdict, note, actor, labelled_at)


def swap_judges(
    engine: Engine, run_id: int, judges: list[dict[str, Any]], whole_tree: bool = False
) -> Run:
    """Make `judges` the active set. The open frontier is re-scored at once (a command
    the runner or a worker serves before anything else, running or paused: its gates
    prune what they reject); with `whole_tree`, every sibling group of the tree is
    re-scored as the search judged it, and a report lists each decision that would
    change."""
    judges = normalized_judges(judges)  # validated before anything changes
    with unit_of_work(engine, run_id) as session:
        run = session.get(Run, run_id)
        if run is None:
            raise RunNotFound(f"No run #{run_id}.")
        # A learned judge trained on this very problem, or on another model's embeddings,
        # is refused here as at creation (a swap cannot say it was on purpose).
        check_learned_judges(judges, run.generator, {run.problem: run.problem}, "run", False)
        old = run.judges
        run.judges, run.judge_set = judges, run.judge_set + 1
        queries.add_event(
            session,
            run_id,
            EventKind.JUDGE_SWAP,
            f"{_names(old)} → {_names(judges)}",
            actor="person",
            details={"old": old, "new": judges, "judge_set": run.judge_set},
        )
        if whole_tree:  # the frontier's groups are among the tree's
            session.add(Command(run_id=run_id, kind=CommandKind.RESCORE_TREE))
        elif run.status not in ENDED:  # an ended run has no frontier left to judge
            session.add(Command(run_id=run_id, kind=CommandKind.RESCORE_FRONTIER))
    return run


def rerun(engine: Engine, run_id: int, node_id: int, **overrides: Any) -> Command:
    """Ask the runner to expand `node_id` again with other settings (model,
    temperature, seed, prior); the new children form a branch of their own,
    drawn beside the original ones and ignored by the main search.

    Idempotent: the same request for the same node (a form sent twice, by Enter and
    by a click) is the request already made, not a second branch — the same settings
    and seed would only draw the same candidates again. A failed one may be retried."""
    allowed = {"model", "temperature", "seed", "prior"}
    unknown = set(overrides) - allowed
    if unknown:
        raise BadArguments(f"A re-run can change {', '.join(sorted(allowed))}, not {unknown}.")
    with unit_of_work(engine, run_id) as session:
        node = _node(session, run_id, node_id)
        if node.status == NodeStatus.INVALID:
            raise BadArguments("An invalid node has no state to continue from; re-run its parent.")
        payload = {k: v for k, v in overrides.items() if v not in (None, "")}
        for earlier in queries.run_commands(session, run_id):
            if (earlier.kind, earlier.node_id, earlier.payload) == (
                CommandKind.RERUN,
                node_id,
                payload,
            ) and earlier.status != CommandStatus.FAILED:
                return earlier
        command = Command(run_id=run_id, kind=CommandKind.RERUN, node_id=node_id, payload=payload)
        session.add(command)
        queries.add_event(
            session,
            run_id,
            EventKind.RERUN_REQUEST,
            _describe(command.payload),
            node_id=node_id,
            actor="person",
            details=command.payload,
        )
    return command


def counterfactual(engine: Engine, run_id: int, node_id: int) -> Command:
    """Ask the runner to expand a pruned node anyway, to show what the search dropped.
    The children form a branch of their own ("counterfactual-N"), marked as such
    and ignored by the main search; the node itself stays pruned."""
    with unit_of_work(engine, run_id) as session:
        node = _node(session, run_id, node_id)
        if node.status != NodeStatus.PRUNED:
            raise BadArguments(
                f"Node #{node_id} is {node.status}, not pruned: only a pruned node has a "
                "counterfactual. (Re-run it instead to try other settings.)"
            )
        command = Command(run_id=run_id, kind=CommandKind.COUNTERFACTUAL, node_id=node_id)
        session.add(command)
        queries.add_event(
            session,
            run_id,
            EventKind.COUNTERFACTUAL_REQUEST,
            f"expand pruned #{node_id} anyway",
            node_id=node_id,
            actor="person",
        )
    return command


def _names(judges: list[dict[str, Any]]) -> str:
    return ", ".join(j["name"] for j in judges) or "no judges"


def _describe(overrides: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in overrides.items()) or "same settings"
