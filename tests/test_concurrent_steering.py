"""People steering a run while the runner expands it: nothing lost, nothing corrupted.

A property test over random interleavings (hypothesis draws the steering
scripts; the threads' timing does the interleaving): the runner works in one
thread while two "browser sessions" (two threads, as two Streamlit sessions
are in one app process) prune, restore, pin and add priors at random moments.
Afterwards the tree must be sound, and each node's state must agree with the
last word the event log has on it: a person's prune that was acknowledged but
later overwritten by a runner that had read the node before it, would show up
as a node whose last event is "pruned by a person" but which is not pruned.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from tests.conftest import game24_script
from tests.invariants import check_tree_invariants
from treelight.engine import steering
from treelight.engine.errors import BadArguments
from treelight.engine.generators import Completion, CompletionRequest
from treelight.engine.generators.scripted import ScriptedGenerator
from treelight.engine.judges import parse_judge_specs
from treelight.engine.run.creation import create_run
from treelight.engine.run.loop import Runner
from treelight.storage import hot_path, queries
from treelight.storage.database import make_engine
from treelight.storage.models import Node

OPS = ["prune", "prune-branch", "restore", "pin", "unpin", "prior"]
SCRIPT = st.lists(
    st.tuples(st.sampled_from(OPS), st.integers(0, 10_000), st.floats(0, 0.03)),
    min_size=3,
    max_size=15,
)
ENGINES: dict[str, Engine] = {}


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """One database per kind for all examples (each example makes its own run)."""
    if request.param not in ENGINES:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('steer') / 'steer.db'}"
        else:
            url = request.getfixturevalue("postgres_server").new_database()
        ENGINES[request.param] = make_engine(url)
    return ENGINES[request.param]


def fresh_engine(
    kind: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Engine:
    """A new, empty database of `kind` for one test."""
    if kind == "sqlite":
        return make_engine(f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}")
    return make_engine(request.getfixturevalue("postgres_server").new_database())


def person(engine: Engine, run_id: int, script: list[tuple[str, int, float]], errors: list) -> None:
    """One browser session: steps of the script, each on a node that exists now."""
    try:
        for op, pick, pause in script:
            time.sleep(pause)
            with Session(engine) as session:
                nodes = [n for n in queries.run_nodes(session, run_id) if n.parent_id is not None]
            if not nodes:
                continue
            node_id = nodes[pick % len(nodes)].id or 0
            if op == "prune":
                steering.prune(engine, run_id, node_id, branch=False)
            elif op == "prune-branch":
                steering.prune(engine, run_id, node_id, branch=True)
            elif op == "restore":
                steering.restore(engine, run_id, node_id)
            elif op in ("pin", "unpin"):
                steering.pin(engine, run_id, node_id, pinned=op == "pin")
            else:
                steering.add_prior(engine, run_id, node_id, f"hint {pick}")
    except BadArguments:
        pass  # refusals with a reason are fine (e.g. pruning the problem)
    except Exception as error:  # anything else is a failure of the test
        errors.append(error)


def check_log_agrees_with_nodes(engine: Engine, run_id: int) -> None:
    with Session(engine) as session:
        nodes = {n.id: n for n in queries.run_nodes(session, run_id)}
        events = queries.run_events(session, run_id)
        priors = queries.run_priors(session, run_id)
    last_status_word: dict[int, str] = {}
    last_pin_word: dict[int, str] = {}
    for event in events:  # in id order = commit order, as writers take the run's lock
        if event.node_id is None:
            continue
        if event.kind in ("prune", "restore"):
            last_status_word[event.node_id] = event.kind
        elif event.kind in ("pin", "unpin"):
            last_pin_word[event.node_id] = event.kind
    for node_id, word in last_status_word.items():
        node = nodes[node_id]
        assert (node.status == "pruned") == (word == "prune"), (node_id, word, node.status)
    for node_id, node in nodes.items():
        assert node.pinned == (last_pin_word.get(node_id or 0) == "pin"), node_id
    prior_events = [e for e in events if e.kind == "prior"]
    assert sorted((p.node_id, p.text) for p in priors) == sorted(
        (e.node_id, e.reason) for e in prior_events
    )


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(first=SCRIPT, second=SCRIPT, seed=st.integers(1, 1000))
def test_two_sessions_steering_while_the_runner_expands(
    database: Engine, first: list[Any], second: list[Any], seed: int
) -> None:
    engine = database
    run = create_run(
        engine,
        task="game24",
        problem="4 4 4 4",
        strategy=random.Random(seed).choice(["bfs", "dfs"]),
        strategy_params={"samples": 3},
        generator={"backend": "scripted", "outputs": game24_script(seed), "delay": 0.004},
        judges=parse_judge_specs("game24-verifier,value"),
        budget={"max_calls": 30},
        seed=seed,
        status="running",
    )
    assert run.id is not None
    errors: list[Exception] = []
    sessions = [
        threading.Thread(target=person, args=(engine, run.id, script, errors))
        for script in (first, second)
    ]
    for thread in sessions:
        thread.start()
    outcome = Runner(engine, run.id).run_until_idle()
    for thread in sessions:
        thread.join()
    assert not errors, errors
    assert outcome.error is None, outcome.error
    assert outcome.run.status in ("done", "stopped")
    check_tree_invariants(engine, run.id)
    check_log_agrees_with_nodes(engine, run.id)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_prune_made_while_the_runner_decides_is_not_overwritten(
    kind: str,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The exact window: the runner has read a node to settle its verdicts, and a
    person prunes that node before the runner commits. The prune must either wait
    for the runner and then apply, or never have been acknowledged — not be lost."""
    engine = fresh_engine(kind, request, tmp_path_factory)
    run = create_run(
        engine,
        task="game24",
        problem="4 4 4 4",
        strategy="best-of-n",
        strategy_params={"n": 1},
        generator={
            "backend": "scripted",
            "outputs": ["4 * 4 = 16 (left: 4 4 16)\nAnswer: 4 * 4 + 4 + 4"],
        },
        judges=parse_judge_specs("game24-verifier"),
        status="running",
    )
    assert run.id is not None
    runner = Runner(engine, run.id)
    runner.step()  # one whole answer, not yet checked
    with Session(engine) as session:
        child = [n for n in queries.run_nodes(session, run.id) if n.parent_id is not None][0]
    assert child.status == "terminal"
    real_nodes_by_id = hot_path.node_rows_by_id
    person_done = threading.Event()

    def read_then_let_a_person_prune(connection: Connection, ids: list[int]) -> Any:
        found = real_nodes_by_id(connection, ids)
        threading.Thread(
            target=lambda: (steering.prune(engine, run.id, child.id or 0), person_done.set())
        ).start()
        person_done.wait(1.0)  # with the run's lock held, the person waits for us
        return found

    monkeypatch.setattr(hot_path, "node_rows_by_id", read_then_let_a_person_prune)
    runner.step()  # check the answer: reads the node, then the person prunes it
    assert person_done.wait(10)
    monkeypatch.undo()
    with Session(engine) as session:
        node = session.get(Node, child.id)
        assert node is not None and node.score == 1.0  # the check was settled...
        # ...and the person's prune, acknowledged, is what holds (not "solved").
        assert node.status == "pruned" and node.status_reason == "pruned by a person"
    check_log_agrees_with_nodes(engine, run.id)


