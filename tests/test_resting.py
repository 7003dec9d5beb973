"""How runs come to rest: verified before they end, honest end states, exact steps.

Whatever ends or pauses a run, every candidate a free judge can settle is
settled first; the answer is a candidate that passed its checks; an ended run
has no `open` node; pause and stop are applied between actions and the figures
then shown are final; Step does exactly one action. Also the decisions
strategies make at the end (a majority is a majority, the best is the best).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.conftest import game24_script
from tests.invariants import check_tree_invariants
from treelight.engine import steering
from treelight.engine.judges import parse_judge_specs
from treelight.engine.run.creation import create_run
from treelight.engine.run.loop import Runner
from treelight.engine.run.worker import Worker
from treelight.engine.strategies import strategy_classes
from treelight.storage import hot_path, queries
from treelight.storage.models import Node


def scripted_run(engine: Engine, outputs: list[str], **settings: Any) -> int:
    settings.setdefault("status", "running")
    run = create_run(engine, generator={"backend": "scripted", "outputs": outputs}, **settings)
    assert run.id is not None
    return run.id


def nodes_and_verdicts(engine: Engine, run_id: int) -> tuple[list[Node], dict[int, list]]:
    with Session(engine) as session:
        nodes = queries.run_nodes(session, run_id)
        verdicts: dict[int, list] = {}
        for ev in queries.run_evaluations(session, run_id):
            verdicts.setdefault(ev.node_id, []).append(ev)
    return nodes, verdicts


def two_call_beam(engine: Engine) -> int:
    """A beam search whose budget ends after the first level: it leaves open nodes."""
    return scripted_run(
        engine,
        game24_script(4),
        task="game24",
        problem="4 4 4 4",
        strategy="bfs",
        strategy_params={"samples": 2},
        judges=parse_judge_specs("game24-verifier"),
        budget={"max_calls": 2},
        seed=4,
    )


# --- verify before you end ------------------------------------------------------------

HOSTILE_AND_RIGHT = [
    "```python\nopen('written-by-the-model.txt', 'w').write('x')\n"
    "def add(a, b):\n    return a * b\n```",
    "```python\nimport socket\nsocket.create_connection(('127.0.0.1', 9), timeout=1)\n"
    "def add(a, b):\n    return a + b\n```",
    "```python\ndef add(a, b):\n    while True:\n        pass\n```",
    "```python\nimport os\nwhile True:\n    os.fork()\n```",
    "```python\ndef add(a, b):\n    return a + b\n```",
]


def test_a_budget_that_ends_mid_expansion_still_checks_every_candidate(engine: Engine) -> None:
    """The reported case: best-of-n asks for 8 programs, the budget pays for 5 — a file
    writer, a socket opener, an endless loop, a fork bomb and a right one. Before, the
    run stopped with no verdict at all and called the file writer its answer."""
    run_id = scripted_run(
        engine,
        HOSTILE_AND_RIGHT,
        task="code",
        problem="Write add(a, b).",
        task_params={"tests": "assert add(1, 2) == 3\nassert add(2, 2) == 4\n"},
        strategy="best-of-n",
        judges=parse_judge_specs("code-tests:seconds=3"),
        budget={"max_calls": 5},
    )
    outcome = Runner(engine, run_id).run_until_idle()
    run = outcome.run
    assert run.status == "stopped"
    assert run.status_reason.startswith("model-call budget: 5 of 5 used")
    nodes, verdicts = nodes_and_verdicts(engine, run_id)
    answers = [n for n in nodes if n.parent_id is not None]
    assert len(answers) == 5
    assert all([v.judge for v in verdicts[n.id or 0]] == ["code-tests"] for n in answers)
    right = answers[-1]
    assert right.status == "solved" and run.answer_node_id == right.id
    assert run.answer is not None and "return a + b" in run.answer
    assert [n.status for n in answers[:-1]] == ["pruned"] * 4
    check_tree_invariants(engine, run_id)


SWEEP_PARAMS: dict[str, dict[str, Any]] = {
    "bfs": {"samples": 3},
    "dfs": {"samples": 3},
    "mcts": {"samples": 3},
    "best-of-n": {"n": 4},
    "self-consistency": {"n": 4},
    "evolve": {"population": 4},
    "refine": {},
}


@pytest.mark.parametrize("strategy", list(strategy_classes()))
def test_every_candidate_has_its_verifiers_verdict_whatever_the_budget(
    engine: Engine, strategy: str
) -> None:
    """Call budgets from 1 to 12 end some runs in the middle of an expansion and some
    exactly as an expansion ends (both are checked to occur): every candidate made
    has the verifier's verdict, and the answer passed its gate."""
    endings = set()
    for max_calls in range(1, 13):
        run_id = scripted_run(
            engine,
            game24_script(max_calls),
            task="game24",
            problem="4 4 4 4",
            strategy=strategy,
            strategy_params=SWEEP_PARAMS.get(strategy, {}),
            judges=parse_judge_specs("game24-verifier,value:samples=1"),
            budget={"max_calls": max_calls},
            seed=max_calls,
        )
        run = Runner(engine, run_id).run_until_idle().run
        assert run.status in ("done", "stopped"), run.status_reason
        nodes, verdicts = nodes_and_verdicts(engine, run_id)
        assert "open" not in {n.status for n in nodes}
        for node in nodes:
            born_pruned = node.status_reason.startswith(("duplicate of", "its parent"))
            if node.parent_id is None or node.status in ("invalid", "critique") or born_pruned:
                continue
            judges = [v.judge for v in verdicts.get(node.id or 0, [])]
            assert "game24-verifier" in judges, (max_calls, node.id, node.status, judges)
        if run.answer_node_id is not None:
            answer = next(n for n in nodes if n.id == run.answer_node_id)
            assert answer.status == "solved"
            gate = [v for v in verdicts[answer.id or 0] if v.judge == "game24-verifier"]
            assert gate and all(v.passed for v in gate)
        else:
            assert run.answer is None
        with Session(engine) as session:
            expands = [e for e in queries.run_events(session, run_id) if e.kind == "expand"]
            calls = queries.run_model_calls(session, run_id)
        if expands and "the budget ran out" in expands[-1].reason:
            endings.add("mid-expansion")
        elif run.model_calls == max_calls and calls[-1].id in expands[-1].details["model_calls"]:
            endings.add("as an expansion ends")
        check_tree_invariants(engine, run_id)
    if strategy != "refine":  # refine asks for one sample at a time: nothing to cut
        assert "mid-expansion" in endings
    assert "as an expansion ends" in endings


