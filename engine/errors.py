"""Every error a person can see, in one small hierarchy.

Messages are shown unchanged, so each says what happened and what to do next.
"""

from __future__ import annotations

from typing import Any


class TreelightError(Exception):
    """Base class: anything Treelight reports to a person."""


class BadArguments(TreelightError):
    """The run was asked for in a way that cannot work (unknown task, bad problem...)."""


class ModelError(TreelightError):
    """A model call failed. The run pauses with this reason and can be resumed."""


class ModelUnavailable(ModelError):
    """The backend cannot be reached or the model is missing."""


class ScriptExhausted(ModelError):
    """The scripted generator ran out of outputs."""


class BudgetExhausted(TreelightError):
    """A budget (calls, tokens, seconds, nodes) is used up: the run stops, not fails.

    `made` holds the model calls that did fit the budget before it ran out (stored
    rows), so an expansion can still turn them into nodes."""

    def __init__(self, message: str, made: list[Any] | None = None) -> None:
        super().__init__(message)
        self.made = made or []


class RunNotFound(TreelightError):
    pass


class Interrupted(Exception):
    """A person asked the run to pause or stop while an action was making its model
    calls: the action is left between two calls (every call made is stored, and a
    resumed run asks for exactly those again, served from storage), and the loop
    applies the request. Not an error: never shown, never pauses the run as one."""


class RunBusy(TreelightError):
    """Another live process holds the run's lease."""
