"""`treelight eval --executor ray` on a real local Ray cluster: a head and two worker
nodes started by the test (Ray's own ray.cluster_utils.Cluster, which runs `ray
start`'s processes), one worker node killed mid-eval. Every item is finished
exactly once and each run is the very run one process makes alone."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray  # in the dev extras: a missing Ray fails here, it is never skipped
from sqlmodel import Session

from tests.invariants import assert_same_as_alone
from treelight.engine.cli import main
from treelight.engine.evals import eval_runs
from treelight.storage import queries
from treelight.storage.database import make_engine

pytestmark = pytest.mark.slow

ITEMS = 22


@pytest.fixture
def cluster() -> Iterator[object]:
    from ray.cluster_utils import Cluster

    made = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    for _ in range(2):
        made.add_node(num_cpus=1)
    made.wait_for_nodes()
    try:
        yield made
    finally:
        ray.shutdown()
        made.shutdown()


def test_an_eval_on_a_ray_cluster_survives_a_lost_node(
    cluster: object,
    tmp_path: Path,
    treelight_home: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = tmp_path / "sums.jsonl"
    data.write_text(
        "".join(
            json.dumps({"problem": f"What is {i} + 1?", "answer": str(i + 1)}) + "\n"
            for i in range(ITEMS)
        )
    )
    script = tmp_path / "outputs.json"
    script.write_text(json.dumps([f"{i} + 1 = {i + 1}\nAnswer: {i + 1}" for i in range(12)]))
    treelight_home.mkdir(parents=True, exist_ok=True)
    engine = make_engine(f"sqlite:///{treelight_home / 'treelight.db'}")
    lost: list[str] = []

    def lose_a_node() -> None:
        """Once runs are under way on both nodes, kill one of them outright."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with Session(engine) as session:
                runs = queries.list_runs(session)
            running = [r for r in runs if r.status == "running"]
            if len(running) >= 2 and sum(r.status == "done" for r in runs) >= 2:
                node = cluster.list_all_nodes()[1]  # type: ignore[attr-defined]
                cluster.remove_node(node, allow_graceful=False)  # type: ignore[attr-defined]
                lost.append(f"killed with {len(running)} running")
                return
            time.sleep(0.05)

    killer = threading.Thread(target=lose_a_node)
    killer.start()
    args = ["eval", "--dataset", str(data), "--task", "math", "--methods", "cot-sc:n=3"]
    args += ["--backend", "scripted", "--script", str(script), "--backend-option", "delay=0.15"]
    args += ["--executor", "ray", "--ray-address", cluster.address, "--json"]  # type: ignore[attr-defined]
    args += ["--out", str(tmp_path)]
    assert main(args) == 0
    killer.join()
    out = capsys.readouterr().out
    assert out.startswith("{"), out[:500]
    report = json.loads(out)
    assert report["executor"] == "ray" and lost, lost
    [summary] = report["summaries"]
    assert summary["items"] == ITEMS and summary["finished"] == ITEMS

    alone = make_engine(f"sqlite:///{tmp_path / 'alone.db'}")
    rows = eval_runs.eval_runs(engine, report["eval_id"])
    assert sorted(item.item for item, _ in rows) == list(range(ITEMS))  # each item once
    for _, run in rows:
        assert run.status in ("done", "stopped"), run.status_reason
        outputs = json.loads(script.read_text())
        assert_same_as_alone(engine, run, alone, {"backend": "scripted", "outputs": outputs})
