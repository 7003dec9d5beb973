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
from treelight.engine.strategies.base import pending_evaluation
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
        elif command.kind == CommandKind.RESCORE_FRONTIER:
            result = _rescore_frontier(runner)
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


def _rescore_frontier(runner: RunState) -> str:
    """Judge the open frontier with the active judges now, group by group as the
    search's next actions would (gates prune what they reject), instead of waiting
    for a resume."""
    judged = cut = 0
    while (group := pending_evaluation(tree := runner.load())) is not None:
        settled = evaluate(runner, tree, list(group.node_ids), kind=EventKind.RESCORE)
        judged += len(settled)
        cut += sum(s.rejected_by is not None for s in settled.values())
    nodes = f"{judged} node" + ("" if judged == 1 else "s")
    result = f"re-scored the open frontier: {nodes}" + (f", {cut} cut by a gate" if cut else "")
    _report(runner, result, [])
    return result


def _rescore_tree(runner: RunState) -> str:
    """Score every sibling group of the tree with the active judges, each group as the
    search judged it (all the valid children of one node, so a vote compares what
    the search compared), and list every decision that would change. The open
    frontier is decided as the search would (its gates prune); decided nodes keep
    their status and show their new score."""
    before = tree = runner.load()  # the decisions as the search made them
    groups: dict[int, list[int]] = {}
    for node in tree.main():
        if (
            node.parent_id is not None
            and node.status != NodeStatus.INVALID
            and node.pruned_by not in (PrunedBy.DUPLICATE, PrunedBy.PARENT)
        ):
            groups.setdefault(node.parent_id, []).append(node.id)
    settlements: dict[int, Settlement] = {}
    for parent_id in sorted(groups):
        tree = runner.load()
        settlements.update(evaluate(runner, tree, groups[parent_id], kind=EventKind.RESCORE))
    threshold = runner.strategy.params.get("threshold")
    changes = what_would_change(before, settlements, threshold)
    result = f"re-scored {len(settlements)} nodes; {len(changes)} decisions would change"
    _report(runner, result, changes)
    return result


def _report(runner: RunState, result: str, changes: list[str]) -> None:
    with unit_of_work(runner.engine, runner.run_id) as session:
        queries.add_event(
            session,
            runner.run_id,
            EventKind.RESCORE_REPORT,
            result,
            details={"changes": changes},
        )


def what_would_change(
    tree: TreeView, settlements: dict[int, Settlement], threshold: float | None = None
) -> list[str]:
    """Each decision of the search that the new scores would flip: a gate's prune, a
    kept node a gate now rejects, a threshold cut, a beam's selection. `tree` is
    the tree as the search decided it (statuses), before the new verdicts."""
    changes = []
    for node_id, settled in sorted(settlements.items()):
        node = tree.nodes[node_id]
        new = settled.score
        if threshold is not None and new is not None and not settled.rejected_by:
            if node.pruned_by == PrunedBy.THRESHOLD and new >= threshold:
                changes.append(
                    f"#{node_id} would now pass the threshold ({new:.2f} ≥ {threshold:g})"
                )
            elif node.status in KEPT and new < threshold:
                changes.append(
                    f"#{node_id} would now be cut by the threshold ({new:.2f} < {threshold:g})"
                )
        rejected_before = node.status == NodeStatus.PRUNED and node.pruned_by == PrunedBy.JUDGE
        if rejected_before and not settled.rejected_by:
            changes.append(f"#{node_id} would now pass the gates (was {node.status_reason})")
        elif node.status in (NodeStatus.OPEN, NodeStatus.TERMINAL) and settled.rejected_by:
            changes.append(f"#{node_id} was cut now, on the open frontier: {settled.rejected_by}")
        elif node.status in KEPT and settled.rejected_by:
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
