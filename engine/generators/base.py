"""The Generator role: a backend that turns prompts into completions.

A generator only generates. It does not log, cache or count budgets: the
runner does that around it, the same way for every backend.
"""

from __future__ import annotations

import hashlib
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from treelight.engine.options import Field, Options, validate


@dataclass(frozen=True)
class CompletionRequest:
    prompt: str
    seed: int
    temperature: float = 0.7
    max_tokens: int = 128
    top_p: float = 0.95
    stop: tuple[str, ...] = ()
    # True: the prompt is a user message, wrapped in the model's chat template.
    # False: a plain completion that continues the prompt (few-shot prompts).
    chat: bool = False
    # A JSON schema the answer must follow, for backends that can enforce one
    # (Ollama's `format`); the others ignore it, and judges parse either way.
    json_schema: dict[str, Any] | None = None
    # Which model call of the run this is (0-based); the scripted backend
    # replays its outputs by it, so a resumed run continues where it stopped.
    sequence: int = 0
    # A GBNF grammar the output must match (the task's shape for this mode, e.g. a
    # Game of 24 step "a op b" over the numbers left), for backends that take one.
    # It makes the output well formed; it never knows which move is good.
    grammar: str | None = None
    # Read, instead of sampling, how likely each of these words is to come next (the
    # next-token distribution right after the prompt), for backends that can: a
    # verdict judge's one short call. The completion's `extra["choices"]` holds the
    # probabilities (normalized over the words); its text is the greedy next token.
    choices: tuple[str, ...] | None = None
    # Up to this many lines, each matching `grammar` on its own and none repeating an
    # earlier one: sampling without replacement from the model's own distribution
    # (a line already written is drawn again, with the next seed, at most
    # DISTINCT_TRIES times per line). For backends that can (supports_distinct_lines);
    # the others get `grammar` repeated over lines instead (repeated_lines_grammar).
    distinct_lines: int = 0
    # Embed the prompt instead of continuing it, for backends that can
    # (supports_embedding): the completion's `extra["embedding"]` holds the vector.
    embed: bool = False

    def params(self) -> dict[str, Any]:
        """What the call ran with, as its ModelCall row records it."""
        # A shallow copy (asdict's deep one cost a tenth of the engine's time per node).
        params = {name: getattr(self, name) for name in _REQUEST_FIELDS}
        params["stop"] = list(self.stop)
        # Calls made before these fields existed keep their fingerprints.
        for name in ("grammar", "choices"):
            if params[name] is None:
                del params[name]
        if not self.distinct_lines:
            del params["distinct_lines"]
        if not self.embed:
            del params["embed"]
        if self.choices is not None:
            params["choices"] = list(self.choices)
        return params


_REQUEST_FIELDS = tuple(
    f.name for f in fields(CompletionRequest) if f.name not in ("prompt", "sequence")
)


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    latency_seconds: float
    cached_prompt_tokens: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    # Per output token, where the backend gives them: {"token", "logprob", "top":
    # [{"token", "logprob"}, ...]} (the likeliest alternatives at that position).
    logprobs: list[dict[str, Any]] | None = None


