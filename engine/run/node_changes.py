"""Node transitions: a prune (by anyone: a person, a gate, a beam, a threshold,
a selection) is made here, with its event, its reason and who made it, and so
is the MCTS backup. Steering, evaluation and the loop all prune through
`prune_node`, so the tree and the audit log always tell the same story.

The loop's own transitions never overrule a person: a node a person decided
meanwhile is left as it is.
"""

from __future__ import annotations

from sqlmodel import Session

from treelight.engine.run.state import RunState
from treelight.engine.types import Backup, Prune, TreeView
from treelight.storage import queries
from treelight.storage.database import unit_of_work
from treelight.storage.models import Node
from treelight.storage.vocabulary import EventKind, NodeStatus, PrunedBy


def prune_node(
    session: Session, run_id: int, node: Node, reason: str, by: PrunedBy, actor: str = "engine"
) -> None:
    """The one way a node becomes pruned: status, reason, who, and the event that
    lets a person restore it to what it was."""
    queries.add_event(
        session,
        run_id,
        EventKind.PRUNE,
        reason,
        node_id=node.id,
        actor=actor,
        details={"by": str(by), "previous": str(node.status)},
    )
    node.status, node.status_reason, node.pruned_by = NodeStatus.PRUNED, reason, by


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
    with unit_of_work(runner.engine, runner.run_id) as session:
        stored = queries.nodes_by_id(session, list(action.reasons))
        for node_id, reason in action.reasons.items():
            node = stored.get(node_id)
            if node is None or node.status not in (NodeStatus.OPEN, NodeStatus.TERMINAL):
                continue
            why = reason if reason.startswith(action.kind) else f"{action.kind}: {reason}"
            prune_node(session, runner.run_id, node, why, action.kind)
        runner.count_action(session)
