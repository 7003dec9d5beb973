"""Expansion: ask the generator for candidates and write them as child nodes.

One expansion is one transaction: every candidate the model wrote becomes a
node (invalid and duplicate ones included, with why), or none does. It decides
nothing about which node to expand: the strategy did.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row
from sqlmodel import Session

from treelight.engine.errors import BudgetExhausted
from treelight.engine.generators import Generator
from treelight.engine.generators.base import repeated_lines_grammar
from treelight.engine.run.candidates import candidate_logprob, mark_cut, read_candidates
from treelight.engine.run.state import RunState
from treelight.engine.tasks.base import Shape, Transition
from treelight.engine.types import Critique, Expand, NodeView, TreeView
from treelight.storage import hot_path, queries, revisions
from treelight.storage.database import unit_of_work
from treelight.storage.models import CallRecord, Node, utcnow
from treelight.storage.vocabulary import EventKind, NodeStatus, Origin, PrunedBy

MAX_NODE_TEXT = 4_000


def clip(text: str, call_id: int | None) -> str:
    """Node text is capped; the full output always stays in the model call."""
    if len(text) <= MAX_NODE_TEXT:
        return text
    where = f"model call #{call_id}" if call_id else "the model call"
    return f"{text[:MAX_NODE_TEXT]}… [truncated: {len(text):,} characters in all; see {where}]"


def expand(runner: RunState, tree: TreeView, action: Expand) -> None:
    node = tree.nodes[action.node_id]
    # A loop rule's expansion is a new sample, not a repeat of the first expansion
    # of the node: its own purpose gives its calls their own seeds.
    purpose = "expand" if action.origin == Origin.MODEL else action.origin
    try:
        outputs = propose(
            runner, tree, node, action.samples, action.mode, purpose, first=action.first_sample
        )
    except BudgetExhausted as exhausted:
        if exhausted.made:  # the calls that fit were paid for: keep what they say
            write_children(
                runner,
                node,
                exhausted.made,
                action.mode,
                kind=EventKind.EXPAND,
                origin=action.origin,
                note=f"{len(exhausted.made)} of {action.samples} samples: the budget ran out",
            )
        raise
    write_children(
        runner,
        node,
        outputs,
        action.mode,
        kind=EventKind.EXPAND,
        note=action.note,
        origin=action.origin,
    )


def critique(runner: RunState, action: Critique) -> None:
    """A critique node written from the verifiers' feedback: no model call."""
    with unit_of_work(runner.engine, runner.run_id) as session:
        parent = session.get(Node, action.node_id)
        assert parent is not None
        index = queries.child_count(session, action.node_id)
        text = action.text[:MAX_NODE_TEXT]
        node = Node(
            run_id=runner.run_id,
            key=f"{parent.key}/{index}",
            parent_id=parent.id,
            depth=parent.depth + 1,
            text=text,
            status=NodeStatus.CRITIQUE,
            origin=Origin.JUDGE,
            branch=parent.branch,
        )
        session.add(node)
        session.flush()
        queries.add_event(
            session,
            runner.run_id,
            EventKind.CRITIQUE,
            "from the verifiers' feedback",
            node_id=node.id,
        )
        runner.count_action(session)


def propose(
    runner: RunState,
    tree: TreeView,
    node: NodeView,
    samples: int,
    mode: str,
    purpose: str,
    *,
    generator: Generator | None = None,
    extra_priors: tuple[str, ...] = (),
    seed: int | None = None,
    temperature: float | None = None,
    first: int = 0,
) -> list[CallRecord]:
    """Ask the generator for `samples` outputs continuing `node` (sample indices
    `first`, `first + 1`, ...)."""
    priors = [*tree.priors_on_path(node.id), *extra_priors]
    said = feedback(runner, node.id) if mode in ("critique", "mutate") else ""
    generator = generator or runner.generator
    shape = _shape(runner, generator, tree, node, mode, priors)
    prompt, max_tokens = runner.task.prompt(mode, tree.path(node.id), priors, said)
    grammar, distinct = None, 0
    if shape is not None:
        grammar, distinct = shape.grammar, shape.distinct_lines
        prompt = prompt if shape.prompt is None else shape.prompt
        max_tokens = max_tokens if shape.max_tokens is None else shape.max_tokens
        if distinct and not generator.supports_distinct_lines:
            grammar, distinct = repeated_lines_grammar(grammar, distinct), 0
    requests = [
        runner.request(
            prompt,
            node.key,
            purpose,
            i,
            max_tokens,
            seed,
            temperature,
            grammar=grammar,
            distinct_lines=distinct,
        )
        for i in range(first, first + samples)
    ]
    return runner.calls.call(generator, node.id, requests, purpose)


