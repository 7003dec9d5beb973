"""An example Treelight plugin: one task, one strategy, one judge.

Installed, it adds `--task count-to` (with the option `target`), `--strategy
greedy` and the judge `on-target` to every Treelight process, with no
Treelight file edited. docs/PLUGINS.md walks through it.
"""

from __future__ import annotations

from treelight.engine.hookspecs import hookimpl
from treelight.engine.plugins import RegisterFunction
from treelight_example_plugin.counting import CountTo, Greedy, OnTarget


@hookimpl
def register_tasks(register: RegisterFunction) -> None:
    register(CountTo)


@hookimpl
def register_strategies(register: RegisterFunction) -> None:
    register(Greedy)


@hookimpl
def register_judges(register: RegisterFunction) -> None:
    register(OnTarget)
