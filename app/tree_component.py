"""The live tree on the page: a custom component (Streamlit components v2).

Each rerun sends only what changed since the last rerun of this browser
session (a delta on a version number); vis-network's 470 KB library is sent
once per session. A click on a node comes back as the component's `selected`
state. See assets/tree_component.js for the other half.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

import streamlit as st

from treelight.engine.views.radial import radial_options
from treelight.engine.views.vis import label_badges_js, vis_library, vis_options

# The badges a person's labels get are drawn by a script the HTML export shares.
JS = label_badges_js() + files("treelight.assets").joinpath("tree_component.js").read_text(
    encoding="utf-8"
)
CSS = """
.treelight-tree { position: relative; border: 1px solid rgba(128,128,128,0.25);
  border-radius: 6px; }
.treelight-view { position: absolute; top: 6px; right: 6px; z-index: 2; display: flex; gap: 4px; }
.treelight-view button { font: 14px sans-serif; padding: 3px 9px; border-radius: 4px;
  border: 1px solid rgba(128,128,128,0.5); background: rgba(255,255,255,0.92); color: #222;
  cursor: pointer; }
.treelight-view button:hover { background: #eef4fb; }
.treelight-shown { position: absolute; left: 8px; bottom: 6px; z-index: 2; pointer-events: none;
  font: 13px sans-serif; color: #555; background: rgba(255,255,255,0.85); padding: 1px 6px;
  border-radius: 4px; }
"""

_component = st.components.v2.component("treelight_tree", js=JS, css=CSS)


def _on_need_lib() -> None:
    st.session_state["tree_lib_sent"] = False


def _forget(key: str) -> None:
    st.session_state.pop(f"{key}_sent", None)


def _on_unfold(key: str) -> None:
    """A click on a fold box: "f<parent>" (folded invalid siblings) or "s<node>"
    (a subtree drawn as "+N more")."""
    box = str(getattr(st.session_state.get(key), "unfold", None) or "")
    if box[1:].isdigit():
        which = "unfolded" if box[0] == "f" else "opened"
        st.session_state.setdefault(which, set()).add(int(box[1:]))


def _on_drawn() -> None:
    st.session_state["tree_drawn"] = True


def _on_selected(key: str) -> None:
    selected = getattr(st.session_state.get(key), "selected", None)
    if selected is not None:
        st.session_state["selected_node"] = int(selected)


# How many versions back a browser may be and still catch up without a reset.
# A rerun superseded by the next one may never be drawn, so the browser can miss a
# payload; each payload carries every change of the last HISTORY versions.
HISTORY = 4


def delta(
    sent: dict[str, Any] | None,
    nodes: list[dict[str, Any]],
    edges: list[dict[str, Any]],
    direction: str = "UD",
    large: bool = False,
    unchanged: bool = False,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """What to send this rerun, and what the client will then have.

    `sent` is {"version", "nodes": {id: json}, "edges": {id: json}, "history"} from
    the last rerun, or None for a fresh client; `unchanged`: `nodes` and `edges` are
    what was sent last time (their encoding is skipped). `history` lists, per recent version,
    the node and edge ids it changed. The payload holds the current form of every
    item changed in those versions (or its removal): items carry all their fields,
    so re-applying one is harmless, and a browser at any version from `base_min` to
    `base` ends at `version`.
    """
    if sent is not None and unchanged:
        # The caller says it is the very drawing sent last time (the explorer reuses
        # an unchanged one): nothing to encode or compare again.
        node_json, edge_json = sent["nodes"], sent["edges"]
    else:
        node_json = {str(n["id"]): json.dumps(n, sort_keys=True) for n in nodes}
        edge_json = {str(e["id"]): json.dumps(e, sort_keys=True) for e in edges}
    if sent is None:
        now = {"version": 1, "nodes": node_json, "edges": edge_json, "history": []}
        return {
            "reset": True,
            "base": 0,
            "base_min": 0,
            "version": 1,
            "nodes": nodes,
            "edges": edges,
            "remove_nodes": [],
            "remove_edges": [],
            # "RADIAL": positions given (engine/views/radial.py), no hierarchy.
            "options": radial_options(vis_options("UD", large))
            if direction == "RADIAL"
            else vis_options(direction, large),
        }, now
    changed_nodes = {i for i, text in node_json.items() if sent["nodes"].get(i) != text}
    changed_nodes |= set(sent["nodes"]) - set(node_json)
    changed_edges = {i for i, text in edge_json.items() if sent["edges"].get(i) != text}
    changed_edges |= set(sent["edges"]) - set(edge_json)
    history = list(sent.get("history", []))
    version = sent["version"]
    if changed_nodes or changed_edges:
        version += 1
        history.append((version, sorted(changed_nodes), sorted(changed_edges)))
        history = history[-HISTORY:]
    base_min = history[0][0] - 1 if history else version
    node_ids = {i for _, ids, _ in history for i in ids}
    edge_ids = {i for _, _, ids in history for i in ids}
    # Node ids are ints on the client (vis keeps the type); folds are "f<id>" etc.
    by_id = {str(n["id"]): n["id"] for n in nodes}
    payload = {
        "reset": False,
        "base": sent["version"],
        "base_min": min(base_min, sent["version"]),
        "version": version,
        "nodes": [n for n in nodes if str(n["id"]) in node_ids],
        "edges": [e for e in edges if str(e["id"]) in edge_ids],
        "remove_nodes": sorted(
            (int(i) if i.isdigit() else i for i in node_ids if i not in by_id), key=str
        ),
        "remove_edges": sorted(i for i in edge_ids if i not in edge_json),
    }
    now = {"version": version, "nodes": node_json, "edges": edge_json, "history": history}
    return payload, now


def live_tree(
    run_id: int,
    nodes: list[dict[str, Any]],
    edges: list[dict[str, Any]],
    selected: int | None,
    height: int = 560,
    key: str = "tree",
    direction: str = "UD",
    best: list[int] | None = None,
    near: list[int] | None = None,
    fit: bool = False,
    large: bool = False,
    report_drawn: bool = False,
    unchanged: bool = False,
) -> None:
    """Draw (or update in place) the tree of `run_id` under component key `key`.
    `best`: the best path's node ids; `near`: the selected node's neighbourhood
    (the default view keeps both readable); `fit`: re-fit the view (what is shown changed);
    `large`: projector-sized labels; `report_drawn`: the browser says when it has
    built the tree (the page is holding the rest back until then); `unchanged`: the
    same drawing as this key's last call (the explorer knows: nothing it depends on
    changed)."""
    sent = st.session_state.get(f"{key}_sent")
    drawn_as = (run_id, direction, large)
    if sent is not None and sent.get("drawn_as") != drawn_as:
        sent = None  # another run, layout or type size: draw from scratch
    payload, now = delta(sent, nodes, edges, direction, large, unchanged=unchanged)
    payload["selected"] = selected
    payload["height"] = height
    payload["best"] = sorted(best or [])
    payload["near"] = sorted(near or [])
    payload["fit"] = fit
    payload["drawn_as"] = ":".join(str(part) for part in drawn_as)
    payload["report_drawn"] = report_drawn
    # The default view's aim: 12 px labels; on a projector, 18 px (read from afar).
    payload["readable_px"] = 18 if large else 12
    if not st.session_state.get("tree_lib_sent"):
        payload["lib"] = vis_library()
    _component(
        data=payload,
        key=key,
        on_selected_change=lambda: _on_selected(key),
        on_unfold_change=lambda: _on_unfold(key),
        on_need_lib_change=_on_need_lib,
        on_need_full_change=lambda: _forget(key),
        on_drawn_change=_on_drawn,
    )
    st.session_state["tree_lib_sent"] = True
    st.session_state[f"{key}_sent"] = {**now, "drawn_as": drawn_as}
