"""Every model call goes through here: served from storage when identical,
checked against the budget, made, and logged as a ModelCall row at once
(a CallRecord written with SQLAlchemy Core: no ORM object on the hot path).

Calls are committed as they return (a batch asked of the generator at once, in
one commit), with the run's totals in the same transaction, so `run.model_calls`
always equals the rows on disk and no output is lost when the action that asked
for it crashes.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from treelight.engine.errors import BudgetExhausted, Interrupted, ModelError
from treelight.engine.generators import CompletionRequest, Generator
from treelight.engine.generators.base import Completion
from treelight.storage import hot_path, queries
from treelight.storage.models import CallRecord

CHECK_EVERY = 0.25  # seconds between looks for a pause or stop during an action


def derive_seed(run_seed: int, node_key: str, purpose: str, index: int) -> int:
    """A seed that depends only on where in the tree a call is made, so a
    resumed run asks for exactly the calls an uninterrupted one would."""
    digest = hashlib.sha256(f"{run_seed}|{node_key}|{purpose}|{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


_UNSTORABLE = re.compile("[\ud800-\udfff\x00]")


def storable(text: str) -> tuple[str, int]:
    """Model text as every database can store it: lone surrogates (broken UTF-16
    from a server) and NUL characters become U+FFFD, and the count is kept."""
    cleaned, count = _UNSTORABLE.subn("\ufffd", text)
    return cleaned, count


def storable_logprobs(logprobs: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """Token texts cleaned like outputs: a token can be half of a character."""
    if logprobs is None:
        return None
    return [
        {
            "token": storable(entry["token"])[0],
            "logprob": entry["logprob"],
            "top": [
                {"token": storable(top["token"])[0], "logprob": top["logprob"]}
                for top in entry.get("top", [])
            ],
            # "by": "engine" marks a token the engine wrote, not the model (the line
            # break between distinct lines): its 0.0 is not a probability read.
            **({"by": str(entry["by"])} if entry.get("by") else {}),
        }
        for entry in logprobs
    ]


class ModelCaller:
    def __init__(
        self,
        engine: Engine,
        run_id: int,
        elapsed: Callable[[], float],
        heartbeat: Callable[[], object],
    ) -> None:
        self.engine = engine
        self.run_id = run_id
        self.elapsed = elapsed
        self.heartbeat = heartbeat
        self.known: set[str] | None = None  # fingerprints of this run's stored calls
        # Budget and totals as of the runner's last look (it calls `sync` before every
        # action); while it holds the lease, only these calls change the totals.
        self.ledger: hot_path.RunLedger | None = None
        self._checked = time.monotonic()  # the last look for a person's pause or stop

    def sync(self, ledger: hot_path.RunLedger) -> None:
        self.ledger = ledger

    def call(
        self,
        generator: Generator,
        node_id: int,
        requests: list[CompletionRequest],
        purpose: str,
    ) -> list[CallRecord]:
        """One stored call per request, in order."""
        fingerprints = [generator.fingerprint(r) for r in requests]
        if self.ledger is None or self.known is None:
            with Session(self.engine) as session:
                self.ledger = hot_path.run_ledger(session.connection(), self.run_id)
                self.known = queries.run_fingerprints(session, self.run_id)
        ledger = self.ledger
        # While this runner holds the lease, only it adds calls to the run: a
        # fingerprint it has not seen cannot be in storage (unless replaying).
        wanted = fingerprints if ledger.replay else [f for f in fingerprints if f in self.known]
        stored: dict[str, CallRecord] = {}
        if wanted:
            with self.engine.connect() as connection:
                scope = None if ledger.replay else self.run_id
                stored = hot_path.find_model_calls(connection, wanted, scope)
        rows: list[CallRecord | None] = [stored.get(f) for f in fingerprints]
        fresh = [i for i, row in enumerate(rows) if row is None]
        sized, exhausted = self._fit_budget(
            generator, [(requests[i], fingerprints[i]) for i in fresh], ledger
        )
        if sized:
            self.heartbeat()
            self._stop_if_asked()
            made = self._make(generator, node_id, sized, purpose)
            for position, row in zip(fresh, made, strict=False):
                rows[position] = row
        made_rows = [row for row in rows if row is not None]
        if exhausted:
            raise BudgetExhausted(exhausted, made_rows)
        return made_rows

    def _stop_if_asked(self) -> None:
        """A person's pause or stop cuts an action between two model calls, so a stop
        costs at most the call in flight (looked up at most every CHECK_EVERY s)."""
        now = time.monotonic()
        if now - self._checked < CHECK_EVERY:
            return
        self._checked = now
        with self.engine.connect() as connection:
            asked = hot_path.requested(connection, self.run_id)
        if asked:
            raise Interrupted(asked)

    def _fit_budget(
        self,
        generator: Generator,
        requests: list[tuple[CompletionRequest, str]],
        ledger: hot_path.RunLedger,
    ) -> tuple[list[tuple[CompletionRequest, str]], str | None]:
        """The requests that fit the budget (sized to it), and why the rest do not."""
        budget = ledger.budget
        if budget.get("max_seconds") is not None and self.elapsed() >= budget["max_seconds"]:
            return [], f"time budget: {self.elapsed():.1f} s of {budget['max_seconds']} s used"
        calls_used, tokens_used = ledger.model_calls, ledger.tokens
        fitted: list[tuple[CompletionRequest, str]] = []
        for request, fingerprint in requests:  # the fingerprint of the request as asked
            if budget.get("max_calls") is not None and calls_used >= budget["max_calls"]:
                return fitted, f"model-call budget: {calls_used} of {budget['max_calls']} used"
            request = replace(request, sequence=calls_used)
            if budget.get("max_tokens") is not None:
                prompt_tokens = generator.count_tokens(request.prompt)
                room = budget["max_tokens"] - tokens_used - prompt_tokens
                if room < 1:
                    return fitted, (
                        f"token budget: {tokens_used:,} of {budget['max_tokens']:,} tokens used"
                    )
                request = replace(request, max_tokens=min(request.max_tokens, room))
                tokens_used += prompt_tokens + request.max_tokens  # the most it can use
            fitted.append((request, fingerprint))
            calls_used += 1
        return fitted, None

    def _make(
        self,
        generator: Generator,
        node_id: int,
        batch: list[tuple[CompletionRequest, str]],
        purpose: str,
    ) -> list[CallRecord]:
        rows = [
            CallRecord(
                run_id=self.run_id,
                node_id=node_id,
                purpose=purpose,
                backend=generator.backend,
                model=generator.model,
                prompt=request.prompt,
                params=request.params(),
                fingerprint=fingerprint,
            )
            for request, fingerprint in batch
        ]
        started = time.perf_counter()
        try:
            completions = generator.complete([request for request, _ in batch])
        except ModelError as error:
            rows[0].error = str(error)
            rows[0].latency_seconds = time.perf_counter() - started
            with self.engine.begin() as connection:
                hot_path.insert_model_call(connection, rows[0])
            raise
        # One commit for what one generator call returned (a batch arrives whole), so
        # every output is on disk before the next model call is made.
        with self.engine.begin() as connection:
            for row, completion in zip(rows, completions, strict=True):
                self._store(connection, row, completion)
        return rows

    def _store(self, connection: Connection, row: CallRecord, completion: Completion) -> None:
        """Write one returned call (in the caller's transaction) and count it."""
        row.output, replaced = storable(completion.text)
        row.prompt_tokens = completion.prompt_tokens
        row.completion_tokens = completion.completion_tokens
        row.cached_prompt_tokens = completion.cached_prompt_tokens
        row.latency_seconds = completion.latency_seconds
        row.extra = completion.extra | ({"replaced_characters": replaced} if replaced else {})
        row.logprobs = storable_logprobs(completion.logprobs)
        # The run's totals follow in the same commit (a trigger, storage/migrations.py m005).
        hot_path.insert_model_call(connection, row)
        if self.known is not None:
            self.known.add(row.fingerprint)
        if self.ledger is not None:
            self.ledger = replace(
                self.ledger,
                model_calls=self.ledger.model_calls + 1,
                prompt_tokens=self.ledger.prompt_tokens + completion.prompt_tokens,
                completion_tokens=self.ledger.completion_tokens + completion.completion_tokens,
            )
