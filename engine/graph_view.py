"""The tree as vis-network data: colours by status, size by score, the best
path highlighted, priors as annotations. pyvis builds the node and edge dicts
and the options; the app's component and the standalone HTML export draw them.

Model text only ever goes into `label` and `title` as plain strings. vis-network
draws labels on a canvas and shows string titles as text, so markup in a
thought is shown, never run. (pyvis's own HTML template would turn a title
containing "href" into an innerHTML popup; we never use that template.)
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from pyvis.network import Network

from treelight.storage.models import Node, Prior, Run
from treelight.storage.vocabulary import NodeStatus, PrunedBy

# (colour, legend text) per drawn category.
CATEGORIES: dict[str, tuple[str, str]] = {
    "root": ("#6a51a3", "problem"),
    "open": ("#9ecae1", "open (waiting)"),
    "expanded": ("#3182bd", "expanded"),
    "terminal": ("#a1d99b", "finished, not proven right"),
    "unexplored": ("#d9d9d9", "unexplored: the run ended first"),
    "solved": ("#238b45", "solved (checked)"),
    "pruned_judge": ("#fd8d3c", "pruned by a judge"),
    "pruned_cutoff": ("#fdd0a2", "pruned: beam cutoff / threshold"),
    "pruned_person": ("#bcbddc", "pruned by a person"),
    "invalid": ("#de2d26", "invalid"),
    "critique": ("#c994c7", "critique (self-refine)"),
    "prior": ("#ffe066", "prior (a person's hint)"),
    "counterfactual": ("#e7298a", "counterfactual: a pruned node expanded anyway"),
}
BEST_PATH_COLOUR = "#f1b300"
RERUN_EDGE_COLOUR = "#807dba"
LABEL_CHARS = 22


def category(node: Node) -> str:
    if node.parent_id is None:
        return "root"
    if node.status == NodeStatus.PRUNED:
        if node.pruned_by == PrunedBy.PERSON:
            return "pruned_person"
        if node.pruned_by == PrunedBy.JUDGE:
            return "pruned_judge"
        return "pruned_cutoff"
    return node.status if node.status in CATEGORIES else NodeStatus.OPEN


def is_counterfactual(node: Node) -> bool:
    return node.branch.startswith("counterfactual")


def best_path(nodes: list[Node], run: Run) -> set[int]:
    """The path to the answer, or while searching, to the most promising node."""
    by_id = {n.id: n for n in nodes}
    target = best_node(nodes, run)
    path: set[int] = set()
    while target is not None and target.id is not None:
        path.add(target.id)
        target = by_id.get(target.parent_id) if target.parent_id else None
    return path if len(path) > 1 else set()


def best_node(nodes: list[Node], run: Run) -> Node | None:
    """The run's answer node; with no answer, the best so far: a finished path
    (solved first), else the deepest, best-scored live node of the main search."""
    by_id = {n.id: n for n in nodes}
    target = by_id.get(run.answer_node_id) if run.answer_node_id else None
    if target is None:
        finished = [
            n
            for n in nodes
            if n.status in (NodeStatus.SOLVED, NodeStatus.TERMINAL) and n.branch == "main"
        ]
        alive = [
            n
            for n in nodes
            if n.status in (NodeStatus.OPEN, NodeStatus.EXPANDED, NodeStatus.UNEXPLORED)
            and n.branch == "main"
        ]
        pool = finished or alive
        if pool:
            target = max(
                pool, key=lambda n: (n.status == NodeStatus.SOLVED, n.depth, n.score or 0.0)
            )
    return target if target is not None and target.parent_id is not None else None


def answer_tally(nodes: list[Node]) -> list[tuple[str, int, list[int]]]:
    """Each distinct answer the main search finished with (not pruned), how many
    paths reached it and which nodes: the vote self-consistency takes, and for any
    strategy, what the search found. Most common first."""
    found: dict[str, tuple[str, list[int]]] = {}
    for node in nodes:
        answer = node.state.get("answer")
        if node.branch != "main" or not answer:
            continue
        if node.status not in (NodeStatus.SOLVED, NodeStatus.TERMINAL):
            continue
        key = " ".join(str(answer).lower().replace(" ", "").split())
        shown, ids = found.setdefault(key, (str(answer), []))
        ids.append(node.id or 0)
    tally = [(shown, len(ids), ids) for shown, ids in found.values()]
    return sorted(tally, key=lambda row: (-row[1], row[2][0]))


def _short(text: str, limit: int = LABEL_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _title(node: Node) -> str:
    """The hover text: plain text, whatever the model wrote."""
    lines = [
        f"#{node.id} · {node.status}"
        + (f" · score {node.score:.2f}" if node.score is not None else "")
    ]
    if node.status_reason:
        lines.append(node.status_reason)
    if node.visits:
        lines.append(
            f"MCTS: {node.visits} visits · value {node.value:.2f} "
            f"(mean {node.value / node.visits:.2f})"
        )
    if is_counterfactual(node):
        lines.append("counterfactual: what the search would have found below a pruned node")
    if node.pinned:
        lines.append("pinned: explore this more")
    if node.branch != "main":
        lines.append(f"branch: {node.branch} ({node.origin})")
    lines.append("")
    lines.append(node.text[:600])
    return "\n".join(lines)


def vis_elements(
    nodes: Iterable[Node], priors: Iterable[Prior], highlight: set[int]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    net = Network(directed=True, layout=True)
    for node in nodes:
        colour, _ = CATEGORIES[category(node)]
        on_path = node.id in highlight
        score = node.score if node.score is not None else 0.3
        label = f"#{node.id}{' 📌' if node.pinned else ''}\n{_short(node.text)}"
        if node.score is not None:
            label += f"\n{node.score:.2f}"
        if node.visits:
            label += f"\nN={node.visits} Q={node.value / node.visits:.2f}"
        border = colour
        if on_path:
            border = BEST_PATH_COLOUR
        elif is_counterfactual(node):
            border = CATEGORIES["counterfactual"][0]
        net.add_node(
            node.id,
            label=label,
            title=_title(node),
            level=node.depth * 2,  # odd levels are for priors
            shape="diamond" if node.status == NodeStatus.CRITIQUE else "dot",
            size=8 + 18 * max(0.0, min(1.0, score)),
            color={"background": colour, "border": border},
            borderWidth=4 if on_path or border != colour else 1,
            visits=node.visits,
        )
        if node.parent_id is not None:
            edge: dict[str, Any] = {}
            if is_counterfactual(node):
                edge = {"dashes": True, "color": CATEGORIES["counterfactual"][0], "width": 2}
            elif node.branch != "main":
                edge = {"dashes": True, "color": RERUN_EDGE_COLOUR}
            elif on_path:
                edge = {"color": BEST_PATH_COLOUR, "width": 4}
            net.add_edge(node.parent_id, node.id, id=f"e{node.id}", **edge)
    known = {n["id"] for n in net.nodes}
    for prior in priors:
        if prior.node_id not in known:
            continue
        node_level = next(n["level"] for n in net.nodes if n["id"] == prior.node_id)
        pid = f"p{prior.id}"
        net.add_node(
            pid,
            label=f"💡 {_short(prior.text, 40)}",
            title=f"Prior: {prior.text}",
            shape="box",
            level=node_level + 1,
            color={"background": CATEGORIES["prior"][0], "border": "#c9a400"},
        )
        net.add_edge(prior.node_id, pid, id=f"e{pid}", dashes=True, arrows="", color="#c9a400")
    return net.nodes, net.edges


def vis_options(direction: str = "UD") -> dict[str, Any]:
    """Hierarchical layout, physics off: positions stay put as the tree grows.
    `direction` is "UD" (top-down) or "LR" (left-right, for wide levels)."""
    net = Network(directed=True, layout=True)
    net.toggle_physics(False)
    options: dict[str, Any] = json.loads(net.options.to_json())
    options["layout"]["hierarchical"].update(
        {
            "direction": direction,
            "sortMethod": "directed",
            "levelSeparation": 70,
            "nodeSpacing": 160,
            "edgeMinimization": False,
            "parentCentralization": True,
        }
    )
    options["edges"] = {
        "smooth": False,
        "arrows": {"to": {"enabled": True, "scaleFactor": 0.4}},
        "color": {"color": "#999999"},
    }
    options["nodes"] = {"font": {"size": 12, "face": "sans-serif"}}
    options["interaction"] = {
        "hover": True,
        "tooltipDelay": 150,
        "dragNodes": False,
        "navigationButtons": False,
        "keyboard": False,
    }
    return options


def vis_library() -> str:
    """vis-network's JavaScript, from the copy pyvis ships (works offline)."""
    base = Path(str(resources.files("pyvis"))) / "templates" / "lib" / "vis-9.1.2"
    return (base / "vis-network.min.js").read_text(encoding="utf-8")


