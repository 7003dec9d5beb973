"""A third-party plugin, installed like any package (tests/plugin/), is a first-class role.

The example plugin adds the task `count-to` (one typed option, `target`), the
strategy `greedy` and the judge `on-target`. No Treelight file names them: they
come in through the entry-point group `treelight`. The shared invariant suites
(tests/test_invariants.py) run them too, because they parametrize over the
registry.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.conftest import new_app
from treelight.engine import plugins
from treelight.engine.plugins import LOAD_PLUGINS_VARIABLE, MissingPlugin, registry
from treelight.engine.run.creation import create_run
from treelight.engine.run.loop import Runner
from treelight.storage import queries

PACKAGE = "treelight-example-plugin"
# A scripted model that counts to 4 by twos, with a few wrong steps on the way.
COUNTING = ["+2\n+3\nup", "+2\n+1", "+2", "+1\n+2\n+3", "+2"] * 10


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`treelight ...` in a process of its own, as a person or a worker would run it."""
    return subprocess.run(
        [sys.executable, "-m", "treelight.engine.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_the_plugin_registers_each_role_under_its_package() -> None:
    found = registry()
    for role, name in (("task", "count-to"), ("strategy", "greedy"), ("judge", "on-target")):
        assert name in found.roles[role], (role, name)
        assert found.provider(role, name) == PACKAGE
    assert found.provider("task", "game24") == plugins.BUILTIN  # built-ins: the same door


def test_the_plugin_is_in_the_run_help_with_its_option() -> None:
    shown = cli("run", "--help")
    assert shown.returncode == 0, shown.stderr
    assert "count-to: Count from 0 to a target" in shown.stdout
    assert "[target=5]" in shown.stdout
    assert "greedy: Greedy" in shown.stdout and "on-target:" in shown.stdout


def test_a_bad_option_value_names_the_option_and_what_it_takes() -> None:
    result = cli("run", "--task", "count-to", "--problem", "Count.", "--task-option", "target=0")
    assert result.returncode == 2
    assert "task 'count-to' option 'target' takes a whole number from 1 to 1000, not 0" in (
        result.stderr
    )


def test_the_plugin_runs_from_the_cli_and_resumes_in_another_process(tmp_path: Path) -> None:
    script = tmp_path / "counting.json"
    script.write_text(json.dumps(COUNTING))
    args = ["run", "--task", "count-to", "--problem", "Count.", "--task-option", "target=4"]
    args += ["--strategy", "greedy", "--param", "samples=2", "--backend", "scripted"]
    args += ["--script", str(script), "--max-calls", "1", "--json"]
    first = cli(*args)
    assert first.returncode == 0, first.stderr
    stopped = json.loads(first.stdout)
    assert (stopped["status"], stopped["answer"]) == ("stopped", None), stopped

    resumed = cli("resume", str(stopped["run_id"]), "--max-calls", "10", "--json")
    assert resumed.returncode == 0, resumed.stderr
    done = json.loads(resumed.stdout)
    assert (done["status"], done["answer"]) == ("done", "4"), done
    shown = cli("show", str(done["run_id"]))
    assert "count-to rules: 'up' is not +1, +2 or +3" in shown.stdout  # kept, with why


def test_a_run_whose_plugin_is_missing_pauses_naming_the_package(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = create_run(
        engine,
        task="count-to",
        problem="Count.",
        strategy="greedy",
        task_params={"target": 3},
        generator={"backend": "scripted", "outputs": COUNTING},
        status="running",
    )
    assert run.id is not None
    assert run.plugins == {
        "task:count-to": PACKAGE,
        "strategy:greedy": PACKAGE,
        "judge:on-target": PACKAGE,
    }
    monkeypatch.setenv(LOAD_PLUGINS_VARIABLE, "")  # as on a machine without the package
    plugins.reload()
    try:
        with pytest.raises(MissingPlugin, match="add it there"):
            Runner(engine, run.id)
    finally:
        monkeypatch.delenv(LOAD_PLUGINS_VARIABLE)
        plugins.reload()
    with Session(engine) as session:
        paused = queries.get_run(session, run.id)
        nodes = queries.run_nodes(session, run.id)
    assert paused is not None and paused.status == "paused"
    assert f"comes from the package {PACKAGE}, which {LOAD_PLUGINS_VARIABLE} leaves out" in (
        paused.status_reason
    )
    assert len(nodes) == 1  # nothing was made without it, and nothing lost
    outcome = Runner(engine, run.id).run_until_idle()  # installed again: it goes on
    assert outcome.run.status == "paused"  # resumed only on request
    from treelight.engine import steering

    steering.resume(engine, run.id)
    assert Runner(engine, run.id).run_until_idle().run.answer == "3"


def test_the_plugin_is_on_the_new_run_page_with_its_option_widget(app_engine: Engine) -> None:
    at = new_app().run()
    at.switch_page("views/new_run.py").run()
    at.selectbox(key="preset").set_value("Free problem").run()
    at.selectbox(key="task_Free problem").set_value("count-to").run()
    target = at.number_input(key="task_count-to_Free problem_target")
    assert (target.value, target.min, target.max) == (5, 1, 1000)
    target.set_value(3)
    at.text_area(key="problem_Free problem").input("Count, please.")
    at.selectbox(key="strategy").set_value("greedy").run()
    assert at.number_input(key="param_greedy_samples").value == 3
    at.radio(key="backend").set_value("scripted").run()
    script = Path(os.environ["TREELIGHT_HOME"]) / "counting.json"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(json.dumps(COUNTING))
    at.text_input(key="backend_scripted_script").input(str(script))
    at.button(key="start").click().run()
    assert not at.exception, at.exception
    with Session(app_engine) as session:
        run = queries.list_runs(session)[0]
    assert (run.task, run.strategy, run.task_params) == ("count-to", "greedy", {"target": 3})
    assert [j["name"] for j in run.judges] == ["on-target"]


def test_a_run_needing_a_package_that_is_not_installed_says_what_to_install(
    engine: Engine,
) -> None:
    run = create_run(
        engine,
        task="count-to",
        problem="Count.",
        strategy="greedy",
        generator={"backend": "scripted", "outputs": COUNTING},
        status="running",
    )
    assert run.id is not None
    from treelight.storage.database import unit_of_work
    from treelight.storage.models import Run

    with unit_of_work(engine, run.id) as session:  # as if made with another package
        stored = session.get(Run, run.id)
        assert stored is not None
        stored.task, stored.plugins = "count-down", {"task:count-down": "treelight-countdown"}
    with pytest.raises(MissingPlugin, match="`pip install treelight-countdown`"):
        Runner(engine, run.id)
    with Session(engine) as session:
        paused = queries.get_run(session, run.id)
    assert paused is not None and paused.status == "paused"
    assert "not installed here" in paused.status_reason
