"""Real headless Chromium against the served app (Debian's chromium, no download)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from sqlalchemy import Engine
from sqlmodel import Session

from treelight.engine.bench.browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    NODE_POSITION_JS,
    served_app,
)
from treelight.engine.run.creation import create_run
from treelight.engine.run.loop import Runner
from treelight.engine.views.html_export import standalone_html
from treelight.storage import queries
from treelight.storage.database import make_engine
from treelight.storage.models import Event, Node

pytestmark = pytest.mark.browser

PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    "<script>window.__pwned = 1; alert(2)</script>",
    '<a href="javascript:window.__pwned=3">click me</a>',
    "<b onmouseover=alert(4)>bold</b> [link](javascript:alert(5)) ![img](http://127.0.0.1:9/x.png)",
]


@pytest.fixture
def browser_page():  # type: ignore[no-untyped-def]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.dialogs = dialogs  # type: ignore[attr-defined]
        yield page
        browser.close()


def tree_nodes(page: Page) -> int:
    tree = page.locator(".treelight-tree")
    if tree.count() == 0:
        return 0
    return int(tree.first.get_attribute("data-tree-nodes") or 0)


def settle(page: Page, timeout: float = 60.0) -> None:
    """Wait until Streamlit has finished its rerun: while one runs, the elements of
    the previous run stay on the page (marked stale) beside the new ones. The wait
    is generous because a loaded CI machine once took over 20 s for a rerun that
    takes 1-2 s here; how fast a page is belongs to the benchmarks, not to this."""
    page.wait_for_function(
        "document.querySelectorAll('[data-stale=\"true\"]').length === 0",
        timeout=timeout * 1000,
    )


def click_node(page: Page, node_id: int | None = None) -> int:
    spot = page.locator(".treelight-tree").first.evaluate(NODE_POSITION_JS, node_id)
    page.mouse.click(spot["x"], spot["y"])
    return int(spot["id"])


def click_until_inspected(page: Page, tries: int = 4) -> int:
    """Click the newest node until the inspector shows it. While a run grows, a live
    update can lay the tree out again between finding a node and clicking it (eight
    new children at once move their cousins), so a click may land beside the node:
    as a person would, click it again where it is now. A miss each time fails with
    what the inspector showed after each click."""
    missed = []
    for _ in range(tries):
        node_id = click_node(page)
        try:
            page.get_by_text(f"Node #{node_id} ·").first.wait_for(timeout=8_000)
            return node_id
        except PlaywrightTimeout:
            shown = page.get_by_text(re.compile(r"Node #\d+ ·")).all_inner_texts()
            missed.append(f"clicked #{node_id}, the inspector showed {shown or 'nothing'}")
    raise AssertionError("; ".join(missed))


@pytest.mark.model
def test_live_embedded_run_click_a_node_and_inspect_it(browser_page: Page, tmp_path: Path) -> None:
    page = browser_page
    home = tmp_path / "home"
    home.mkdir()
    with served_app(home) as url:
        page.goto(f"{url}/new")
        page.get_by_role("button", name="Start the search").click()
        page.wait_for_url(re.compile(r".*run=\d+"), timeout=30_000)
        run_id = int(re.search(r"run=(\d+)", page.url).group(1))  # type: ignore[union-attr]
        engine = make_engine(f"sqlite:///{home / 'treelight.db'}")

        deadline = time.monotonic() + 120
        while tree_nodes(page) < 3 and time.monotonic() < deadline:
            time.sleep(0.5)
        with Session(engine) as session:
            run = queries.get_run(session, run_id)
            assert run is not None and run.generator["backend"] == "embedded"
            assert run.status == "running", "the tree must show nodes while the run goes on"
        drawn_while_running = tree_nodes(page)
        assert drawn_while_running >= 3

        # More live updates arrive (the run goes on): wait for them, not for a time.
        deadline = time.monotonic() + 60
        while tree_nodes(page) <= drawn_while_running and time.monotonic() < deadline:
            page.wait_for_timeout(200)
        assert tree_nodes(page) > drawn_while_running, "no live update reached the tree"
        tree = page.locator(".treelight-tree").first
        assert tree.get_attribute("data-mounts") == "1", "the tree must update in place"

        node_id = click_until_inspected(page)
        with Session(engine) as session:
            node = next(n for n in queries.run_nodes(session, run_id) if n.id == node_id)
        page.get_by_text("Decision").first.wait_for()
        assert page.get_by_text(node.text.splitlines()[0][:40]).count() >= 1
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "explorer-live.png"), full_page=True)
        main = page.get_by_test_id("stMainBlockContainer")
        main.get_by_role("button", name="Stop").click()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with Session(engine) as session:
                if queries.get_run(session, run_id).status == "stopped":  # type: ignore[union-attr]
                    break
            time.sleep(0.3)
        with Session(engine) as session:
            assert queries.get_run(session, run_id).status == "stopped"  # type: ignore[union-attr]


def hostile_run(home: Path) -> tuple[int, list[int]]:
    engine = make_engine(f"sqlite:///{home / 'treelight.db'}")
    run = create_run(
        engine,
        task="question",
        problem="<script>window.__pwned=9</script> What is 2+2?",
        strategy="bfs",
        strategy_params={"samples": len(PAYLOADS), "steps": 1},
        judges=[],
        generator={"backend": "scripted", "outputs": PAYLOADS},
        status="running",
    )
    assert run.id is not None
    Runner(engine, run.id).run_until_idle()
    with Session(engine) as session:
        nodes = queries.run_nodes(session, run.id)
    return run.id, [n.id or 0 for n in nodes if n.parent_id is not None]


def assert_nothing_ran(page: Page) -> None:
    assert page.evaluate("window.__pwned") is None
    assert page.dialogs == []  # type: ignore[attr-defined]


def test_hostile_model_text_is_shown_literally_and_never_runs(
    browser_page: Page, tmp_path: Path
) -> None:
    page = browser_page
    home = tmp_path / "home"
    home.mkdir()
    run_id, node_ids = hostile_run(home)
    assert len(node_ids) == len(PAYLOADS)
    with served_app(home, worker=False) as url:
        page.goto(f"{url}/?run={run_id}")
        page.locator(".treelight-tree").first.wait_for(timeout=30_000)
        deadline = time.monotonic() + 30
        while tree_nodes(page) < len(PAYLOADS) + 1 and time.monotonic() < deadline:
            time.sleep(0.3)
        for node_id, payload in zip(node_ids, PAYLOADS, strict=True):
            click_node(page, node_id)
            page.get_by_text(f"Node #{node_id} ·").first.wait_for(timeout=20_000)
            settle(page)
            # The exact characters are on the page, as text.
            page.locator("code", has_text=payload).first.wait_for(timeout=20_000)
            shown = page.locator("code").all_text_contents()
            assert payload in shown
            # Hovering shows the title tooltip: text only, no elements inside.
            spot = page.locator(".treelight-tree").first.evaluate(NODE_POSITION_JS, node_id)
            page.mouse.move(spot["x"], spot["y"])
            tooltip = page.locator(".vis-tooltip").first
            tooltip.wait_for(state="visible", timeout=5_000)
            assert payload in (tooltip.text_content() or "")
            # (vis-network sets the title with innerText: line breaks become <br>.)
            tags = tooltip.evaluate("el => [...el.querySelectorAll('*')].map(e => e.tagName)")
            assert set(tags) <= {"BR"}
            assert_nothing_ran(page)
        assert page.locator("img[src='x']").count() == 0
        assert page.locator("a[href^='javascript']").count() == 0
        assert_nothing_ran(page)
        # The explorer answers at /explorer too (the path people guess and share).
        page.goto(f"{url}/explorer?run={run_id}")
        page.get_by_text(f"Run #{run_id} ·").first.wait_for(timeout=30_000)
        page.locator(".treelight-tree").first.wait_for(timeout=30_000)
        assert page.get_by_text("Page not found").count() == 0

    # The standalone HTML export, opened on its own.
    engine = make_engine(f"sqlite:///{home / 'treelight.db'}")
    with Session(engine) as session:
        run = queries.get_run(session, run_id)
        assert run is not None
        html = standalone_html(
            run, queries.run_nodes(session, run_id), queries.run_priors(session, run_id)
        )
    export = tmp_path / "tree.html"
    export.write_text(html, encoding="utf-8")
    page.goto(export.as_uri())
    page.wait_for_function("document.querySelector('#tree canvas') !== null")
    assert json.loads(page.locator("#data").text_content() or "{}")["nodes"]
    assert "<img src=x" not in page.inner_html("body").split('<script type="application/json"')[0]
    assert_nothing_ran(page)


def paused_run(home: Path, steps: int = 1) -> tuple[int, list[int]]:
    """A run paused after its first expansion; with steps=2, its next action expands."""
    engine = make_engine(f"sqlite:///{home / 'treelight.db'}")
    run = create_run(
        engine,
        task="question",
        problem="What is 2+2?",
        strategy="bfs",
        strategy_params={"samples": 3, "steps": steps},
        judges=[],
        generator={"backend": "scripted", "outputs": ["Two and two.", "Count up.", "Add."] * 4},
        status="running",
    )
    assert run.id is not None
    runner = Runner(engine, run.id)
    runner.step()
    from treelight.engine import steering

    steering.pause(engine, run.id)
    with Session(engine) as session:
        nodes = queries.run_nodes(session, run.id)
    return run.id, [n.id or 0 for n in nodes if n.parent_id is not None]


def test_two_browser_sessions_steer_the_same_run(tmp_path: Path) -> None:
    """Two people (two browser contexts: two Streamlit sessions) on one run: the
    second acts on a node the first has just pruned, from a stale view. Both
    changes land, neither is lost, and the stale prune is a no-op, not an error."""
    home = tmp_path / "home"
    home.mkdir()
    run_id, (first_id, second_id, _) = paused_run(home)
    engine = make_engine(f"sqlite:///{home / 'treelight.db'}")
    with sync_playwright() as playwright, served_app(home, worker=False) as url:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        alice, bob = (
            browser.new_context(viewport={"width": 1500, "height": 1100}).new_page()
            for _ in range(2)
        )
        for page in (alice, bob):
            page.goto(f"{url}/?run={run_id}")
            page.locator(".treelight-tree").first.wait_for(timeout=30_000)
            click_node(page, first_id)
            page.get_by_text(f"Node #{first_id} ·").first.wait_for(timeout=20_000)

        alice.get_by_role("button", name="Prune", exact=True).click()
        alice.get_by_text("Prune: done (1 nodes)").wait_for(timeout=20_000)
        # Bob still sees "Prune" (his page has not re-read the node): his click
        # finds the node already pruned and changes nothing.
        bob.get_by_role("button", name="Prune", exact=True).click()
        bob.get_by_text("Prune: done (0 nodes)").wait_for(timeout=20_000)
        bob.get_by_role("button", name="Pin", exact=True).click()
        bob.get_by_text("Pin: done").wait_for(timeout=20_000)
        click_node(alice, second_id)
        alice.get_by_text(f"Node #{second_id} ·").first.wait_for(timeout=20_000)
        settle(alice)
        alice.get_by_label("Inject a prior").fill("count on your fingers")
        alice.get_by_role("button", name="Add prior").click()
        alice.get_by_text("Prior: done").wait_for(timeout=20_000)
        browser.close()

    with Session(engine) as session:
        nodes = {n.id: n for n in queries.run_nodes(session, run_id)}
        priors = queries.run_priors(session, run_id)
        events = [(e.kind, e.node_id) for e in queries.run_events(session, run_id)]
    assert nodes[first_id].status == "pruned" and nodes[first_id].pinned
    assert [(p.node_id, p.text) for p in priors] == [(second_id, "count on your fingers")]
    assert events.count(("prune", first_id)) == 1
    assert ("pin", first_id) in events and ("prior", second_id) in events


def test_a_step_on_a_paused_run_is_drawn_at_once_and_the_view_stays_where_it_was_put(
    browser_page: Page, tmp_path: Path
) -> None:
    """After Step on a paused run the page follows until the worker's action has
    landed, then draws it; a person's zoom is kept through that update, until Fit."""
    home = tmp_path / "home"
    home.mkdir()
    run_id, children = paused_run(home, steps=2)
    page = browser_page
    scale_js = "el => el.__treelight.network.getScale()"
    with served_app(home, worker=True) as url:
        page.goto(f"{url}/?run={run_id}")
        tree = page.locator(".treelight-tree").first
        tree.wait_for(timeout=30_000)
        assert tree_nodes(page) == 1 + len(children)
        tree.locator("button[data-action='+']").click()
        tree.locator("button[data-action='+']").click()
        page.wait_for_timeout(500)  # the zoom animation
        zoomed = tree.evaluate(scale_js)
        assert tree.get_attribute("data-touched") is not None

        page.get_by_role("button", name="Step", exact=True).click()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and tree_nodes(page) <= 1 + len(children):
            page.wait_for_timeout(200)
        assert tree_nodes(page) > 1 + len(children), "the step's nodes were never drawn"
        with Session(make_engine(f"sqlite:///{home / 'treelight.db'}")) as session:
            assert tree_nodes(page) == queries.node_count(session, run_id)
        page.wait_for_timeout(1500)  # a few more redraws: the view must not move
        assert tree.evaluate(scale_js) == pytest.approx(zoomed)

        tree.locator("button[data-action='Fit']").click()
        page.wait_for_timeout(600)
        assert tree.evaluate(scale_js) != pytest.approx(zoomed)
        page.screenshot(path=str(ARTIFACTS / "tree-after-step.png"))


