"""The Python API drives, reads, steers and exports a run the CLI and app also see."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import game24_script
from tests.invariants import check_tree_invariants
from treelight.engine import api
from treelight.engine.cli import main
from treelight.engine.errors import BadArguments, RunNotFound

ROOT = Path(__file__).resolve().parent.parent


def scripted_run(**overrides: object) -> api.RunHandle:
    settings: dict = {
        "strategy": "bfs",
        "strategy_options": {"beam": 2, "samples": 3},
        "backend": "scripted",
        "backend_options": {"outputs": game24_script(5)},
        "judges": "game24-verifier",
        "budget": {"max_calls": 20},
    }
    settings.update(overrides)
    return api.create_run("game24", "4 4 4 4", **settings)  # type: ignore[arg-type]


def test_create_step_steer_run_and_export(capsys: pytest.CaptureFixture[str]) -> None:
    run = scripted_run()
    assert run.info().status == "paused"  # nothing happens before step() or run()
    run.step()
    first = run.tree()
    assert first[0].parent_id is None and len(first) > 1
    assert run.info().status == "paused" and run.info().actions == 1

    live = [n for n in first if n.status == "open"]
    assert len(live) >= 2, [(n.id, n.status) for n in first]
    assert run.prune(live[0].id) == 1
    assert {n.id: n.pruned_by for n in run.tree()}[live[0].id] == "person"
    assert run.restore(live[0].id) == 1
    run.pin(live[1].id)
    run.prior(live[1].id, "multiply first")
    run.swap_judges("game24-verifier:weight=2")

    finished = run.run()
    assert finished.status in ("done", "stopped"), finished.status_reason
    check_tree_invariants(run.engine, run.run_id)
    assert next(n for n in run.tree() if n.id == live[1].id).pinned

    exported = json.loads(run.export("json"))
    assert len(exported["nodes"]) == len(run.tree())
    assert "<graphml" in run.export("graphml")
    assert "<html" in run.export("html").lower()
    assert run.show().startswith(f"Run #{run.run_id} · game24 · bfs")

    # The same stored run, seen from the command line and reopened by id.
    assert main(["show", str(run.run_id)]) == 0
    assert capsys.readouterr().out.startswith(f"Run #{run.run_id}")
    assert api.open_run(run.run_id).info().answer == finished.answer
    assert run.run_id in [r.id for r in api.runs()]


def test_bad_options_and_missing_runs_say_what_is_wrong() -> None:
    with pytest.raises(BadArguments, match="strategy 'bfs' option 'beam' takes a whole number"):
        scripted_run(strategy_options={"beam": 0})
    with pytest.raises(BadArguments, match="backend 'scripted' has no option 'colour'"):
        scripted_run(backend_options={"colour": "red", "outputs": []})
    with pytest.raises(RunNotFound, match="No run #999"):
        api.open_run(999)


@pytest.mark.model
def test_the_example_script_runs_on_the_embedded_model(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "examples" / "python_api.py")],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TREELIGHT_HOME": str(tmp_path)},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "candidates after one step" in result.stdout
    assert "treelight show 1" in result.stdout


def test_label_from_python_shows_in_tree_text_and_html(capsys: pytest.CaptureFixture[str]) -> None:
    run = scripted_run()
    run.step()
    first, second = [n.id for n in run.tree() if n.status == "open"][:2]
    hostile = "<img src=x onerror=alert(1)> & </script>"
    label = run.label(first, "good", hostile)
    assert label is not None and (label.verdict, label.actor) == ("good", "person")
    run.label(second, "bad")
    labelled = {n.id: (n.label, n.label_note) for n in run.tree() if n.label}
    assert labelled == {first: ("good", hostile), second: ("bad", "")}
    assert run.labels()[first].at == label.at

    text = run.show()
    assert f"labelled good by person: {hostile}" in text
    assert "labelled bad by person" in text
    page = run.export("html")
    assert "<img" not in page and "onerror=alert(1)\\u003e" in page  # data, never markup
    assert '"labelled": "good"' in page and '"labelled": "bad"' in page
    assert "treelightDrawLabels(network, nodes)" in page  # the badges are drawn

    assert run.label(first, "none") is None
    assert {n.id for n in run.tree() if n.label} == {second}
    assert run.run().status in ("done", "stopped")  # the search runs on regardless
    assert run.label(first, "bad", "seen at the end") is not None  # and a finished run
    assert main(["show", str(run.run_id)]) == 0
    assert "labelled bad by person: seen at the end" in capsys.readouterr().out
