"""A browser session's copy of a run's nodes, kept current by revision.

Each second a live explorer asks only for the nodes written since its last look
(storage/hot_path.py: nodes_since, the query the engine's tree cache uses too), so
reading a 1,000-node tree that did not change costs one empty query, not 1,000
rows. Nodes are never deleted (nothing is lost), so the copy only grows and
updates. The copies are plain Node values, not bound to any session.
"""

from __future__ import annotations

from typing import Any

import streamlit as st
from sqlmodel import Session

from treelight.storage import hot_path
from treelight.storage.models import Node

KEY = "explorer_tree_rows"


def current_nodes(session: Session, run_id: int) -> tuple[list[Node], int]:
    """The run's nodes in id order, and the highest revision among them (what
    changed in the tree since a draw: a higher revision means something did)."""
    copy: dict[str, Any] | None = st.session_state.get(KEY)
    if copy is None or copy["run"] != run_id:
        copy = {"run": run_id, "rev": -1, "nodes": {}}
    fresh = hot_path.nodes_since(session.connection(), run_id, copy["rev"])
    if fresh:
        nodes = dict(copy["nodes"])
        for row in fresh:
            nodes[row.id] = Node.model_construct(**row._mapping)
        rev = max(copy["rev"], max(row.rev for row in fresh))
        copy = {"run": run_id, "rev": rev, "nodes": nodes}
    st.session_state[KEY] = copy
    return [copy["nodes"][i] for i in sorted(copy["nodes"])], copy["rev"]
