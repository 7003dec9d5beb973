"""Serving a person's queued commands inside the runner: re-run a branch,
re-score the whole tree.

Both need model calls, which is why they run here and not in the app. Neither
changes the main search's decisions: a re-run grows a branch of its own beside
the original, and a whole-tree re-score only reports what would change.
"""

from __future__ import annotations

from sqlmodel import Session

from treelight.engine.errors import BudgetExhausted, TreelightError
from treelight.engine.generators import make_generator
from treelight.engine.judges import Settlement
from treelight.engine.run.expansion import propose, write_children
from treelight.engine.run.judging import evaluate
from treelight.engine.run.state import RunState
from treelight.engine.types import TreeView
from treelight.storage import queries
from treelight.storage.database import unit_of_work
from treelight.storage.models import Command
from treelight.storage.vocabulary import (
    CommandKind,
    CommandStatus,
    EventKind,
    NodeStatus,
    Origin,
    PrunedBy,
)


def serve(runner: RunState, command: Command) -> None:
    try:
        if command.kind in (CommandKind.RERUN, CommandKind.COUNTERFACTUAL):
            result = _rerun(runner, command)
        elif command.kind == CommandKind.RESCORE_TREE:
            result = _rescore_tree(runner)
        else:
            result = f"unknown command {command.kind!r}"
        _close(runner, command, CommandStatus.DONE, result)
    except BudgetExhausted as exhausted:
        _close(runner, command, CommandStatus.FAILED, str(exhausted))
        raise
    except TreelightError as error:
        _close(runner, command, CommandStatus.FAILED, str(error))
        raise


def _close(runner: RunState, command: Command, status: CommandStatus, result: str) -> None:
    with unit_of_work(runner.engine, runner.run_id) as session:
        stored = session.get(Command, command.id)
        assert stored is not None
        stored.status, stored.result = status, result


def _rerun(runner: RunState, command: Command) -> str:
    """A re-run (other settings) or a counterfactual (a pruned node expanded anyway):
    either way a branch of its own beside the main search, judged but never decided on."""
    tree = runner.load()
    node = tree.nodes[command.node_id or 0]
    payload = command.payload
    with Session(runner.engine) as session:
        done = [
            c
            for c in queries.run_commands(session, runner.run_id)
            if c.kind == command.kind and c.status == CommandStatus.DONE
        ]
    branch = f"{command.kind}-{len(done) + 1}"
    origin = Origin.COUNTERFACTUAL if command.kind == CommandKind.COUNTERFACTUAL else Origin.RERUN
    generator = runner.generator
    if payload.get("model"):
        generator = make_generator({**runner.generator_spec(runner.run), "model": payload["model"]})
    mode = runner.strategy.mode_for(node)
    samples = runner.strategy.samples()
    calls = propose(
        runner,
        tree,
        node,
        samples,
        mode,
        branch,
        generator=generator,
        extra_priors=(payload["prior"],) if payload.get("prior") else (),
        seed=payload.get("seed"),
        temperature=payload.get("temperature"),
    )
    child_ids = write_children(
        runner,
        node,
        calls,
        mode,
        kind=EventKind(command.kind),
        branch=branch,
        origin=origin,
        note=f"{branch}: " + (", ".join(f"{k}={v}" for k, v in payload.items()) or "same settings"),
    )
    tree = runner.load()
    judgeable = [
        i for i in child_ids if tree.nodes[i].status in (NodeStatus.OPEN, NodeStatus.TERMINAL)
    ]
    if judgeable and runner.judges:
        evaluate(runner, tree, judgeable)
    if command.kind == CommandKind.COUNTERFACTUAL:
        return f"{branch}: {len(child_ids)} candidates below pruned #{node.id}, kept apart"
    return f"{branch}: {len(child_ids)} candidates beside the original children of #{node.id}"


# Nodes a search has decided on, and of those, the ones it kept (a beam keeps a node it
# may not get to expand: left open, or unexplored once the run ended).
KEPT = (NodeStatus.EXPANDED, NodeStatus.SOLVED, NodeStatus.TERMINAL, NodeStatus.UNEXPLORED)
DECIDED = (*KEPT, NodeStatus.PRUNED)


def _rescore_tree(runner: RunState) -> str:
    """Score every decided node with the active judges and list what would change."""
    tree = runner.load()
    todo = [
        n
        for n in tree.main()
        if n.parent_id is not None and not n.evaluated and n.status in DECIDED
    ]
    settlements: dict[int, Settlement] = {}
    for parent_id in sorted({n.parent_id for n in todo if n.parent_id is not None}):
        group = [n.id for n in todo if n.parent_id == parent_id]
        settlements.update(evaluate(runner, tree, group, decide=False))
    changes = what_would_change(tree, settlements)
    with unit_of_work(runner.engine, runner.run_id) as session:
        queries.add_event(
            session,
            runner.run_id,
            EventKind.RESCORE_REPORT,
            f"{len(changes)} decisions would change",
            details={"changes": changes},
        )
    return f"re-scored {len(settlements)} nodes; {len(changes)} decisions would change"


def what_would_change(tree: TreeView, settlements: dict[int, Settlement]) -> list[str]:
    changes = []
    for node_id, settled in sorted(settlements.items()):
        node = tree.nodes[node_id]
        rejected_before = node.status == NodeStatus.PRUNED and node.pruned_by == PrunedBy.JUDGE
        if rejected_before and not settled.rejected_by:
            changes.append(f"#{node_id} would now pass the gates (was {node.status_reason})")
        elif node.status in (NodeStatus.EXPANDED, NodeStatus.SOLVED) and settled.rejected_by:
            changes.append(f"#{node_id} would now be {settled.rejected_by}")
    # Beam selections: would the kept set of a level change under the new scores?
    for depth in sorted({tree.nodes[i].depth for i in settlements}):
        level = [n for n in tree.main() if n.depth == depth and n.id in settlements]
        beam_cut = [n for n in level if n.pruned_by == PrunedBy.BEAM]
        kept = [n for n in level if n.status in KEPT]
        if not beam_cut or not kept:
            continue
        ranked = sorted(level, key=lambda n: -(settlements[n.id].score or 0.0))
        new_kept = {n.id for n in ranked[: len(kept)]}
        for n in kept:
            if n.id not in new_kept:
                changes.append(f"#{n.id} would fall out of the beam at depth {depth}")
        for n in beam_cut:
            if n.id in new_kept:
                changes.append(f"#{n.id} would be kept in the beam at depth {depth}")
    return changes