def _shape(
    runner: RunState,
    generator: Generator,
    tree: TreeView,
    node: NodeView,
    mode: str,
    priors: list[str],
) -> Shape | None:
    """The task's constrained form of this expansion, when the run asks for one
    (`constrain`, default auto) and the backend can apply a grammar; else None and
    the model writes freely (the model call's params say which it was)."""
    if runner.run.generator.get("constrain", "auto") == "off" or not generator.supports_grammar:
        return None
    return runner.task.shape(mode, tree.path(node.id), priors)


def write_children(
    runner: RunState,
    node: NodeView,
    calls: list[CallRecord],
    mode: str,
    *,
    kind: EventKind,
    note: str = "",
    branch: str | None = None,
    origin: Origin = Origin.MODEL,
) -> list[int]:
    """Turn model outputs into child nodes of `node`, all in one transaction.

    The rows are written with SQLAlchemy Core (storage/hot_path.py):
    an expansion writes ten or more nodes, and building ORM objects for them cost
    more than writing them (docs/BENCHMARKS.md, engine overhead)."""
    skipped = 0
    with unit_of_work(runner.engine, runner.run_id) as session:
        connection = session.connection()
        parent = hot_path.node_row(connection, node.id)
        index = hot_path.child_count(connection, node.id)
        room = runner.node_room()
        children: list[dict[str, Any]] = []
        pruned_at_birth: list[tuple[dict[str, Any], NodeStatus]] = []  # (node, born as)
        seen = _sibling_states(runner, connection, node.id, branch or parent.branch)
        for call in calls:
            candidates = mark_cut(runner, call, read_candidates(runner, call.output, node, mode))
            for text, transition in candidates:
                if room is not None and len(children) >= room:
                    skipped += 1
                    continue
                child = _child(runner, parent, index, call, text, transition)
                child["logprob"] = candidate_logprob(call, text, alone=len(candidates) == 1)
                child["branch"], child["origin"] = branch or parent.branch, origin
                born = child["status"]
                if parent.status == NodeStatus.PRUNED and branch is None:
                    child["status"], child["pruned_by"] = NodeStatus.PRUNED, PrunedBy.PARENT
                    child["status_reason"] = (
                        f"its parent #{parent.id} was pruned while it was being expanded"
                    )
                else:
                    _mark_duplicate(runner, child, seen)
                children.append(child)
                if child["status"] != born:
                    pruned_at_birth.append((child, born))
                index += 1
        expanded = parent.status == NodeStatus.OPEN and branch is None
        # Every written node gets its run's next revision (storage/revisions.py).
        rev = revisions.reserve(connection, runner.run_id, len(children) + expanded)
        for child in children:
            original = child.pop("duplicate_of", None)
            if original is not None:  # an earlier sibling, maybe written a moment ago
                original_id = original if isinstance(original, int) else original["id"]
                child["status_reason"] = f"duplicate of #{original_id}: the same state"
            child["rev"], rev = rev, rev + 1
            child["id"] = hot_path.insert_node(connection, child)
        if expanded:  # the revision left after the children's
            hot_path.update_nodes(
                connection, runner.run_id, {node.id: {"status": NodeStatus.EXPANDED}}
            )
        invalid = sum(child["status"] == NodeStatus.INVALID for child in children)
        details: dict[str, Any] = {
            "candidates": len(children),
            "invalid": invalid,
            "model_calls": [c.id for c in calls],
            "mode": mode,
        }
        if branch:
            details["branch"] = branch
        if skipped:
            details["not_added"] = skipped
        reason = note or f"{len(children)} candidates, {invalid} invalid"
        queries.add_event(session, runner.run_id, kind, reason, node_id=node.id, details=details)
        if note.startswith("backtrack"):
            queries.add_event(session, runner.run_id, EventKind.BACKTRACK, note, node_id=node.id)
        for child, born in pruned_at_birth:
            # Logged like any prune, so a person can restore it to what it was.
            queries.add_event(
                session,
                runner.run_id,
                EventKind.PRUNE,
                child["status_reason"],
                node_id=child["id"],
                details={"by": child["pruned_by"], "previous": born},
            )
        runner.count_action(session)
        made_ids = [int(c["id"]) for c in children]
    if skipped:
        limit = runner.run.budget.get("max_nodes")
        raise BudgetExhausted(
            f"node budget: {limit} nodes reached; {skipped} more candidates were not added "
            "(their text is kept in the model calls)"
        )
    return made_ids


