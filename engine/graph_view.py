"""The tree as vis-network data: colours by status, size by score, the best
path highlighted, pins, priors and a person's good/bad labels drawn on their
node. pyvis builds the node and edge dicts
and the options; the app's component and the standalone HTML export draw them.

Model text only ever goes into `label` and `title` as plain strings. vis-network
draws labels on a canvas and shows string titles as text, so markup in a
thought is shown, never run. (pyvis's own HTML template would turn a title
containing "href" into an innerHTML popup; we never use that template.)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from pyvis.network import Network

from treelight.storage.models import Event, Node, Prior, Run
from treelight.storage.queries import Label
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
    "prior": ("#ffe066", "border: a person's hint (prior) below this node"),
    "counterfactual": ("#e7298a", "counterfactual: a pruned node expanded anyway"),
    # Drawn as a badge on the node by assets/label_badges.js, in these colours.
    "label_good": ("#1a9850", "badge with a tick: a person labelled it good"),
    "label_bad": ("#d73027", "badge with a cross: a person labelled it bad"),
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


def describe_label(label: Label) -> str:
    return f"labelled {label.verdict} by {label.actor}" + (f": {label.note}" if label.note else "")


def _title(
    node: Node, hints: Sequence[str] = (), notes: Sequence[str] = (), label: Label | None = None
) -> str:
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
    lines += [f"hint from a person: {hint}" for hint in hints]
    lines += [f"note: {note}" for note in notes]
    if label is not None:
        lines.append(describe_label(label))
    lines.append("")
    lines.append(node.text[:600])
    return "\n".join(lines)


UNSCORED_BORDER = "#8c8c8c"
EDGE_COLOUR = "#999999"
SELECTED_RING = "#111111"


def vis_elements(
    nodes: Iterable[Node],
    priors: Iterable[Prior],
    highlight: set[int],
    task: str | None = None,
    folds: dict[int, list[Node]] | None = None,
    notes: Iterable[Event] = (),
    labels: Mapping[int, Label] | None = None,
    subtrees: dict[int, list[Node]] | None = None,
    below: dict[int, list[Node]] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Nodes and edges for vis-network. Every item carries every visual field it can
    have (colour, width, dashes, label, ...): the live tree updates items by merging
    fields, so a field left out would keep its old value (a gold edge off the path).
    Pins and a person's hints are drawn on their node; with `task`, a label shows the
    engine's state (Game of 24: the numbers really left), not the model's claim.
    `folds` (from fold_siblings) are drawn as one node per parent; `notes` (note
    events) are marked on their node and shown in full on hover; `labels` (a
    person's good/bad, storage/queries.py: run_labels) get a line, a hover line and
    `labelled`, which assets/label_badges.js draws as a badge. `subtrees` (focus_fold's
    boxes) are drawn as one "+N more" node under their node; `below` as a line
    "+N below" on the node (and counted in its `folded`)."""
    below = below or {}
    labels = labels or {}
    noted: dict[int, list[str]] = {}
    for note in notes:
        noted.setdefault(note.node_id or 0, []).append(note.reason)
    hints: dict[int, list[str]] = {}
    for prior in priors:
        hints.setdefault(prior.node_id, []).append(prior.text)
    describe = _state_describer(task)
    net = Network(directed=True, layout=True)
    for node in nodes:
        assert node.id is not None
        colour, _ = CATEGORIES[category(node)]
        on_path = node.id in highlight
        mine = hints.get(node.id, [])
        lines = [f"#{node.id}" + (" · pinned" if node.pinned else ""), _short(node.text)]
        state = describe(node.state) if describe else None
        if state:
            lines.append(_short(state, LABEL_CHARS + 8))
        if node.score is not None:
            lines.append(f"{node.score:.2f}")
        if node.visits:
            lines.append(f"N={node.visits} Q={node.value / node.visits:.2f}")
        if node.id in noted:
            lines.append(f"note ({len(noted[node.id])})")
        label = labels.get(node.id)
        if label is not None:
            lines.append(f"{label.actor}: {label.verdict}")
        if mine:
            lines.append(
                f"hint: {_short(mine[-1], 18)}" + (f" (+{len(mine) - 1})" if len(mine) > 1 else "")
            )
        hidden = len(below.get(node.id, ()))
        if hidden:
            lines.append(f"+{hidden} below")
        border = colour if node.score is not None or node.parent_id is None else UNSCORED_BORDER
        if on_path:
            border = BEST_PATH_COLOUR
        elif is_counterfactual(node):
            border = CATEGORIES["counterfactual"][0]
        elif mine:
            border = CATEGORIES["prior"][0]
        # Size shows a score; unscored nodes (invalid, not yet judged) stay small.
        size = 8 + 18 * max(0.0, min(1.0, node.score)) if node.score is not None else 7
        net.add_node(
            node.id,
            label="\n".join(lines),
            title=_title(node, mine, noted.get(node.id, []), label),
            level=node.depth,
            shape="diamond" if node.status == NodeStatus.CRITIQUE else "dot",
            size=size,
            # The selection is a dark ring; the node keeps its status colour.
            color={
                "background": colour,
                "border": border,
                "highlight": {"background": colour, "border": SELECTED_RING},
                "hover": {"background": colour, "border": border},
            },
            borderWidth=4 if on_path or border not in (colour, UNSCORED_BORDER) else 1,
            borderWidthSelected=5,
            shapeProperties={"borderDashes": [5, 3] if node.pinned else False},
            visits=node.visits,
            labelled=label.verdict if label is not None else "",
            folded=hidden,  # tree nodes below this one that are not drawn
        )
        if node.parent_id is not None:
            edge = {"dashes": False, "color": {"color": EDGE_COLOUR}, "width": 1}
            if is_counterfactual(node):
                edge = {
                    "dashes": True,
                    "color": {"color": CATEGORIES["counterfactual"][0]},
                    "width": 2,
                }
            elif node.branch != "main":
                edge = {"dashes": True, "color": {"color": RERUN_EDGE_COLOUR}, "width": 1}
            elif on_path:
                edge = {"dashes": False, "color": {"color": BEST_PATH_COLOUR}, "width": 4}
            net.add_edge(node.parent_id, node.id, id=f"e{node.id}", **edge)
    boxes = [("f", parent, group) for parent, group in (folds or {}).items()]
    boxes += [("s", parent, group) for parent, group in (subtrees or {}).items()]
    for kind, parent_id, folded in boxes:
        if kind == "f":
            reasons = sorted({_short(n.status_reason, 60) for n in folded if n.status_reason})
            text = f"+{len(folded)} {_fold_kind(folded)}"
            lines = [f"{len(folded)} candidates folded; click to show them", "", *reasons[:12]]
        else:
            text = f"+{len(folded)} more"
            lines = [
                f"{len(folded)} nodes below this one (not on the best path or near the "
                "selected node); click to show its children"
            ]
        net.add_node(
            f"{kind}{parent_id}",
            label=text,
            title="\n".join(lines),
            level=min(n.depth for n in folded),
            shape="box",
            size=7,
            color={
                "background": "#f2f2f2",
                "border": UNSCORED_BORDER,
                "highlight": {"background": "#f2f2f2", "border": SELECTED_RING},
                "hover": {"background": "#f2f2f2", "border": UNSCORED_BORDER},
            },
            borderWidth=1,
            borderWidthSelected=2,
            shapeProperties={"borderDashes": [2, 2]},
            visits=0,
            folded=len(folded),  # how many tree nodes this one stands for
            labelled="",
        )
        net.add_edge(
            parent_id,
            f"{kind}{parent_id}",
            id=f"e{kind}{parent_id}",
            dashes=True,
            color={"color": "#bbbbbb"},
            width=1,
        )
    return net.nodes, net.edges


