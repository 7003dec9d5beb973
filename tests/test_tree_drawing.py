"""The live tree drawn update by update equals the same tree drawn afresh.

The page sends the browser only what changed (app/tree_component.py `delta`),
and vis-network's DataSet.update merges each sent item into the one it has,
nested objects included. So an item sent without a field it had before keeps
the old value: a gold best-path edge stays gold after the path moved. Here the
client is simulated with that merge, through a replayed run (the best path
moves as the search goes) and through a person's steering, and after every
update it must equal a fresh draw.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.conftest import game24_search
from treelight.app.tree_component import delta
from treelight.engine import steering
from treelight.engine.views.best_path import best_path
from treelight.engine.views.folding import FOLD_AT, Folded, fold_for_view, fold_siblings
from treelight.engine.views.replay import tree_at
from treelight.engine.views.step_summary import step_summary
from treelight.engine.views.vis import vis_elements
from treelight.storage import queries
from treelight.storage.models import Event, Node, Run


def merge(old: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """vis-data's update: fields merged into the item, nested objects merged too."""
    merged = copy.deepcopy(old)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


class Client:
    """The browser's DataSets, fed the payloads the page sends."""

    def __init__(self) -> None:
        self.nodes: dict[Any, dict[str, Any]] = {}
        self.edges: dict[Any, dict[str, Any]] = {}
        self.version = 0

    def apply(self, payload: dict[str, Any]) -> None:
        """As assets/tree_component.js: a reset, or a delta it can catch up from."""
        if payload["reset"]:
            self.nodes = {n["id"]: copy.deepcopy(n) for n in payload["nodes"]}
            self.edges = {e["id"]: copy.deepcopy(e) for e in payload["edges"]}
            self.version = payload["version"]
            return
        assert payload["base_min"] <= self.version <= payload["base"], "stale: a reset"
        for key in payload["remove_nodes"]:
            self.nodes.pop(key, None)  # vis-data ignores ids it does not have
        for key in payload["remove_edges"]:
            self.edges.pop(key, None)
        for items, kept in ((payload["nodes"], self.nodes), (payload["edges"], self.edges)):
            for item in items:
                kept[item["id"]] = merge(kept.get(item["id"], {}), item)
        self.version = payload["version"]


