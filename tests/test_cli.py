"""The `treelight` command line, driven as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import game24_script
from treelight.engine.cli import main


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(game24_script(3)))
    return path


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(list(args)) == 0
    return json.loads(capsys.readouterr().out)


def test_run_json_then_show_export_and_runs(
    capsys: pytest.CaptureFixture[str], script: Path
) -> None:
    result = run_json(
        capsys,
        "run",
        "--task",
        "game24",
        "--problem",
        "4 4 4 4",
        "--strategy",
        "bfs",
        "--backend",
        "scripted",
        "--script",
        str(script),
        "--param",
        "samples=3",
        "--max-calls",
        "20",
        "--json",
    )
    for field in (
        "run_id",
        "status",
        "answer",
        "nodes",
        "model_calls",
        "prompt_tokens",
        "completion_tokens",
        "seconds",
    ):
        assert field in result
    assert (result["status"], result["reason"]) == ("stopped", "model-call budget: 20 of 20 used")
    assert result["model_calls"] <= 20 and result["nodes"] > 1

    assert main(["show", str(result["run_id"])]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith(f"Run #{result['run_id']} · game24 · bfs")
    assert "↳ game24 rules:" in shown  # rejected nodes carry the rule that rejected them

    exported = run_json(capsys, "export", str(result["run_id"]), "--format", "json")
    assert len(exported["nodes"]) == result["nodes"]
    assert exported["run"]["id"] == result["run_id"]

    assert main(["export", str(result["run_id"]), "--format", "graphml"]) == 0
    assert "<graphml" in capsys.readouterr().out

    listed = run_json(capsys, "runs", "--json")
    assert listed[0]["run_id"] == result["run_id"]
    assert {"run_id", "status", "task", "strategy", "nodes"} <= set(listed[0])


def test_budget_stop_exits_zero_and_resume_with_more_budget_continues(
    capsys: pytest.CaptureFixture[str], script: Path
) -> None:
    first = run_json(
        capsys,
        "run",
        "--task",
        "game24",
        "--problem",
        "4 4 4 4",
        "--backend",
        "scripted",
        "--script",
        str(script),
        "--param",
        "samples=3",
        "--max-calls",
        "4",
        "--json",
    )
    assert first["status"] == "stopped" and "budget" in first["reason"]
    resumed = run_json(capsys, "resume", str(first["run_id"]), "--max-calls", "12", "--json")
    assert resumed["run_id"] == first["run_id"]
    assert 4 < resumed["model_calls"] <= 12
    assert resumed["nodes"] >= first["nodes"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--task", "game24", "--problem", "1 2 3"], "four whole numbers"),
        (
            ["--task", "game24", "--problem", "1 2 3 4", "--strategy", "bfs", "--param", "beem=2"],
            "strategy 'bfs' has no option 'beem'",
        ),
        (["--task", "game24", "--problem", "1 2 3 4", "--judges", "oracle"], "Unknown judge"),
        (
            ["--task", "game24", "--problem", "1 2 3 4", "--model", "/nope/model.gguf"],
            "No GGUF file at /nope/model.gguf",
        ),
        (["--task", "game24", "--problem", "1 2 3 4", "--backend", "scripted"], "needs a script"),
        (
            ["--task", "game24", "--problem", "1 2 3 4", "--max-calls", "-1"],
            "The budget of model calls must be a number of at least 0, not -1.",
        ),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["run", *args]) == 2
    assert message in capsys.readouterr().err


def test_console_script_reports_a_missing_run(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "treelight.engine.cli", "show", "999"],
        capture_output=True,
        text=True,
        env={**os.environ, "TREELIGHT_HOME": str(tmp_path)},
        check=False,
    )
    assert result.returncode == 1
    assert "No run #999" in result.stderr


def test_a_listing_piped_into_head_ends_quietly(tmp_path: Path, script: Path) -> None:
    """`treelight runs | head -1`: the reader leaves early; no traceback."""
    env = {**os.environ, "TREELIGHT_HOME": str(tmp_path)}
    cli = [sys.executable, "-m", "treelight.engine.cli"]
    for _ in range(2):
        subprocess.run(
            [*cli, "run", "--task", "count-to", "--problem", "3", "--backend", "scripted"]
            + ["--script", str(script), "--json"],
            env=env,
            capture_output=True,
            check=True,
        )
    listing = subprocess.Popen(
        [*cli, "runs"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert listing.stdout is not None and listing.stderr is not None
    listing.stdout.close()  # as `head` does once it has its line
    errors = listing.stderr.read().decode()
    assert listing.wait(timeout=60) in (0, 1) and "Traceback" not in errors, errors


def test_treelight_app_stops_serving_on_sigterm(tmp_path: Path) -> None:
    """`treelight app` is the Streamlit server (not its parent): SIGTERM stops it."""
    import signal
    import socket
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "treelight.engine.cli", "app", "--port", str(port)],
        env={**os.environ, "TREELIGHT_HOME": str(tmp_path), "TREELIGHT_WORKER": "off"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    health = f"http://127.0.0.1:{port}/_stcore/health"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(health, timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("the app did not start serving within 60 s")
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)
        with pytest.raises(OSError):
            urllib.request.urlopen(health, timeout=1)
    finally:
        if server.poll() is None:
            server.kill()


def test_a_budget_of_zero_means_zero(capsys: pytest.CaptureFixture[str], script: Path) -> None:
    result = run_json(
        capsys,
        "run",
        "--task",
        "game24",
        "--problem",
        "4 4 4 4",
        "--backend",
        "scripted",
        "--script",
        str(script),
        "--max-calls",
        "0",
        "--json",
    )
    assert (result["status"], result["reason"]) == ("stopped", "model-call budget: 0 of 0 used")
    assert result["model_calls"] == 0 and result["nodes"] == 1 and result["answer"] is None


def test_label_a_node_from_the_command_line(
    capsys: pytest.CaptureFixture[str], script: Path
) -> None:
    from treelight.engine import api

    run_id = run_json(
        capsys,
        "run",
        "--task",
        "game24",
        "--problem",
        "4 4 4 4",
        "--backend",
        "scripted",
        "--script",
        str(script),
        "--max-calls",
        "10",
        "--json",
    )["run_id"]
    node = api.open_run(run_id).tree()[1].id
    assert main(["label", str(run_id), str(node), "bad", "--note", "16 is not left"]) == 0
    assert (
        capsys.readouterr().out == f"Run #{run_id}, node #{node}: bad by person: 16 is not left\n"
    )
    assert main(["label", str(run_id), str(node), "good"]) == 0  # the latest wins
    assert main(["show", str(run_id)]) == 0
    shown = capsys.readouterr().out
    assert "labelled good by person" in shown and "16 is not left" not in shown
    assert main(["label", str(run_id), str(node), "none"]) == 0
    assert capsys.readouterr().out == f"Run #{run_id}, node #{node}: no label\n"
    assert api.open_run(run_id).labels() == {}

    assert main(["label", str(run_id), "999", "good"]) == 2
    assert f"error: Run #{run_id} has no node #999." in capsys.readouterr().err
    assert main(["label", str(run_id), str(node), "bad", "--note", "x" * 501]) == 2
    assert "at most 500 characters" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:
        main(["label", str(run_id), str(node), "great"])
    assert refused.value.code == 2
    assert "invalid choice: 'great'" in capsys.readouterr().err


def test_a_judge_for_another_task_is_refused_with_the_ones_that_fit(
    treelight_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = treelight_home.parent / "script.json"
    script.write_text(json.dumps(game24_script(1)))
    code = main(
        ["run", "--task", "game24", "--problem", "4 4 4 4", "--judges", "code-tests",
         "--backend", "scripted", "--script", str(script)]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code != 0 and "The judge code-tests judges code problems, not game24" in err
    assert "game24-verifier" in err and "value" in err and "calculator" not in err