FOLD_AT = 2  # this many invalid or duplicate siblings (or more) are drawn as one node


def is_foldable(node: Node) -> bool:
    return node.status == NodeStatus.INVALID or (
        node.status == NodeStatus.PRUNED and node.pruned_by == PrunedBy.DUPLICATE
    )


def fold_siblings(
    nodes: list[Node],
    unfolded: Iterable[int] = (),
    keep: int | None = None,
    more_below: Iterable[int] = (),
) -> tuple[list[Node], dict[int, list[Node]]]:
    """The nodes to draw, and per parent the invalid and duplicate children drawn as
    one "+8 invalid" node instead (leaves only: one a person expanded anyway stays).
    Parents in `unfolded` show theirs; `keep` (the selected node) is never folded,
    nor one in `more_below` (its children are folded into a box of their own)."""
    opened = set(unfolded)
    # A node with children (a counterfactual) stays.
    parents = {n.parent_id for n in nodes} | set(more_below)
    groups: dict[int, list[Node]] = {}
    for node in nodes:
        if (
            node.parent_id is not None
            and node.parent_id not in opened
            and node.id not in parents
            and is_foldable(node)
        ):
            groups.setdefault(node.parent_id, []).append(node)
    folds = {
        parent: group
        for parent, group in groups.items()
        if len(group) >= FOLD_AT and all(n.id != keep for n in group)
    }
    hidden = {n.id for group in folds.values() for n in group}
    return [n for n in nodes if n.id not in hidden], folds


