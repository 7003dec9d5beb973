"""Shared fixtures: every test gets its own data directory and a real SQLite file.

Modules whose tests must also hold on PostgreSQL override `engine` with
`engine_on_each_database` (see tests/postgres.py for the server).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from treelight.storage.database import make_engine

pytest_plugins = ["tests.postgres"]


@pytest.fixture(autouse=True)
def treelight_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("TREELIGHT_HOME", str(home))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return home


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


# Lines that are valid steps from some of the states "4 4 4 4" leads to, a few
# that are wrong (bad arithmetic, missing numbers), answers, and noise.
GAME24_LINES = [
    "4 + 4 = 8 (left: 4 4 8)",
    "4 * 4 = 16 (left: 4 4 16)",
    "4 - 4 = 0 (left: 0 4 4)",
    "4 / 4 = 1 (left: 1 4 4)",
    "4 + 8 = 12 (left: 4 12)",
    "4 * 4 = 16 (left: 8 16)",
    "16 + 8 = 24 (left: 24)",
    "8 * 4 = 32 (left: 4 32)",
    "4 + 16 = 20 (left: 4 20)",
    "20 + 4 = 24 (left: 24)",
    "12 * 4 = 48 (left: 48)",
    "1 + 4 = 5 (left: 4 5)",
    "4 + 9 = 14 (left: 14)",
    "12 + 12 = 24",
    "Answer: (4 + 4) * 4 - 8",
    "Answer: 4 * 4 + 4 + 4",
    "Answer: (4 * 4) + (4 + 4) = 24",
    "garbage <b>text</b>",
]
VALUE_WORDS = [
    "sure",
    "likely",
    "impossible",
    "no idea",
    "The best choice is 2",
    "The best choice is 1",
]


def game24_script(seed: int, count: int = 400) -> list[str]:
    """Outputs that read as proposals, solutions and verdicts all at once, seeded.

    A script is used in order whatever the prompt, so each output carries a few
    step lines, maybe an Answer line, and a verdict word.
    """
    rng = random.Random(seed)
    outputs = []
    for _ in range(count):
        lines = rng.sample(GAME24_LINES, rng.randint(0, 6))
        lines.insert(rng.randint(0, len(lines)), rng.choice(VALUE_WORDS))
        outputs.append("\n".join(lines))
    return outputs


def question_script(seed: int, count: int = 400) -> list[str]:
    rng = random.Random(seed)
    thoughts = [
        "Paris is the capital.",
        "Think about geography.",
        "Answer: Paris",
        "Answer: Lyon",
        "",
        "It is a city in France. sure",
        "likely correct",
        "The best choice is 1",
        "impossible",
        "Answer: paris",
    ]
    return [rng.choice(thoughts) for _ in range(count)]


def math_script(seed: int, count: int = 400) -> list[str]:
    """Steps with right and wrong arithmetic, answers right and wrong, verdict words."""
    rng = random.Random(seed)
    thoughts = [
        "12 + 5 = 17",
        "12 + 5 = 18",
        "17 * 2 = 34",
        "Answer: 17",
        "Answer: 18",
        "so she has 17 pencils. sure",
        "likely",
        "impossible",
        "",
        "No idea.",
    ]
    return [rng.choice(thoughts) for _ in range(count)]


def code_script(seed: int, count: int = 200) -> list[str]:
    """Programs that pass, fail, crash or do not parse, in fences or not, and chatter."""
    rng = random.Random(seed)
    outputs = [
        "```python\ndef add(a, b):\n    return a + b\n```",
        "def add(a, b):\n    return a - b",
        "```python\ndef add(a b):\n```",
        "I would write a function.",
        "```\nraise SystemExit(3)\n```",
        "The add function has a bug: it subtracts.",
        "sure",
    ]
    return [rng.choice(outputs) for _ in range(count)]
