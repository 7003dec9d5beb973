"""A radial overview of a wide tree: the root in the middle, each level a ring,
each leaf its own slice of the circle.

A hierarchical layout puts every level in one row: a tree with hundreds of nodes
on its last level is a sliver when zoomed out to see it whole (at 1280 px wide,
labels at 0.6 px). On rings, the same tree fills a square canvas, and each leaf
gets at least a label's width of arc, so zooming into any part reads it.
Positions are computed here (vis-network draws them as given, physics off).
"""

from __future__ import annotations

import math
from typing import Any

LEAF_ARC = 140.0  # tree units of circumference per leaf: about a 12 px label's width
MIN_RING = 220.0  # the distance between two levels, at least
RINGS_PAST = 24  # a whole tree with a level wider than this is drawn on rings


def wants_rings(nodes: list[dict[str, Any]]) -> bool:
    """Whether a level is too wide for rows: at 120 tree units a node, 24 nodes are
    about 2,900 units across, a fifth of a 1280-px canvas's readable width."""
    widths: dict[Any, int] = {}
    for node in nodes:
        widths[node.get("level")] = widths.get(node.get("level"), 0) + 1
    return max(widths.values(), default=0) > RINGS_PAST


def radial_positions(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> None:
    """Give each vis node `x`, `y` (in place) on rings by depth, leaves evenly
    around the circle in the tree's order, a parent in the middle of its children."""
    ids = [node["id"] for node in nodes]
    children: dict[Any, list[Any]] = {}
    has_parent = set()
    known = set(ids)
    for edge in edges:
        if edge["from"] in known and edge["to"] in known:
            children.setdefault(edge["from"], []).append(edge["to"])
            has_parent.add(edge["to"])
    roots = [i for i in ids if i not in has_parent]
    order: list[Any] = []  # leaves, depth first
    depth: dict[Any, int] = {}
    stack = [(root, 0) for root in reversed(roots)]
    while stack:
        node_id, level = stack.pop()
        depth[node_id] = level
        kids = children.get(node_id, [])
        if not kids:
            order.append(node_id)
        stack.extend((kid, level + 1) for kid in reversed(kids))
    deepest = max(depth.values(), default=0) or 1
    ring = max(MIN_RING, len(order) * LEAF_ARC / (2 * math.pi * deepest))
    angle: dict[Any, float] = {
        leaf: 2 * math.pi * i / max(1, len(order)) for i, leaf in enumerate(order)
    }
    for node_id in sorted(depth, key=depth.__getitem__, reverse=True):  # leaves up
        kids = children.get(node_id, [])
        if kids:
            angle[node_id] = sum(angle[k] for k in kids) / len(kids)
    for node in nodes:
        node_id = node["id"]
        radius = ring * depth.get(node_id, 0)
        theta = angle.get(node_id, 0.0) - math.pi / 2  # the first leaf at the top
        node["x"], node["y"] = (
            round(radius * math.cos(theta), 1),
            round(radius * math.sin(theta), 1),
        )


def radial_options(options: dict[str, Any]) -> dict[str, Any]:
    """The same options with the hierarchical layout off (positions are given)."""
    changed = {**options, "layout": {**options.get("layout", {}), "hierarchical": False}}
    changed["physics"] = False
    return changed
