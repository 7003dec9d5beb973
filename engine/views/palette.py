"""The colours of the tree: one per drawn category (status, and who pruned),
the best path's gold, and the legend that explains them.

Does not decide what is drawn (views/folding.py) or build vis-network data
(views/vis.py).
"""

from __future__ import annotations

from treelight.storage.models import Node
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
    "prior": ("#35978f", "teal border: a person's hint (prior) below this node"),
    "counterfactual": ("#e7298a", "counterfactual: a pruned node expanded anyway"),
    # Drawn as a badge on the node by assets/label_badges.js, in these colours.
    "label_good": ("#1a9850", "badge with a tick: a person labelled it good"),
    "label_bad": ("#d73027", "badge with a cross: a person labelled it bad"),
}
BEST_PATH_COLOUR = "#f1b300"
RERUN_EDGE_COLOUR = "#807dba"
UNSCORED_BORDER = "#8c8c8c"
EDGE_COLOUR = "#999999"
SELECTED_RING = "#111111"


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


def legend() -> list[tuple[str, str]]:
    return [CATEGORIES[key] for key in CATEGORIES]