def test_an_answer_nobody_checked_is_not_reported_as_checked(engine: Engine) -> None:
    """A model gate that the budget kept from speaking: no answer, and the reason says
    which candidate was best but unchecked."""
    run_id = scripted_run(
        engine,
        ["Answer: Paris", "Answer: Lyon"],
        task="question",
        problem="What is the capital of France?",
        strategy="best-of-n",
        strategy_params={"n": 2},
        judges=parse_judge_specs("value:role=gate;samples=1"),
        budget={"max_calls": 2},
    )
    run = Runner(engine, run_id).run_until_idle().run
    assert run.status == "stopped" and run.answer is None
    assert "no answer passed its checks (the best one that did not: #" in run.status_reason


def test_an_answer_judged_by_models_only_says_so(engine: Engine) -> None:
    run_id = scripted_run(
        engine,
        ["Answer: Lyon", "Answer: Paris", "Answer: Nice", "impossible", "sure", "likely"],
        task="question",
        problem="What is the capital of France?",
        strategy="best-of-n",
        strategy_params={"n": 3},
        judges=parse_judge_specs("value:samples=1"),
    )
    run = Runner(engine, run_id).run_until_idle().run
    assert run.status == "done"
    # The best-scored answer (Paris: "sure"), not the first or the last one.
    assert run.answer == "Paris"
    assert run.status_reason == "best of 3 samples; judged by models only, not verified"


