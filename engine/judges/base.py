"""The Judge role: scores nodes. A gate's fail prunes; a weight's score ranks.

Judges see a group of siblings at once, so a vote can compare them. A judge
that needs a model asks through the `JudgeContext`, which logs, caches and
budgets every call the same way the runner does for expansions.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

from treelight.engine.options import Field, Options, validate
from treelight.engine.tasks.base import Task
from treelight.engine.types import NodeView, TreeView, judge_key


@dataclass(frozen=True)
class Verdict:
    score: float | None  # in [0, 1]; None: this judge has no opinion on this node
    passed: bool | None  # gates say True/False; weights say None
    rationale: str
    model_call_ids: list[int] = field(default_factory=list)
    # True when a passing verdict is a full check of a final answer (e.g. every test
    # passed): a gate saying so marks the node solved.
    solves: bool = False


@dataclass(frozen=True)
class Answer:
    """One model output a judge asked for, and the ModelCall row that holds it."""

    text: str
    call_id: int


@dataclass(frozen=True)
class Embedding:
    """A text's embedding by the run's model, and the ModelCall row that holds it."""

    vector: list[float]
    call_id: int


@dataclass(frozen=True)
class Choices:
    """The probabilities of a judge's words (normalized over them), the share of the
    model's next-token probability they had together, and the ModelCall row."""

    probabilities: dict[str, float]
    mass: float
    call_id: int


class JudgeContext(Protocol):
    task: Task
    tree: TreeView

    def ask(
        self,
        node: NodeView,
        prompt: str,
        samples: int,
        purpose: str,
        max_tokens: int,
        json_schema: dict[str, Any] | None = None,
        grammar: str | None = None,
    ) -> list[Answer]:
        """`samples` model outputs for `prompt`. `json_schema` (Ollama's `format`) and
        `grammar` (GBNF: llama.cpp) are applied by backends that can, unless the run
        says `constrain=off`; so judges must parse free text too."""
        ...

    def ask_choices(
        self, node: NodeView, prompt: str, purpose: str, words: tuple[str, ...]
    ) -> Choices | None:
        """How likely the model is to answer each of `words` next, read from its
        next-token probabilities in one call; None when the backend cannot tell."""
        ...

    def embed(self, node: NodeView, texts: list[str]) -> list[Embedding] | None:
        """Each text's embedding by the run's model (one stored call each, purpose
        "embed", counted against the budgets); None when the backend cannot embed."""
        ...

    def earlier_verdict(self, judge: Judge, node: NodeView) -> tuple[Verdict, int] | None:
        """A verdict this judge gave a node in the same state (and that node's id)."""
        ...


class JudgeOptions(Options):
    """What every judge takes; a judge's own Options class adds its fields."""

    role: Literal["gate", "weight"] | None = Field(
        None, description="gate: a fail prunes; weight: the score ranks (default: the judge's)"
    )
    weight: float = Field(1.0, ge=0, le=100, description="how much this judge's score counts")


class Judge(ABC):
    name: ClassVar[str]
    default_role: ClassVar[str] = "weight"
    description: ClassVar[str] = ""
    # The tasks this judge can judge (by name); () for any. Lists of judges offered to
    # a person (the New run form, the explorer's Judges control) show only these.
    tasks: ClassVar[tuple[str, ...]] = ()
    # A free judge makes no model call (a verifier: rules, a calculator, tests). Free
    # judges speak first, and every candidate they can settle is settled before a run
    # rests, whatever ends or pauses it: checking costs no model-call budget. Not a
    # ClassVar: a judge may decide it per instance (`learned` is free on task
    # features and calls the model on embeddings).
    free: bool = False

    # The judge's own options (beside role and weight), typed: see engine/options.py.
    Options: ClassVar[type[JudgeOptions]] = JudgeOptions

    def __init__(self, **values: Any) -> None:
        checked = validate(self.Options, values, f"judge {self.name!r}")
        assert isinstance(checked, JudgeOptions)
        self.role = checked.role or self.default_role
        self.weight = float(checked.weight)
        # Stored in the run's judge set and part of the judge's key: only its own options.
        self.options = checked.model_dump(exclude={"role", "weight"})

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "weight": self.weight, **self.options}

    def key(self) -> str:
        """This judge's identity in the set, as its stored verdicts carry it."""
        return judge_key(self.config())

    @abstractmethod
    def judge(self, nodes: list[NodeView], ctx: JudgeContext) -> list[Verdict]:
        """One verdict per node, in order. `nodes` are siblings."""
