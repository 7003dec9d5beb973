"""The explorer in headless Chromium: how long until a tree of N nodes is drawn,
and what an update that adds 10 nodes to a big tree costs (bytes on the wire,
time to apply it in place).

Trees are synthetic (a beam-shaped tree written straight to a SQLite file), so
the figures are about drawing, not about searching.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path
from typing import Any

from treelight.engine.bench.browser import CHROMIUM, CHROMIUM_ARGS, served_app
from treelight.engine.run.creation import create_run
from treelight.storage.database import make_engine, unit_of_work
from treelight.storage.models import Node, Run
from treelight.storage.vocabulary import NodeStatus, PrunedBy, RunStatus

STATUSES = (
    NodeStatus.OPEN,
    NodeStatus.EXPANDED,
    NodeStatus.PRUNED,
    NodeStatus.INVALID,
    NodeStatus.TERMINAL,
)


def synthetic_run(home: Path, nodes: int, status: RunStatus = RunStatus.DONE, seed: int = 1) -> int:
    engine, run_id = _bare_run(home, status)
    add_nodes(engine, run_id, nodes - 1, seed)
    engine.dispose()
    return run_id


def _bare_run(home: Path, status: RunStatus) -> tuple[Any, int]:
    """A run with only its root (4 9 10 13), in the app's database under `home`."""
    engine = make_engine(f"sqlite:///{home / 'treelight.db'}")
    run = create_run(
        engine,
        task="game24",
        problem="4 9 10 13",
        strategy="bfs",
        generator={"backend": "scripted", "outputs": []},
        status=status,
    )
    assert run.id is not None
    return engine, run.id


