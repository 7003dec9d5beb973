"""Checks every strategy must pass, shared by the invariant and crash tests."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from treelight.engine.tasks import make_task
from treelight.engine.tasks.base import WHOLE_ANSWER_MODES
from treelight.storage import queries
from treelight.storage.models import Run
from treelight.storage.vocabulary import PrunedBy


def tree_signature(engine: Engine, run_id: int) -> dict[str, Any]:
    """Everything that should be equal between an interrupted and an uninterrupted run."""
    with Session(engine) as session:
        run = queries.get_run(session, run_id)
        assert run is not None
        nodes = queries.run_nodes(session, run_id)
        evaluations = queries.run_evaluations(session, run_id)
        keys = {n.id: n.key for n in nodes}

        def by_key(text: str) -> str:  # node ids differ between runs; keys do not
            return re.sub(r"#(\d+)", lambda m: f"#{keys.get(int(m[1]), m[1])}", text)

        return {
            "status": run.status,
            "reason": run.status_reason,
            "answer": run.answer,
            "model_calls": run.model_calls,
            "tokens": run.prompt_tokens + run.completion_tokens,
            "nodes": sorted(
                (n.key, n.text, n.status, by_key(n.status_reason), n.score, repr(n.state))
                for n in nodes
            ),
            "evaluations": sorted(
                (keys[e.node_id], e.judge, e.score, e.passed, by_key(e.rationale))
                for e in evaluations
            ),
        }


def check_tree_invariants(engine: Engine, run_id: int) -> None:
    with Session(engine) as session:
        run = queries.get_run(session, run_id)
        assert run is not None
        nodes = queries.run_nodes(session, run_id)
        calls = queries.run_model_calls(session, run_id)
        events = queries.run_events(session, run_id)
    by_id = {n.id: n for n in nodes}

    # Connected: one root, every other node hangs under a node of the same run.
    roots = [n for n in nodes if n.parent_id is None]
    assert len(roots) == 1, roots
    for node in nodes:
        if node.parent_id is not None:
            parent = by_id[node.parent_id]
            assert node.depth == parent.depth + 1
            assert node.key.startswith(parent.key + "/")
    assert len({n.key for n in nodes}) == len(nodes), "duplicated node keys"

    # Who pruned a node is a field, set exactly while it is pruned, and agrees with
    # the last prune event (the audit log and the tree tell the same story).
    last_prune = {e.node_id: e for e in events if e.kind == "prune"}
    for node in nodes:
        if node.status == "pruned":
            assert node.pruned_by in set(PrunedBy) - {PrunedBy.NONE}, (node.id, node.pruned_by)
            assert last_prune[node.id].details.get("by") == node.pruned_by, node.id
        else:
            assert node.pruned_by == "", (node.id, node.status, node.pruned_by)

    # Budgets never exceeded, and the run's totals are the sum of its call rows.
    made = [c for c in calls if c.error is None]
    assert run.model_calls == len(made)
    assert run.prompt_tokens == sum(c.prompt_tokens for c in made)
    assert run.completion_tokens == sum(c.completion_tokens for c in made)
    budget = run.budget
    if "max_calls" in budget:
        assert run.model_calls <= budget["max_calls"]
    if "max_tokens" in budget:
        assert run.prompt_tokens + run.completion_tokens <= budget["max_tokens"]
    if "max_nodes" in budget:
        assert len(nodes) <= budget["max_nodes"]

    # Every candidate the generator returned is a node (or counted as not added
    # when the node budget ran out).
    task = make_task(run.task, run.problem, run.task_params)
    call_by_id = {c.id: c for c in calls}
    for event in (e for e in events if e.kind == "expand"):
        mode = event.details["mode"]
        parse_as = "solution" if mode in WHOLE_ANSWER_MODES else mode
        made_by = set(event.details["model_calls"])
        expected = 0
        for call_id in made_by:
            output = call_by_id[call_id].output
            found = 1 if mode == "critique" else len(task.parse_candidates(output, parse_as))
            expected += max(1, found)  # an output with no candidate is one invalid node
        children = [n for n in nodes if n.parent_id == event.node_id and n.model_call_id in made_by]
        assert len(children) + event.details.get("not_added", 0) == expected

    check_end_state(engine, run_id)


BUDGET_REASONS = ("model-call budget", "token budget", "time budget", "node budget")


def check_end_state(engine: Engine, run_id: int) -> None:
    """An ended run says what is so: `stopped` only by a budget that really ran out or
    by a person, `done` only when the strategy ended it; no open node; an answer only
    on a finished candidate that passed its checks."""
    with Session(engine) as session:
        run = queries.get_run(session, run_id)
        assert run is not None
        nodes = {n.id: n for n in queries.run_nodes(session, run_id)}
    assert run.requested == "", "a pause or stop was never applied"
    if run.status not in ("done", "stopped"):
        return
    assert not [n.id for n in nodes.values() if n.status == "open"], "an ended run has open nodes"
    for node in nodes.values():
        if node.status == "unexplored":
            assert node.status_reason.startswith(
                ("the run ended before expanding it: ", "restored by a person after the run ended")
            ), node.status_reason
    reason = run.status_reason
    if run.status == "stopped":
        assert reason.startswith((*BUDGET_REASONS, "stopped by a person")), reason
        if reason.startswith("model-call budget"):
            assert run.model_calls == run.budget["max_calls"], (reason, run.model_calls)
        if reason.startswith("node budget"):
            assert len(nodes) <= run.budget["max_nodes"]
    else:
        assert not reason.startswith(BUDGET_REASONS), reason
    if run.answer_node_id is not None:
        answer = nodes[run.answer_node_id]
        assert answer.status in ("solved", "terminal"), (answer.id, answer.status)
        assert run.answer == answer.state.get("answer")
    else:
        assert run.answer is None


def assert_same_as_alone(
    engine: Engine, run: Run, alone: Engine, generator: dict[str, Any] | None = None
) -> None:
    """`run` (worked by workers, Ray tasks, after crashes…) is the very run one process
    makes alone from the same settings, on the `alone` database: a run worked twice
    at once would show doubled calls or nodes. `generator` replaces a spec that
    cannot be replayed elsewhere (a scripted model read from a file)."""
    from treelight.engine.run.creation import create_run
    from treelight.engine.run.loop import Runner

    check_tree_invariants(engine, run.id or 0)
    reference = create_run(
        alone,
        task=run.task,
        problem=run.problem,
        task_params=run.task_params,
        strategy=run.strategy,
        strategy_params=run.strategy_params,
        generator=generator or run.generator,
        judges=run.judges,
        budget=run.budget,
        seed=run.seed,
    )
    Runner(alone, reference.id or 0).run_until_idle()
    assert tree_signature(engine, run.id or 0) == tree_signature(alone, reference.id or 0)