def test_self_consistency_takes_the_majority_not_the_best_scored(engine: Engine) -> None:
    outputs = ["Answer: Lyon", "Answer: Paris", "Answer: Lyon", "Answer: Nice", "Answer: lyon"]
    run_id = scripted_run(
        engine,
        outputs + ["impossible", "sure", "impossible", "likely", "impossible"],
        task="question",
        problem="What is the capital of France?",
        strategy="self-consistency",
        strategy_params={"n": 5, "batch": 5},  # all five, then the verdicts (the script's order)
        judges=parse_judge_specs("value:samples=1"),
    )
    run = Runner(engine, run_id).run_until_idle().run
    assert run.status == "done"
    assert run.answer is not None and run.answer.lower() == "lyon"  # 3 of 5, scored lowest
    assert run.status_reason.startswith("majority vote: 3 of 5 answers agree")


def test_a_checked_answer_is_preferred_to_a_majority_that_failed_its_check(
    engine: Engine,
) -> None:
    run_id = scripted_run(
        engine,
        ["Answer: 18", "Answer: 18", "Answer: 17"],
        task="math",
        problem="Anna has 12 pencils and gets 5 more. How many?",
        task_params={"answer": "17"},
        strategy="self-consistency",
        strategy_params={"n": 3},
        judges=parse_judge_specs("calculator,answer"),
    )
    run = Runner(engine, run_id).run_until_idle().run
    assert run.status == "done" and run.answer == "17"
    assert run.status_reason.startswith("majority vote: 1 of 1 answers agree")


# --- honest end states ----------------------------------------------------------------


def test_a_finished_mcts_run_has_no_open_node(engine: Engine) -> None:
    run_id = scripted_run(
        engine,
        game24_script(3),
        task="game24",
        problem="4 4 4 4",
        strategy="mcts",
        strategy_params={"iterations": 3, "samples": 2},
        judges=parse_judge_specs("game24-verifier"),
        seed=3,
    )
    run = Runner(engine, run_id).run_until_idle().run
    assert run.status == "done"
    nodes, _ = nodes_and_verdicts(engine, run_id)
    statuses = {n.status for n in nodes}
    assert "open" not in statuses and "unexplored" in statuses
    left = [n for n in nodes if n.status == "unexplored"]
    assert all(
        n.status_reason == f"the run ended before expanding it: {run.status_reason}" for n in left
    )


def test_resuming_a_stopped_run_opens_what_it_left_unexplored(engine: Engine) -> None:
    run_id = two_call_beam(engine)
    run = Runner(engine, run_id).run_until_idle().run
    assert run.status == "stopped"
    nodes, _ = nodes_and_verdicts(engine, run_id)
    unexplored = {n.id for n in nodes if n.status == "unexplored"}
    assert unexplored
    with Session(engine) as session:
        stored = queries.get_run(session, run_id)
        assert stored is not None
        stored.budget = {"max_calls": 6}
        session.add(stored)
        session.commit()
    steering.resume(engine, run_id)
    nodes, _ = nodes_and_verdicts(engine, run_id)
    assert {n.id for n in nodes if n.status == "open"} >= unexplored
    run = Runner(engine, run_id).run_until_idle().run
    assert run.model_calls > 2
    check_tree_invariants(engine, run_id)


# --- pause, stop and step: requested, then applied between actions ---------------------


def slow_run(engine: Engine, delay: float = 0.05) -> int:
    run = create_run(
        engine,
        task="game24",
        problem="4 4 4 4",
        strategy="bfs",
        strategy_params={"samples": 3},
        generator={"backend": "scripted", "outputs": game24_script(5), "delay": delay},
        judges=parse_judge_specs("game24-verifier,value"),
        budget={"max_calls": 200},
        status="running",
    )
    assert run.id is not None
    return run.id


def ledger(engine: Engine, run_id: int) -> hot_path.RunLedger:
    with engine.connect() as connection:
        return hot_path.run_ledger(connection, run_id)


