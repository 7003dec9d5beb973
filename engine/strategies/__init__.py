"""Built-in strategies, by the name the CLI and the app use."""

from __future__ import annotations

from typing import Any

from engine.errors import BadArguments
from engine.strategies.base import Strategy
from engine.strategies.bfs import BeamSearch
from engine.strategies.dfs import DepthFirst
from engine.strategies.evolve import Evolve
from engine.strategies.mcts import MonteCarlo
from engine.strategies.refine import SelfRefine
from engine.strategies.sampling import BestOfN, SelfConsistency
from engine.tasks.base import Task

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
