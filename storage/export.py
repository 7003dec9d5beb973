"""Export a run: a JSON document and a GraphML graph (via networkx).

Model text is exported as data, never as markup: JSON strings and GraphML
attribute values are escaped by their serializers.
"""

from __future__ import annotations

import io
import re
from datetime import datetime
from typing import Any

import networkx as nx
from sqlmodel import Session, SQLModel

from treelight.storage import queries
from treelight.storage.models import Node


def _plain(row: SQLModel, rename: dict[str, str] | None = None) -> dict[str, Any]:
    data = row.model_dump()
    for key, value in data.items():
        if isinstance(value, datetime):
            data[key] = value.isoformat()
    for old, new in (rename or {}).items():
        data[new] = data.get(old)
    return data


def run_to_dict(session: Session, run_id: int) -> dict[str, Any]:
    run = queries.get_run(session, run_id)
    if run is None:
        raise LookupError(f"No run #{run_id}")
    return {
        "run": _plain(run, {"status_reason": "reason"}),
        "nodes": [
            _plain(n, {"status_reason": "reason"}) for n in queries.run_nodes(session, run_id)
        ],
        "evaluations": [_plain(e) for e in queries.run_evaluations(session, run_id)],
        "priors": [_plain(p) for p in queries.run_priors(session, run_id)],
        "events": [_plain(e) for e in queries.run_events(session, run_id)],
        "model_calls": [_plain(c) for c in queries.run_model_calls(session, run_id)],
        "script": queries.run_script(session, run_id),  # a scripted run's outputs, or null
    }


# Characters XML 1.0 cannot hold at all (most control characters, lone
# surrogates): GraphML shows them as visible escapes such as "\x08".
_NOT_XML = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def tree_graph(nodes: list[Node]) -> nx.DiGraph:
    """The tree as a networkx graph, node attributes flat and typed for GraphML."""
    graph = nx.DiGraph()
    for node in nodes:
        graph.add_node(
            node.id,
            key=node.key,
            depth=node.depth,
            text=xml_safe(node.text),
            status=str(node.status),
            reason=xml_safe(node.status_reason),
            origin=str(node.origin),
            branch=node.branch,
            score=float("nan") if node.score is None else node.score,
            logprob=float("nan") if node.logprob is None else node.logprob,
            visits=node.visits,
            pinned=node.pinned,
            answer=xml_safe(str(node.state.get("answer", ""))),
        )
        if node.parent_id is not None:
            graph.add_edge(node.parent_id, node.id)
    return graph


def run_to_graphml(session: Session, run_id: int) -> str:
    if queries.get_run(session, run_id) is None:
        raise LookupError(f"No run #{run_id}")
    buffer = io.BytesIO()
    nx.write_graphml(tree_graph(queries.run_nodes(session, run_id)), buffer)
    return buffer.getvalue().decode("utf-8")
