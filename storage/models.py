"""The tables. Every candidate, verdict, decision and model call is a row.

Statuses, origins and who pruned a node are stored as plain strings, the values
of the StrEnums in storage/vocabulary.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Dialect, Index, String, Text, TypeDecorator, UniqueConstraint
from sqlmodel import Field, SQLModel

from treelight.storage.vocabulary import (
    CommandKind,
    CommandStatus,
    EventKind,
    NodeStatus,
    Origin,
    PrunedBy,
    RunRequest,
    RunStatus,
)


class Vocabulary(TypeDecorator[str]):
    """A vocabulary field (storage/vocabulary.py) stored as its plain string, so the
    database stays readable, and read back as its StrEnum member, so what code gets
    is what the model says. A word the enum does not know (written by another
    version) is read as the plain string rather than failing the whole query."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[StrEnum]) -> None:
        super().__init__()
        self.enum = enum

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else str(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        try:
            return self.enum(value)
        except ValueError:
            return value


def utcnow() -> datetime:
    return datetime.now(UTC)


def _json(default: Any = None) -> Any:
    return Field(
        default_factory=lambda: default() if callable(default) else default, sa_column=Column(JSON)
    )


class Run(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    task: str
    problem: str = Field(sa_column=Column(Text, nullable=False))
    task_params: dict[str, Any] = _json(dict)
    strategy: str
    strategy_params: dict[str, Any] = _json(dict)
    generator: dict[str, Any] = _json(dict)  # backend, model, sampling params
    judges: list[dict[str, Any]] = _json(list)  # the active judge set
    # "role:name" -> the package that provides it, for roles from plugins: a process
    # without that package pauses the run saying what to install.
    plugins: dict[str, str] = _json(dict)
    judge_set: int = 1  # bumped on every swap; evaluations remember theirs
    budget: dict[str, Any] = _json(dict)  # max_calls, max_tokens, max_seconds, max_nodes
    seed: int = 0
    replay: bool = False  # serve identical calls from any earlier run's model calls
    status: RunStatus = Field(
        default=RunStatus.QUEUED,
        sa_column=Column(Vocabulary(RunStatus), nullable=False, index=True),
    )
    status_reason: str = ""
    answer: str | None = None
    answer_node_id: int | None = None
    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    elapsed_seconds: float = 0.0
    actions: int = 0
    revision: int = 0  # bumped by every node write; see Node.rev
    steps_requested: int = 0  # "step one action" while paused
    # A pause or stop a person asked, not yet applied.
    requested: RunRequest = Field(
        default=RunRequest.NONE, sa_column=Column(Vocabulary(RunRequest), nullable=False)
    )
    lease_owner: str | None = None
    lease_until: datetime | None = None


class Node(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("run_id", "key", name="uq_node_run_key"),
        Index("ix_node_run_rev", "run_id", "rev"),  # "what changed since revision R"
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    # Deterministic path key ("0", "0/3", "0/3/1"): makes node writes idempotent
    # and gives every node a stable seed that survives a crash and resume.
    key: str
    parent_id: int | None = Field(default=None, foreign_key="node.id", index=True)
    depth: int = 0
    text: str = Field(default="", sa_column=Column(Text, nullable=False))
    state: dict[str, Any] = _json(dict)
    status: NodeStatus = Field(
        default=NodeStatus.OPEN, sa_column=Column(Vocabulary(NodeStatus), nullable=False)
    )
    status_reason: str = ""
    # Set while the status is "pruned".
    pruned_by: PrunedBy = Field(
        default=PrunedBy.NONE, sa_column=Column(Vocabulary(PrunedBy), nullable=False)
    )
    origin: Origin = Field(
        default=Origin.MODEL, sa_column=Column(Vocabulary(Origin), nullable=False)
    )
    branch: str = "main"
    score: float | None = None
    visits: int = 0
    value: float = 0.0
    pinned: bool = False
    model_call_id: int | None = Field(default=None, foreign_key="modelcall.id")
    # The candidate's log-probability, the sum over its tokens (engine/run/expansion.py),
    # where the backend gave per-token log-probabilities.
    logprob: float | None = None
    # The run's revision when this node was last written (storage/revisions.py):
    # lets the runner re-read only what changed since its last look.
    rev: int = Field(default=0, index=True)
    created_at: datetime = Field(default_factory=utcnow)


class Evaluation(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    node_id: int = Field(foreign_key="node.id", index=True)
    judge: str
    judge_config: dict[str, Any] = _json(dict)
    judge_set: int = 1
    role: str = "weight"  # "gate" or "weight"
    score: float | None = None
    passed: bool | None = None
    rationale: str = Field(default="", sa_column=Column(Text, nullable=False))
    model_call_ids: list[int] = _json(list)
    created_at: datetime = Field(default_factory=utcnow)


class Prior(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    node_id: int = Field(foreign_key="node.id", index=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    actor: str = "person"
    created_at: datetime = Field(default_factory=utcnow)


class Event(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    kind: EventKind = Field(sa_column=Column(Vocabulary(EventKind), nullable=False))
    actor: str = "engine"  # "engine" or "person"
    node_id: int | None = None
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    details: dict[str, Any] = _json(dict)
    created_at: datetime = Field(default_factory=utcnow)


class ModelCall(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    run_id: int | None = Field(default=None, foreign_key="run.id", index=True)
    node_id: int | None = None  # the node the call was made for
    purpose: str = "expand"
    backend: str
    model: str
    prompt: str = Field(sa_column=Column(Text, nullable=False))
    params: dict[str, Any] = _json(dict)
    fingerprint: str = Field(index=True)
    output: str = Field(default="", sa_column=Column(Text, nullable=False))
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0  # prompt prefix reused from the previous call
    latency_seconds: float = 0.0
    extra: dict[str, Any] = _json(dict)  # backend details, e.g. Ollama's durations
    # Per output token {"token", "logprob", "top": [{"token", "logprob"}]}, where the
    # backend gives them; None where it does not.
    logprobs: list[dict[str, Any]] | None = _json()
    error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


@dataclass(slots=True)
class CallRecord:
    """A ModelCall row as plain data. The engine's hottest write and read (one per
    model call) go through SQLAlchemy Core with this record: building an ORM object
    costs more than the INSERT itself (docs/BENCHMARKS.md, engine overhead)."""

    backend: str
    model: str
    prompt: str
    fingerprint: str
    run_id: int | None = None
    node_id: int | None = None
    purpose: str = "expand"
    params: dict[str, Any] = field(default_factory=dict)
    output: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    latency_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    logprobs: list[dict[str, Any]] | None = None
    error: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    id: int | None = None


class Command(SQLModel, table=True):
    """A person's request that needs the runner (and maybe a model): re-run a
    branch, re-score the whole tree. Steering that needs no model (prune, pin,
    prior, judge swap) is written directly instead."""

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    kind: CommandKind = Field(sa_column=Column(Vocabulary(CommandKind), nullable=False))
    node_id: int | None = None
    payload: dict[str, Any] = _json(dict)
    status: CommandStatus = Field(
        default=CommandStatus.PENDING,
        sa_column=Column(Vocabulary(CommandStatus), nullable=False, index=True),
    )
    result: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class RunScript(SQLModel, table=True):
    """The outputs a scripted run replays, kept beside the run rather than in it:
    the run row is rewritten on every model call and action, so it stays small."""

    run_id: int = Field(foreign_key="run.id", primary_key=True)
    outputs: list[str] = _json(list)


class DatasetEval(SQLModel, table=True):
    """`treelight eval`: one or more methods over a dataset's items. Each item under
    each method is an ordinary run (EvalItem links them), so every one opens in
    the explorer and a stopped eval resumes run by run."""

    __tablename__ = "dataset_eval"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)
    task: str
    dataset: str = Field(sa_column=Column(Text, nullable=False))  # a path or a built-in name
    methods: list[str] = _json(list)
    settings: dict[str, Any] = _json(dict)  # generator, budget, seed, item range


class EvalItem(SQLModel, table=True):
    """One dataset item under one method: its run, and the answer held out of it."""

    __tablename__ = "eval_item"
    __table_args__ = (UniqueConstraint("eval_id", "method", "item", name="uq_eval_item"),)

    id: int | None = Field(default=None, primary_key=True)
    eval_id: int = Field(foreign_key="dataset_eval.id", index=True)
    item: int  # the item's index in the dataset
    method: str
    run_id: int = Field(foreign_key="run.id", unique=True)
    # The expected answer: only the scoring sees it, never the search (a judge that
    # knew it would turn the search into guessing until it matches).
    expected: str | None = Field(default=None, sa_column=Column(Text))
