"""The real app script, driven by AppTest with the scripted generator.

The in-app worker is off (TREELIGHT_WORKER=off); the test runs the worker's
steps itself, so each steering action lands at a known point of the search.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from tests.conftest import game24_script, new_app
from tests.invariants import check_end_state
from treelight.app.safe import md
from treelight.engine.run.worker import Worker
from treelight.storage import queries
from treelight.storage.models import ModelCall


def explorer(run_id: int) -> AppTest:
    """The explorer as a browser sees it once the tree is drawn: a session's first
    explorer page sends the tree alone, the rest on the next run."""
    at = new_app()
    at.query_params["run"] = str(run_id)
    return at.run().run()


def events(engine: Engine, run_id: int) -> list[tuple[str, str, int | None]]:
    with Session(engine) as session:
        return [(e.kind, e.actor, e.node_id) for e in queries.run_events(session, run_id)]


def click(at: AppTest, key: str) -> AppTest:
    at.button(key=key).click()
    return at.run()


def start_run_from_the_new_run_page(tmp_path: Path) -> tuple[AppTest, int]:
    script = tmp_path / "outputs.json"
    script.write_text(json.dumps(game24_script(5)))
    at = new_app().run()
    at.switch_page("views/new_run.py").run()
    at.selectbox(key="preset").set_value("Free problem").run()
    at.selectbox(key="task_Free problem").set_value("math").run()
    assert {"calculator", "answer"} <= set(at.multiselect(key="judges_math_Free problem").options)
    at.selectbox(key="task_Free problem").set_value("game24").run()
    offered = set(at.multiselect(key="judges_game24_Free problem").options)
    assert "game24-verifier" in offered and not offered & {"code-tests", "answer", "calculator"}
    at.text_area(key="problem_Free problem").input("4 4 4 4")
    at.number_input(key="param_bfs_samples").set_value(3)
    at.radio(key="backend").set_value("scripted").run()
    at.text_input(key="backend_scripted_script").input(str(script))
    at.button(key="start").click().run()
    assert not at.exception, at.exception
    run_id = int(
        at.query_params["run"][0]
        if isinstance(at.query_params["run"], list)
        else at.query_params["run"]
    )
    return at, run_id


def test_the_explorer_opens_without_runs(app_engine: Engine) -> None:
    at = new_app().run()
    assert not at.exception
    assert "No runs yet" in at.info[0].value


def test_start_pause_step_prune_prior_judges_rerun_and_replay(
    app_engine: Engine, tmp_path: Path
) -> None:
    at, run_id = start_run_from_the_new_run_page(tmp_path)
    with Session(app_engine) as session:
        run = queries.get_run(session, run_id)
        assert run is not None and run.status == "queued" and run.generator["backend"] == "scripted"
        assert queries.run_script(session, run_id)  # the outputs travel with the run

    # Pause before the worker gets to it, then step one action at a time.
    at = explorer(run_id)
    at = click(at, "pause")
    assert at.button(key="step").disabled is False
    said = []
    for _ in range(3):
        at = click(at, "step")
        assert any("Stepping" in i.value for i in at.info)  # at once, before the worker
        Worker(app_engine).work_once()
        at.run()
        shown = [i.value.replace("\\", "") for i in at.info]  # Markdown-escaped on the page
        said += [text for text in shown if text.startswith("Step: ")]
    # Each step says what it did, from the log (the first expands the root).
    assert len(said) == 3 and said[0].startswith("Step: expanded #1: ") and "candidates" in said[0]
    assert any("judged" in s for s in said), said
    with Session(app_engine) as session:
        run = queries.get_run(session, run_id)
        nodes = queries.run_nodes(session, run_id)
    assert run is not None and run.status == "paused" and run.actions == 3
    child = next(n for n in nodes if n.parent_id is not None and n.status == "open")

    # A click on the tree selects a node (the browser test clicks for real).
    at.session_state["selected_node"] = child.id
    at.run()
    assert f"#### Node #{child.id} · open" in [m.value for m in at.markdown]
    assert child.text in [c.value for c in at.code]

    at = click(at, "prune")
    assert ("prune", "person", child.id) in events(app_engine, run_id)
    assert f"#### Node #{child.id} · pruned" in [m.value for m in at.markdown]
    at = click(at, "restore")
    assert ("restore", "person", child.id) in events(app_engine, run_id)

    at.text_input(key="prior_text").input("multiply the two fours first")
    at.button[[b.label for b in at.button].index("Add prior")].click().run()
    with Session(app_engine) as session:
        priors = queries.run_priors(session, run_id)
    assert [(p.node_id, p.text) for p in priors] == [(child.id, "multiply the two fours first")]
    assert ("prior", "person", child.id) in events(app_engine, run_id)

    offered = set(at.multiselect(key="judges_choice").options)
    assert {"game24-verifier", "value", "vote", "learned"} <= offered  # the task's and any task's
    assert not offered & {"code-tests", "answer", "calculator", "on-target"}  # other tasks'
    at.multiselect(key="judges_choice").set_value(["game24-verifier"])
    at.checkbox(key="judges_whole").check()
    at.button[[b.label for b in at.button].index("Swap judges")].click().run()
    Worker(app_engine).work_once()  # serves the whole-tree re-score
    kinds = [kind for kind, _, _ in events(app_engine, run_id)]
    assert "judge_swap" in kinds and "rescore_report" in kinds
    with Session(app_engine) as session:
        run = queries.get_run(session, run_id)
        assert run is not None and run.judge_set == 2

    at = explorer(run_id)
    at.session_state["selected_node"] = child.id
    at.run()
    at.slider(key="rerun_temp").set_value(1.3)
    at.number_input(key="rerun_seed").set_value(42)
    at.button[[b.label for b in at.button].index("Re-run")].click().run()
    waiting = [i.value.replace("\\", "") for i in at.info]
    assert f"Re-running #{child.id} (temperature=1.3, seed=42)… waiting for the worker" in waiting
    Worker(app_engine).work_once()
    with Session(app_engine) as session:
        rerun_nodes = [n for n in queries.run_nodes(session, run_id) if n.branch == "rerun-1"]
    assert rerun_nodes and all(n.parent_id == child.id for n in rerun_nodes)
    assert ("rerun", "engine", child.id) in events(app_engine, run_id)
    at = explorer(run_id)
    at.session_state["selected_node"] = child.id
    at.session_state["run_tabs"] = "Event log"  # only the open tab is computed
    at.run()
    assert "Children by branch: the original expansion beside each re-run" in [
        c.value for c in at.caption
    ]
    log = next(d.value for d in at.dataframe if "actor" in d.value.columns)
    assert {"prune", "restore", "prior", "judge_swap", "rerun_request"} <= set(
        log[log["actor"] == "person"]["event"]
    )

    at = click(explorer(run_id), "resume")
    Worker(app_engine).work_once()
    at = explorer(run_id)
    assert not at.exception
    with Session(app_engine) as session:
        assert queries.get_run(session, run_id).status == "done"  # type: ignore

    # Replay from the event log: the slider rebuilds the tree at any event.
    at.switch_page("views/runs_page.py").run()
    assert not at.exception
    total = len(events(app_engine, run_id))
    at.slider(key=f"replay_step_{run_id}").set_value(3).run()
    assert any(m.value.startswith(f"**3/{total}**") for m in at.markdown)


def test_a_paused_run_shows_its_reason_and_what_to_do(app_engine: Engine) -> None:
    from treelight.engine.run.creation import create_run
    from treelight.engine.run.loop import Runner

    run = create_run(
        app_engine,
        task="game24",
        problem="4 4 4 4",
        strategy="bfs",
        generator={"backend": "scripted", "outputs": ["4 + 4 = 8"]},
        status="running",
    )
    assert run.id is not None
    Runner(app_engine, run.id).run_until_idle()  # the script runs dry: the run pauses
    at = explorer(run.id)
    assert not at.exception
    assert "The script has 1 outputs" in at.error[0].value
    assert "Resume" in at.error[0].value


def test_a_sessions_first_explorer_page_sends_the_tree_alone_then_the_rest(
    app_engine: Engine,
) -> None:
    """The browser draws nothing until every element of a page is ready, so the
    first page holds the inspector, charts and log back until the tree is drawn
    (the browser test sees the rest arrive); a later run sends the whole page."""
    from treelight.engine.run.creation import create_run

    run = create_run(
        app_engine,
        task="game24",
        problem="4 4 4 4",
        strategy="bfs",
        generator={"backend": "scripted", "outputs": []},
        status="done",
    )
    at = new_app()
    at.query_params["run"] = str(run.id)
    at.run()
    assert not at.exception
    assert "Run #" in at.markdown[0].value and len(at.get("bidi_component")) == 1
    assert not at.tabs and not [m for m in at.markdown if m.value.startswith("#### Node")]
    at.run()
    assert [t.label for t in at.tabs] == ["Charts", "Event log"]
    assert [m for m in at.markdown if m.value.startswith("#### Node")]


def test_new_run_page_reports_bad_input(app_engine: Engine) -> None:
    at = new_app().run()
    at.switch_page("views/new_run.py").run()
    at.selectbox(key="preset").set_value("Free problem").run()
    at.selectbox(key="task_Free problem").set_value("game24").run()
    at.text_area(key="problem_Free problem").input("1 2 3")
    at.button(key="start").click().run()
    assert "four whole numbers" in at.error[0].value


def test_new_run_lists_ollama_models_and_pulls_one(
    app_engine: Engine, httpserver: pytest.FixtureRequest
) -> None:
    from tests.fake_ollama import FakeOllama

    fake = FakeOllama(httpserver)  # type: ignore[arg-type]
    at = new_app().run()
    at.switch_page("views/new_run.py").run()
    at.radio(key="backend").set_value("ollama").run()
    at.text_input(key="backend_ollama_host").input(fake.url).run()
    assert not at.exception
    picker = at.selectbox(key="backend_ollama_model")
    assert picker.options == ["tiny:1b (1.2B · llama · Q8_0 · 1.3 GB)"]
    at.text_input(key="backend_ollama_pull_name").input("qwen2.5:0.5b")
    at.button(key="backend_ollama_pull").click().run()
    assert md("Pulled qwen2.5:0.5b") in at.success[0].value  # escaped Markdown source
    at.run()
    assert len(at.selectbox(key="backend_ollama_model").options) == 2
    at.button(key="start").click().run()
    with Session(app_engine) as session:
        run = queries.list_runs(session)[0]
    assert run.generator == {
        "backend": "ollama",
        "model": "tiny:1b",
        "host": fake.url,
        "temperature": 0.7,
    }


def test_new_run_says_when_ollama_is_not_running(app_engine: Engine) -> None:
    at = new_app().run()
    at.switch_page("views/new_run.py").run()
    at.radio(key="backend").set_value("ollama").run()
    at.text_input(key="backend_ollama_host").input("http://127.0.0.1:9").run()
    assert "Ollama is not running at http" in at.warning[0].value
    assert "ollama serve" in at.warning[0].value


NEW_KINDS = [
    ("Math: apples (answer 17)", "refine", ["12 + 5 = 18\nAnswer: 18", "Answer: 17"] * 5),
    ("Code: add(a, b), with tests", "mcts", ["def add(a, b):\n    return a + b"] * 10),
    ("Game of 24 · easy (rank 1): 1 1 4 6", "evolve", game24_script(2)),
]


@pytest.mark.parametrize(("preset", "strategy", "outputs"), NEW_KINDS)
def test_new_strategies_and_tasks_run_from_the_new_run_page(
    app_engine: Engine, tmp_path: Path, preset: str, strategy: str, outputs: list[str]
) -> None:
    script = tmp_path / "outputs.json"
    script.write_text(json.dumps(outputs))
    at = new_app().run()
    at.switch_page("views/new_run.py").run()
    at.selectbox(key="preset").set_value(preset).run()
    at.selectbox(key="strategy").set_value(strategy).run()
    assert any(c.value.startswith(strategy_summary_start(strategy)) for c in at.caption)
    at.radio(key="backend").set_value("scripted").run()
    at.text_input(key="backend_scripted_script").input(str(script))
    at.button(key="start").click().run()
    assert not at.exception, at.exception
    with Session(app_engine) as session:
        run = queries.list_runs(session)[0]
    assert run.strategy == strategy and run.id is not None
    if run.task == "math":
        assert run.task_params == {"answer": "17"}
    if run.task == "code":
        assert "def test_negative" in run.task_params["tests"]
    Worker(app_engine).work_once()
    at = explorer(run.id)
    assert not at.exception
    with Session(app_engine) as session:
        finished = queries.get_run(session, run.id)
    assert finished is not None and finished.status == "done"
    check_end_state(app_engine, run.id)
    labels = [e.label for e in at.expander]
    assert any(label.startswith(f"**{strategy}** — ") for label in labels)


def strategy_summary_start(strategy: str) -> str:
    from treelight.engine.strategies import strategy_classes

    return strategy_classes()[strategy].explanation[:30]


def test_a_pruned_node_can_be_expanded_anyway_from_the_inspector(
    app_engine: Engine, tmp_path: Path
) -> None:
    from treelight.engine.run.creation import create_run
    from treelight.engine.run.loop import Runner

    run = create_run(
        app_engine,
        task="game24",
        problem="4 4 4 4",
        strategy="bfs",
        strategy_params={"samples": 3, "beam": 1, "steps": 2},
        generator={"backend": "scripted", "outputs": game24_script(3)},
        status="running",
    )
    assert run.id is not None
    Runner(app_engine, run.id).run_until_idle()
    with Session(app_engine) as session:
        nodes = queries.run_nodes(session, run.id)
    pruned = next(n for n in nodes if n.status == "pruned" and "beam cutoff" in n.status_reason)
    at = explorer(run.id)
    at.session_state["selected_node"] = pruned.id
    at.run()
    at = click(at, "counterfactual")
    assert ("counterfactual_request", "person", pruned.id) in events(app_engine, run.id)
    Worker(app_engine).work_once()
    with Session(app_engine) as session:
        branch = [n for n in queries.run_nodes(session, run.id) if n.branch == "counterfactual-1"]
    assert branch
    at = explorer(run.id)
    at.session_state["selected_node"] = branch[0].id
    at.run()
    assert not at.exception
    assert any("Counterfactual" in i.value for i in at.info)


@pytest.mark.model
@pytest.mark.parametrize("strategy", ["mcts", "refine", "evolve"])
def test_new_strategies_run_in_the_app_on_the_embedded_model(
    app_engine: Engine, strategy: str
) -> None:
    at = new_app().run()
    at.switch_page("views/new_run.py").run()
    at.selectbox(key="preset").set_value("Math: apples (answer 17)").run()
    at.selectbox(key="strategy").set_value(strategy).run()
    at.radio(key="backend").set_value("embedded").run()
    at.number_input(key="max_calls").set_value(5)
    at.button(key="start").click().run()
    assert not at.exception, at.exception
    with Session(app_engine) as session:
        run = queries.list_runs(session)[0]
    assert run.id is not None and run.generator["backend"] == "embedded"
    Worker(app_engine).work_once()  # the app's worker thread does this when it is on
    at = explorer(run.id)
    assert not at.exception
    with Session(app_engine) as session:
        finished = queries.get_run(session, run.id)
        nodes = queries.run_nodes(session, run.id)
    assert finished is not None and finished.status in ("done", "stopped")
    check_end_state(app_engine, run.id)  # stopped only by its budget; no open node
    assert 0 < finished.model_calls <= 5 and len(nodes) > 1
    title = f"### :material/check_circle: Run #{run.id} · math · {strategy}"
    assert title in [m.value for m in at.markdown] or any(
        m.value.endswith(f"Run #{run.id} · math · {strategy}") for m in at.markdown
    )


def test_no_budget_is_unlimited_unless_chosen_on_purpose(
    app_engine: Engine, tmp_path: Path
) -> None:
    at, run_id = start_run_from_the_new_run_page(tmp_path)
    with Session(app_engine) as session:
        run = queries.get_run(session, run_id)
    # Only model calls are limited unless chosen: no clock a newcomer never set.
    assert run is not None and run.budget == {"max_calls": 60}
    page = new_app().run()
    page.switch_page("views/new_run.py").run()
    assert page.number_input(key="max_calls").min == 1  # 0 cannot be typed in
    assert any("A run ends when its strategy does" in c.value for c in page.caption)
    page.checkbox(key="max_calls_unlimited").check().run()
    assert page.number_input(key="max_calls").disabled
    assert any("No limit at all" in w.value for w in page.warning)
    page.selectbox(key="preset").set_value("Free problem").run()
    page.selectbox(key="task_Free problem").set_value("game24").run()
    page.text_area(key="problem_Free problem").input("4 4 4 4")
    page.radio(key="backend").set_value("scripted").run()
    script = tmp_path / "one.json"
    script.write_text(json.dumps(game24_script(1)))
    page.text_input(key="backend_scripted_script").input(str(script))
    page.button(key="start").click().run()
    assert not page.exception, page.exception
    with Session(app_engine) as session:
        newest = queries.list_runs(session, limit=1)[0]
    assert newest.id != run_id and newest.budget == {}


def test_a_pause_asked_for_shows_pausing_until_the_runner_applies_it(
    app_engine: Engine, tmp_path: Path
) -> None:
    from treelight.engine import steering
    from treelight.engine.run.loop import Runner
    from treelight.storage.database import unit_of_work
    from treelight.storage.models import Run

    _, run_id = start_run_from_the_new_run_page(tmp_path)
    with unit_of_work(app_engine, run_id) as session:  # as if a worker held it
        run = session.get(Run, run_id)
        assert run is not None
        run.status, run.lease_owner = "running", "elsewhere:1:x"
        run.lease_until = run.updated_at.replace(year=run.updated_at.year + 1)
    assert steering.pause(app_engine, run_id).requested == "pause"
    at = explorer(run_id)
    assert not at.exception
    assert any("pausing after the current step…" in m.value for m in at.markdown)
    assert at.button(key="pause").disabled
    with unit_of_work(app_engine, run_id) as session:  # the worker's lease runs out
        run = session.get(Run, run_id)
        assert run is not None
        run.lease_owner, run.lease_until = None, None
    Runner(app_engine, run_id).run_until_idle()
    at = explorer(run_id)
    assert not any("pausing" in m.value for m in at.markdown)
    assert any(m.value.startswith("**paused**") for m in at.markdown)


def test_results_stay_in_sight_a_vote_tally_and_a_best_so_far(app_engine: Engine) -> None:
    from treelight.engine.run.creation import create_run
    from treelight.engine.run.loop import Runner

    votes = ["Answer: 17", "Answer: 18", "Answer: 17", "Answer: 17", "Answer: 18"]
    voted = create_run(
        app_engine,
        task="question",
        problem="How many?",
        strategy="self-consistency",
        strategy_params={"n": 5, "batch": 5},  # all five: a tally of every sample
        generator={"backend": "scripted", "outputs": votes},
        judges=[],
        status="running",
    )
    assert voted.id is not None
    finished = Runner(app_engine, voted.id).run_until_idle().run
    assert finished.answer == "17"
    at = explorer(voted.id)
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["answer"]) == ["17", "18"] and list(table["paths"]) == [3, 2]
    assert list(table["chosen"]) == ["← the run's answer", ""]

    open_ended = create_run(
        app_engine,
        task="game24",
        problem="4 4 4 4",
        strategy="bfs",
        strategy_params={"samples": 3},
        generator={"backend": "scripted", "outputs": game24_script(5)},
        budget={"max_calls": 2},
        status="running",
    )
    assert open_ended.id is not None
    stopped = Runner(app_engine, open_ended.id).run_until_idle().run
    assert stopped.answer is None
    at = explorer(open_ended.id)
    best = [i.value for i in at.info if i.value.startswith("Best so far")]
    assert best and "not an answer" in best[0]


def test_compare_two_runs_marks_what_differs_and_draws_both_trees(app_engine: Engine) -> None:
    from treelight.engine.run.creation import create_run
    from treelight.engine.run.loop import Runner

    made = []
    for strategy, seed in (("bfs", 1), ("dfs", 2)):
        run = create_run(
            app_engine,
            task="game24",
            problem="4 4 4 4",
            strategy=strategy,
            generator={"backend": "scripted", "outputs": game24_script(seed)},
            budget={"max_calls": 12},
            seed=seed,
            status="running",
        )
        Runner(app_engine, run.id or 0).run_until_idle()
        made.append(run.id)
    at = explorer(made[0])
    at.switch_page("views/runs_page.py").run()
    at.selectbox(key="cmp_a").set_value(made[0])
    at.selectbox(key="cmp_b").set_value(made[1]).run()
    assert not at.exception
    settings = next(d.value for d in at.dataframe if "differs" in d.value.columns)
    differs = dict(zip(settings[""], settings["differs"], strict=True))
    assert differs["strategy"] == "≠" and differs["seed"] == "≠"
    assert differs["task"] == "" and differs["problem"] == ""
    outcome = [d.value for d in at.dataframe if "differs" in d.value.columns][1]
    assert {"status", "answer", "nodes", "model calls", "tokens"} <= set(outcome[""])


def test_the_inspector_shows_each_verdict_in_full_with_the_judges_own_calls(
    app_engine: Engine,
) -> None:
    from treelight.engine.judges import parse_judge_specs
    from treelight.engine.run.creation import create_run
    from treelight.engine.run.loop import Runner

    run = create_run(
        app_engine,
        task="game24",
        problem="4 4 4 4",
        strategy="bfs",
        strategy_params={"samples": 3},
        generator={"backend": "scripted", "outputs": game24_script(2)},
        judges=parse_judge_specs("game24-verifier,value:samples=2"),
        budget={"max_calls": 12},
        status="running",
    )
    Runner(app_engine, run.id or 0).run_until_idle()
    with Session(app_engine) as session:
        judged = next(
            e
            for e in queries.run_evaluations(session, run.id or 0)
            if e.judge == "value" and len(e.model_call_ids) == 2
        )
        calls = [session.get(ModelCall, i) for i in judged.model_call_ids]
    at = new_app()
    at.query_params["run"] = str(run.id)
    at.session_state["selected_node"] = judged.node_id
    at.run().run()  # the tree first; the inspector follows on the next run
    assert not at.exception
    assert judged.rationale in [t.value for t in at.text]  # whole, not cut off
    assert "The judge's model calls (2)" in [e.label for e in at.expander]
    shown = [c.value for c in at.code]
    for call in calls:
        assert call is not None
        assert call.prompt.strip() in [s.strip() for s in shown], [s[-80:] for s in shown]
        assert (call.output or "(empty)") in shown


def test_good_and_bad_from_the_inspector_with_a_note_shown_as_text(app_engine: Engine) -> None:
    from treelight.engine.run.creation import create_run
    from treelight.engine.run.loop import Runner

    run = create_run(
        app_engine,
        task="game24",
        problem="4 4 4 4",
        strategy="bfs",
        strategy_params={"samples": 3},
        generator={"backend": "scripted", "outputs": game24_script(5)},
        budget={"max_calls": 12},
        status="running",
    )
    assert run.id is not None
    Runner(app_engine, run.id).run_until_idle()
    with Session(app_engine) as session:
        nodes = queries.run_nodes(session, run.id)
    node = next(n for n in nodes if n.parent_id is not None and n.status != "invalid")
    at = explorer(run.id)
    at.session_state["selected_node"] = node.id
    at.run()
    assert at.button(key="label_none").disabled  # nothing to clear yet

    note = "**not** bold <img src=x onerror=alert(1)> [link](javascript:alert(2))"
    at.text_input(key="label_note").input(note)
    at = click(at, "label_good")
    assert not at.exception
    assert ("label", "person", node.id) in events(app_engine, run.id)
    assert note in [t.value for t in at.text], "the note is shown as plain text"
    shown = [m.value for m in at.markdown if "Labelled good" in m.value]
    assert len(shown) == 1 and shown[0].startswith(":material/thumb_up: **Labelled good** by ")
    assert "<img" not in " ".join(m.value for m in at.markdown)
    assert at.button(key="label_none").disabled is False

    at = click(at, "label_bad")  # no note: replaces the good label
    with Session(app_engine) as session:
        label = queries.run_labels(session, run.id)[node.id or 0]
    assert (label.verdict, label.note, label.actor) == ("bad", "", "person")
    assert any(m.value.startswith(":material/thumb_down: **Labelled bad**") for m in at.markdown)
    assert note not in [t.value for t in at.text]

    at = click(at, "label_none")
    with Session(app_engine) as session:
        assert queries.run_labels(session, run.id) == {}
    assert not any("Labelled" in m.value for m in at.markdown)
    assert at.button(key="label_none").disabled
    with Session(app_engine) as session:  # an opinion: the search's record is untouched
        assert [(n.status, n.score) for n in queries.run_nodes(session, run.id)] == [
            (n.status, n.score) for n in nodes
        ]

    at.session_state["selected_node"] = nodes[0].id  # the problem itself takes no label
    at.run()
    assert at.button(key="label_good").disabled and at.button(key="label_bad").disabled


def test_a_thoughts_tokens_are_shaded_by_confidence_and_stay_plain_text(
    app_engine: Engine,
) -> None:
    """Where a backend gave log-probabilities, the inspector draws the output token
    by token with each one's probability and alternatives on hover; hostile tokens
    are escaped, never markup."""
    import html as html_module
    import math
    from html.parser import HTMLParser

    from treelight.app.token_view import token_html
    from treelight.engine.run.creation import create_run
    from treelight.engine.run.loop import Runner

    run = create_run(
        app_engine,
        task="question",
        problem="What is 2+2?",
        strategy="bfs",
        strategy_params={"steps": 1},
        judges=[],
        generator={"backend": "scripted", "outputs": ["Four."] * 4},
        status="running",
    )
    Runner(app_engine, run.id or 0).run_until_idle()
    hostile = '<img src=x onerror="alert(1)">'
    logprobs = [
        {"token": "Four", "logprob": math.log(0.9), "top": [{"token": "Two", "logprob": -3.0}]},
        {"token": "\n", "logprob": 0.0, "top": [], "by": "engine"},  # a distinct-lines break
        {"token": hostile, "logprob": math.log(0.2), "top": [{"token": '"><b>', "logprob": -1}]},
    ]
    with Session(app_engine) as session:
        node = next(n for n in queries.run_nodes(session, run.id or 0) if n.parent_id)
        call = session.get(ModelCall, node.model_call_id)
        assert call is not None
        call.logprobs = logprobs
        session.add(call)
        session.commit()
        node_id = node.id
    at = explorer(run.id or 0)
    at.session_state["selected_node"] = node_id
    at.run()
    assert not at.exception
    [shaded] = [h.proto.body for h in at.get("html") if "rgba(253, 141, 60" in h.proto.body]
    assert shaded == token_html(logprobs)
    assert any("Least sure: " in c.value and "0\\.20" in c.value for c in at.caption)

    class Tags(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tags: list[str] = []
            self.text = ""
            self.titles: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.tags.append(tag)
            self.titles += [value or "" for name, value in attrs if name == "title"]

        def handle_data(self, data: str) -> None:
            self.text += data

    parsed = Tags()
    parsed.feed(shaded)
    assert set(parsed.tags) == {"div", "span"}  # the model's <img> and <b> are text
    assert parsed.text == "Four\n" + hostile
    assert parsed.titles[0] == "p = 0.90 · likeliest: Two 0.05"
    assert parsed.titles[1] == "written by the engine, not sampled"  # no probability claimed
    assert "rgba(253, 141, 60, 0.0)" in shaded
    assert html_module.escape(hostile) in shaded and hostile not in shaded
    # The less sure, the stronger the shade.
    assert "rgba(253, 141, 60, 0.085)" in shaded and "rgba(253, 141, 60, 0.68)" in shaded
