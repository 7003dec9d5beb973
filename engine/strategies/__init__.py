"""Built-in strategies, registered through the plugin hooks like any other package's."""

from __future__ import annotations

from typing import Any

from treelight.engine.hookspecs import hookimpl
from treelight.engine.plugins import RegisterFunction, registry
from treelight.engine.strategies.base import Strategy
from treelight.engine.strategies.bfs import BeamSearch
from treelight.engine.strategies.dfs import DepthFirst
from treelight.engine.strategies.evolve import Evolve
from treelight.engine.strategies.mcts import MonteCarlo
from treelight.engine.strategies.refine import SelfRefine
from treelight.engine.strategies.sampling import BestOfN, SelfConsistency
from treelight.engine.tasks.base import Task


@hookimpl
def register_strategies(register: RegisterFunction) -> None:
    for strategy in (BeamSearch, DepthFirst, BestOfN, SelfConsistency, MonteCarlo, SelfRefine):
        register(strategy)
    register(Evolve)


def strategy_classes() -> dict[str, type[Strategy]]:
    """Every installed strategy by name (built-in first, then plugins)."""
    return registry().roles["strategy"]


def make_strategy(
    name: str, task: Task, params: dict[str, Any] | None = None, provider: str | None = None
) -> Strategy:
    strategy_class: type[Strategy] = registry().get("strategy", name, provider)
    return strategy_class(task, params)