@pytest.mark.parametrize("command", ["pause", "stop"])
def test_pause_and_stop_are_applied_between_actions_and_then_nothing_moves(
    engine: Engine, command: str
) -> None:
    run_id = slow_run(engine)
    outcome: list = []
    worker = threading.Thread(
        target=lambda: outcome.append(Runner(engine, run_id).run_until_idle())
    )
    worker.start()
    deadline = time.monotonic() + 30
    while ledger(engine, run_id).model_calls < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    asked = getattr(steering, command)(engine, run_id)
    # The runner holds the run: the request waits for it (between two model calls at
    # the latest), or the runner has applied it already.
    ended = {"pause": "paused", "stop": "stopped"}[command]
    assert (asked.status, asked.requested) in (("running", command), (ended, ""))
    worker.join(30)
    assert not worker.is_alive()
    final = ledger(engine, run_id)
    assert final.status == {"pause": "paused", "stop": "stopped"}[command]
    assert final.requested == ""
    assert outcome[0].run.model_calls == final.model_calls
    time.sleep(0.3)
    assert ledger(engine, run_id).model_calls == final.model_calls  # it has really stopped
    nodes, verdicts = nodes_and_verdicts(engine, run_id)
    for node in nodes:  # checked before it rested
        if node.parent_id is not None and node.status in ("open", "terminal", "unexplored"):
            assert any(v.judge == "game24-verifier" for v in verdicts.get(node.id or 0, []))
    if command == "stop":
        assert "open" not in {n.status for n in nodes}


def test_stop_on_a_paused_run_nobody_works_on_is_applied_at_once(engine: Engine) -> None:
    run_id = slow_run(engine, delay=0)
    runner = Runner(engine, run_id)
    runner.step()  # expand the problem: three unchecked candidates
    steering.pause(engine, run_id)
    assert ledger(engine, run_id).status == "paused"
    nodes, verdicts = nodes_and_verdicts(engine, run_id)
    assert all(verdicts.get(n.id or 0) for n in nodes if n.status in ("open", "terminal"))
    run = steering.stop(engine, run_id)
    assert (run.status, run.requested) == ("stopped", "")
    nodes, _ = nodes_and_verdicts(engine, run_id)
    assert "open" not in {n.status for n in nodes}


def test_step_does_exactly_one_action(engine: Engine) -> None:
    run_id = slow_run(engine, delay=0)
    steering.pause(engine, run_id)
    for _ in range(5):
        before = ledger(engine, run_id).actions
        steering.step(engine, run_id)
        run = Runner(engine, run_id).run_until_idle().run
        assert run.status == "paused" and run.steps_requested == 0
        assert run.actions == before + 1


def test_step_on_a_running_run_pauses_after_the_action_in_flight(engine: Engine) -> None:
    run_id = slow_run(engine)
    worker = threading.Thread(target=lambda: Runner(engine, run_id).run_until_idle())
    worker.start()
    while ledger(engine, run_id).model_calls < 1:
        time.sleep(0.02)
    steering.step(engine, run_id)
    worker.join(30)
    run = ledger(engine, run_id)
    assert run.status == "paused" and run.steps_requested == 0


def test_a_stop_cuts_an_action_between_its_model_calls(engine: Engine) -> None:
    """Judging six candidates takes six value calls; a stop that comes after the first
    costs at most the call in flight, and a resumed run asks for nothing twice."""
    run = create_run(
        engine,
        task="game24",
        problem="4 4 4 4",
        strategy="bfs",
        strategy_params={"samples": 6},
        generator={"backend": "scripted", "outputs": game24_script(5), "delay": 0.3},
        judges=parse_judge_specs("value:samples=1"),
        budget={"max_calls": 40},
        status="running",
    )
    run_id = run.id or 0
    worker = threading.Thread(target=lambda: Runner(engine, run_id).run_until_idle())
    worker.start()
    deadline = time.monotonic() + 30
    while ledger(engine, run_id).model_calls < 7 and time.monotonic() < deadline:
        time.sleep(0.01)  # the six proposals, then the first verdict
    at_stop = ledger(engine, run_id).model_calls
    steering.stop(engine, run_id)
    worker.join(30)
    final = ledger(engine, run_id)
    assert final.status == "stopped" and final.requested == ""
    assert at_stop == 7 and final.model_calls <= at_stop + 1  # not the other five verdicts
    steering.resume(engine, run_id)
    Runner(engine, run_id).run_until_idle()
    with Session(engine) as session:
        calls = queries.run_model_calls(session, run_id)
    assert len(calls) > final.model_calls
    assert len({c.fingerprint for c in calls}) == len(calls)  # what was asked is reused