def _sibling_states(
    runner: RunState, connection: Connection, parent_id: int, branch: str
) -> dict[str, int | dict[str, Any]]:
    """The states the parent's children on this branch reached, each with the
    earliest sibling that reached it (an id; a new child's values until written)."""
    return {
        key: sibling.id
        for sibling in reversed(hot_path.child_rows(connection, parent_id))
        if sibling.branch == branch
        and sibling.status != NodeStatus.INVALID
        and (key := runner.task.state_key(sibling.state)) is not None
    }


def _mark_duplicate(
    runner: RunState, child: dict[str, Any], seen: dict[str, int | dict[str, Any]]
) -> None:
    """A sibling that reaches a state an earlier sibling reached is kept, but
    pruned at once: expanding it again would only repeat that sibling's work."""
    if child["status"] not in (NodeStatus.OPEN, NodeStatus.TERMINAL):
        return
    key = runner.task.state_key(child["state"])
    if key is None:
        return
    original = seen.get(key)
    if original is None:
        seen[key] = child
        return
    child["status"], child["pruned_by"] = NodeStatus.PRUNED, PrunedBy.DUPLICATE
    child["duplicate_of"] = original  # its reason names the original's id once written


def feedback(runner: RunState, node_id: int) -> str:
    """What the active judges (and the rules) said about a node, in one paragraph:
    the material for a critique or a mutation."""
    with Session(runner.engine) as session:
        node = session.get(Node, node_id)
        verdicts = queries.node_evaluations(session, node_id, runner.judge_set)
    parts = [node.status_reason] if node is not None and node.status_reason else []
    for verdict in verdicts:
        score = "" if verdict.score is None else f" (score {verdict.score:.2f})"
        parts.append(f"{verdict.judge}: {verdict.rationale}{score}")
    return "; ".join(parts)


def _child(
    runner: RunState,
    parent: Row[Any],
    index: int,
    call: CallRecord,
    text: str,
    transition: Transition,
) -> dict[str, Any]:
    """A child node's values (every column but id and rev)."""
    state = dict(transition.state)
    if transition.answer is not None:
        state["answer"] = transition.answer
    status: NodeStatus
    if transition.invalid:
        status, reason = NodeStatus.INVALID, transition.invalid
    elif transition.status:
        status, reason = NodeStatus(transition.status), ""
    else:
        status, reason = (NodeStatus.TERMINAL if transition.terminal else NodeStatus.OPEN), ""
    return {
        "run_id": runner.run_id,
        "key": f"{parent.key}/{index}",
        "parent_id": parent.id,
        "depth": parent.depth + 1,
        "text": clip(transition.text or text, call.id),
        "state": state,
        "status": status,
        "status_reason": reason,
        "pruned_by": PrunedBy.NONE,
        "origin": Origin.MODEL,
        "branch": "main",
        "score": None,
        "visits": 0,
        "value": 0.0,
        "pinned": False,
        "model_call_id": call.id,
        "logprob": None,
        "created_at": utcnow(),
    }
