"""Built-in tasks, by the name the CLI and the app use."""

from __future__ import annotations

from typing import Any

from treelight.engine.errors import BadArguments
from treelight.engine.tasks.base import Task
from treelight.engine.tasks.code import CodeTask
from treelight.engine.tasks.game24 import Game24
from treelight.engine.tasks.math_word import MathWordProblem
from treelight.engine.tasks.question import Question

TASKS: dict[str, type[Task]] = {t.name: t for t in (Game24, Question, MathWordProblem, CodeTask)}


def make_task(name: str, problem: str, params: dict[str, Any] | None = None) -> Task:
    try:
        task_class = TASKS[name]
    except KeyError:
        raise BadArguments(
            f"Unknown task {name!r}; choose one of: {', '.join(sorted(TASKS))}."
        ) from None
    return task_class(problem, params)
