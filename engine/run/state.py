"""The state one runner works with: the run, its roles, its model calls, its tree,
its clock and its budgets. The rooms (expansion, evaluation, transitions, queued
commands, resting) each get a RunState; the loop (engine/run/loop.py) is one.

It does nothing on its own: it holds and refreshes what the rooms share.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from treelight.engine.errors import BudgetExhausted, RunNotFound
from treelight.engine.generators import CompletionRequest, Generator, make_generator
from treelight.engine.judges import Judge, Verdict, make_judges
from treelight.engine.plugins import MissingPlugin
from treelight.engine.run.creation import rebuild_roles
from treelight.engine.run.model_calls import ModelCaller, derive_seed
from treelight.engine.run.tree_cache import TreeCache
from treelight.engine.strategies import Strategy
from treelight.engine.tasks.base import Task
from treelight.engine.types import TreeView
from treelight.storage import hot_path, leases, queries
from treelight.storage.database import unit_of_work
from treelight.storage.models import Run
from treelight.storage.vocabulary import EventKind, RunStatus

LEASE_SECONDS = 60.0

Progress = Any  # Callable[[Run], None]


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class RunState:
    """One run as a runner holds it. Builds its roles from the run row unless given a
    generator; a role whose plugin is missing pauses the run, naming the package."""

    task: Task
    strategy: Strategy
    judges: list[Judge]

    def __init__(
        self,
        engine: Engine,
        run_id: int,
        generator: Generator | None = None,
        progress: Progress | None = None,
        owner: str | None = None,
    ) -> None:
        self.engine = engine
        self.run_id = run_id
        self.owner = owner or new_owner()
        self.progress = progress
        with Session(engine) as session:
            run = queries.get_run(session, run_id)
        if run is None:
            raise RunNotFound(f"No run #{run_id}: `treelight runs` lists the runs there are.")
        self.run = run
        try:
            self.task, self.strategy, self.judges = rebuild_roles(run)
        except MissingPlugin as missing:  # pause it, saying what to install
            from treelight.engine.steering import control

            if run.status in (RunStatus.QUEUED, RunStatus.RUNNING):
                control.pause(engine, run_id, str(missing), actor="engine")
            raise
        self.judge_set = run.judge_set
        # Built when first needed: a runner that only brings a run to rest (a stop
        # asked for while it was paused) loads no model.
        self._generator = generator
        self.calls = ModelCaller(engine, run_id, self.elapsed, self._heartbeat)
        self.verdict_memo: dict[tuple[str, str], tuple[Verdict, int]] | None = None
        self.tree_cache = TreeCache(engine, run_id)
        self._renewed = time.monotonic()
        self._clock_start = time.monotonic()
        self._elapsed_base = run.elapsed_seconds

    @property
    def generator(self) -> Generator:
        if self._generator is None:
            spec = self.generator_spec(self.run)
            provider = (self.run.plugins or {}).get(f"generator:{spec.get('backend')}")
            self._generator = make_generator(spec, provider)
        return self._generator

    def generator_spec(self, run: Run) -> dict[str, Any]:
        spec = dict(run.generator)
        if spec.get("backend") == "scripted" and "outputs" not in spec:
            with Session(self.engine) as session:
                spec["outputs"] = queries.run_script(session, self.run_id) or []
        return spec

    def ledger(self) -> hot_path.RunLedger:
        with self.engine.connect() as connection:
            return hot_path.run_ledger(connection, self.run_id)

    def load(self, judge_set: int | None = None) -> TreeView:
        """The tree as stored now (`judge_set`: the run's, if the caller just read it)."""
        if judge_set is None:
            judge_set = self.ledger().judge_set
        if judge_set != self.judge_set:  # a person swapped the judges
            run = self.reload()
            self.judge_set, self.judges = run.judge_set, make_judges(run.judges)
            self.verdict_memo = None
        return self.tree_cache.refresh(self.judge_set, frozenset(j.key() for j in self.judges))

    def request(
        self,
        prompt: str,
        key: str,
        purpose: str,
        index: int,
        max_tokens: int,
        seed: int | None = None,
        temperature: float | None = None,
        json_schema: dict[str, Any] | None = None,
        grammar: str | None = None,
        choices: tuple[str, ...] | None = None,
        distinct_lines: int = 0,
    ) -> CompletionRequest:
        spec = self.run.generator
        return CompletionRequest(
            prompt=prompt,
            seed=derive_seed(self.run.seed if seed is None else seed, key, purpose, index),
            temperature=float(spec.get("temperature", 0.7) if temperature is None else temperature),
            top_p=float(spec.get("top_p", 0.95)),
            max_tokens=int(spec.get("max_tokens", max_tokens)),
            stop=tuple(spec.get("stop", self.task.stop)),
            chat=bool(spec.get("chat", self.task.chat)),
            json_schema=json_schema if self.generator.supports_schema else None,
            grammar=grammar,
            choices=choices,
            distinct_lines=distinct_lines,
        )

    def reload(self) -> Run:
        with Session(self.engine) as session:
            run = queries.get_run(session, self.run_id)
        assert run is not None
        self.run = run
        return run

    def start_clock(self) -> None:
        """Seconds are counted while a runner works, not while a run waits."""
        self._clock_start = time.monotonic()

    def elapsed(self) -> float:
        return self._elapsed_base + (time.monotonic() - self._clock_start)

    def _heartbeat(self) -> None:
        """Renew the lease before a model call, at most every few seconds."""
        now = time.monotonic()
        if now - self._renewed > LEASE_SECONDS / 6:
            leases.renew_lease(self.engine, self.run_id, self.owner, LEASE_SECONDS)
            self._renewed = now

    def count_action(self, session: Session) -> None:
        hot_path.count_action(session.connection(), self.run_id, self.elapsed())

    def node_room(self) -> int | None:
        limit = self.run.budget.get("max_nodes")
        if limit is None:
            return None
        # The tree was refreshed at the start of this action, and only the runner
        # that holds the lease adds nodes.
        return max(0, int(limit) - len(self.tree_cache.tree.nodes))

    def check_time_budget(self) -> None:
        limit = self.run.budget.get("max_seconds")
        if limit is not None and self.elapsed() >= float(limit):
            raise BudgetExhausted(f"time budget: {self.elapsed():.1f} s of {limit} s used")

    def set_status(self, status: RunStatus, reason: str, event: EventKind) -> Run:
        with unit_of_work(self.engine, self.run_id) as session:
            run = session.get(Run, self.run_id)
            assert run is not None
            run.status, run.status_reason = status, reason
            run.elapsed_seconds = self.elapsed()
            queries.add_event(session, self.run_id, event, reason)
        return self.reload()
