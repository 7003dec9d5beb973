"""The Task role: what a problem looks like and how a thought changes its state.

A task builds prompts and keeps the books. It never calls a model and never
searches: strategies decide, generators propose, judges score.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from treelight.engine.options import Field, Options, validate
from treelight.engine.types import NodeStatus, NodeView


@dataclass(frozen=True)
class Transition:
    """What one thought does to a state: a new state, or why it is invalid."""

    state: dict[str, Any] = field(default_factory=dict)
    terminal: bool = False
    answer: str | None = None
    invalid: str | None = None  # the reason, naming the rule that rejected it
    status: str | None = None  # an explicit node status (e.g. "critique")
    # The thought as the engine writes it, when the model wrote only part of it
    # (a constrained Game of 24 step "4 + 9" becomes "4 + 9 = 13 (left: 10 13 13)").
    text: str | None = None


@dataclass(frozen=True)
class Shape:
    """What the model may write in one expansion mode, as a GBNF grammar, with the
    prompt that asks for exactly that (None: the mode's usual prompt and token cap,
    as for a whole answer, whose prompt may carry the judges' feedback). A shape
    makes output well formed; it never ranks or filters moves by whether they lead
    to a solution."""

    grammar: str
    prompt: str | None = None
    max_tokens: int | None = None
    # > 0: `grammar` is one line, and the output is up to this many distinct lines
    # (CompletionRequest.distinct_lines; repeats allowed on backends that cannot).
    distinct_lines: int = 0


def gbnf_literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


# Modes that ask for a whole answer again (from the problem's own state).
WHOLE_ANSWER_MODES = ("solution", "revise", "mutate")


@dataclass(frozen=True)
class AnswerCheck:
    passed: bool
    reason: str


@dataclass(frozen=True)
class Example:
    """A tiny problem for a task, and outputs a model might give on it: right, wrong
    and malformed ones. The shared invariant tests run every installed task on it,
    with a scripted model playing these outputs in a seeded order (each output mixes
    up to `lines_per_output` of `outputs`, plus one of `verdicts` when given)."""

    problem: str
    outputs: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)
    judges: str = ""  # a judge spec (e.g. "calculator,answer"); blank: the task's defaults
    verdicts: tuple[str, ...] = ()
    lines_per_output: int = 1
    # False when judging it is slow (a sandbox per candidate): tested on fewer runs.
    cheap: bool = True

    def script(self, seed: int, count: int = 400) -> list[str]:
        """`count` model outputs in a seeded order."""
        rng = random.Random(seed)
        if self.lines_per_output <= 1:
            return [rng.choice(self.outputs) for _ in range(count)]
        played = []
        for _ in range(count):
            lines = rng.sample(self.outputs, rng.randint(0, self.lines_per_output))
            if self.verdicts:
                lines.insert(rng.randint(0, len(lines)), rng.choice(self.verdicts))
            played.append("\n".join(lines))
        return played


class TaskOptions(Options):
    """A task's own settings; a task's Options class adds its fields."""

    max_tokens: int | None = Field(
        None,
        ge=8,
        le=8192,
        description="the longest output one model call may write, in tokens (blank: the "
        "task's own limits, listed by `treelight run --help`)",
    )


class Task(ABC):
    name: ClassVar[str]
    description: ClassVar[str]
    default_judges: ClassVar[tuple[str, ...]]
    default_depth: ClassVar[int] = 4
    step_max_tokens: ClassVar[int] = 96
    solution_max_tokens: ClassVar[int] = 192
    stop: ClassVar[tuple[str, ...]] = ()
    # Few-shot prompts are continued as plain text; instructions go through the
    # model's chat template.
    chat: ClassVar[bool] = False

    # The task's own settings (the expected answer, the tests...), typed: the CLI's
    # flags and the New run page's widgets are made from this (engine/options.py).
    Options: ClassVar[type[TaskOptions]] = TaskOptions
    example: ClassVar[Example]

    def __init__(self, problem: str, params: dict[str, Any] | None = None) -> None:
        self.problem = problem.strip()
        self.options = validate(self.Options, params or {}, f"task {self.name!r}")
        self.params = self.options.model_dump()

    @abstractmethod
    def initial_state(self) -> dict[str, Any]: ...

    @abstractmethod
    def propose_prompt(self, path: list[NodeView], priors: list[str]) -> str:
        """The prompt asking for the next thoughts after `path` (root first)."""

    @abstractmethod
    def solution_prompt(self, priors: list[str]) -> str:
        """The prompt asking for a whole solution in one go (best-of-n, voting)."""

    @abstractmethod
    def parse_candidates(self, output: str, mode: str) -> list[str]:
        """Split one model output into candidate thoughts (may be empty)."""

    @abstractmethod
    def apply(self, state: dict[str, Any], thought: str, mode: str) -> Transition: ...

    def describe_path(self, path: list[NodeView]) -> str:
        """The problem and the thoughts of `path` so far, as a judge shows them to a
        model (a judge owns its question; the task only describes the path)."""
        steps = [n.text for n in path[1:]]
        so_far = "".join(f"Step {i + 1}: {s}\n" for i, s in enumerate(steps)) or "(none yet)\n"
        return f"Problem: {self.problem}\nSo far:\n{so_far}"

    def prompt(
        self, mode: str, path: list[NodeView], priors: list[str], feedback: str = ""
    ) -> tuple[str, int]:
        """The prompt that expands the last node of `path` in `mode`, and its token cap.

        `feedback` is what the judges said about that node (critique, mutate)."""
        if mode == "step":
            return self.propose_prompt(path, priors), self.step_tokens
        if mode == "solution":
            return self.solution_prompt(priors), self.solution_tokens
        if mode == "critique":
            return self.critique_prompt(path[-1].text, feedback), self.step_tokens
        if mode == "revise":  # path ends: ..., attempt, critique
            return (
                self.revise_prompt(path[-2].text, path[-1].text, priors),
                self.solution_tokens,
            )
        if mode == "mutate":
            return self.revise_prompt(path[-1].text, feedback, priors), self.solution_tokens
        raise ValueError(f"unknown expansion mode {mode!r}")

    @property
    def step_tokens(self) -> int:
        """The token limit of one step's output: the `max_tokens` option, else the task's."""
        return int(self.params.get("max_tokens") or self.step_max_tokens)

    @property
    def solution_tokens(self) -> int:
        """The token limit of a whole answer: the `max_tokens` option, else the task's."""
        return int(self.params.get("max_tokens") or self.solution_max_tokens)

    @classmethod
    def limits(cls) -> str:
        """The task's token limits in words, for `treelight run --help`."""
        if cls.step_max_tokens == cls.solution_max_tokens:
            return f"{cls.step_max_tokens} tokens a model call"
        return f"{cls.step_max_tokens} tokens a step, {cls.solution_max_tokens} a whole answer"

    def shape(self, mode: str, path: list[NodeView], priors: list[str]) -> Shape | None:
        """The constrained form of this mode's output, or None: the model writes freely."""
        return None

    def critique_prompt(self, attempt: str, feedback: str) -> str:
        judged = f"The checks said: {feedback}\n" if feedback else ""
        return (
            f"Problem: {self.problem}\nA proposed solution:\n{attempt}\n{judged}"
            "What is wrong with this solution? Name the mistakes in one or two sentences. "
            "If it is correct, say 'No mistakes.'\nCritique:"
        )

    def revise_prompt(self, attempt: str, feedback: str, priors: list[str]) -> str:
        """A better whole answer, given an earlier attempt and what was said about it."""
        note = (
            f"An earlier attempt:\n{attempt}\nWhat was wrong with it: "
            f"{feedback or 'it was not good enough'}\n"
        )
        if not self.chat:  # a few-shot prompt must end with its own cue: note first
            return f"{note}Write a corrected solution.\n\n{self.solution_prompt(priors)}"
        return f"{self.solution_prompt(priors)}{note}Write a corrected, complete solution.\n"

    def parse_critique(self, output: str) -> Transition:
        text = output.strip()
        if not text:
            return Transition(invalid=f"{self.name} rules: the critique is empty")
        return Transition(status=NodeStatus.CRITIQUE)  # the node's text is the critique

    def check_answer(self, answer: str) -> AnswerCheck | None:
        """Check a final answer when the task can (None: no checker)."""
        return None

    @classmethod
    def describe_state(cls, state: dict[str, Any]) -> str | None:
        """The engine's own account of a node's state, for its label in the tree
        (None: the thought says it all)."""
        return None

    # True when a state key means the same situation whatever the problem (Game of
    # 24: the numbers left), so what one tree showed about a state holds in every
    # tree; False: a key is only compared within one problem.
    shared_states: ClassVar[bool] = False

    def next_state_keys(self, state: dict[str, Any]) -> set[str] | None:
        """The keys of the states every move the task allows from `state` leads to
        (moves its rules reject left out): the step grammar listed, so that a tree
        in which every one of them was tried and failed shows the state is dead
        (engine/learning/labels.py). None: the moves cannot be listed."""
        return None

    def state_features(self, state: dict[str, Any]) -> list[float] | None:
        """A state as a few numbers a learned judge can read (Game of 24: how many
        numbers are left, and those numbers): the bare state, nothing derived from
        whether it can succeed. None: the task declares none."""
        return None

    def state_text(self, state: dict[str, Any], path_text: str) -> str:
        """What a learned judge embeds for a state: the engine's account of it when the
        task has one, else the problem and the path's thoughts (a step means nothing
        without the problem it is a step of)."""
        described = self.describe_state(state)
        if described:
            return described
        return path_text if self.shared_states else f"Problem: {self.problem}\n{path_text}"

    def learning_key(self, state: dict[str, Any], path_text: Callable[[], str]) -> str:
        """The key a learned judge files a state under, in training and when judging:
        the shared key where the task has one; else (math, code: a state is its path)
        the path's thoughts within the problem."""
        key = self.shared_key(state)
        if key is not None:
            return key
        return f"{self.problem}\x1fpath\x1f{path_text()}"

    def shared_key(self, state: dict[str, Any]) -> str | None:
        """The state's key as it is compared across problems: the key itself where
        the task's states are shared, else prefixed by the problem."""
        key = self.state_key(state)
        if key is None or self.shared_states:
            return key
        return f"{self.problem}\x1f{key}"

    def state_key(self, state: dict[str, Any]) -> str | None:
        """Nodes with the same key are the same situation: a sibling that reaches a
        state an earlier sibling reached is pruned as a duplicate, and a judge's
        verdict on one holds for the other (Tree of Thoughts' value cache). None:
        never the same."""
        return None


def prior_lines(priors: list[str]) -> str:
    return "".join(f"Hint from a person: {p}\n" for p in priors)