def legend() -> list[tuple[str, str]]:
    return [CATEGORIES[key] for key in CATEGORIES]


def standalone_html(run: Run, nodes: list[Node], priors: list[Prior]) -> str:
    """One self-contained HTML page of the tree (no network access needed).

    The data travels as JSON inside a <script type="application/json"> block,
    with "<" escaped, so no model text can close the block or become markup.
    """
    vis_nodes, vis_edges = vis_elements(nodes, priors, best_path(nodes, run))
    payload = json.dumps({"nodes": vis_nodes, "edges": vis_edges, "options": vis_options()})
    payload = payload.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    title = f"Treelight run #{run.id}: {run.task} · {run.strategy}"
    safe_title = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    legend_items = "".join(
        f'<span><i style="background:{colour}"></i>{text}</span>' for colour, text in legend()
    )
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{safe_title}</title>
<style>
body {{ font-family: sans-serif; margin: 0; }}
header {{ padding: 8px 12px; border-bottom: 1px solid #ddd; }}
#tree {{ width: 100vw; height: calc(100vh - 90px); }}
.legend span {{ margin-right: 12px; font-size: 12px; white-space: nowrap; }}
.legend i {{ display: inline-block; width: 10px; height: 10px; margin-right: 4px;
             border-radius: 50%; }}
</style>
<script>{vis_library()}</script></head>
<body><header><strong>{safe_title}</strong> <span id="summary"></span>
<div class="legend">{legend_items}</div></header>
<div id="tree"></div>
<script type="application/json" id="data">{payload}</script>
<script>
const data = JSON.parse(document.getElementById("data").textContent);
document.getElementById("summary").textContent = " — " + data.nodes.length + " nodes";
new vis.Network(document.getElementById("tree"),
  {{nodes: new vis.DataSet(data.nodes), edges: new vis.DataSet(data.edges)}}, data.options);
</script></body></html>
"""
