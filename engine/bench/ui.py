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
from treelight.engine.runner import create_run
from treelight.storage.database import make_engine, unit_of_work
from treelight.storage.models import Node, Run

STATUSES = ("open", "expanded", "pruned", "invalid", "terminal")


def synthetic_run(home: Path, nodes: int, status: str = "done", seed: int = 1) -> int:
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
    add_nodes(engine, run.id, nodes - 1, seed)
    engine.dispose()
    return run.id


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


def _wait_for_nodes(page: Any, count: int, timeout: float = 180.0) -> float:
    started = time.perf_counter()
    tree = page.locator(".treelight-tree")
    while time.perf_counter() - started < timeout:
        if tree.count() and tree.first.get_attribute("data-tree-nodes") == str(count):
            return time.perf_counter() - started
        time.sleep(0.02)
    raise TimeoutError(f"the tree did not show {count} nodes within {timeout} s")


def measure(sizes: list[int], update_base: int = 1000) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    draws = []
    with tempfile.TemporaryDirectory(prefix="treelight-ui-") as tmp, sync_playwright() as pw:
        home = Path(tmp)
        runs = {n: synthetic_run(home, n) for n in sizes}
        live = synthetic_run(home, update_base, status="running")
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        with served_app(home, worker=False) as url:
            warm = browser.new_page()
            warm.goto(f"{url}/?run={runs[sizes[0]]}")  # the first load compiles Streamlit's
            _wait_for_nodes(warm, sizes[0])  # JS caches: not what a user waits for
            warm.close()
            baseline = _page_baseline(browser, url)
            for n in sizes:
                page = browser.new_page(viewport={"width": 1500, "height": 1000})
                started = time.perf_counter()
                page.goto(f"{url}/?run={runs[n]}")
                _wait_for_nodes(page, n)
                seconds = time.perf_counter() - started
                build = page.locator(".treelight-tree").first.get_attribute("data-build-ms")
                draws.append(
                    {"nodes": n, "seconds": round(seconds, 2), "vis_build_ms": int(build or 0)}
                )
                page.close()
            update = _measure_update(browser, url, home, live, update_base)
        browser.close()
    return {"draws": draws, "update": update, "page_baseline_seconds": baseline}


def _page_baseline(browser: Any, url: str) -> float:
    """Page load to the first words of the explorer, with no tree: what Streamlit
    itself takes, for comparison with the draws."""
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    started = time.perf_counter()
    page.goto(f"{url}/?run=999999")
    page.get_by_text("There is no run #999999").first.wait_for(timeout=60_000)
    seconds = time.perf_counter() - started
    page.close()
    return round(seconds, 2)


def _measure_update(browser: Any, url: str, home: Path, run_id: int, base: int) -> dict[str, Any]:
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    frames: list[tuple[float, int]] = []

    def on_socket(socket: Any) -> None:
        socket.on(
            "framereceived",
            lambda payload: frames.append((time.perf_counter(), len(payload) if payload else 0)),
        )

    page.on("websocket", on_socket)
    page.goto(f"{url}/?run={run_id}")
    _wait_for_nodes(page, base)
    time.sleep(2.5)  # let the live view settle into its once-a-second polling
    engine = make_engine(f"sqlite:///{home / 'treelight.db'}")
    written = time.perf_counter()
    add_nodes(engine, run_id, 10, seed=99)
    _wait_for_nodes(page, base + 10, timeout=60)
    drawn = time.perf_counter()
    with unit_of_work(engine) as session:
        run = session.get(Run, run_id)
        assert run is not None
        run.status = "done"
    engine.dispose()
    received = sum(size for at, size in frames if written <= at <= drawn)
    apply_ms = page.locator(".treelight-tree").first.get_attribute("data-apply-ms")
    page.close()
    return {
        "base": base,
        "added": 10,
        "bytes": received,
        "apply_ms": int(apply_ms or 0),
        "end_to_end_ms": round(1000 * (drawn - written)),
    }
