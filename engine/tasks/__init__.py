"""Built-in tasks, registered through the plugin hooks like any other package's."""

from __future__ import annotations

from typing import Any

from treelight.engine.hookspecs import hookimpl
from treelight.engine.plugins import RegisterFunction, registry
from treelight.engine.tasks.base import Task
from treelight.engine.tasks.code import CodeTask
from treelight.engine.tasks.game24 import Game24
from treelight.engine.tasks.math_word import MathWordProblem
from treelight.engine.tasks.question import Question


@hookimpl
def register_tasks(register: RegisterFunction) -> None:
    for task in (Game24, Question, MathWordProblem, CodeTask):
        register(task)


def task_classes() -> dict[str, type[Task]]:
    """Every installed task by name (built-in and plugins)."""
    return registry().roles["task"]


def make_task(
    name: str, problem: str, params: dict[str, Any] | None = None, provider: str | None = None
) -> Task:
    task_class: type[Task] = registry().get("task", name, provider)
    return task_class(problem, params)
