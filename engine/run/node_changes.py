"""Node transitions: a prune (by anyone: a person, a gate, a beam, a threshold,
a selection) is made here, with its event, its reason and who made it, and so
is the MCTS backup. Steering, evaluation and the loop all prune through
`prune_node`, so the tree and the audit log always tell the same story.

The loop's own transitions never overrule a person: a node a person decided
meanwhile is left as it is.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from treelight.engine.run.state import RunState
from treelight.engine.types import Backup, Prune, TreeView
from treelight.storage import hot_path, queries
from treelight.storage.database import unit_of_work
from treelight.storage.models import Node
from treelight.storage.vocabulary import EventKind, NodeStatus, PrunedBy


def prune_node(
    session: Session, run_id: int, node: Node, reason: str, by: PrunedBy, actor: str = "engine"
) -> None:
    """The one way a node becomes pruned: status, reason, who, and the event that
    lets a person restore it to what it was."""
    changes = pruning(session, run_id, node.id or 0, node.status, reason, by, actor)
    node.status, node.status_reason, node.pruned_by = (
        changes["status"],
        changes["status_reason"],
        changes["pruned_by"],
    )


def pruning(
    session: Session,
    run_id: int,
    node_id: int,
    previous: NodeStatus,
    reason: str,
    by: PrunedBy,
    actor: str = "engine",
) -> dict[str, Any]:
    """`prune_node` for a node written with Core: logs the event and returns the
    columns to write (the caller writes them, with a revision)."""
    queries.add_event(
        session,
        run_id,
        EventKind.PRUNE,
        reason,
        node_id=node_id,
        actor=actor,
        details={"by": str(by), "previous": str(previous)},
    )
    return {"status": NodeStatus.PRUNED, "status_reason": reason, "pruned_by": by}


def unprune_node(node: Node, status: NodeStatus, reason: str) -> None:
    """A restore: back to `status`; nobody has pruned it any more."""
    node.status, node.status_reason, node.pruned_by = status, reason, PrunedBy.NONE


def backup(runner: RunState, tree: TreeView, action: Backup) -> None:
    """Add each leaf's reward to every node on its path (visits + 1, value + reward)."""
    with unit_of_work(runner.engine, runner.run_id) as session:
        touched = {n.id for leaf in action.rewards for n in tree.path(leaf)}
        stored = queries.nodes_by_id(session, list(touched))
        for leaf, reward in action.rewards.items():
            for view in tree.path(leaf):
                node = stored[view.id]
                node.visits += 1
                node.value += reward
        queries.add_event(
            session,
            runner.run_id,
            EventKind.BACKUP,
            ", ".join(f"#{leaf}: {r:.2f}" for leaf, r in action.rewards.items()),
            node_id=tree.nodes[next(iter(action.rewards))].parent_id,
            details={"rewards": {str(k): v for k, v in action.rewards.items()}},
        )
        runner.count_action(session)


def prune(runner: RunState, action: Prune) -> None:
    """A strategy's prunes (beam cut, threshold, selection), written with Core: a
    beam search cuts most of every level, so this is on the hot path."""
    with unit_of_work(runner.engine, runner.run_id) as session:
        connection = session.connection()
        stored = hot_path.node_rows_by_id(connection, list(action.reasons))
        changes: dict[int, dict[str, Any]] = {}
        for node_id, reason in action.reasons.items():
            node = stored.get(node_id)
            if node is None or node.status not in (NodeStatus.OPEN, NodeStatus.TERMINAL):
                continue
            why = reason if reason.startswith(action.kind) else f"{action.kind}: {reason}"
            changes[node_id] = pruning(
                session, runner.run_id, node_id, node.status, why, action.kind
            )
        hot_path.update_nodes(connection, runner.run_id, changes)
        runner.count_action(session)
