"""The tree as vis-network data: nodes and edges (colour by status, size by
score, the best path gold, pins, priors, notes and a person's labels drawn on
their node), the layout options, and the scripts the page needs.

pyvis builds the node and edge dicts and the options; the app's component and
the standalone HTML export (views/html_export.py) draw them. Model text only
ever goes into `label` and `title` as plain strings: vis-network draws labels on
a canvas and shows string titles as text, so markup in a thought is shown,
never run. (pyvis's own HTML template would turn a title containing "href" into
an innerHTML popup; we never use that template.)

Does not decide which nodes are drawn (views/folding.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from pyvis.network import Network

from treelight.engine.views.folding import Folded
from treelight.engine.views.palette import (
    BEST_PATH_COLOUR,
    CATEGORIES,
    EDGE_COLOUR,
    RERUN_EDGE_COLOUR,
    SELECTED_RING,
    UNSCORED_BORDER,
    category,
    is_counterfactual,
)
from treelight.storage.models import Event, Node, Prior
from treelight.storage.queries import Label
from treelight.storage.vocabulary import NodeStatus

LABEL_CHARS = 22


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


def vis_elements(
    drawn: Folded,
    *,
    priors: Iterable[Prior] = (),
    highlight: set[int] | frozenset[int] = frozenset(),
    task: str | None = None,
    notes: Iterable[Event] = (),
    labels: Mapping[int, Label] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Nodes and edges for vis-network, for what a view draws (views/folding.py:
    `Folded.whole(nodes)` for every node). Every item carries every visual field it
    can have (colour, width, dashes, label, ...): the live tree updates items by
    merging fields, so a field left out would keep its old value (a gold edge off
    the path). `highlight` is the best path; pins and a person's hints (`priors`)
    are drawn on their node; with `task`, a label shows the engine's state (Game of
    24: the numbers really left), not the model's claim. Folded siblings and "+N
    more" boxes are drawn as one node under their parent, "+N below" as a line on
    the node (and counted in its `folded`); `notes` (note events) are marked on
    their node and shown in full on hover; `labels` (a person's good/bad,
    storage/queries.py: run_labels) get a line, a hover line and `labelled`, which
    assets/label_badges.js draws as a badge."""
    below = drawn.below
    labels = labels or {}
    noted: dict[int, list[str]] = {}
    for note in notes:
        noted.setdefault(note.node_id or 0, []).append(note.reason)
    hints: dict[int, list[str]] = {}
    for prior in priors:
        hints.setdefault(prior.node_id, []).append(prior.text)
    describe = _state_describer(task)
    net = Network(directed=True, layout=True)
    for node in drawn.nodes:
        assert node.id is not None
        colour, _ = CATEGORIES[category(node)]
        on_path = node.id in highlight
        mine = hints.get(node.id, [])
        state = describe(node.state) if describe else None
        text = node.text
        if state and state in text:  # say each thing once: "4 + 5 = 9", then "left: 6 10 9"
            text = text.replace(f"({state})", "").replace(state, "").strip() or node.text
        lines = [f"#{node.id}" + (" · pinned" if node.pinned else ""), _short(text)]
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
        # A person's marks win over the gold ring: the gold edges still show the path.
        if is_counterfactual(node):
            border = CATEGORIES["counterfactual"][0]
        elif mine:
            border = CATEGORIES["prior"][0]
        elif on_path:
            border = BEST_PATH_COLOUR
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
    boxes = [("f", parent, group) for parent, group in drawn.siblings.items()]
    boxes += [("s", parent, group) for parent, group in drawn.boxes.items()]
    for kind, parent_id, folded in boxes:
        if kind == "f":
            reasons = sorted({_short(n.status_reason, 60) for n in folded if n.status_reason})
            text = f"+{len(folded)} {_fold_kind(folded)}"
            lines = [f"{len(folded)} candidates folded; click to show them", "", *reasons[:12]]
        else:
            # Count what a click opens (the children), and say how much lies below them.
            kids = sum(n.parent_id == parent_id for n in folded)
            rest = len(folded) - kids
            text = f"+{kids} more" + (f" ({rest} below)" if rest else "")
            lines = [
                f"{kids} more children of #{parent_id}"
                + (f", with {rest} nodes below them" if rest else "")
                + " (not on the best path or near the selected node); "
                f"click to show the {kids}"
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
            "levelSeparation": 200 if large else 110,
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
