"""The tree as one self-contained HTML page (no network access needed): the
vis-network data, the legend, a person's notes and labels.

Model text travels as JSON inside a <script type="application/json"> block, with
"<", ">" and "&" escaped, and is put on the page with textContent only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from treelight.engine.views.best_path import best_path
from treelight.engine.views.folding import Folded
from treelight.engine.views.palette import legend
from treelight.engine.views.vis import (
    describe_label,
    label_badges_js,
    vis_elements,
    vis_library,
    vis_options,
)
from treelight.storage.models import Event, Node, Prior, Run
from treelight.storage.queries import Label


def standalone_html(
    run: Run,
    nodes: list[Node],
    priors: list[Prior],
    notes: Sequence[Event] = (),
    labels: Mapping[int, Label] | None = None,
) -> str:
    """One self-contained HTML page of the tree (no network access needed).

    The data travels as JSON inside a <script type="application/json"> block,
    with "<" escaped, so no model text can close the block or become markup.
    """
    labels = labels or {}
    vis_nodes, vis_edges = vis_elements(
        Folded.whole(nodes),
        priors=priors,
        highlight=best_path(nodes, run),
        task=run.task,
        notes=notes,
        labels=labels,
    )
    listed = [f"#{n.node_id}: {n.reason}" for n in notes]
    listed += [f"#{i}: {describe_label(label)}" for i, label in sorted(labels.items())]
    payload = json.dumps(
        {"nodes": vis_nodes, "edges": vis_edges, "options": vis_options(), "notes": listed}
    )
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
#notes {{ font-size: 14px; margin: 8px 24px; }}
.legend span {{ margin-right: 12px; font-size: 12px; white-space: nowrap; }}
.legend i {{ display: inline-block; width: 10px; height: 10px; margin-right: 4px;
             border-radius: 50%; }}
</style>
<script>{vis_library()}</script>
<script>{label_badges_js()}</script></head>
<body><header><strong>{safe_title}</strong> <span id="summary"></span>
<div class="legend">{legend_items}</div></header>
<div id="tree"></div>
<ul id="notes"></ul>
<script type="application/json" id="data">{payload}</script>
<script>
const data = JSON.parse(document.getElementById("data").textContent);
document.getElementById("summary").textContent = " — " + data.nodes.length + " nodes";
for (const note of data.notes) {{  // a person's notes and labels, as text
  const item = document.createElement("li");
  item.textContent = note;
  document.getElementById("notes").appendChild(item);
}}
const nodes = new vis.DataSet(data.nodes);
const network = new vis.Network(document.getElementById("tree"),
  {{nodes: nodes, edges: new vis.DataSet(data.edges)}}, data.options);
treelightDrawLabels(network, nodes);
</script></body></html>
"""