def drawn(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> tuple[dict, dict]:
    return {n["id"]: n for n in nodes}, {e["id"]: e for e in edges}


def finished_run(engine: Engine) -> int:
    return game24_search(engine, status="running")


def replayed_draws(engine: Engine) -> Iterator[tuple[set[int], list[Any], list[Any]]]:
    """A finished run replayed event by event: per step, the best path and the
    nodes and edges a fresh draw of the tree at that step has."""
    run_id = finished_run(engine)
    with Session(engine) as session:
        run = queries.get_run(session, run_id)
        nodes = queries.run_nodes(session, run_id)
        events = queries.run_events(session, run_id)
    assert run is not None
    replay_run = Run.model_validate({**run.model_dump(), "answer_node_id": None})
    for step in range(len(events)):
        shown = tree_at(nodes, events, step)
        path = best_path(shown, replay_run)
        yield path, *vis_elements(fold_siblings(shown), highlight=path, task=run.task)


def test_a_replayed_run_drawn_step_by_step_equals_a_fresh_draw_at_every_step(
    engine: Engine,
) -> None:
    client, sent = Client(), None
    paths = set()
    for step, (path, vis_nodes, vis_edges) in enumerate(replayed_draws(engine)):
        paths.add(frozenset(path))
        payload, sent = delta(sent, vis_nodes, vis_edges)
        client.apply(payload)
        assert (client.nodes, client.edges) == drawn(vis_nodes, vis_edges), f"step {step}"
    assert len(paths) > 2  # the best path really moved along the way


def test_a_browser_that_misses_payloads_still_catches_up_without_a_reset(
    engine: Engine,
) -> None:
    """A rerun superseded by the next one may never reach the browser. A client
    that draws only every third payload of a replay still equals a fresh draw after
    each one it draws, with no reset; one that missed more than HISTORY versions is
    told it is stale (and asks for a reset)."""
    from treelight.app.tree_component import HISTORY

    behind, sent = Client(), None
    drawn_by_behind = 0
    payloads = []
    for step, (_, vis_nodes, vis_edges) in enumerate(replayed_draws(engine)):
        payload, sent = delta(sent, vis_nodes, vis_edges)
        payloads.append(payload)
        if step % 3 == 0 or payload["reset"]:
            behind.apply(payload)
            drawn_by_behind += 1
            assert (behind.nodes, behind.edges) == drawn(vis_nodes, vis_edges), f"step {step}"
    assert sent is not None and drawn_by_behind > 5 and sent["version"] > HISTORY + 2
    late = Client()
    late.apply(payloads[0])  # then misses everything up to the last payload
    assert payloads[-1]["base_min"] > late.version


def test_steering_drawn_as_updates_equals_a_fresh_draw(engine: Engine) -> None:
    run_id = finished_run(engine)
    client, sent = Client(), None

    def draw() -> None:
        nonlocal sent
        with Session(engine) as session:
            run = queries.get_run(session, run_id)
            nodes = queries.run_nodes(session, run_id)
            priors = queries.run_priors(session, run_id)
            labels = queries.run_labels(session, run_id)
        assert run is not None
        vis_nodes, vis_edges = vis_elements(
            Folded.whole(nodes),
            priors=priors,
            highlight=best_path(nodes, run),
            task=run.task,
            labels=labels,
        )
        payload, sent = delta(sent, vis_nodes, vis_edges)
        client.apply(payload)
        assert (client.nodes, client.edges) == drawn(vis_nodes, vis_edges)

    draw()
    with Session(engine) as session:
        nodes = queries.run_nodes(session, run_id)
    expanded = [n for n in nodes if n.status == "expanded" and n.parent_id is not None]
    target = expanded[0].id or 0
    steering.pin(engine, run_id, target)
    draw()
    steering.add_prior(engine, run_id, target, "multiply the fours first")
    draw()
    steering.pin(engine, run_id, target, pinned=False)
    draw()
    steering.prune(engine, run_id, target)
    draw()
    steering.restore(engine, run_id, target)
    draw()
    assert "hint: multiply the four" in client.nodes[target]["label"]
    steering.label(engine, run_id, target, "good", "both fours used")
    draw()
    drawn_node = client.nodes[target]
    assert drawn_node["labelled"] == "good" and "person: good" in drawn_node["label"]
    assert "labelled good by person: both fours used" in drawn_node["title"]
    steering.label(engine, run_id, target, "bad")
    draw()
    assert client.nodes[target]["labelled"] == "bad"
    steering.label(engine, run_id, target, "none")
    draw()  # a cleared label leaves no badge behind on the client
    assert client.nodes[target]["labelled"] == "" and "person:" not in client.nodes[target]["label"]


def test_invalid_siblings_are_folded_into_one_node_until_their_parent_is_opened(
    engine: Engine,
) -> None:
    run_id = finished_run(engine)
    with Session(engine) as session:
        run = queries.get_run(session, run_id)
        nodes = queries.run_nodes(session, run_id)
    assert run is not None
    invalid_by_parent: dict[int, list[int]] = {}
    for node in nodes:
        if node.status == "invalid" and node.parent_id is not None:
            invalid_by_parent.setdefault(node.parent_id, []).append(node.id or 0)
    parent, children = max(invalid_by_parent.items(), key=lambda item: len(item[1]))
    assert len(children) >= FOLD_AT  # the scripted model writes plenty of bad steps

    drawn = fold_siblings(nodes)
    folds = drawn.siblings
    vis_nodes, vis_edges = vis_elements(drawn, highlight=best_path(nodes, run), task=run.task)
    by_id = {n["id"]: n for n in vis_nodes}
    assert f"f{parent}" in by_id and not set(children) & set(by_id)
    assert by_id[f"f{parent}"]["label"].startswith(f"+{len(folds[parent])} ")
    assert {"from": parent, "to": f"f{parent}"}.items() <= next(
        e for e in vis_edges if e["id"] == f"ef{parent}"
    ).items()
    # Every node is drawn, or counted in exactly one fold.
    folded = [n.id for group in folds.values() for n in group]
    assert sorted([*(i for i in by_id if isinstance(i, int)), *folded]) == sorted(
        n.id for n in nodes
    )

    opened = fold_siblings(nodes, unfolded={parent})
    assert parent not in opened.siblings and set(children) <= {n.id for n in opened.nodes}
    kept = fold_siblings(nodes, keep=children[0])  # the selected node stays in sight
    assert parent not in kept.siblings and children[0] in {n.id for n in kept.nodes}


def test_a_folded_kind_of_node_with_children_stays_drawn() -> None:
    from treelight.storage.models import Node

    nodes = [
        Node(id=1, run_id=1, key="0", text="4 4 4 4"),
        Node(id=2, run_id=1, key="0/0", parent_id=1, depth=1, text="a", status="invalid"),
        Node(id=3, run_id=1, key="0/1", parent_id=1, depth=1, text="b", status="invalid"),
        Node(id=4, run_id=1, key="0/2", parent_id=1, depth=1, text="c", status="invalid"),
        # A person expanded #4 anyway: its child must keep its parent on the page.
        Node(id=5, run_id=1, key="0/2/0", parent_id=4, depth=2, text="d", branch="cf"),
    ]
    drawn = fold_siblings(nodes)
    assert [n.id for n in drawn.siblings[1]] == [2, 3]
    assert {n.id for n in drawn.nodes} == {1, 4, 5}


def test_a_big_tree_is_drawn_around_its_best_path_and_the_selected_node(tmp_path: Any) -> None:
    """Past FOCUS_LIMIT nodes: the best path is drawn with up to CHILDREN_IN_FOCUS
    children per node (the next path node in the middle), the selected node shows
    its children, every other node is counted (in a box or on its node), and an
    opened node shows all its children."""
    from treelight.engine.bench.ui import beam_run
    from treelight.engine.views.folding import (
        CHILDREN_IN_FOCUS,
        fold_for_view,
        is_foldable,
        neighbourhood,
    )
    from treelight.storage.database import make_engine

    run_id = beam_run(tmp_path, 300, seed=3)
    engine = make_engine(f"sqlite:///{tmp_path / 'treelight.db'}")
    with Session(engine) as session:
        run = queries.get_run(session, run_id)
        nodes = queries.run_nodes(session, run_id)
    assert run is not None
    path = best_path(nodes, run)
    folded = fold_for_view(nodes, path)
    drawn, folds, boxes, below = folded.nodes, folded.siblings, folded.boxes, folded.below
    ids = [n.id for n in drawn]
    assert path <= set(ids) and len(drawn) < len(nodes) // 5
    by_parent: dict[int, list[int]] = {}
    for node in drawn:
        by_parent.setdefault(node.parent_id or 0, []).append(node.id or 0)
    for step in path:
        kids = by_parent.get(step, [])
        assert len(kids) <= CHILDREN_IN_FOCUS
        on_path = [k for k in kids if k in path]
        if on_path:  # the next path node sits in the middle of its drawn siblings
            assert abs(kids.index(on_path[0]) - (len(kids) - 1) / 2) <= 0.5, kids
    assert set(boxes) <= path and not set(below) & path
    # Nothing lost: each node drawn, or in exactly one fold, box or "+N below".
    counted = [
        *ids,
        *(n.id for group in (*folds.values(), *boxes.values(), *below.values()) for n in group),
    ]
    assert sorted(counted) == sorted(n.id for n in nodes)
    vis_nodes, _ = vis_elements(folded, highlight=path, task=run.task)
    labels = {n["id"]: n["label"] for n in vis_nodes}
    for parent, group in below.items():
        assert labels[parent].endswith(f"+{len(group)} below")
    for parent, group in boxes.items():  # a box counts what a click on it opens
        kids = sum(n.parent_id == parent for n in group)
        rest = len(group) - kids
        assert labels[f"s{parent}"] == f"+{kids} more" + (f" ({rest} below)" if rest else "")
    opened = fold_for_view(nodes, path, opened=set(boxes))
    for parent, group in boxes.items():
        shown = [n for n in opened.nodes if n.parent_id == parent and n.id in {g.id for g in group}]
        assert len(shown) == sum(n.parent_id == parent for n in group)

    side = next(n for n in drawn if n.id in below)  # a side branch: select it
    around_side = fold_for_view(nodes, path | {side.id or 0}, keep=side.id)
    kids = [n.id for n in around_side.nodes if n.parent_id == side.id]
    assert kids and side.id not in around_side.below
    assert set(kids) <= set(neighbourhood(around_side.nodes, side.id))
    root = next(n for n in nodes if n.parent_id is None)
    everything = fold_for_view(nodes, path, opened={root.id or 0})
    assert root.id not in everything.boxes
    useful = {n.id for n in nodes if n.parent_id == root.id and not is_foldable(n)}
    assert len(useful) > CHILDREN_IN_FOCUS and useful <= {n.id for n in everything.nodes}
    whole = fold_for_view(nodes, path, limit=None)  # "Whole tree"
    assert (whole.boxes, whole.below) == ({}, {})


def test_the_explorers_copy_of_the_nodes_follows_every_change(engine: Engine) -> None:
    """The explorer reads only what changed since its last look (app/tree_rows.py);
    after steps, a prune, a pin and a restore its copy equals a full read."""
    from treelight.app.tree_rows import current_nodes
    from treelight.engine.run.loop import Runner

    def fields(nodes: list[Node]) -> list[tuple[Any, ...]]:
        return [(n.id, n.status, n.pruned_by, n.score, n.pinned, n.text, n.rev) for n in nodes]

    run_id = game24_search(engine, "running", work=False)
    runner = Runner(engine, run_id)
    changes = [
        lambda: runner.step(),
        lambda: runner.step(),
        lambda: steering.prune(engine, run_id, kids[0]),
        lambda: steering.pin(engine, run_id, kids[1]),
        lambda: steering.restore(engine, run_id, kids[0]),
        lambda: runner.step(),
    ]
    seen_rev = -1
    for change in changes:
        change()
        with Session(engine) as session:
            copy, rev = current_nodes(session, run_id)
            full = queries.run_nodes(session, run_id)
        assert fields(copy) == fields(full)
        assert rev >= seen_rev
        seen_rev = rev
        kids = [n.id or 0 for n in full if n.parent_id is not None]
    with Session(engine) as session:  # nothing changed: the same copy, the same revision
        again, rev = current_nodes(session, run_id)
    assert fields(again) == fields(full) and rev == seen_rev


def test_a_step_is_told_in_one_line_from_its_events() -> None:
    def event(kind: str, node: int | None, reason: str = "", **details: object) -> Event:
        return Event(run_id=1, kind=kind, node_id=node, reason=reason, details=details)

    events = [
        Event(run_id=1, kind="step", actor="person", reason="a person asked"),
        event("evaluate", 3, "3 nodes by value", nodes=[4, 5, 6]),
        event("prune", 5, "beam cutoff — rank 2 of 3", by="beam cutoff", previous="open"),
        event("prune", 6, "beam cutoff — rank 3 of 3", by="beam cutoff", previous="open"),
        event("expand", 4, "8 candidates, 2 invalid"),
        event("paused", None, "one step done"),
    ]
    assert step_summary(events) == (
        "judged #4, #5, #6 (3 nodes by value) · expanded #4: 8 candidates, 2 invalid"
        " · cut #5, #6 by the beam"
    )
    assert step_summary([event("finish", None, "found an answer that passed its checks")]) == (
        "finish: found an answer that passed its checks"
    )
    assert step_summary([]) == ""


def test_a_label_says_each_thing_once() -> None:
    """A Game of 24 step's text ends with what is left, which the label's state line
    says too: the step is written without it ("4 + 5 = 9", then "left: 6 10 9")."""
    root = Node(id=1, run_id=1, key="0", depth=0, text="4 5 6 10", state={"left": [4, 5, 6, 10]})
    step = Node(
        id=2, run_id=1, key="0/0", parent_id=1, depth=1, text="4 + 5 = 9 (left: 6 9 10)",
        state={"left": [6, 9, 10]}, score=0.5,
    )  # fmt: skip
    vis_nodes, _ = vis_elements(fold_for_view([root, step], {1, 2}), task="game24")
    label = next(n["label"] for n in vis_nodes if n["id"] == 2)
    assert label.split("\n")[:3] == ["#2", "4 + 5 = 9", "left: 6 9 10"], label


def test_a_wide_whole_tree_is_drawn_on_rings_that_fill_a_square() -> None:
    """Whole tree on hundreds of nodes: rings by depth instead of one row per level;
    each leaf gets at least a label's width of arc, each parent sits among its
    children, and the drawing is about as tall as it is wide."""
    import math

    from treelight.engine.views.radial import LEAF_ARC, radial_positions

    nodes: list[dict] = [{"id": 1}]
    edges: list[dict] = []
    for child in range(2, 12):  # 10 children, 30 grandchildren each: 300 leaves
        nodes.append({"id": child})
        edges.append({"from": 1, "to": child})
        for grandchild in range(30):
            gid = child * 100 + grandchild
            nodes.append({"id": gid})
            edges.append({"from": child, "to": gid})
    radial_positions(nodes, edges)
    at = {n["id"]: (n["x"], n["y"]) for n in nodes}
    assert at[1] == (0.0, 0.0)
    radius = {i: math.hypot(*p) for i, p in at.items()}
    leaves = [n["id"] for n in nodes if n["id"] >= 200]
    children = [n["id"] for n in nodes if 2 <= n["id"] < 12]
    for ring in (leaves, children):  # each level on one ring
        assert max(radius[i] for i in ring) - min(radius[i] for i in ring) < 1
    assert abs(radius[leaves[0]] - 2 * radius[children[0]]) < 1
    gaps = sorted(math.atan2(at[i][1], at[i][0]) for i in leaves)
    arcs = [(b - a) * radius[leaves[0]] for a, b in zip(gaps, gaps[1:], strict=False)]
    assert min(arcs) >= LEAF_ARC * 0.99
    xs, ys = [p[0] for p in at.values()], [p[1] for p in at.values()]
    width, height = max(xs) - min(xs), max(ys) - min(ys)
    assert 0.8 <= width / height <= 1.25  # a disc, not a sliver (one row: 300 to 1)
    for child in children:  # a parent among its children
        kids = [math.atan2(at[k][1], at[k][0]) for k in range(child * 100, child * 100 + 30)]
        mine = math.atan2(at[child][1], at[child][0])
        assert min(kids) - 1e-9 <= mine <= max(kids) + 1e-9 or abs(max(kids) - min(kids)) > math.pi


def test_pins_and_priors_keep_their_marks_on_the_best_path() -> None:
    """The gold ring of the best path never hides a person's marks: a prior keeps its
    border, a pin its dashes and its word; the path still shows by its gold edges."""
    from treelight.engine.views.palette import BEST_PATH_COLOUR, CATEGORIES
    from treelight.storage.models import Prior

    root = Node(id=1, run_id=1, key="0", depth=0, text="4 5 6 10")
    hinted = Node(id=2, run_id=1, key="0/0", parent_id=1, depth=1, text="a", score=0.9)
    pinned = Node(id=3, run_id=1, key="0/0/0", parent_id=2, depth=2, text="b", score=0.8,
                  pinned=True)  # fmt: skip
    vis_nodes, vis_edges = vis_elements(
        fold_for_view([root, hinted, pinned], {1, 2, 3}),
        highlight={1, 2, 3},
        priors=[Prior(run_id=1, node_id=2, text="try 10 - 4")],
    )
    drawn = {n["id"]: n for n in vis_nodes}
    assert drawn[2]["color"]["border"] == CATEGORIES["prior"][0] != BEST_PATH_COLOUR
    assert drawn[2]["borderWidth"] == 4
    assert drawn[3]["shapeProperties"]["borderDashes"] and "pinned" in drawn[3]["label"]
    assert drawn[3]["color"]["border"] == BEST_PATH_COLOUR
    edges = {e["id"]: e for e in vis_edges}
    assert edges["e2"]["color"]["color"] == edges["e3"]["color"]["color"] == BEST_PATH_COLOUR