# A tree with more nodes than this (after folding invalid siblings) is drawn
# around its focus: at a readable size (12 px labels, 120 px apart) the tree's
# half of a laptop screen holds about five nodes across and five levels down.
FOCUS_LIMIT = 12


CHILDREN_IN_FOCUS = 5  # a node on the way to the focus shows this many children


def focus_fold(
    nodes: list[Node], focus: Iterable[int], opened: Iterable[int] = (), limit: int = FOCUS_LIMIT
) -> tuple[list[Node], dict[int, list[Node]], dict[int, list[Node]]]:
    """The nodes to draw around a focus (the best path, the selected node), and
    what is left out: `boxes` (per node on the way to the focus, its other children
    and all below them, drawn as one "+N more" box) and `below` (per other node,
    all below it, written on the node as "+N below": selecting it opens it).

    A node on the way to a focus node, or a focus node, shows the next focus node
    and its best scored children, up to CHILDREN_IN_FOCUS (invalid and duplicate
    leaves are folded by fold_siblings anyway), the next focus node in the middle so
    the path runs straight down; a node a person `opened` shows all its children.
    Side branches get no boxes of their own: they would widen every level and push
    the path off the screen. Small trees (`limit` nodes or fewer) are drawn whole."""
    if len(nodes) <= limit:
        return nodes, {}, {}
    by_id = {n.id: n for n in nodes}
    children: dict[int, list[Node]] = {}
    for node in nodes:
        if node.parent_id is not None and node.parent_id in by_id:
            children.setdefault(node.parent_id, []).append(node)
    on_way: set[int] = set()
    for node_id in focus:
        step = by_id.get(node_id)
        while step is not None and step.id not in on_way:
            on_way.add(step.id or 0)
            step = by_id.get(step.parent_id) if step.parent_id else None
    all_shown = set(opened)
    drawn: list[Node] = []
    boxes: dict[int, list[Node]] = {}
    below: dict[int, list[Node]] = {}
    level = [n for n in nodes if n.parent_id not in by_id]  # the root(s)
    while level:
        drawn.extend(level)
        next_level: list[Node] = []
        for node in level:
            kids = children.get(node.id or 0, [])
            if node.id in all_shown:
                next_level.extend(kids)
                continue
            shown = _in_focus(kids, on_way, children) if node.id in on_way else []
            next_level.extend(shown)
            hidden = [k for k in kids if k not in shown]
            if hidden:
                left_out = boxes if node.id in on_way else below
                left_out[node.id or 0] = _subtree(hidden, children)
        level = next_level
    return drawn, boxes, below


def _folded_anyway(node: Node, children: dict[int, list[Node]]) -> bool:
    return node.id not in children and is_foldable(node)


def _in_focus(kids: list[Node], on_way: set[int], children: dict[int, list[Node]]) -> list[Node]:
    """A focus node's children to draw: the invalid and duplicate leaves (folded
    later into one box), the next focus nodes in the middle, and the best scored
    others around them."""
    anyway = [k for k in kids if _folded_anyway(k, children)]
    ahead = [k for k in kids if k.id in on_way]
    rest = sorted(
        (k for k in kids if k.id not in on_way and k not in anyway),
        key=lambda k: -(k.score if k.score is not None else -1.0),
    )[: max(0, CHILDREN_IN_FOCUS - len(ahead))]
    rest.sort(key=lambda k: k.id or 0)
    half = len(rest) // 2
    return rest[:half] + ahead + rest[half:] + anyway


