"""Quick versions of every benchmark, so the code cannot rot. Figures are not
asserted against targets here (that is for docs/BENCHMARKS.md), only that each
benchmark measures what it says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from treelight.engine.cli import main


def bench_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["bench", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_overhead(capsys: pytest.CaptureFixture[str]) -> None:
    data = bench_json(capsys, "overhead", "--nodes", "60,120")
    assert data["nodes"] >= 100 and data["ms_per_node"] > 0 and data["sqlite_ms_per_node"] > 0
    assert data["ratio"] == pytest.approx(
        data["ms_per_node"] / data["sqlite_ms_per_node"], rel=0.05
    )
    largest = data["sizes"][-1]
    assert largest["model_calls"] > 0 and largest["evaluations"] > 0
    assert data["machine"]["cores"] >= 1


def test_workers(capsys: pytest.CaptureFixture[str]) -> None:
    data = bench_json(capsys, "workers", "--runs", "3", "--concurrency", "1,3", "--delay", "0.02")
    one, three = data["levels"]
    assert (one["concurrency"], three["concurrency"]) == (1, 3)
    # The same searches at each level: the same calls, whatever the concurrency.
    assert one["model_calls"] == three["model_calls"] > 3
    assert one["speedup"] == 1.0 and three["speedup"] > 0


@pytest.mark.model
def test_game24_with_the_reference_side_by_side(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    plot = tmp_path / "game24.png"
    data = bench_json(
        capsys,
        "game24",
        "--start",
        "0",
        "--end",
        "1",
        "--max-calls",
        "3",
        "--sc-samples",
        "2",
        "--plot",
        str(plot),
    )
    by_method = {row["method"]: row for row in data["methods"]}
    assert list(by_method) == ["io", "cot", "cot-sc", "bfs", "random", "dfs", "reference"]
    for row in data["results"]:
        assert 0 < row["model_calls"] <= 3 and row["tokens"] > 0
        assert row["puzzle"] == "1 1 4 6"
    assert by_method["io"]["calls_per_puzzle"] == 1
    chance = next(row for row in data["results"] if row["method"] == "random")
    assert chance["prompt_tokens"] == 0  # no model read anything: chance, same shell
    assert by_method["reference"]["calls_per_puzzle"] == 3  # its budget, reached
    assert plot.stat().st_size > 10_000


@pytest.mark.model
def test_model_bound(capsys: pytest.CaptureFixture[str]) -> None:
    data = bench_json(capsys, "model-bound", "--max-calls", "4")
    assert 0 < data["model_calls"] <= 4
    assert 0.5 < data["share_in_model_calls"] <= 1.0
    assert 0 <= data["share_reused_all_calls"] <= 1.0


@pytest.mark.browser
def test_ui(capsys: pytest.CaptureFixture[str]) -> None:
    data = bench_json(capsys, "ui", "--nodes", "50", "--update-base", "80")
    [draw] = data["draws"]
    assert draw["nodes"] == 50 and draw["seconds"] > 0
    assert 0 < draw["drawn"] <= draw["whole_drawn"] <= 50 and draw["whole_seconds"] > 0
    assert data["update"]["added"] == 10 and data["update"]["bytes"] > 0
    # The delta message was found and timed in the browser's clock.
    assert 0 < data["update"]["arrival_to_drawn_ms"] <= data["update"]["end_to_end_ms"]
    assert data["first_visit"]["nodes"] == 50 and data["first_visit"]["seconds"] > 0
    assert data["page_baseline_seconds"] > 0
