"""Quick versions of every benchmark, so the code cannot rot. Figures are not
asserted against targets here (that is for docs/BENCHMARKS.md), only that each
benchmark measures what it says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from treelight.engine.cli import main
from treelight.engine.errors import BadArguments
from treelight.storage.database import unit_of_work
from treelight.storage.models import DatasetEval, Run
from treelight.storage.vocabulary import RunStatus


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
    # The same command again: every result is the stored one, nothing runs.
    assert (
        main(
            ["bench", "game24", "--start", "0", "--end", "1", "--max-calls", "3"]
            + ["--sc-samples", "2", "--plot", str(plot), "--json"]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "7 of 7 results were there already" in captured.err
    again = json.loads(captured.out)["results"]
    assert all(row["reused"] for row in again)
    assert [(r["method"], r["tokens"], r["answer"]) for r in again] == [
        (r["method"], r["tokens"], r["answer"]) for r in data["results"]
    ]


@pytest.mark.model
def test_presets_counts_solves_by_the_strict_checker(capsys: pytest.CaptureFixture[str]) -> None:
    """The solve rate itself is a benchmark (docs/BENCHMARKS.md), not a test: this
    only checks that `bench presets` runs the default settings and counts honestly."""
    data = bench_json(capsys, "presets", "--presets", "1 1 4 6", "--seeds", "1", "--max-calls", "3")
    [row] = data["presets"]
    [run] = row["runs"]
    assert row["preset"] == "1 1 4 6" and data["seeds"] == [1]
    assert 0 < run["model_calls"] <= 3 and run["run_status"] in ("done", "stopped")
    assert row["solved"] == int(run["solved"])
    if run["answer"] is not None:  # an answer is counted only if the checker accepts it
        from treelight.engine.bench.game24_results import check

        assert run["solved"] == check("1 1 4 6", run["answer"])


@pytest.mark.model
def test_model_bound(capsys: pytest.CaptureFixture[str]) -> None:
    data = bench_json(capsys, "model-bound", "--max-calls", "4")
    assert 0 < data["model_calls"] <= 4
    assert 0.5 < data["share_in_model_calls"] <= 1.0
    assert 0 <= data["share_reused_all_calls"] <= 1.0


@pytest.mark.browser
def test_ui(capsys: pytest.CaptureFixture[str]) -> None:
    data = bench_json(capsys, "ui", "--nodes", "50", "--update-base", "80", "--cpu-seconds", "2")
    [draw] = data["draws"]
    assert draw["nodes"] == 50 and draw["seconds"] > 0
    assert 0 < draw["drawn"] <= draw["whole_drawn"] <= 50 and draw["whole_seconds"] > 0
    assert data["update"]["added"] == 10 and data["update"]["bytes"] > 0
    # The delta message was found and timed in the browser's clock.
    assert 0 < data["update"]["arrival_to_drawn_ms"] <= data["update"]["end_to_end_ms"]
    assert data["first_visit"]["nodes"] == 50 and data["first_visit"]["seconds"] > 0
    assert data["page_baseline_seconds"] > 0
    cpu = data["server_cpu"]  # measured, not judged here: docs/BENCHMARKS.md has the figures
    assert cpu["seconds"] == 2 and cpu["finished_run"] >= 0 and cpu["live_run"] >= 0


def test_game24_runs_are_stored_and_the_same_command_again_reuses_them(
    engine: Engine,
) -> None:
    """Each puzzle × method is a stored run; a second, longer run reuses the first's,
    continues one a killed process left paused, and runs only what is missing."""
    from treelight.engine.bench.game24 import run_bench, stored_bench
    from treelight.engine.generators.chance import ChanceGenerator

    puzzles = [(900, "1 1 4 6"), (901, "1 1 11 11"), (902, "1 2 3 4")]
    methods = ["random", "random:beam=10"]

    def bench() -> DatasetEval:
        return stored_bench(engine, data="24.csv", generator={}, max_calls=20, seed=0)

    chance = ChanceGenerator()
    first = run_bench(engine, chance, puzzles[:2], methods, max_calls=20, bench=bench())
    assert not any(r.reused for r in first)
    assert all(r.note == "" or r.note.startswith("stopped") for r in first)
    with Session(engine) as session:
        wide = session.get(Run, first[1].run_id)
        assert wide is not None and wide.strategy_params["beam"] == 10
    left_unfinished = first[3].run_id
    assert left_unfinished is not None
    with unit_of_work(engine) as session:  # as a process killed mid-run leaves it
        run = session.get(Run, left_unfinished)
        assert run is not None
        run.status, run.answer, run.model_calls = RunStatus.PAUSED, None, 1
    again = run_bench(engine, chance, puzzles, methods, max_calls=20, bench=bench())
    assert [r.reused for r in again] == [True, True, True, False, False, False]
    assert [r.run_id for r in again[:4]] == [r.run_id for r in first]
    assert [(r.answer, r.tokens, r.solved) for r in again[:3]] == [
        (r.answer, r.tokens, r.solved) for r in first[:3]
    ]
    with Session(engine) as session:
        continued = session.get(Run, left_unfinished)
        assert continued is not None and continued.status in ("done", "stopped")
    assert bench().methods == methods
    fresh = stored_bench(engine, data="24.csv", generator={}, max_calls=20, seed=0, fresh=True)
    assert fresh.id == bench().id != again[0].run_id  # the next run finds the fresh one


def test_game24_methods_take_options_and_a_typo_fails_before_anything_runs() -> None:
    from treelight.engine.bench.game24 import method_settings

    assert method_settings("bfs:constrain=off;beam=10")["generator"] == {"constrain": "off"}
    assert method_settings("bfs:constrain=off;beam=10")["strategy_params"] == {"beam": 10}
    assert method_settings("cot-sc", sc_samples=4)["strategy_params"]["n"] == 4
    assert method_settings("cot-sc:n=5", sc_samples=4)["strategy_params"]["n"] == 5
    assert method_settings("random:beam=20")["chance"] is True
    with pytest.raises(BadArguments, match="option 'bean'"):
        method_settings("bfs:bean=10")
    with pytest.raises(BadArguments, match="Unknown method 'bsf'"):
        method_settings("bsf")
    with pytest.raises(BadArguments, match="reference takes no options"):
        method_settings("reference:beam=2")