# The colour at a node's label badge, read from the canvas (the badge's place as in
# assets/label_badges.js: up and right of the node by 0.9 of its size; 5 units above
# its centre lies inside the disc, clear of the tick or cross).
BADGE_COLOUR_JS = """
([network, nodes, id]) => {
  const node = nodes.get(id);
  const at = network.getPosition(id);
  const offset = (node.size || 10) * 0.9;
  const dom = network.canvasToDOM({x: at.x + offset, y: at.y - offset - 5});
  const canvas = network.body.container.querySelector("canvas");
  const ratio = canvas.width / canvas.clientWidth;
  const pixel = canvas.getContext("2d").getImageData(
    Math.round(dom.x * ratio), Math.round(dom.y * ratio), 1, 1).data;
  return [pixel[0], pixel[1], pixel[2], node.labelled];
}
"""
GOOD_RGB, BAD_RGB = (0x1A, 0x98, 0x50), (0xD7, 0x30, 0x27)


def badge(page: Page, node_id: int) -> tuple[tuple[int, int, int], str]:
    tree = page.locator(".treelight-tree").first
    tree.evaluate(NODE_POSITION_JS, node_id)  # focus it, at scale 1
    page.wait_for_timeout(300)
    r, g, b, labelled = tree.evaluate(
        f"el => ({BADGE_COLOUR_JS})([el.__treelight.network, el.__treelight.nodes, {node_id}])"
    )
    return (r, g, b), labelled


