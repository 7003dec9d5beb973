"""Which nodes a view draws, and what stands in for the rest.

Invalid and duplicate siblings fold into one "+N invalid" box; a tree too big to
read is drawn around its focus (the best path, the selected node), the rest
folded into "+N more" boxes and "+N below" lines. The result is a `Folded`,
which views/vis.py turns into vis-network data.

Does not choose colours or labels (views/palette.py, views/vis.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from treelight.storage.models import Node
from treelight.storage.vocabulary import NodeStatus, PrunedBy


@dataclass(frozen=True)
class Folded:
    """What a view draws: `nodes`, and per node what is folded under it —
    `siblings` (its invalid and duplicate children, drawn as one "+N invalid"
    box), `boxes` (on the way to the focus: its other children and all below them,
    one "+N more" box) and `below` (a side node: all below it, "+N below" on the
    node)."""

    nodes: list[Node]
    siblings: dict[int, list[Node]] = field(default_factory=dict)
    boxes: dict[int, list[Node]] = field(default_factory=dict)
    below: dict[int, list[Node]] = field(default_factory=dict)

    @classmethod
    def whole(cls, nodes: Iterable[Node]) -> Folded:
        """Every node drawn, nothing folded."""
        return cls(list(nodes))


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
) -> Folded:
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
    return Folded([n for n in nodes if n.id not in hidden], siblings=folds)


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
) -> Folded:
    """What the live tree draws: invalid and duplicate siblings folded (opened per
    parent in `unfolded`), and when more than `limit` nodes are left, the tree
    around its focus (focus_fold; `opened` subtrees shown). `limit=None` draws the
    whole tree (a small tree has no boxes and nothing below)."""
    folded = fold_siblings(nodes, unfolded, keep)
    if limit is None or len(folded.nodes) <= limit:
        return folded
    focused, boxes, below = focus_fold(nodes, focus, opened, limit=0)
    folded = fold_siblings(focused, unfolded, keep, more_below=[*boxes, *below])
    return Folded(folded.nodes, folded.siblings, boxes, below)


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
