"""Transitions the loop makes on a strategy's word: prune nodes, back values up.

Each is one transaction with its event, and never overrules a person: a node a
person decided meanwhile is left as it is.
"""

from __future__ import annotations

from treelight.engine.run_state import RunState
from treelight.engine.types import Backup, Prune, TreeView
from treelight.storage import queries
from treelight.storage.database import unit_of_work
from treelight.storage.vocabulary import NodeStatus


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
            "backup",
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
            queries.add_event(
                session,
                runner.run_id,
                "prune",
                why,
                node_id=node_id,
                details={"by": action.kind, "previous": node.status},
            )
            node.status, node.status_reason = NodeStatus.PRUNED, why
            node.pruned_by = action.kind
        runner.count_action(session)
