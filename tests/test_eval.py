"""`treelight eval`: methods over a dataset, each item a stored run, driven as a user would."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.conftest import DATABASES, engine_on_each_database
from tests.fake_openai import KEY, FakeOpenAI
from tests.invariants import assert_same_as_alone, check_tree_invariants
from tests.test_shared_workers import lease_pids
from treelight.engine.cli import main
from treelight.engine.errors import BadArguments
from treelight.engine.evals import eval_runs
from treelight.engine.evals.datasets import load_items
from treelight.engine.tasks.game24 import check_expression, parse_problem
from treelight.storage import queries
from treelight.storage.database import make_engine

MATH = [
    {"question": "Anna has 12 pencils and gets 5 more. How many?", "answer": "#### 17"},
    {"problem": "What is 20 - 3?", "answer": "17"},
    {"problem": "What is 2 + 2?", "answer": "4"},
    {"problem": "What is 8 * 3?", "answer": "24"},
]


@pytest.fixture
def math_file(tmp_path: Path) -> Path:
    path = tmp_path / "math.jsonl"
    path.write_text("".join(json.dumps(item) + "\n" for item in MATH))
    return path


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(["12 + 5 = 17", "Answer: 17"]))
    return path


def eval_json(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> dict:
    assert main(["eval", *args]) == code
    return json.loads(capsys.readouterr().out)


# --- datasets -----------------------------------------------------------------------------


def test_a_jsonl_item_has_a_problem_an_expected_answer_and_the_tasks_own_fields(
    tmp_path: Path,
) -> None:
    path = tmp_path / "code.jsonl"
    rows = [{"problem": "def add(a, b): ...", "tests": "assert add(1, 2) == 3", "other": 1}]
    path.write_text(json.dumps(rows[0]) + "\n\n")
    [item] = load_items(str(path), "code")
    assert (item.problem, item.expected, item.params) == (
        "def add(a, b): ...",
        None,
        {"tests": "assert add(1, 2) == 3"},  # a column the task has no option for is left out
    )


def test_gsm8k_answers_are_read_after_the_marks(math_file: Path) -> None:
    items = load_items(str(math_file), "math")
    assert [i.expected for i in items] == ["17", "17", "4", "24"]
    assert items[0].problem.startswith("Anna")


def test_a_csv_file_and_the_built_in_sets(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text("question,answer\nWhat is 1 + 1?,2\n")
    [item] = load_items(str(path), "math")
    assert (item.problem, item.expected) == ("What is 1 + 1?", "2")
    game24 = load_items("game24", "game24")
    assert len(game24) == 1362 and game24[900].problem == "4 5 6 10"
    assert len(load_items("math20", "math")) == 20


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"problem": "1 + 1"}\nnot json\n', "Line 2 of"),
        ('{"prompt": "1 + 1"}\n', "has no problem: name its field one of problem"),
        ("[1, 2]\n", "is not a JSON object"),
        ("", "has no items"),
    ],
)
def test_a_bad_dataset_says_what_is_wrong(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(BadArguments, match=message):
        load_items(str(path), "math")
    with pytest.raises(BadArguments, match="No dataset at"):
        load_items(str(tmp_path / "missing.jsonl"), "math")


def test_methods_are_checked_before_anything_is_stored(
    capsys: pytest.CaptureFixture[str], math_file: Path, script: Path
) -> None:
    base = ["eval", "--dataset", str(math_file), "--task", "math", "--backend", "scripted"]
    assert main([*base, "--script", str(script), "--methods", "cot,beam-me-up"]) == 2
    assert "Unknown method 'beam-me-up'" in capsys.readouterr().err
    question = ["eval", "--dataset", str(math_file), "--task", "question", "--backend", "scripted"]
    assert main([*question, "--script", str(script), "--methods", "random"]) == 2
    assert "question declares none yet" in capsys.readouterr().err
    assert main(["eval", "--list"]) == 0
    assert "No evals yet" in capsys.readouterr().out


# --- an eval end to end -------------------------------------------------------------------


def test_an_eval_reports_each_method_and_holds_the_expected_answer_out_of_the_search(
    capsys: pytest.CaptureFixture[str], math_file: Path, script: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = eval_json(
        capsys,
        "--dataset",
        str(math_file),
        "--task",
        "math",
        "--methods",
        "cot,bfs:beam=2",
        "--backend",
        "scripted",
        "--script",
        str(script),
        "--out",
        str(out),
        "--json",
    )
    eval_id = result["eval_id"]
    by_method = {s["method"]: s for s in result["summaries"]}
    assert list(by_method) == ["cot", "bfs:beam=2"]
    for summary in by_method.values():
        assert set(summary) >= {
            "method",
            "items",
            "solved",
            "success_rate",
            "calls_per_item",
            "tokens_per_item",
            "seconds_per_item",
        }
        # Every run answers 17: right for the two items that expect 17, wrong for the rest.
        assert (summary["items"], summary["solved"], summary["success_rate"]) == (4, 2, 0.5)
    rows = list(csv.DictReader(open(result["csv"], encoding="utf-8")))
    assert len(rows) == 8 and {r["answer"] for r in rows} == {"17"}
    assert [r["solved"] for r in rows if r["method"] == "cot"] == ["True", "True", "False", "False"]
    assert Path(result["plot"]).stat().st_size > 5_000

    engine = make_engine()
    with Session(engine) as session:
        for item, run in eval_runs.eval_runs(engine, eval_id):
            assert run.status == "done" and "answer" not in run.task_params
            verdicts = [
                e.rationale
                for e in queries.run_evaluations(session, run.id or 0)
                if e.judge == "answer"
            ]
            # The answer judge ran, and did not know the expected answer.
            if item.method == "bfs:beam=2":
                assert "no expected answer to check against" in verdicts
                assert not [v for v in verdicts if v.startswith("17 is")]
            check_tree_invariants(engine, run.id or 0)


def test_chance_on_the_game24_set_is_scored_by_the_rules(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    result = eval_json(
        capsys,
        "--dataset",
        "game24",
        "--task",
        "game24",
        "--start",
        "900",
        "--end",
        "906",
        "--methods",
        "random,random:beam=20",
        "--out",
        str(tmp_path),
        "--json",
    )
    rows = list(csv.DictReader(open(result["csv"], encoding="utf-8")))
    assert len(rows) == 12 and {r["item"] for r in rows} == {str(i) for i in range(900, 906)}
    for row in rows:  # each solved mark agrees with an independent check of the answer
        solved = (
            bool(row["answer"])
            and check_expression(row["answer"], parse_problem(row["problem"])).passed
        )
        assert row["solved"] == str(solved)
    wide = {s["method"]: s for s in result["summaries"]}["random:beam=20"]
    assert wide["calls_per_item"] > 0 and wide["tokens_per_item"] > 0 and wide["solved"] > 0

    # The eval's runs as training data, in one stream: pairs from the solved puzzles.
    assert main(["export", "--eval", str(result["eval_id"]), "--format", "preference"]) == 0
    pairs = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    solved_runs = {int(r["run_id"]) for r in rows if r["solved"] == "True"}
    assert pairs and {p["run_id"] for p in pairs} <= {int(r["run_id"]) for r in rows}
    assert solved_runs & {p["run_id"] for p in pairs}


# --- faults, resume, and several workers against an OpenAI-compatible server ----------------


@pytest.fixture
def threaded_server() -> Iterator[HTTPServer]:
    server = HTTPServer(threaded=True)  # answers requests from several workers at once
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


def math_reply(body: dict, index: int) -> str:
    # Deterministic in the request (and the choice, under `n`), so a run done twice
    # is the same run.
    return "Answer: 17" if (int(body.get("seed") or 0) + index) % 3 == 0 else "12 + 5 = 17"


def test_an_eval_paused_by_a_refused_key_resumes_where_it_was(
    capsys: pytest.CaptureFixture[str],
    math_file: Path,
    tmp_path: Path,
    threaded_server: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeOpenAI(threaded_server)
    fake.reply = math_reply
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
    args = ["--dataset", str(math_file), "--task", "math", "--methods", "cot", "--json"]
    args += ["--backend", "openai", "--model", "tiny-1b", "--base-url", fake.url]
    args += ["--backend-option", "retries=0", "--out", str(tmp_path)]
    paused = eval_json(capsys, *args, code=1)
    assert len(paused["paused"]) == 4
    assert paused["summaries"][0]["solved"] == 0
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    resumed = eval_json(
        capsys, "--resume", str(paused["eval_id"]), "--out", str(tmp_path), "--json"
    )
    assert resumed["eval_id"] == paused["eval_id"] and resumed["paused"] == []
    [summary] = resumed["summaries"]
    assert summary["items"] == 4 and summary["finished"] == 4


@pytest.fixture(params=DATABASES)
def shared_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    return engine_on_each_database(request, tmp_path)


@pytest.mark.slow
def test_two_workers_share_an_eval_and_a_killed_one_loses_nothing(
    shared_engine: Engine,
    math_file: Path,
    tmp_path: Path,
    threaded_server: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    fake = FakeOpenAI(threaded_server)
    fake.reply = math_reply
    fake.delay = 0.05
    spec = {"backend": "openai", "model": "tiny-1b", "base_url": fake.url, "temperature": 0.7}
    evaluation = eval_runs.create_eval(
        shared_engine,
        dataset=str(math_file),
        task="math",
        methods=["bfs:beam=2", "cot-sc:n=3"],
        generator=spec,
        budget={"max_calls": 12},
    )
    assert evaluation.id is not None
    run_ids = eval_runs.eval_run_ids(shared_engine, evaluation.id)
    url = shared_engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "DATABASE_URL": url}
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "treelight.engine.cli", "worker", "--eval", str(evaluation.id)]
            + ["--poll", "0.1"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    first, second = workers
    try:
        deadline = time.monotonic() + 90
        killed = False
        while time.monotonic() < deadline and not killed:
            held = lease_pids(shared_engine, run_ids)
            assert len(held) == len(set(held.values())), f"one worker on two runs: {held}"
            if first.pid in held.values() and second.pid in held.values():
                first.send_signal(signal.SIGKILL)
                first.wait()
                killed = True
            time.sleep(0.02)
        assert killed, "the two workers never worked at the same time"
        assert second.wait(timeout=120) == 0  # it exits once the eval has no work left
    finally:
        for process in workers:
            if process.poll() is None:
                process.kill()
                process.wait()

    # Every item done exactly once: each run ended, and is the very run one process
    # makes alone (a run worked twice at once would show doubled calls or nodes).
    alone = make_engine(f"sqlite:///{tmp_path / 'alone.db'}")
    for item, run in eval_runs.eval_runs(shared_engine, evaluation.id):
        assert run.status in ("done", "stopped"), (item.method, item.item, run.status_reason)
        assert_same_as_alone(shared_engine, run, alone)


def test_one_worker_works_several_runs_at_once(
    engine: Engine, math_file: Path, threaded_server: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeOpenAI(threaded_server)
    fake.reply = math_reply
    fake.delay = 0.05
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    spec = {"backend": "openai", "model": "tiny-1b", "base_url": fake.url, "temperature": 0.7}
    evaluation = eval_runs.create_eval(
        engine, dataset=str(math_file), task="math", methods=["bfs:beam=2"], generator=spec
    )
    assert evaluation.id is not None
    before = len(fake.requests)
    from treelight.engine.run.worker import work_concurrently

    work_concurrently(engine, 4, 0.05, evaluation.id)
    assert fake.most_at_once >= 2  # requests from different runs overlapped at the server
    rows = eval_runs.results(engine, evaluation.id)
    assert {r.status for r in rows} == {"done"}
    # Each request with `n` made n calls.
    assert sum(r.get("n", 1) for r in fake.requests[before:]) == sum(r.model_calls for r in rows)
    for row in rows:
        check_tree_invariants(engine, row.run_id)


def test_a_method_takes_strategy_options_and_constrain() -> None:
    from treelight.engine.evals.methods import parse_method

    method = parse_method("bfs:beam=10;constrain=off", "game24")
    assert (method.strategy, method.params, method.generator) == (
        "bfs",
        {"beam": 10},
        {"constrain": "off"},
    )
    sc = parse_method("cot-sc:n=5", "math")
    assert (sc.strategy, sc.params, sc.judges) == ("self-consistency", {"n": 5}, [])