def add_nodes(engine: Any, run_id: int, count: int, seed: int) -> None:
    """Children spread over the last levels, like a beam search's tree."""
    rng = random.Random(seed)
    with unit_of_work(engine) as session:
        from sqlmodel import select

        existing = list(session.exec(select(Node).where(Node.run_id == run_id)))
        for i in range(count):
            recent = existing[-max(1, min(len(existing), 60)) :]
            parent = rng.choice(recent[: max(1, len(recent) // 2)])
            a, b = rng.randint(1, 13), rng.randint(1, 13)
            child = Node(
                run_id=run_id,
                key=f"{parent.key}/{len(existing)}-{i}",
                parent_id=parent.id,
                depth=parent.depth + 1,
                text=f"{a} + {b} = {a + b} (left: {a + b} 10 13)",
                status=rng.choice(STATUSES),
                score=round(rng.random(), 3),
                status_reason="synthetic",
            )
            session.add(child)
            session.flush()
            existing.append(child)


def beam_run(home: Path, nodes: int, seed: int = 1, beam: int = 5, steps: int = 3) -> int:
    """A tree shaped like a Game of 24 beam search (bfs) of at least `nodes` nodes:
    the problem, `steps` levels, the `beam` best of each level expanded, most
    candidates invalid or duplicates (as a small model's are), one path solved.
    Wide and shallow: the shape that made whole-tree views unreadable."""
    per_parent = 1
    while len(plan := _beam_plan(per_parent, seed, beam, steps)) < nodes:
        per_parent += 1
    engine, run_id = _bare_run(home, RunStatus.DONE)
    with unit_of_work(engine) as session:
        from sqlmodel import select

        root = session.exec(select(Node).where(Node.run_id == run_id)).one()
        root.state, root.status = plan[0]["state"], plan[0]["status"]
        ids: dict[str, int | None] = {"b": root.id}
        for row in plan[1:]:
            node = Node(run_id=run_id, parent_id=ids.get(row.pop("parent")), **row)
            session.add(node)
            session.flush()
            ids[node.key] = node.id
    engine.dispose()
    return run_id


def _beam_plan(per_parent: int, seed: int, beam: int, steps: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    root: dict[str, Any] = {"key": "b", "parent": "", "depth": 0, "text": "4 9 10 13"}
    root.update(status=NodeStatus.EXPANDED, state={"left": ["4", "9", "10", "13"]})
    rows, level = [root], [root]
    for depth in range(1, steps + 1):
        made: list[dict[str, Any]] = []
        for parent in level:
            for i in range(per_parent):
                a, b = rng.randint(1, 13), rng.randint(1, 13)
                roll = rng.random()
                status = (
                    NodeStatus.INVALID
                    if roll < 0.55
                    else NodeStatus.PRUNED
                    if roll < 0.65
                    else NodeStatus.OPEN
                )
                made.append(
                    {
                        "key": f"{parent['key']}/{i}",
                        "parent": parent["key"],
                        "depth": depth,
                        "text": f"{a} + {b} = {a + b}",
                        "status": status,
                        "score": round(rng.random(), 2) if status == NodeStatus.OPEN else None,
                        "pruned_by": PrunedBy.DUPLICATE
                        if status == NodeStatus.PRUNED
                        else PrunedBy.NONE,
                        "state": {"left": [str(a + b)] + [str(rng.randint(1, 13))] * (3 - depth)},
                        "status_reason": "synthetic",
                    }
                )
        scored = sorted((n for n in made if n["score"] is not None), key=lambda n: -n["score"])
        for n in scored[beam:]:
            n["status"], n["pruned_by"] = NodeStatus.PRUNED, PrunedBy.BEAM
        for n in scored[:beam]:
            n["status"] = NodeStatus.TERMINAL if depth == steps else NodeStatus.EXPANDED
        if depth == steps and scored:
            scored[0]["status"] = NodeStatus.SOLVED
        rows += made
        level = scored[:beam]
    return rows


def _wait_for_nodes(page: Any, count: int, timeout: float = 180.0) -> float:
    started = time.perf_counter()
    tree = page.locator(".treelight-tree")
    while time.perf_counter() - started < timeout:
        if tree.count() and tree.first.get_attribute("data-tree-nodes") == str(count):
            return time.perf_counter() - started
        time.sleep(0.02)
    raise TimeoutError(f"the tree did not show {count} nodes within {timeout} s")


def measure(sizes: list[int], update_base: int = 1000, cpu_seconds: float = 15.0) -> dict[str, Any]:
    """Page load to drawn tree for each size, in a browser that has opened the
    explorer before (its HTTP cache holds Streamlit's scripts, as a returning
    person's does), and once for the largest size in a fresh browser profile."""
    from playwright.sync_api import sync_playwright

    draws = []
    with tempfile.TemporaryDirectory(prefix="treelight-ui-") as tmp, sync_playwright() as pw:
        home = Path(tmp)
        runs = {n: synthetic_run(home, n) for n in sizes}
        live = synthetic_run(home, update_base, status=RunStatus.RUNNING)
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        returning = browser.new_context(viewport={"width": 1500, "height": 1000})
        with served_app(home, worker=False) as url:
            warm = returning.new_page()
            warm.goto(f"{url}/?run={runs[sizes[0]]}")  # the first load compiles Streamlit's
            _wait_for_nodes(warm, sizes[0])  # JS and fills the cache
            warm.close()
            baseline = _page_baseline(returning, url)
            for n in sizes:
                draws.append(_draw(returning, url, runs[n], n, home))
            fresh = browser.new_context(viewport={"width": 1500, "height": 1000})
            first_visit = _draw(fresh, url, runs[sizes[-1]], sizes[-1])
            fresh.close()
            update = _measure_update(returning, url, home, live, update_base)
            cpu = server_cpu(returning, url, home, runs[sizes[-1]], cpu_seconds)
        browser.close()
    return {
        "draws": draws,
        "first_visit": first_visit,
        "update": update,
        "page_baseline_seconds": baseline,
        "server_cpu": cpu,
    }


def server_cpu(
    context: Any, url: str, home: Path, finished: int, seconds: float = 15.0
) -> dict[str, Any]:
    """The explorer server's share of one core with one tab open: on a finished run,
    then on a live one (an open question searched by a scripted model taking 0.05 s
    a call, driven from this process as `treelight run` would be; about 8 new nodes
    a second, so the page redraws every second)."""
    import threading

    import psutil

    from treelight.engine.bench.browser import SERVERS
    from treelight.engine.bench.overhead import _outputs
    from treelight.engine.run.loop import Runner

    server = psutil.Process(SERVERS[url])

    def share() -> float:
        before = server.cpu_times()
        time.sleep(seconds)
        after = server.cpu_times()
        used = (after.user - before.user) + (after.system - before.system)
        return round(used / seconds, 3)

    page = context.new_page()
    page.goto(f"{url}/?run={finished}")
    page.locator(".treelight-tree").first.wait_for(timeout=60_000)
    time.sleep(3)
    idle = share()
    engine = make_engine(f"sqlite:///{home / 'treelight.db'}")
    run = create_run(
        engine,
        task="question",
        problem="How many ways can the search go?",
        strategy="bfs",
        strategy_params={"beam": 8, "samples": 5, "steps": 1000, "stop_at_first": False},
        judges=[{"name": "value", "samples": 1}],
        generator={"backend": "scripted", "outputs": _outputs(20_000), "delay": 0.05},
        budget={"max_nodes": 5000},
        status=RunStatus.RUNNING,
    )
    assert run.id is not None
    runner = Runner(engine, run.id)
    worker = threading.Thread(target=runner.run_until_idle, daemon=True)
    worker.start()
    page.goto(f"{url}/?run={run.id}")
    page.locator(".treelight-tree").first.wait_for(timeout=60_000)
    time.sleep(3)
    live = share()
    from treelight.engine import steering

    steering.stop(engine, run.id)
    worker.join(60)
    page.close()
    return {"finished_run": idle, "live_run": live, "seconds": seconds}


def _draw(context: Any, url: str, run_id: int, n: int, home: Path | None = None) -> dict[str, Any]:
    """The default view's draw; with `home`, then the "Whole tree" toggle's: every
    node drawn (only invalid siblings folded), from the click to the last node."""
    page = context.new_page()
    started = time.perf_counter()
    page.goto(f"{url}/?run={run_id}")
    _wait_for_nodes(page, n)
    seconds = time.perf_counter() - started
    tree = page.locator(".treelight-tree").first
    build = tree.get_attribute("data-build-ms")
    drawn = int(tree.get_attribute("data-nodes") or 0)
    whole: dict[str, Any] = {}
    if home is not None:
        expected = _whole_tree_items(home, run_id)
        page.get_by_text("Whole tree", exact=True).first.wait_for(timeout=60_000)
        clicked = time.perf_counter()
        page.get_by_role("switch", name="Whole tree").dispatch_event("click")
        while tree.get_attribute("data-nodes") != str(expected):
            if time.perf_counter() - clicked > 120:
                raise TimeoutError(f"the whole tree of {n} nodes was not drawn within 120 s")
            time.sleep(0.02)
        whole = {
            "whole_drawn": expected,
            "whole_seconds": round(time.perf_counter() - clicked, 2),
            "whole_apply_ms": int(tree.get_attribute("data-apply-ms") or 0),
        }
    page.close()
    return {
        "nodes": n,
        "seconds": round(seconds, 2),
        "vis_build_ms": int(build or 0),
        "drawn": drawn,
        **whole,
    }


def _whole_tree_items(home: Path, run_id: int) -> int:
    """How many items the "Whole tree" view draws: every node but folded invalid
    and duplicate siblings, plus one box per fold."""
    from sqlmodel import Session

    from treelight.engine.views.folding import fold_for_view
    from treelight.storage import queries

    engine = make_engine(f"sqlite:///{home / 'treelight.db'}")
    with Session(engine) as session:
        nodes = queries.run_nodes(session, run_id)
    engine.dispose()
    drawn = fold_for_view(nodes, set(), limit=None)
    return len(drawn.nodes) + len(drawn.siblings)


def _page_baseline(context: Any, url: str) -> float:
    """Page load to the first words of the explorer, with no tree: what Streamlit
    itself takes, for comparison with the draws."""
    page = context.new_page()
    started = time.perf_counter()
    page.goto(f"{url}/?run=999999")
    page.get_by_text("There is no run #999999").first.wait_for(timeout=60_000)
    seconds = time.perf_counter() - started
    page.close()
    return round(seconds, 2)


# Timestamps in the browser's own clock: each websocket message as it arrives
# (and whether it carries a tree delta), so "arrival to drawn" is not blurred by
# the test driver's event loop.
MESSAGE_CLOCK_JS = """
window.__messages = [];
const Native = window.WebSocket;
window.WebSocket = class extends Native {
  constructor(...args) {
    super(...args);
    this.addEventListener("message", (event) => {
      const at = performance.now();
      const bytes = event.data.byteLength || event.data.size || event.data.length || 0;
      let tree = false;
      if (event.data instanceof ArrayBuffer) {
        tree = new TextDecoder().decode(event.data).includes("remove_nodes");
      }
      window.__messages.push({ at, bytes, tree });
    });
  }
};
"""


def _measure_update(context: Any, url: str, home: Path, run_id: int, base: int) -> dict[str, Any]:
    page = context.new_page()
    page.add_init_script(MESSAGE_CLOCK_JS)
    page.goto(f"{url}/?run={run_id}")
    _wait_for_nodes(page, base)
    time.sleep(2.5)  # let the live view settle into its once-a-second polling
    engine = make_engine(f"sqlite:///{home / 'treelight.db'}")
    written = float(page.evaluate("performance.now()"))
    add_nodes(engine, run_id, 10, seed=99)
    _wait_for_nodes(page, base + 10, timeout=60)
    with unit_of_work(engine) as session:
        run = session.get(Run, run_id)
        assert run is not None
        run.status = RunStatus.DONE
    engine.dispose()
    tree = page.locator(".treelight-tree").first
    applied = float(tree.get_attribute("data-applied-at") or 0)
    apply_ms = int(tree.get_attribute("data-apply-ms") or 0)
    messages = page.evaluate("window.__messages")
    during = [m for m in messages if written <= m["at"] <= applied]
    # The message that carried the tree's delta (the last one before it was drawn).
    carried = [m["at"] for m in during if m["tree"]]
    page.close()
    return {
        "base": base,
        "added": 10,
        "bytes": sum(m["bytes"] for m in during),
        "apply_ms": apply_ms,
        "arrival_to_drawn_ms": round(applied - carried[-1]) if carried else None,
        "end_to_end_ms": round(applied - written),
    }
