"""The runner: one action at a time, every result written before the next.

Each action reads the tree, asks the strategy what to do, does it, and commits.
Model calls are committed one by one as they return (engine/run/model_calls.py),
and the nodes or verdicts an action makes are committed together, so a crash
leaves either all of them or none. A resumed run re-reads the tree and carries
on; calls an interrupted action had already made are served again from
storage, so nothing is paid twice and the search stays deterministic.

Between actions the runner also serves a person's queued commands (re-run a
branch, re-score the tree): see engine/run/queued_work.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import assert_never

from sqlmodel import Session

from treelight.engine.errors import BudgetExhausted, Interrupted, RunBusy, TreelightError
from treelight.engine.run import expansion, node_changes, queued_work, resting
from treelight.engine.run.judging import evaluate
from treelight.engine.run.state import LEASE_SECONDS, RunState
from treelight.engine.types import (
    Action,
    Backup,
    Critique,
    Evaluate,
    Expand,
    Finish,
    Prune,
)
from treelight.storage import hot_path, leases, queries
from treelight.storage.database import unit_of_work
from treelight.storage.models import Command, Run
from treelight.storage.vocabulary import EventKind, RunRequest, RunStatus

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    run: Run
    error: TreelightError | None = None


class Runner(RunState):
    """Runs one search: the loop. Each action is done by its room."""

    def run_until_idle(self) -> Outcome:
        """Work until the run is done, paused or stopped and no command is pending."""
        if not leases.claim_run(self.engine, self.run_id, self.owner, LEASE_SECONDS):
            holder = self.reload().lease_owner  # who holds it now, not when we first looked
            raise RunBusy(
                f"Run #{self.run_id} is being worked on by another process "
                f"({holder or 'one that has just let go of it: try again'}); "
                "wait for it, or stop that process first."
            )
        self.start_clock()
        try:
            while True:
                ledger = self.ledger()  # one read of the run's row per turn of the loop
                if ledger.requested:
                    return Outcome(self._apply_request(ledger.requested))
                command = self._next_command()
                if command is None and not self._should_act(ledger):
                    return Outcome(self.reload())
                try:
                    if command is not None:
                        queued_work.serve(self, command)
                    else:
                        self.step(ledger.judge_set)
                except Interrupted:
                    continue  # a pause or stop came in between two model calls: apply it
        except BudgetExhausted as exhausted:
            return Outcome(self._stop_on_budget(str(exhausted)))
        except TreelightError as error:
            return Outcome(self._pause(str(error)), error)
        except Exception as error:  # a bug: keep the tree, pause, and say so
            log.exception("run #%s paused by an internal error", self.run_id)
            message = f"internal error: {type(error).__name__}: {error}"
            return Outcome(self._pause(message), TreelightError(message))
        finally:
            leases.release_run(self.engine, self.run_id, self.owner)

    def _next_command(self) -> Command | None:
        with self.engine.connect() as connection:  # the cheap check, every turn
            if not hot_path.has_pending_command(connection, self.run_id):
                return None
        with Session(self.engine) as session:
            pending = queries.pending_commands(session, self.run_id)
        return pending[0] if pending else None

    def _apply_request(self, requested: RunRequest) -> Run:
        """A person's pause or stop, applied between two actions."""
        status, event, reason = {
            RunRequest.STOP: (RunStatus.STOPPED, EventKind.STOPPED, "stopped by a person"),
            RunRequest.PAUSE: (RunStatus.PAUSED, EventKind.PAUSED, "paused by a person"),
        }[requested]
        return resting.rest(self, status, reason, event, actor="person", request=requested)

    def _should_act(self, run: hot_path.RunLedger) -> bool:
        if run.status == RunStatus.QUEUED:
            self.set_status(RunStatus.RUNNING, "", EventKind.START)
            return True
        if run.status == RunStatus.PAUSED and run.steps_requested > 0:
            with unit_of_work(self.engine, self.run_id) as session:
                fresh = session.get(Run, self.run_id)
                assert fresh is not None
                fresh.steps_requested = max(0, fresh.steps_requested - 1)
            return True
        return run.status == RunStatus.RUNNING

    def step(self, judge_set: int | None = None) -> Action:
        """Decide and perform one action (`judge_set`: the run's, if just read)."""
        tree = self.load(judge_set)
        self.check_time_budget()
        action: Action = self.strategy.next_action(tree)
        if isinstance(action, Finish):  # not before what a rest left half-judged is judged
            action = resting.partly_judged(self, tree) or action
        match action:
            case Expand():
                expansion.expand(self, tree, action)
            case Evaluate():
                evaluate(self, tree, list(action.node_ids))
            case Prune():
                node_changes.prune(self, action)
            case Backup():
                node_changes.backup(self, tree, action)
            case Critique():
                expansion.critique(self, action)
            case Finish():
                resting.rest(
                    self,
                    RunStatus.DONE,
                    action.reason,
                    EventKind.FINISH,
                    chosen=action.node_id,
                    count_action=True,
                )
            case _:
                assert_never(action)
        if self.progress:
            self.progress(self.ledger())
        return action

    def _pause(self, reason: str) -> Run:
        return resting.rest(self, RunStatus.PAUSED, reason, EventKind.ERROR)

    def _stop_on_budget(self, reason: str) -> Run:
        best = self.strategy.best(self.load())
        return resting.rest(
            self, RunStatus.STOPPED, reason, EventKind.BUDGET_STOP, chosen=best.id if best else None
        )