def wait_for_badges(tree: Locator, count: int) -> None:
    deadline = time.monotonic() + 20
    while tree.get_attribute("data-labelled") != str(count) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert tree.get_attribute("data-labelled") == str(count)


def near(colour: tuple[int, int, int], wanted: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 12 for a, b in zip(colour, wanted, strict=True))


def test_good_and_bad_from_the_inspector_are_drawn_as_badges_on_the_tree(
    browser_page: Page, tmp_path: Path
) -> None:
    page = browser_page
    home = tmp_path / "home"
    home.mkdir()
    run_id, (good_id, bad_id, plain_id) = paused_run(home)
    engine = make_engine(f"sqlite:///{home / 'treelight.db'}")
    note = "<b>not bold</b> & it adds up"
    with served_app(home, worker=False) as url:
        page.goto(f"{url}/?run={run_id}")
        tree = page.locator(".treelight-tree").first
        tree.wait_for(timeout=30_000)
        assert tree.get_attribute("data-labelled") == "0"

        click_node(page, good_id)
        page.get_by_text(f"Node #{good_id} ·").first.wait_for(timeout=20_000)
        page.get_by_label("Label this node").fill(note)
        page.get_by_role("button", name="Good").click()
        page.get_by_text("Labelled good: done").wait_for(timeout=20_000)
        page.get_by_text(note, exact=True).wait_for(timeout=20_000)  # the note, as text
        assert page.locator("b", has_text="not bold").count() == 0

        click_node(page, bad_id)
        page.get_by_text(f"Node #{bad_id} ·").first.wait_for(timeout=20_000)
        page.get_by_role("button", name="Bad").click()
        page.get_by_text("Labelled bad: done").wait_for(timeout=20_000)
        wait_for_badges(tree, 2)
        assert tree.get_attribute("data-mounts") == "1", "labels update the tree in place"
        colour, labelled = badge(page, good_id)
        assert labelled == "good" and near(colour, GOOD_RGB), colour
        colour, labelled = badge(page, bad_id)
        assert labelled == "bad" and near(colour, BAD_RGB), colour
        colour, labelled = badge(page, plain_id)
        assert labelled == "" and not near(colour, GOOD_RGB) and not near(colour, BAD_RGB)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "tree-labels.png"))

        click_node(page, bad_id)  # clearing removes the badge
        page.get_by_text(f"Node #{bad_id} ·").first.wait_for(timeout=20_000)
        page.get_by_role("button", name="Clear label").click()
        wait_for_badges(tree, 1)
        assert badge(page, bad_id)[1] == ""
        assert_nothing_ran(page)

    with Session(engine) as session:
        labels = queries.run_labels(session, run_id)
        run = queries.get_run(session, run_id)
        assert run is not None
        html = standalone_html(
            run,
            queries.run_nodes(session, run_id),
            queries.run_priors(session, run_id),
            labels=labels,
        )
    assert {i: (lab.verdict, lab.note, lab.actor) for i, lab in labels.items()} == {
        good_id: ("good", note, "person")
    }
    export = tmp_path / "tree.html"
    export.write_text(html, encoding="utf-8")
    page.goto(export.as_uri())
    page.wait_for_function("document.querySelector('#tree canvas') !== null")
    page.wait_for_timeout(500)
    colour = page.evaluate(
        f"() => {{ network.moveTo({{position: network.getPosition({good_id}), scale: 1}}); "
        f"network.redraw(); return ({BADGE_COLOUR_JS})([network, nodes, {good_id}]); }}"
    )
    assert colour[3] == "good" and near(tuple(colour[:3]), GOOD_RGB), colour
    assert page.get_by_text(f"#{good_id}: labelled good by person: {note}").count() == 1
    assert_nothing_ran(page)