class PruneWhileGenerating(ScriptedGenerator):
    """A scripted model during whose answer for one node a person prunes that node."""

    def __init__(self, outputs: list[str], engine: Engine, run_id: int) -> None:
        super().__init__(outputs)
        self.engine, self.run_id = engine, run_id
        self.target: int | None = None

    def complete(self, requests: list[CompletionRequest]) -> list[Completion]:
        if self.target is not None:
            steering.prune(self.engine, self.run_id, self.target, branch=False)
            self.target = None
        return super().complete(requests)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_node_pruned_while_it_is_expanded_and_restored_is_not_expanded_twice(
    kind: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The interleaving the property test found (forced, not hoped for): a person
    prunes a node while the model is writing its children, the children are born
    pruned, then the person restores the node. It was expanded: restoring it must
    not make it `open` again, or the runner expands it a second time with the very
    same (stored) model calls and every candidate of that call appears twice."""
    engine = fresh_engine(kind, request, tmp_path_factory)
    run = create_run(
        engine,
        task="game24",
        problem="4 4 4 4",
        strategy="dfs",
        strategy_params={"samples": 1},
        generator={"backend": "scripted", "outputs": []},
        judges=parse_judge_specs("game24-verifier"),
        budget={"max_calls": 6},
        status="running",
    )
    assert run.id is not None
    outputs = ["4 + 4 = 8 (left: 4 4 8)", "4 + 8 = 12 (left: 4 12)\n4 * 4 = 16 (left: 8 16)"]
    model = PruneWhileGenerating(outputs + ["garbage"] * 4, engine, run.id)
    runner = Runner(engine, run.id, generator=model)
    runner.step()  # expand the problem
    runner.step()  # check its child
    with Session(engine) as session:
        child = [n for n in queries.run_nodes(session, run.id) if n.parent_id is not None][0]
    assert child.status == "open"
    model.target = child.id  # the person prunes it while it is being expanded
    runner.step()
    with Session(engine) as session:
        kids = queries.children(session, child.id or 0)
        assert [k.status for k in kids] == ["pruned", "pruned"]
        assert session.get(Node, child.id).status == "pruned"  # type: ignore[union-attr]
    steering.restore(engine, run.id, child.id or 0)
    with Session(engine) as session:
        assert session.get(Node, child.id).status == "expanded"  # type: ignore[union-attr]
    runner.run_until_idle()
    check_tree_invariants(engine, run.id)
    with Session(engine) as session:
        expansions = [
            e
            for e in queries.run_events(session, run.id)
            if e.kind == "expand" and e.node_id == child.id
        ]
    assert len(expansions) == 1