# --- a judge swap reports what would change ---------------------------------------------


def test_a_judge_swap_reports_the_decisions_that_would_change(engine: Engine) -> None:
    """A beam of 1 keeps the step the value judge calls sure and cuts the other; the
    vote judge swapped in prefers the other, and the report must say the beam flips."""
    run_id = scripted_run(
        engine,
        ["4 + 4 = 8 (left: 4 4 8)\n4 * 4 = 16 (left: 4 4 16)", "impossible", "sure", "-"]
        + ["The best choice is 1"],  # what the swapped-in judge will say
        task="game24",
        problem="4 4 4 4",
        strategy="bfs",
        strategy_params={"beam": 1, "steps": 2},
        judges=parse_judge_specs("game24-verifier,value:samples=1"),
    )
    run = Runner(engine, run_id).run_until_idle().run
    assert run.status == "done"
    first, second, _ = [n for n in nodes_and_verdicts(engine, run_id)[0] if n.parent_id]
    assert first.status == "pruned" and first.status_reason.startswith("beam cutoff")
    assert second.status == "expanded"
    steering.swap_judges(engine, run_id, parse_judge_specs("game24-verifier,vote:samples=1"), True)
    Runner(engine, run_id).run_until_idle()  # serves the queued re-score
    with Session(engine) as session:
        [report] = [e for e in queries.run_events(session, run_id) if e.kind == "rescore_report"]
    assert report.details["changes"] == [
        f"#{second.id} would fall out of the beam at depth 1",
        f"#{first.id} would be kept in the beam at depth 1",
    ]


def test_a_judge_swap_rescores_the_frontier_at_once_and_counts_threshold_flips(
    engine: Engine,
) -> None:
    """Depth first with a threshold: the value judge calls one step impossible (cut by
    the threshold) and the other likely. Swapped for a vote that prefers the cut one,
    on a paused run: a worker re-scores at once (no resume), and the report counts
    the threshold cut that would flip."""
    run_id = scripted_run(
        engine,
        ["4 + 4 = 8 (left: 4 4 8)\n4 * 4 = 16 (left: 4 4 16)", "impossible", "likely"]
        + ["The best choice is 1"] * 4,  # what the swapped-in vote will say
        task="game24",
        problem="4 4 4 4",
        strategy="dfs",
        judges=parse_judge_specs("game24-verifier,value:samples=1"),
    )
    runner = Runner(engine, run_id)
    for _ in range(3):  # expand, judge, prune by the threshold
        runner.step()
    steering.pause(engine, run_id)
    first, second = [n for n in nodes_and_verdicts(engine, run_id)[0] if n.parent_id]
    assert (first.status, first.pruned_by, second.status) == ("pruned", "threshold", "open")

    steering.swap_judges(engine, run_id, parse_judge_specs("game24-verifier,vote:samples=1"))
    Worker(engine).work_once()  # the re-score is served on the paused run, at once
    assert ledger(engine, run_id).status == "paused"
    with Session(engine) as session:
        reports = [
            e.reason for e in queries.run_events(session, run_id) if e.kind == "rescore_report"
        ]
        second_now = session.get(Node, second.id)
    assert reports == ["re-scored the open frontier: 1 node"]
    assert second_now is not None and second_now.score is not None  # the vote's score

    steering.swap_judges(engine, run_id, parse_judge_specs("game24-verifier,vote:samples=1"), True)
    Worker(engine).work_once()
    with Session(engine) as session:
        [*_, report] = [
            e for e in queries.run_events(session, run_id) if e.kind == "rescore_report"
        ]
    assert f"#{first.id} would now pass the threshold (1.00 ≥ 0.01)" in report.details["changes"]
    assert report.reason.startswith("re-scored 2 nodes;")


