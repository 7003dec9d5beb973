"""Shared fixtures: every test gets its own data directory and a real SQLite file.

Modules whose tests must also hold on PostgreSQL override `engine` with
`engine_on_each_database` (see tests/postgres.py for the server).

The suite comes in tiers (markers, registered in pyproject.toml): `model` (the
real embedded model), `browser` (headless Chromium), `postgres` (a throwaway
PostgreSQL server; given here to every test parametrized onto it) and `slow`.
`bash scripts/test.sh --quick` runs every test that has none of them. A test that
loads the embedded model without the `model` marker fails, so the quick tier
stays quick.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from streamlit.testing.v1 import AppTest

from treelight import app
from treelight.engine.tasks.code import CodeTask
from treelight.engine.tasks.game24 import Game24
from treelight.engine.tasks.math_word import MathWordProblem
from treelight.engine.tasks.question import Question
from treelight.engine.types import NodeView
from treelight.storage.database import make_engine
from treelight.storage.paths import database_url

pytest_plugins = ["tests.postgres"]


def pytest_itemcollected(item: pytest.Item) -> None:
    """Markers given by what a test uses, as each test is collected."""
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "postgres" in callspec.params.values():
        item.add_marker(pytest.mark.postgres)


@pytest.fixture(autouse=True)
def model_only_where_marked(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Outside `model` tests, loading the embedded model is refused and fails the test."""
    if request.node.get_closest_marker("model") is not None:
        yield
        return
    from treelight.engine.errors import ModelUnavailable
    from treelight.engine.generators import embedded

    loads: list[Path] = []

    def refuse(path: Path) -> embedded.LoadedModel:
        loads.append(path)  # may run in a worker thread: failed below, in the test
        raise ModelUnavailable("tests: this test loads the embedded model unmarked")

    monkeypatch.setattr(embedded, "load_model", refuse)
    yield
    if loads:
        pytest.fail(
            f"{request.node.nodeid} loads the embedded model ({loads[0].name}): "
            "mark it @pytest.mark.model",
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def treelight_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("TREELIGHT_HOME", str(home))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return home


MAIN = str(Path(app.__file__).resolve().parent / "main.py")


@pytest.fixture
def app_engine(monkeypatch: pytest.MonkeyPatch) -> Engine:
    """The database the app uses (its worker thread off: tests work runs themselves)."""
    monkeypatch.setenv("TREELIGHT_WORKER", "off")
    return make_engine(database_url())


def new_app() -> AppTest:
    return AppTest.from_file(MAIN, default_timeout=60)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return make_engine(f"sqlite:///{tmp_path / 'test.db'}")


DATABASES = ["sqlite", "postgres"]


def engine_on_each_database(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    """For an `engine` fixture parametrized over DATABASES: a fresh, migrated database."""
    if request.param == "sqlite":
        return make_engine(f"sqlite:///{tmp_path / 'test.db'}")
    server = request.getfixturevalue("postgres_server")
    engine = make_engine(server.new_database())
    request.addfinalizer(engine.dispose)
    return engine


# Scripted models play each task's own example outputs (engine/tasks/*: Example),
# in a seeded order: the same scripts the registry-wide invariant tests use.


def node_view(**fields: Any) -> NodeView:
    """A NodeView for role tests (a judge or a task given nodes directly)."""
    defaults: dict[str, Any] = {
        "id": 1,
        "key": "0/0",
        "parent_id": 0,
        "depth": 1,
        "text": "",
        "state": {},
        "status": "open",
        "status_reason": "",
        "origin": "model",
        "branch": "main",
        "score": None,
        "visits": 0,
        "value": 0.0,
        "pinned": False,
        "evaluated": False,
    }
    return NodeView(**{**defaults, **fields})


def game24_script(seed: int, count: int = 400) -> list[str]:
    """Outputs that read as proposals, solutions and verdicts all at once, seeded.

    A script is used in order whatever the prompt, so each output carries a few
    step lines, maybe an Answer line, and a verdict word.
    """
    return Game24.example.script(seed, count)


def game24_search(
    engine: Engine,
    status: str = "queued",
    *,
    generator: dict[str, Any] | None = None,
    script: int = 2,
    delay: float = 0.0,
    judges: str | None = "game24-verifier,value",
    max_calls: int = 40,
    work: bool = True,
    **strategy_params: Any,
) -> int:
    """The suite's one run factory: a Game of 24 beam search on 4 4 4 4 (three
    proposals a node), by default scripted with `game24_script(script)` so its best
    path moves as the value judge scores. `status` "running" runs it to its end
    here (unless `work` is False); "queued" or "paused" leaves it for a test. `judges` None takes
    the task's own; `generator` replaces the scripted model."""
    from treelight.engine.judges import parse_judge_specs
    from treelight.engine.run.creation import create_run
    from treelight.engine.run.loop import Runner

    if generator is None:
        generator = {"backend": "scripted", "outputs": game24_script(script), "delay": delay}
    run = create_run(
        engine,
        task="game24",
        problem="4 4 4 4",
        strategy="bfs",
        strategy_params={"samples": 3, **strategy_params},
        generator=generator,
        judges=None if judges is None else parse_judge_specs(judges),
        budget={"max_calls": max_calls},
        status=status,
    )
    if status == "running" and work:
        Runner(engine, run.id or 0).run_until_idle()
    return run.id or 0


def question_script(seed: int, count: int = 400) -> list[str]:
    return Question.example.script(seed, count)


def math_script(seed: int, count: int = 400) -> list[str]:
    """Steps with right and wrong arithmetic, answers right and wrong, verdict words."""
    return MathWordProblem.example.script(seed, count)


def code_script(seed: int, count: int = 200) -> list[str]:
    """Programs that pass, fail, crash or do not parse, in fences or not, and chatter."""
    return CodeTask.example.script(seed, count)
