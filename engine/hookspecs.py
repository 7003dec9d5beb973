"""The plugin hooks: how a task, strategy, judge or generator backend comes in.

A plugin is a module with one or more of these functions, marked `@hookimpl`,
listed under the entry-point group `treelight` of its package:

    [project.entry-points.treelight]
    my_plugin = "my_package.plugin"

Each hook is given a `register` function; call it once per class. Treelight's
own roles come in through these same hooks (see `treelight.engine.plugins`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("treelight")
hookimpl = pluggy.HookimplMarker("treelight")


@hookspec
def register_tasks(register: Callable[[type[Any]], None]) -> None:
    """Register Task subclasses (each with a unique `name`)."""


@hookspec
def register_strategies(register: Callable[[type[Any]], None]) -> None:
    """Register Strategy subclasses."""


@hookspec
def register_judges(register: Callable[[type[Any]], None]) -> None:
    """Register Judge subclasses."""


@hookspec
def register_generators(register: Callable[[type[Any]], None]) -> None:
    """Register Generator subclasses (generator backends; `backend` is the name)."""