@runtime_checkable
class ModelCatalog(Protocol):
    """A backend whose server lists its models and can pull more (Ollama)."""

    @staticmethod
    def catalog(options: dict[str, Any]) -> list[dict[str, Any]]:
        """The server's models: dicts with "name" and maybe "parameters", "family",
        "quantization", "size" (bytes)."""
        ...

    @staticmethod
    def pull(name: str, options: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Pull a model, yielding progress: {"status", "completed", "total"}."""
        ...


class GeneratorOptions(Options):
    """What every backend takes; a backend's own Options class adds its fields."""

    model: str | None = Field(None, description="the model to use (blank: the backend's default)")
    constrain: Literal["auto", "off"] = Field(
        "auto",
        description="auto: the model writes in the shape the task declares (a grammar), where "
        "the backend can apply one; off: it writes freely",
        json_schema_extra={"flag": "--constrain"},
    )


class Generator(ABC):
    backend: ClassVar[str]  # the name runs store and `--backend` takes
    label: ClassVar[str] = ""  # how the New run page names it
    supports_schema: ClassVar[bool] = False
    # Applies CompletionRequest.grammar; not a ClassVar: a backend may decide it per
    # instance, from its options (the openai backend's `grammar_field=none`).
    supports_grammar: bool = False
    # Writes CompletionRequest.distinct_lines itself (one line at a time, no repeats).
    supports_distinct_lines: ClassVar[bool] = False
    # Reads CompletionRequest.choices' probabilities; not a ClassVar: a server backend
    # can while its server gives top log-probabilities (and stops when it refuses).
    supports_choices: bool = False
    supports_embedding: ClassVar[bool] = False  # answers CompletionRequest.embed (an Embedder)
    Options: ClassVar[type[GeneratorOptions]] = GeneratorOptions

    @classmethod
    def prepare(cls, values: dict[str, Any]) -> dict[str, Any]:
        """A person's choices (CLI flags, page widgets) checked and turned into the
        spec stored with the run; unset options are left out."""
        checked = validate(cls.Options, values, f"backend {cls.backend!r}")
        return checked.model_dump(exclude_defaults=True)

    @classmethod
    @abstractmethod
    def from_spec(cls, spec: dict[str, Any]) -> Generator:
        """The generator a stored spec describes (`backend`, `temperature` and the
        backend's options)."""

    def __init__(self, model: str) -> None:
        self.model = model

    @abstractmethod
    def complete(self, requests: list[CompletionRequest]) -> list[Completion]:
        """One completion per request, in order. Raises ModelError on failure."""

    def count_tokens(self, text: str) -> int:
        """An estimate good enough to keep a token budget (backends may do better)."""
        return max(1, len(text) // 4)

    def fingerprint(self, request: CompletionRequest) -> str:
        """Identical requests share a fingerprint, so they can be served from storage."""
        payload = {"backend": self.backend, "model": self.model, "prompt": request.prompt}
        payload.update(request.params())
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


EMBEDDING_DECIMALS = 5  # stored vectors are rounded: a judge reads what was stored


def embed_request(text: str) -> CompletionRequest:
    """The request that embeds `text`: the same text is always the same request, so
    an embedding is computed once and served from storage after that."""
    return CompletionRequest(prompt=text, seed=0, temperature=0.0, max_tokens=0, embed=True)


def embedding_completion(
    vector: list[float], prompt_tokens: int, latency_seconds: float
) -> Completion:
    rounded = [round(float(v), EMBEDDING_DECIMALS) for v in vector]
    return Completion("", prompt_tokens, 0, latency_seconds, extra={"embedding": rounded})


def choices_from_top(first: Completion, words: tuple[str, ...]) -> Completion:
    """A one-token completion read as a verdict judge's choice among `words`: the
    top alternatives at the first position (from a server's top log-probabilities),
    each counted for the one word it begins (a token that begins two words counts
    for neither), normalized over the words. The completion keeps what was read as
    its log-probabilities."""
    import math

    if not first.logprobs:  # the server gave none: no "choices", the judge samples
        return first
    alternatives = first.logprobs[0].get("top") or []
    raw = dict.fromkeys(words, 0.0)
    for entry in alternatives:
        said = str(entry["token"]).strip().lower()
        # At least three of a word's letters: a bare "s" is not "sure" (as embedded).
        long_enough = [w for w in words if len(said) >= min(3, len(w))]
        begun = [w for w in long_enough if w.lower().startswith(said)]
        if len(begun) == 1:
            raw[begun[0]] += math.exp(float(entry["logprob"]))
    mass = sum(raw.values())
    probabilities = {w: (p / mass if mass > 0 else 1 / len(raw)) for w, p in raw.items()}
    return Completion(
        text=first.text,  # the greedy token; the reading is in `extra["choices"]`
        prompt_tokens=first.prompt_tokens,
        completion_tokens=first.completion_tokens,
        latency_seconds=first.latency_seconds,
        cached_prompt_tokens=first.cached_prompt_tokens,
        extra={
            **first.extra,
            "choices": {w: round(p, 4) for w, p in probabilities.items()},
            "choice_mass": round(mass, 6),  # the words' share of the next-token probability
        },
        logprobs=first.logprobs,
    )


def one_token(request: CompletionRequest) -> CompletionRequest:
    """The greedy one-token request whose top alternatives a verdict is read from."""
    return replace(request, max_tokens=1, temperature=0.0, choices=None, grammar=None)


DISTINCT_TRIES = 3  # draws per line of a distinct-lines request before it gives up


def repeated_lines_grammar(line_grammar: str, lines: int) -> str:
    """`line_grammar` (whose `root` is one line) as up to `lines` lines, repeats
    allowed: the fallback for backends that cannot write distinct lines."""
    renamed = re.sub(r"^root ::=", "line ::=", line_grammar, count=1, flags=re.MULTILINE)
    return f'root ::= line ("\\n" line){{0,{lines - 1}}}\n{renamed}'


def draw_distinct_lines(
    request: CompletionRequest,
    draw: Callable[[list[str], int, int], tuple[str | None, int]],
) -> tuple[list[str], int]:
    """The lines of a distinct-lines request. `draw(lines so far, seed, max tokens)`
    writes one more line, excluding the lines so far where it can (None: nothing is
    left to write), and says how many tokens it spent; a line that still repeats one
    (or is empty) is drawn again with the next seed, at most DISTINCT_TRIES times in
    a row before the output ends. Returns the lines and every token spent."""
    lines: list[str] = []
    spent = tries = draws = 0
    while len(lines) < request.distinct_lines and spent < request.max_tokens:
        line, used = draw(list(lines), request.seed + 7919 * draws, request.max_tokens - spent)
        draws += 1
        if line is None:
            break
        spent += used
        line = line.strip()
        if line and line not in lines:
            lines.append(line)
            tries = 0
        else:
            tries += 1
            if tries >= DISTINCT_TRIES:
                break
    return lines, spent


def joined_line_tokens(
    lines: list[str], written: dict[str, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """The tokens of distinct lines written one at a time (`written`: each line's own
    tokens), with the line breaks between them marked as the engine's, not sampled."""
    tokens: list[dict[str, Any]] = []
    for number, line in enumerate(lines):
        if number:
            tokens.append({"token": "\n", "logprob": 0.0, "top": [], "by": "engine"})
        tokens += written.get(line, [])
    return tokens
