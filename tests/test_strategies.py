"""What MCTS, self-refine, evolve, the loop rules and counterfactuals do to a tree.

(The invariants every strategy shares — connected tree, every candidate kept,
budgets, pause/resume, kill/resume — are in test_invariants.py and
test_crash_resume.py, parametrized over all of them.)
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.conftest import game24_script, question_script
from treelight.engine import steering
from treelight.engine.errors import BadArguments
from treelight.engine.judges import parse_judge_specs
from treelight.engine.run.creation import create_run
from treelight.engine.run.loop import Runner
from treelight.engine.strategies.base import cut_below, ranked
from treelight.engine.strategies.sampling import lead_probability
from treelight.engine.types import NodeView
from treelight.storage import queries
from treelight.storage.models import Node, Run

ADD_TESTS = "assert add(1, 2) == 3\n\n\ndef test_negative():\n    assert add(-1, 1) == 0\n"


def run(
    engine: Engine,
    strategy: str,
    outputs: list[str],
    *,
    task: str = "question",
    problem: str = "What is 2+2?",
    judges: str = "value:samples=1",
    params: dict[str, Any] | None = None,
    task_params: dict[str, Any] | None = None,
    budget: dict[str, Any] | None = None,
) -> tuple[int, list[Node]]:
    created = create_run(
        engine,
        task=task,
        problem=problem,
        strategy=strategy,
        strategy_params=params or {},
        task_params=task_params,
        generator={"backend": "scripted", "outputs": outputs},
        judges=parse_judge_specs(judges),
        budget=budget or {"max_calls": 40},
        seed=3,
        status="running",
    )
    assert created.id is not None
    outcome = Runner(engine, created.id).run_until_idle()
    assert outcome.error is None, outcome.error
    with Session(engine) as session:
        return created.id, queries.run_nodes(session, created.id)


def test_mcts_backs_every_reward_up_to_the_root(engine: Engine) -> None:
    # Each expansion takes two thoughts, each judging one word: likely, then sure.
    run_id, nodes = run(
        engine,
        "mcts",
        ["A step.", "Another step.", "likely", "sure"] * 10,
        params={"iterations": 6, "samples": 2},
        budget={"max_calls": 60},
    )
    main = [n for n in nodes if n.branch == "main"]
    kids: dict[int | None, list[Node]] = {}
    for node in main:
        kids.setdefault(node.parent_id, []).append(node)
    root = next(n for n in main if n.parent_id is None)
    assert root.visits == sum(k.visits for k in kids[root.id]) > 0
    for node in main:
        if node.parent_id is None:
            continue
        below = kids.get(node.id, [])
        # Its own reward once, plus every reward backed up through it.
        assert node.visits == 1 + sum(k.visits for k in below), node.id
        own = node.value - sum(k.value for k in below)
        assert 0.0 <= own <= 1.0 + 1e-9
    expansions = [n for n in main if n.id in kids]
    assert len(expansions) == 6  # iterations: each one expanded one node
    with Session(engine) as session:
        backups = [e for e in queries.run_events(session, run_id) if e.kind == "backup"]
    assert backups and all(e.details["rewards"] for e in backups)


def test_mcts_selection_prefers_the_branch_with_the_better_reward(engine: Engine) -> None:
    # Root gets two children; the value judge says "sure" to the first, "impossible"
    # to the second; the next expansion must go below the first.
    outputs = ["Good step.", "Bad step.", "sure", "impossible", "Next.", "Next."] + ["sure"] * 10
    run_id, nodes = run(
        engine, "mcts", outputs, params={"iterations": 2, "samples": 2, "exploration": 0.1}
    )
    good = next(n for n in nodes if n.text == "Good step.")
    bad = next(n for n in nodes if n.text == "Bad step.")
    assert good.score == 1.0 and bad.score is not None and bad.score < 0.01
    assert {n.parent_id for n in nodes if n.text == "Next."} == {good.id}
    assert good.visits == 3 and bad.visits == 1


def test_mcts_with_logprob_priors_explores_what_the_model_found_likelier() -> None:
    """PUCT: with equal rewards and visits, the sibling the model gave more
    probability gets the bigger exploration bonus; plain UCT cannot tell them apart
    (the older wins the tie), and a child with no probability gets an equal share."""
    import math

    from tests.conftest import node_view
    from treelight.engine.strategies.mcts import MonteCarlo, sibling_priors
    from treelight.engine.tasks.game24 import Game24

    parent = node_view(id=1, parent_id=None, depth=0, visits=4, value=2.0)
    older = node_view(id=2, visits=2, value=1.0, logprob=math.log(0.2))
    likelier = node_view(id=3, visits=2, value=1.0, logprob=math.log(0.6))
    person = node_view(id=4, visits=2, value=1.0, logprob=None, origin="person")
    shares = sibling_priors([older, likelier])
    assert shares == pytest.approx({2: 0.25, 3: 0.75})
    assert sum(sibling_priors([older, likelier, person]).values()) == pytest.approx(1.0)
    assert sibling_priors([person]) == {4: 1.0}
    task = Game24("4 9 10 13")
    puct = MonteCarlo(task, {"priors": "logprob"})
    uct = MonteCarlo(task, {})
    pick = max([older, likelier], key=lambda k: puct._uct(k, parent, shares))
    assert pick.id == 3
    assert max([older, likelier], key=lambda k: uct._uct(k, parent)).id == 2
    with pytest.raises(BadArguments, match="priors"):
        MonteCarlo(task, {"priors": "likelihood"})


def test_refine_writes_verifier_feedback_as_a_critique_and_revises(engine: Engine) -> None:
    wrong = "```python\ndef add(a, b):\n    return a - b\n```"
    right = "```python\ndef add(a, b):\n    return a + b\n```"
    run_id, nodes = run(
        engine,
        "refine",
        [wrong, right],
        task="code",
        problem="Write add(a, b) returning the sum.",
        judges="code-tests",
        task_params={"tests": ADD_TESTS},
    )
    first, critique, revised = sorted((n for n in nodes if n.parent_id), key=lambda n: n.id)
    assert first.status == "pruned" and "add(1, 2) gave -1" in first.status_reason
    assert critique.status == "critique" and critique.origin == "judge"
    assert critique.parent_id == first.id and critique.model_call_id is None
    assert "add(1, 2) gave -1" in critique.text
    assert revised.parent_id == critique.id and revised.status == "solved"
    with Session(engine) as session:
        calls = queries.run_model_calls(session, run_id)
        run_row = queries.get_run(session, run_id)
    assert len(calls) == 2  # the critique cost no model call
    assert "add(1, 2) gave -1" in calls[1].prompt and "return a - b" in calls[1].prompt
    assert run_row is not None and run_row.status_reason == "the judges pass the answer"
    assert run_row.answer == "def add(a, b):\n    return a + b"


def test_refine_asks_the_model_for_a_critique_when_no_checker_spoke(engine: Engine) -> None:
    outputs = ["Answer: Lyon", "impossible", "Lyon is not the capital.", "Answer: Paris", "sure"]
    run_id, nodes = run(
        engine,
        "refine",
        outputs,
        problem="What is the capital of France?",
        params={"rounds": 1, "pass_score": 0.9},
    )
    answer, critique, revised = sorted((n for n in nodes if n.parent_id), key=lambda n: n.id)
    assert answer.status == "terminal" and answer.score is not None and answer.score < 0.9
    assert critique.status == "critique" and critique.origin == "model"
    assert critique.text == "Lyon is not the capital."
    assert revised.text == "Answer: Paris" and revised.score == 1.0
    with Session(engine) as session:
        run_row = queries.get_run(session, run_id)
    assert run_row is not None and run_row.answer == "Paris"


def test_evolve_selects_parents_and_mutates_them_by_generation(engine: Engine) -> None:
    run_id, nodes = run(
        engine,
        "evolve",
        question_script(9),
        params={"population": 4, "parents": 2, "generations": 3},
        budget={"max_calls": 80},
    )
    main = [n for n in nodes if n.branch == "main" and n.parent_id is not None]
    by_id = {n.id: n for n in main}
    for generation in {n.depth for n in main}:
        members = [n for n in main if n.depth == generation]
        survivors = [n for n in members if n.status in ("terminal", "open", "solved")]
        assert len(survivors) <= 2, generation
        not_selected = [n for n in members if n.status_reason.startswith("selection")]
        for node in not_selected:
            assert f"not selected in generation {generation} — rank" in node.status_reason
        if generation > 1:  # every member's parent survived the selection before
            assert all(by_id[n.parent_id].status != "pruned" for n in members if n.parent_id)
    with Session(engine) as session:
        calls = queries.run_model_calls(session, run_id)
    mutations = [c for c in calls if "An earlier attempt" in c.prompt]
    assert mutations, "later generations are mutations of earlier answers"
    assert all("What was wrong with it: value:" in c.prompt for c in mutations)


def test_loop_rule_more_if_below_adds_candidates_beside_the_best(engine: Engine) -> None:
    outputs = ["Answer: 3", "Answer: 5", "likely", "impossible", "Answer: 4", "Answer: 4"] + [
        "sure"
    ] * 6
    run_id, nodes = run(
        engine,
        "best-of-n",
        outputs,
        params={"n": 2, "more_if_below": 0.5, "more": 2},
    )
    more = [n for n in nodes if n.origin == "more"]
    assert [n.text for n in more] == ["Answer: 4", "Answer: 4"]
    with Session(engine) as session:
        notes = [e.reason for e in queries.run_events(session, run_id) if e.kind == "expand"]
        run_row = queries.get_run(session, run_id)
    assert any(note.startswith("more: best score 0.05 < 0.5, so 2 more") for note in notes)
    assert run_row is not None and run_row.answer == "4"


def test_loop_rule_backtracks_after_consecutive_failures(engine: Engine) -> None:
    outputs = [
        "4 + 4 = 8 (left: 4 4 8)\n4 * 4 = 16 (left: 4 4 16)",  # root: two good steps
        "sure",
        "likely",
        "9 + 9 = 18 (left: 18)",  # under #2: invalid
        "9 * 9 = 81 (left: 81)",  # under #2 again? no: backtrack to #3 first
    ] + ["7 + 7 = 14 (left: 14)"] * 10
    run_id, nodes = run(
        engine,
        "dfs",
        outputs,
        task="game24",
        problem="4 4 4 4",
        judges="game24-verifier,value:samples=1",
        params={"backtrack_after": 1, "good_score": 0.01},
        budget={"max_calls": 8},
    )
    with Session(engine) as session:
        events = queries.run_events(session, run_id)
    backtracks = [e for e in events if e.kind == "backtrack"]
    assert backtracks and "the last 1 expansions gave no live candidate" in backtracks[0].reason
    assert any(n.origin == "backtrack" for n in nodes)


def test_a_pruned_node_expanded_anyway_grows_a_counterfactual_branch(engine: Engine) -> None:
    run_id, nodes = run(
        engine,
        "bfs",
        game24_script(3),
        task="game24",
        problem="4 4 4 4",
        judges="game24-verifier,value",
        params={"samples": 3, "beam": 1, "steps": 2},
    )
    pruned = next(n for n in nodes if n.status == "pruned" and "beam cutoff" in n.status_reason)
    open_node = next((n for n in nodes if n.status in ("open", "expanded") and n.parent_id), None)
    if open_node is not None:
        with pytest.raises(BadArguments, match="only a pruned node has a counterfactual"):
            steering.counterfactual(engine, run_id, open_node.id or 0)
    before = {n.id: (n.status, n.text) for n in nodes}
    steering.counterfactual(engine, run_id, pruned.id or 0)
    Runner(engine, run_id).run_until_idle()  # serves the command
    with Session(engine) as session:
        after = queries.run_nodes(session, run_id)
        commands = queries.run_commands(session, run_id)
    branch = [n for n in after if n.branch == "counterfactual-1"]
    assert branch and all(n.parent_id == pruned.id for n in branch)
    assert all(n.origin == "counterfactual" for n in branch)
    assert {n.id: (n.status, n.text) for n in after if n.id in before} == before  # untouched
    assert commands[-1].status == "done" and "kept apart" in commands[-1].result


# --- adaptive self-consistency --------------------------------------------------------------


def adaptive_run(engine: Engine, outputs: list[str], **params: Any) -> Run:
    run = create_run(
        engine,
        task="question",
        problem="What is the capital of France?",
        strategy="self-consistency",
        strategy_params={"n": 10, **params},
        generator={"backend": "scripted", "outputs": outputs},
        judges=[],
        status="running",
    )
    return Runner(engine, run.id or 0).run_until_idle().run


def test_the_lead_probability_is_the_beta_posterior_tail() -> None:
    assert lead_probability(3, 0) == pytest.approx(0.9375)
    assert lead_probability(4, 0) == pytest.approx(0.96875)
    assert lead_probability(2, 2) == pytest.approx(0.5)
    assert lead_probability(6, 1) > lead_probability(5, 1) > lead_probability(5, 2)


def test_self_consistency_stops_once_the_vote_is_settled_and_says_what_it_saved(
    engine: Engine,
) -> None:
    agree = ["Answer: Paris"] * 10
    run = adaptive_run(engine, agree)  # confidence 0.95: 4 of 4 is enough (0.969)
    assert run.answer == "Paris" and run.model_calls == 4
    assert "stopped after 4 of 10 samples (the leader is ahead with probability 0.969" in (
        run.status_reason
    )
    run = adaptive_run(engine, agree, confidence=1.0)  # only when the rest cannot change it
    assert run.model_calls == 6
    assert "stopped after 6 of 10 samples (the 4 left could not change the winner)" in (
        run.status_reason
    )
    split = ["Answer: Paris", "Answer: Lyon"] * 5
    run = adaptive_run(engine, split)  # never settled: all ten are drawn
    assert run.model_calls == 10 and "stopped after" not in run.status_reason


def test_adaptive_rounds_draw_the_same_samples_as_one_round_of_all(engine: Engine) -> None:
    outputs = ["Answer: Paris", "Answer: Lyon", "Answer: Paris", "Answer: Paris"] * 3
    adaptive = adaptive_run(engine, outputs, batch=2)
    whole = adaptive_run(engine, outputs, batch=10)
    with Session(engine) as session:
        drawn = [c.fingerprint for c in queries.run_model_calls(session, adaptive.id or 0)]
        every = [c.fingerprint for c in queries.run_model_calls(session, whole.id or 0)]
    assert whole.model_calls == 10 and adaptive.model_calls < 10
    assert drawn == every[: len(drawn)]  # the same seeds, in the same order: a prefix


def _view(node_id: int, score: float | None, pinned: bool = False) -> NodeView:
    return NodeView(
        id=node_id, key=f"0/{node_id}", parent_id=1, depth=1, text=f"#{node_id}", state={},
        status="open", status_reason="", origin="model", branch="main", score=score,
        visits=0, value=0.0, pinned=pinned, evaluated=True,
    )  # fmt: skip


def test_a_beam_cut_says_why_in_words_that_are_true() -> None:
    """A tie is a tie (cut by the tie rule), a pin is a pin, and scores that print
    alike are printed with the digits that tell them apart."""
    tied = cut_below(ranked([_view(2, 0.33), _view(3, 0.33)]), 1, "beam cutoff")
    assert tied is not None
    [why] = tied.reasons.values()
    assert "tied at 0.33 with #" in why and "tie rule" in why and "<" not in why
    pinned = cut_below(ranked([_view(4, 0.1, pinned=True), _view(5, 0.9)]), 1, "beam cutoff")
    assert pinned is not None
    assert pinned.reasons == {
        5: "beam cutoff — rank 2 of 2, score 0.90, behind #4, which a person pinned"
    }
    close = cut_below(ranked([_view(6, 0.334), _view(7, 0.331)]), 1, "beam cutoff")
    assert close is not None and close.reasons[7].endswith("score 0.331 < 0.334")
    plain = cut_below(ranked([_view(8, 0.8), _view(9, 0.2)]), 1, "beam cutoff", " (beam 1)")
    assert (
        plain is not None
        and plain.reasons[9] == "beam cutoff — rank 2 of 2, score 0.20 < 0.80 (beam 1)"
    )