def fold_for_view(
    nodes: list[Node],
    focus: Iterable[int],
    unfolded: Iterable[int] = (),
    opened: Iterable[int] = (),
    keep: int | None = None,
    limit: int | None = FOCUS_LIMIT,
) -> tuple[list[Node], dict[int, list[Node]], dict[int, list[Node]], dict[int, list[Node]]]:
    """What the live tree draws: invalid and duplicate siblings folded (opened per
    parent in `unfolded`), and when more than `limit` nodes are left, the tree
    around its focus (focus_fold; `opened` subtrees shown). `limit=None` draws the
    whole tree. Returns the nodes, the sibling folds, and focus_fold's boxes and
    below (all empty but the first two for a small tree)."""
    drawn, folds = fold_siblings(nodes, unfolded, keep)
    if limit is None or len(drawn) <= limit:
        return drawn, folds, {}, {}
    focused, boxes, below = focus_fold(nodes, focus, opened, limit=0)
    drawn, folds = fold_siblings(focused, unfolded, keep, more_below=[*boxes, *below])
    return drawn, folds, boxes, below


def neighbourhood(nodes: list[Node], selected: int | None) -> list[int]:
    """The selected node with its parent and children (those drawn): what the
    default view keeps readable around a selection."""
    if selected is None:
        return []
    by_id = {n.id: n for n in nodes}
    node = by_id.get(selected)
    if node is None:
        return []
    near = [selected] + [n.id or 0 for n in nodes if n.parent_id == selected]
    if node.parent_id is not None and node.parent_id in by_id:
        near.append(node.parent_id)
    return sorted(near)


def _subtree(kids: list[Node], children: dict[int, list[Node]]) -> list[Node]:
    found, stack = [], list(kids)
    while stack:
        node = stack.pop()
        found.append(node)
        stack.extend(children.get(node.id or 0, []))
    return found


def _fold_kind(nodes: list[Node]) -> str:
    invalid = sum(n.status == NodeStatus.INVALID for n in nodes)
    if invalid == len(nodes):
        return "invalid"
    return "duplicates" if invalid == 0 else "invalid or duplicate"


def _state_describer(task: str | None) -> Any:
    if task is None:
        return None
    from treelight.engine.tasks import task_classes

    task_class = task_classes().get(task)
    return task_class.describe_state if task_class else None


def vis_options(direction: str = "UD", large: bool = False) -> dict[str, Any]:
    """Hierarchical layout, physics off: positions stay put as the tree grows.
    `direction` is "UD" (top-down) or "LR" (left-right, for wide levels); `large`:
    labels for a projector."""
    net = Network(directed=True, layout=True)
    net.toggle_physics(False)
    options: dict[str, Any] = json.loads(net.options.to_json())
    options["layout"]["hierarchical"].update(
        {
            "direction": direction,
            "sortMethod": "directed",
            "levelSeparation": 150 if large else 110,
            # About a label's width: 22 characters at 20 px (projector) or 12 px.
            "nodeSpacing": 210 if large else 120,
            "edgeMinimization": False,
            "parentCentralization": True,
        }
    )
    options["edges"] = {
        "smooth": False,
        "arrows": {"to": {"enabled": True, "scaleFactor": 0.4}},
        "color": {"color": "#999999"},
    }
    options["nodes"] = {
        "font": {"size": 20 if large else 12, "face": "sans-serif"},
        # Level of detail: vis-network leaves out a label that would be drawn
        # smaller than drawThreshold - 1 = 11 px on screen (fading it in up to 12 px;
        # dots and colours carry the overview; zoom in or hover to read), and
        # zooming in never blows one up past 30 px.
        "scaling": {"label": {"drawThreshold": 12, "maxVisible": 30}},
    }
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


def label_badges_js() -> str:
    """The script that draws a person's labels as badges (our own code, no model text)."""
    return resources.files("treelight.assets").joinpath("label_badges.js").read_text("utf-8")


def legend() -> list[tuple[str, str]]:
    return [CATEGORIES[key] for key in CATEGORIES]


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
        nodes, priors, best_path(nodes, run), run.task, notes=notes, labels=labels
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