# Every text vis-network draws on the tree's canvas, with its size on screen (the
# font's size times the canvas transform) and where it lands in the canvas.
RECORD_LABELS_JS = """
(el) => {
  const tree = el.__treelight;
  const canvas = tree.network.canvas.frame.canvas;
  const drawn = [];
  const proto = CanvasRenderingContext2D.prototype;
  const native = proto.fillText;
  proto.fillText = function (text, x, y, ...rest) {
    if (this.canvas === canvas) {
      const m = this.getTransform();
      const ratio = window.devicePixelRatio || 1;
      drawn.push({
        text: String(text),
        px: (parseFloat(this.font) * m.a) / ratio,
        x: (m.a * x + m.e) / ratio,
        y: (m.d * y + m.f) / ratio,
      });
    }
    return native.call(this, text, x, y, ...rest);
  };
  tree.network.redraw();
  proto.fillText = native;
  return { drawn, width: canvas.clientWidth, height: canvas.clientHeight };
}
"""


def wait_until(check: Callable[[], object], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def labelled_nodes(tree: Locator) -> tuple[set[int], list[float]]:
    """The ids whose label is drawn inside the canvas, and every drawn text's size."""
    seen = tree.evaluate(RECORD_LABELS_JS)
    ids = {
        int(match.group(1))
        for text in seen["drawn"]
        if (match := re.match(r"#(\d+)", text["text"]))
        and 0 <= text["x"] <= seen["width"]
        and 0 <= text["y"] <= seen["height"]
    }
    return ids, [text["px"] for text in seen["drawn"]]


def test_labels_are_readable_at_the_default_view_of_30_300_and_1000_nodes(
    tmp_path: Path,
) -> None:
    """At the view a page opens with, no label is drawn below 11 px on screen, the
    best path is labelled, and after a click on a node (then Fit) so is the clicked
    node with its children, at every size."""
    from treelight.engine.bench.ui import beam_run

    home = tmp_path / "home"
    home.mkdir()
    runs = {size: beam_run(home, size, seed=size) for size in (30, 300, 1000)}
    engine = make_engine(f"sqlite:///{home / 'treelight.db'}")
    with served_app(home, worker=False) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for size, run_id in runs.items():
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            check_readable_tree(page, f"{url}/?run={run_id}", engine, run_id, size)
            page.close()
        browser.close()


def check_readable_tree(page: Page, url: str, engine: Engine, run_id: int, size: int) -> None:
    from treelight.engine.views.best_path import best_path

    with Session(engine) as session:
        run = queries.get_run(session, run_id)
        nodes = queries.run_nodes(session, run_id)
    assert run is not None and len(nodes) >= size
    path = best_path(nodes, run)
    assert len(path) == 4  # the problem and three steps
    page.goto(url)
    wait_until(lambda: tree_nodes(page) == len(nodes), 60)
    settle(page)
    tree = page.locator(".treelight-tree").first
    labelled, sizes = labelled_nodes(tree)
    assert sizes and min(sizes) >= 11, (size, sorted(sizes)[:5])
    assert path <= labelled, (size, path - labelled)

    # A node off the best path, with children: click it, then Fit.
    parents = {n.parent_id for n in nodes}
    drawn = set(tree.evaluate("el => el.__treelight.nodes.getIds()"))
    side = next(n for n in nodes if n.id in drawn and n.id not in path and n.id in parents)
    click_node(page, side.id)
    focused = f"el => el.__treelight.selected === {side.id} && el.__treelight.near.length > 1"
    wait_until(lambda: tree.evaluate(focused), 30)
    settle(page)
    page.locator("button[data-action='Readable']").click()
    time.sleep(0.5)
    near = set(tree.evaluate("el => el.__treelight.near"))
    children = {n.id for n in nodes if n.parent_id == side.id} & near
    assert side.id in near and side.parent_id in near and children
    page.screenshot(path=str(ARTIFACTS / f"readable-{size}.png"))
    labelled, sizes = labelled_nodes(tree)
    assert min(sizes) >= 11, (size, sorted(sizes)[:5])
    # The node and its children; its parent too where the screen has room.
    assert {side.id} | children <= labelled, (size, ({side.id} | children) - labelled)


GOLD_EDGES_JS = """
el => el.__treelight.edges.get()
  .filter((e) => e.color && e.color.color === "#f1b300").map((e) => e.to).sort((a, b) => a - b)
"""


def test_gold_edges_are_the_best_path_after_every_step_and_in_replay(tmp_path: Path) -> None:
    """Live: a paused Game of 24 search stepped from the page, one action at a time
    (the best path moves as judges score); after each step lands, the gold edges the
    browser draws lead to exactly the best path's nodes, updated in place (the tree
    is not rebuilt). Replay: the same at each event, stepping the slider back."""
    from tests.conftest import game24_search
    from treelight.engine.views.best_path import best_path
    from treelight.engine.views.replay import tree_at
    from treelight.storage.models import Run

    home = tmp_path / "home"
    home.mkdir()
    engine = make_engine(f"sqlite:///{home / 'treelight.db'}")
    run_id = game24_search(engine, status="paused")
    paths = set()
    with served_app(home, worker=True) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page.goto(f"{url}/?run={run_id}")
        tree = page.locator(".treelight-tree").first
        tree.wait_for(timeout=30_000)
        page.get_by_role("tab", name="Charts").wait_for(timeout=30_000)  # the whole page
        for _ in range(14):
            with Session(engine) as session:
                before = queries.get_run(session, run_id)
            assert before is not None
            if before.status != "paused":  # done, or stopped by its budget
                break
            settle(page)
            page.get_by_role("button", name="Step", exact=True).click()
            wait_until(lambda: actions(engine, run_id) > before.actions, 60)  # noqa: B023
            with Session(engine) as session:
                now = queries.get_run(session, run_id)
                nodes = queries.run_nodes(session, run_id)
            assert now is not None
            gold = sorted(best_path(nodes, now) - {n.id for n in nodes if n.parent_id is None})
            paths.add(tuple(gold))
            wait_until(lambda: tree.evaluate(GOLD_EDGES_JS) == gold, 20)  # noqa: B023
            page.wait_for_timeout(1200)  # and it stays so through the next redraws
            assert tree.evaluate(GOLD_EDGES_JS) == gold
        assert len(paths) > 2, paths  # the best path really moved
        # Drawn by updates in place: a rebuild would hide an update that left a colour.
        assert tree.get_attribute("data-mounts") == "1"

        with Session(engine) as session:
            run_now = queries.get_run(session, run_id)
            nodes = queries.run_nodes(session, run_id)
            events = queries.run_events(session, run_id)
        assert run_now is not None
        page.goto(f"{url}/runs")
        tab = page.get_by_role("tab", name="Replay a run")
        tab.wait_for(timeout=30_000)
        settle(page)
        tab.click()
        wait_until(lambda: tab.get_attribute("aria-selected") == "true", 10)
        replay = page.locator(".st-key-replay_tree .treelight-tree").first
        replay.wait_for(timeout=30_000)
        slider = page.get_by_role("slider").first
        for _ in range(min(12, len(events) - 1)):
            slider.press("ArrowLeft")
            settle(page)
            shown_text = page.get_by_text(re.compile(rf"^\d+/{len(events)} ·")).first.inner_text()
            step = int(shown_text.split("/")[0])
            shown = tree_at(nodes, events, step - 1)
            at = Run.model_validate({**run_now.model_dump(), "answer_node_id": None})
            gold = sorted(best_path(shown, at) - {n.id for n in shown if n.parent_id is None})
            wait_until(lambda: replay.evaluate(GOLD_EDGES_JS) == gold, 20)  # noqa: B023
        assert replay.get_attribute("data-mounts") == "1"
        page.screenshot(path=str(ARTIFACTS / "replay-gold-edges.png"))
        browser.close()


def actions(engine: Engine, run_id: int) -> int:
    with Session(engine) as session:
        run = queries.get_run(session, run_id)
        return run.actions if run is not None else 0


def open_guided_replay(page: Page, url: str) -> Locator:
    """The Runs page's replay tab in guided mode, at its first decision: its tree."""
    page.goto(f"{url}/runs")
    tab = page.get_by_role("tab", name="Replay a run")
    tab.wait_for(timeout=30_000)
    settle(page)
    tab.click()
    page.get_by_text("Guided: ask the class").click()
    page.get_by_text("Decision 1 of").wait_for(timeout=30_000)
    guided = page.locator(".st-key-guided_tree .treelight-tree").first
    guided.wait_for(timeout=30_000)
    return guided


def test_the_guided_replay_asks_then_reveals_in_the_browser(tmp_path: Path) -> None:
    """Teaching mode on a projector-sized page: the question and its choices first,
    with the tree as it was before the decision; Reveal shows the engine's pick and
    why, selects it on the tree, and Next moves on to the next decision."""
    from tests.conftest import game24_search
    from treelight.engine.views.guided_replay import questions

    home = tmp_path / "home"
    home.mkdir()
    engine = make_engine(f"sqlite:///{home / 'treelight.db'}")
    run_id = game24_search(engine, status="running", beam=2)
    with Session(engine) as session:
        nodes = queries.run_nodes(session, run_id)
        events = queries.run_events(session, run_id)
    first, second = questions(nodes, events)[:2]
    with served_app(home, worker=False) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        guided = open_guided_replay(page, url)
        page.get_by_text(first.prompt).first.wait_for()
        assert page.get_by_text("the search picked").count() == 0  # not told yet
        assert guided.evaluate("el => el.__treelight.selected") is None
        options = page.get_by_role("radiogroup").get_by_role("radio")
        assert options.count() == len(first.choices)
        page.get_by_role("radiogroup").locator("label").last.click()
        settle(page)
        page.get_by_role("button", name="Reveal").click()
        revealed = page.get_by_text(f"the search picked #{first.answer}. Why:")
        revealed.wait_for(timeout=30_000)
        wait_until(lambda: guided.evaluate("el => el.__treelight.selected") == first.answer, 20)
        assert page.get_by_text("of 1", exact=False).count() >= 1  # one predicted so far
        page.screenshot(path=str(ARTIFACTS / "guided-replay.png"))
        page.get_by_role("button", name="Next decision").click()
        page.get_by_text("Decision 2 of").wait_for(timeout=30_000)
        page.get_by_text(second.prompt).first.wait_for()
        # Streamlit keeps the last decision's elements (faded) until the rerun that
        # replaces them ends: the reveal must be gone once it has.
        expect(page.get_by_text("the search picked")).to_have_count(0, timeout=20_000)
        browser.close()


# Every drawn node's place on screen against the canvas, and every pair of drawn
# text lines whose boxes overlap (each line's box from the canvas's own measure).
FRAMING_JS = """
(el) => {
  const tree = el.__treelight, net = tree.network, canvas = net.canvas.frame.canvas;
  const ids = tree.nodes.getIds(), pos = net.getPositions(ids);
  const outside = ids.filter((id) => {
    const p = net.canvasToDOM(pos[id]);
    return p.x < 0 || p.x > canvas.clientWidth || p.y < 0 || p.y > canvas.clientHeight;
  });
  const lines = [];
  const proto = CanvasRenderingContext2D.prototype, native = proto.fillText;
  proto.fillText = function (text, x, y, ...rest) {
    if (this.canvas === canvas && String(text).trim()) {
      const m = this.getTransform(), ratio = window.devicePixelRatio || 1;
      const w = (this.measureText(String(text)).width * m.a) / ratio;
      const h = (parseFloat(this.font) * m.a) / ratio;
      const cx = (m.a * x + m.e) / ratio, cy = (m.d * y + m.f) / ratio;
      const left = this.textAlign === "left" ? cx : cx - w / 2;
      const top = cy - h / 2;
      lines.push({ text: String(text), left, right: left + w, top, bottom: top + h });
    }
    return native.call(this, text, x, y, ...rest);
  };
  net.redraw();
  proto.fillText = native;
  const overlaps = [];
  for (let i = 0; i < lines.length; i++) for (let j = i + 1; j < lines.length; j++) {
    const a = lines[i], b = lines[j];
    const across = a.left < b.right - 1 && b.left < a.right - 1;
    if (across && a.top < b.bottom - 1 && b.top < a.bottom - 1) overlaps.push([a.text, b.text]);
  }
  const xs = ids.map((id) => pos[id].x), ys = ids.map((id) => pos[id].y);
  const extent = [Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys)];
  return { drawn: ids.length, outside, overlaps: overlaps.slice(0, 5), lines: lines.length, extent,
           top: el.getBoundingClientRect().top, shown: el.dataset.shown };
}
"""


def drawn_items(page: Page) -> int:
    """How many items the tree draws (folds count one each)."""
    return int(page.locator(".treelight-tree").first.get_attribute("data-nodes") or 0)


def test_the_tree_frames_itself_on_a_projector_and_a_large_screen(tmp_path: Path) -> None:
    """At 1280 x 720 and 1920 x 1080, for trees of 9, 30 and 300 nodes: the canvas
    starts on the first screen (in the explorer and the Presentation view), Fit
    brings every drawn node inside it (explorer, Compare), the default view says
    what it shows, and no two drawn labels overlap."""
    from treelight.engine.bench.ui import beam_run

    home = tmp_path / "home"
    home.mkdir()
    runs = {size: beam_run(home, size, seed=size) for size in (9, 30, 300)}
    with served_app(home, worker=False) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for width, height in ((1280, 720), (1920, 1080)):
            page = browser.new_page(viewport={"width": width, "height": height})
            for size, run_id in runs.items():
                page.goto(f"{url}/?run={run_id}")
                page.locator(".treelight-tree[data-tree-nodes]").first.wait_for(timeout=60_000)
                settle(page)
                tree = page.locator(".treelight-tree").first
                seen = tree.evaluate(FRAMING_JS)
                where = (width, size, seen)
                assert seen["top"] + 300 <= height, where  # most of the canvas on screen 1
                assert seen["shown"], where  # the corner says what the view shows
                assert seen["lines"] >= 2 * seen["drawn"] and not seen["overlaps"], where
                tree.locator("button[data-action='Fit']").click()
                page.wait_for_timeout(400)
                seen = tree.evaluate(FRAMING_JS)
                assert not seen["outside"], (width, size, seen)
                assert seen["shown"].startswith(f"All {seen['drawn']} drawn nodes")
            page.screenshot(path=str(ARTIFACTS / f"explorer-{width}.png"))
            # Whole tree on the 300-node run: rings that fill the canvas, not a sliver.
            page.get_by_role("switch", name="Whole tree").dispatch_event("click")
            wait_until(lambda page=page: drawn_items(page) > 40, 60)  # type: ignore[misc]
            settle(page)
            wide = page.locator(".treelight-tree").first
            wide.locator("button[data-action='Fit']").click()
            page.wait_for_timeout(400)
            seen = wide.evaluate(FRAMING_JS)
            across, down = seen["extent"]
            assert not seen["outside"] and 0.5 <= across / down <= 2, (width, seen["extent"])
            page.screenshot(path=str(ARTIFACTS / f"whole-tree-{width}.png"))
            page.get_by_role("switch", name="Whole tree").dispatch_event("click")
            page.get_by_role("switch", name="Presentation view").dispatch_event("click")
            page.wait_for_timeout(1500)
            settle(page)
            tree = page.locator(".treelight-tree[data-tree-nodes]").first
            tree.wait_for(timeout=30_000)
            seen = tree.evaluate(FRAMING_JS)
            assert seen["top"] + 300 <= height and not seen["overlaps"], (width, seen)
            page.screenshot(path=str(ARTIFACTS / f"presentation-{width}.png"))
            page.get_by_role("switch", name="Presentation view").dispatch_event("click")
            page.goto(f"{url}/runs")  # Compare: the two newest runs side by side
            page.locator(".treelight-tree").first.wait_for(timeout=60_000)
            settle(page)
            visible = page.locator(".treelight-tree:visible")
            wait_until(lambda visible=visible: visible.count() == 2, 60)  # type: ignore[misc]
            settle(page)
            compared = visible.all()
            for tree in compared:
                tree.locator("button[data-action='Fit']").click()
                page.wait_for_timeout(400)
                assert not tree.evaluate(FRAMING_JS)["outside"], width
            page.get_by_role("tab", name="Replay a run").click()  # the replay's tree too
            replay = page.locator(".treelight-tree:visible").first
            replay.wait_for(timeout=60_000)
            settle(page)
            replay.locator("button[data-action='Fit']").click()
            page.wait_for_timeout(400)
            assert not replay.evaluate(FRAMING_JS)["outside"], width
            page.close()
        browser.close()


def test_steering_you_can_see_swap_judges_step_and_a_rerun_sent_twice(tmp_path: Path) -> None:
    """On a paused run at a projector's size: swapping the value judge for a vote
    (whole tree) lists, in the page, the threshold cut that would flip; Step says
    what it did; a re-run form sent twice (Enter in its Seed field, then the
    button) makes one branch."""
    from treelight.engine.judges import parse_judge_specs
    from treelight.engine.steering import pause

    home = tmp_path / "home"
    home.mkdir()
    engine = make_engine(f"sqlite:///{home / 'treelight.db'}")
    run = create_run(
        engine,
        task="game24",
        problem="4 4 4 4",
        strategy="dfs",
        judges=parse_judge_specs("game24-verifier,value:samples=1"),
        generator={
            "backend": "scripted",
            "outputs": ["4 + 4 = 8 (left: 4 4 8)\n4 * 4 = 16 (left: 4 4 16)", "impossible"]
            + ["likely"]
            + ["The best choice is 1"] * 40,
        },
        status="running",
    )
    run_id = run.id or 0
    runner = Runner(engine, run_id)
    for _ in range(3):  # expand, judge, cut the "impossible" step by the threshold
        runner.step()
    pause(engine, run_id)
    with Session(engine) as session:
        first, second = [n for n in queries.run_nodes(session, run_id) if n.parent_id]
    assert (first.status, second.status) == ("pruned", "open")
    with served_app(home, worker=True) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.goto(f"{url}/?run={run_id}")
        page.locator(".treelight-tree").first.wait_for(timeout=30_000)
        settle(page)
        click_node(page, first.id)
        page.get_by_text(f"Node #{first.id} ·").first.wait_for(timeout=20_000)
        settle(page)

        page.get_by_text("Judges (set 1)").click()
        settle(page)
        picker = page.locator(".st-key-judges_choice input")
        picker.click()
        picker.press("Backspace")  # drops the last chosen judge: value
        picker.fill("vote")
        picker.press("Enter")
        picker.press("Escape")  # close the open list: it would take the next click
        page.get_by_label("Options (e.g. value:samples=5;weight=2)").fill("vote:samples=1")
        whole = page.get_by_role("checkbox", name=re.compile("Also re-score the whole tree"))
        for _ in range(3):  # as a person would: click again if the box did not tick
            page.get_by_text("Also re-score the whole tree").click()
            if whole.is_checked():
                break
            page.wait_for_timeout(500)
        expect(whole).to_be_checked()
        page.get_by_role("button", name="Swap judges").click()
        flip = f"#{first.id} would now pass the threshold"
        page.get_by_text(re.compile("After the last judge swap: re-scored")).wait_for(
            timeout=60_000
        )
        expect(page.get_by_text(flip)).to_be_visible(timeout=20_000)  # in the page, not folded
        page.screenshot(path=str(ARTIFACTS / "swap-judges-report.png"))

        settle(page)
        for _ in range(3):  # as a person would: press again if a rerun took the press
            page.get_by_role("button", name="Step", exact=True).click()
            try:
                wait_until(lambda: step_events(engine, run_id) >= 1, 20)
                break
            except AssertionError:
                continue
        assert step_events(engine, run_id) == 1  # one press reached the run
        # The vote, seeing the step's two candidates as the search did, put #3 at 0:
        # the re-scored frontier's one action is the threshold's cut.
        page.get_by_text(f"Step: cut #{second.id} by the threshold").wait_for(timeout=60_000)

        click_node(page, first.id)
        page.get_by_text(f"Node #{first.id} ·").first.wait_for(timeout=20_000)
        settle(page)
        page.get_by_text("Re-run this branch with other settings").click()
        seed = page.get_by_label("Seed")
        seed.fill("7")
        seed.press("Enter")  # sends the form
        page.get_by_role("button", name="Re-run").click()  # and so does the button
        wait_until(lambda: branches(engine, run_id) >= 1, 60)
        page.wait_for_timeout(3000)  # a second branch, were there one, would be made by now
        browser.close()
    assert branches(engine, run_id) == 1
    with Session(engine) as session:
        reruns = [c for c in queries.run_commands(session, run_id) if c.kind == "rerun"]
    assert len(reruns) == 1


def step_events(engine: Engine, run_id: int) -> int:
    with Session(engine) as session:
        return sum(e.kind == "step" for e in queries.run_events(session, run_id))


def branches(engine: Engine, run_id: int) -> int:
    with Session(engine) as session:
        return len({n.branch for n in queries.run_nodes(session, run_id)} - {"main"})


def test_the_guided_replay_counts_a_same_step_tie_names_a_pin_and_shows_a_note_at_its_event(
    tmp_path: Path,
) -> None:
    """A beam of 1 with a person's pin: its first cut removes two candidates in one
    step, so naming the one not picked counts as right, and the reveal names the pin
    that decided it. Nothing gold before a reveal. A note written after the run
    shows from the decision at which its node is on the tree, not before."""
    from tests.conftest import game24_search
    from treelight.engine import steering
    from treelight.engine.views.guided_replay import questions

    home = tmp_path / "home"
    home.mkdir()
    engine = make_engine(f"sqlite:///{home / 'treelight.db'}")
    run_id = game24_search(engine, status="paused", beam=1, max_calls=30)
    Runner(engine, run_id).step()  # expand the problem
    with Session(engine) as session:
        kids = [n for n in queries.run_nodes(session, run_id) if n.parent_id and n.status == "open"]
    steering.pin(engine, run_id, kids[-1].id or 0)
    steering.resume(engine, run_id)
    Runner(engine, run_id).run_until_idle()
    with Session(engine) as session:
        nodes = queries.run_nodes(session, run_id)
        events = queries.run_events(session, run_id)
    asked = questions(nodes, events)
    tie = asked[0]
    assert tie.accepted and "which a person pinned" in tie.reason
    later = next(q for q in asked if q.answer not in ids_at(nodes, events, asked[0].event_index))
    steering.add_note(engine, run_id, later.answer, "watch the beam here")
    with served_app(home, worker=False) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        guided = open_guided_replay(page, url)
        settle(page)
        assert guided.evaluate(GOLD_EDGES_JS) == []  # nothing gives the answer away
        note = page.get_by_text(f"Note on #{later.answer}: watch the beam here")
        assert note.count() == 0
        page.get_by_role("radiogroup").get_by_text(f"#{tie.accepted[0]} ·").click()
        settle(page)
        page.get_by_role("button", name="Reveal").click()
        told = page.get_by_text(
            f"Right: the search picked #{tie.answer} (#{tie.accepted[0]} counted as right too)"
        )
        told.wait_for(timeout=30_000)
        expect(told).to_contain_text("which a person pinned")
        wait_until(lambda: guided.evaluate("el => el.__treelight.selected") == tie.answer, 20)
        page.screenshot(path=str(ARTIFACTS / "guided-replay-tie.png"))
        born = next(i for i in range(len(events)) if later.answer in ids_at(nodes, events, i))
        for at in range(1, asked.index(later) + 1):
            page.get_by_role("button", name="Next decision").click()
            page.get_by_text(f"Decision {at + 1} of").wait_for(timeout=30_000)
            settle(page)
            if born > asked[at].event_index - 1:  # the tree shown has not got its node yet
                assert note.count() == 0, at
            if at < asked.index(later):
                page.get_by_role("button", name="Reveal").click()
                page.get_by_text("the search picked").wait_for(timeout=30_000)
        expect(note).to_be_visible(timeout=20_000)  # its node is on the tree now
        browser.close()


def ids_at(nodes: list[Node], events: list[Event], index: int) -> set[int]:
    from treelight.engine.views.replay import tree_at

    return {n.id or 0 for n in tree_at(nodes, events, index)}