def test_replay_shows_unexplored_nodes_from_the_end_of_the_run(engine: Engine) -> None:
    from treelight.engine.views.replay import tree_at

    run_id = two_call_beam(engine)
    Runner(engine, run_id).run_until_idle()
    with Session(engine) as session:
        nodes = queries.run_nodes(session, run_id)
        events = queries.run_events(session, run_id)
    final = {n.id: n.status for n in nodes}
    assert "unexplored" in final.values()
    at_end = {n.id: n.status for n in tree_at(nodes, events, len(events) - 1)}
    assert at_end == final
    ended = next(i for i, e in enumerate(events) if e.kind == "unexplored")
    before = {n.id: n.status for n in tree_at(nodes, events, ended - 1)}
    assert {before[i] for i, s in final.items() if s == "unexplored"} == {"open"}


def test_a_restore_while_the_run_comes_to_rest_leaves_no_open_node(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forced: a person restores a pruned node in the very moment the run rests. The
    rest holds the run's lock from its look at the tree to its write, so the restore
    waits, sees an ended run, and brings the node back as `unexplored`, not `open`."""
    from treelight.engine.run import resting

    run_id = two_call_beam(engine)
    runner = Runner(engine, run_id)
    runner.step()  # expand the problem
    with Session(engine) as session:
        kids = [n for n in queries.run_nodes(session, run_id) if n.parent_id is not None]
    victim = next(n for n in kids if n.status == "open")
    steering.prune(engine, run_id, victim.id or 0)
    real_choose = resting.choose_answer
    restored = threading.Event()

    def choose_while_a_person_restores(*args: Any) -> Any:
        threading.Thread(
            target=lambda: (steering.restore(engine, run_id, victim.id or 0), restored.set())
        ).start()
        restored.wait(1.0)  # with the lock held, the person waits for the rest
        return real_choose(*args)

    monkeypatch.setattr(resting, "choose_answer", choose_while_a_person_restores)
    run = Runner(engine, run_id).run_until_idle().run
    assert restored.wait(10)
    assert run.status == "done"  # nothing was left to expand once the victim was pruned
    with Session(engine) as session:
        node = session.get(Node, victim.id)
    assert node is not None and node.status == "unexplored"
    check_tree_invariants(engine, run_id)


def test_a_person_who_restores_a_rejected_answer_is_not_overruled(engine: Engine) -> None:
    """The answer checker (a free gate) rejects 18; the value judge never sees it. A
    person restores it: the runner must not judge and prune it again, and it is
    still not an answer that passed its checks."""
    run_id = scripted_run(
        engine,
        ["Answer: 18", "Answer: 17", "sure", "sure"],
        task="math",
        problem="Anna has 12 pencils and gets 5 more. How many?",
        task_params={"answer": "17"},
        strategy="best-of-n",
        strategy_params={"n": 2},
        judges=parse_judge_specs("answer,value:samples=1"),
    )
    runner = Runner(engine, run_id)
    runner.step()  # two answers
    runner.step()  # judged: 18 rejected by the checker, 17 solved, one value call
    nodes, verdicts = nodes_and_verdicts(engine, run_id)
    wrong, right = [n for n in nodes if n.parent_id is not None]
    assert wrong.status == "pruned" and [v.judge for v in verdicts[wrong.id or 0]] == ["answer"]
    assert right.status == "solved"
    assert steering.restore(engine, run_id, wrong.id or 0) == 1
    run = Runner(engine, run_id).run_until_idle().run
    assert run.status == "done" and run.answer == "17" and run.model_calls == 3
    with Session(engine) as session:
        prunes = [e for e in queries.run_events(session, run_id) if e.kind == "prune"]
        assert session.get(Node, wrong.id).status == "terminal"  # type: ignore[union-attr]
    assert [e.node_id for e in prunes] == [wrong.id]
