"""Built-in strategies, by the name the CLI and the app use."""

from __future__ import annotations

from typing import Any

from treelight.engine.errors import BadArguments
from treelight.engine.strategies.base import Strategy
from treelight.engine.strategies.bfs import BeamSearch
from treelight.engine.strategies.dfs import DepthFirst
from treelight.engine.strategies.evolve import Evolve
from treelight.engine.strategies.mcts import MonteCarlo
from treelight.engine.strategies.refine import SelfRefine
from treelight.engine.strategies.sampling import BestOfN, SelfConsistency
from treelight.engine.tasks.base import Task

STRATEGIES: dict[str, type[Strategy]] = {
    s.name: s
    for s in (BeamSearch, DepthFirst, BestOfN, SelfConsistency, MonteCarlo, SelfRefine, Evolve)
}


def make_strategy(name: str, task: Task, params: dict[str, Any] | None = None) -> Strategy:
    try:
        strategy_class = STRATEGIES[name]
    except KeyError:
        raise BadArguments(
            f"Unknown strategy {name!r}; choose one of: {', '.join(STRATEGIES)}."
        ) from None
    return strategy_class(task, params)
