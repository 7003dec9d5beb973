"""Chance: a backend with no model, writing uniformly at random what the task's
grammar allows.

It is the baseline every search benchmark runs beside the model (issue: "the
model must earn its place"): the same shell — the same task, strategy, width,
verifiers and budget — with the model replaced by uniform choices over the very
grammar the model writes under (`constrain=auto`). For a Game of 24 step that
is a uniform random legal move; for the value judge, a random verdict word. A
call without a grammar (a mode the task does not constrain, such as a whole
answer) has nothing to choose from, and fails with a message saying so.

The grammar reader covers the GBNF the tasks write: rules `name ::= ...`,
quoted literals, character classes (`[a-z]`, `[^`]`: a negated one draws from
printable ASCII and the line break), rule names, groups, alternatives `|` and
repetitions `?`, `*`, `+`, `{n}`, `{m,n}`. It knows nothing about any task.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass
from typing import Any

from treelight.engine.errors import ModelError
from treelight.engine.generators.base import (
    Completion,
    CompletionRequest,
    Generator,
    GeneratorOptions,
    draw_distinct_lines,
)
from treelight.engine.options import Field
from treelight.engine.tasks.base import gbnf_literal

OPEN_ENDED_REPEATS = 8  # how many times `*` or `+` may repeat at most
TOKEN = re.compile(
    r'\s*(?:(?P<lit>"(?:[^"\\]|\\.)*")|(?P<name>[A-Za-z][\w-]*)'
    r"|(?P<cls>\[(?:[^\]\\]|\\.)*\])"
    r"|(?P<sym>::=|[|()?*+])|(?P<rep>\{\s*\d+\s*(?:,\s*\d*\s*)?\}))"
)
# What a negated character class ([^...]) draws from: printable ASCII and a line break.
PRINTABLE = "".join(chr(c) for c in range(32, 127)) + "\n"


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Chars:
    """A character class: one of `chars` (for [^...], the printable ones not named)."""

    chars: str


def _char_class(text: str) -> Chars:
    body = text[1:-1].encode("utf-8").decode("unicode_escape")
    negated = body.startswith("^")
    body = body[1:] if negated else body
    named: set[str] = set()
    at = 0
    while at < len(body):
        if at + 2 < len(body) and body[at + 1] == "-":
            named |= {chr(c) for c in range(ord(body[at]), ord(body[at + 2]) + 1)}
            at += 3
        else:
            named.add(body[at])
            at += 1
    chars = "".join(c for c in PRINTABLE if c not in named) if negated else "".join(sorted(named))
    if not chars:
        raise ModelError(f"The character class {text} allows no character.")
    return Chars(chars)


@dataclass(frozen=True)
class Ref:
    name: str


@dataclass(frozen=True)
class Alternatives:
    options: tuple[tuple[Any, ...], ...]  # each option is a sequence of items


@dataclass(frozen=True)
class Repeat:
    item: Any
    low: int
    high: int


def _unescape(literal: str) -> str:
    return literal[1:-1].encode("utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8")


def _tokens(text: str) -> list[tuple[str, str]]:
    found, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ModelError(
                f"The chance backend cannot read the grammar at: {text[position:][:30]!r}"
            )
        kind = match.lastgroup or ""
        found.append((kind, match.group(kind)))
        position = match.end()
    return found


def parse_grammar(text: str) -> dict[str, Alternatives]:
    rules: dict[str, Alternatives] = {}
    for line in (
        raw for raw in text.splitlines() if raw.strip() and not raw.strip().startswith("#")
    ):
        tokens = _tokens(line)
        if len(tokens) < 3 or tokens[1] != ("sym", "::="):
            raise ModelError(f"The chance backend expects `name ::= ...` rules, not {line!r}")
        rule, rest = tokens[0][1], tokens[2:]
        alternatives, used = _alternatives(rest, 0)
        if used != len(rest):
            raise ModelError(f"Unbalanced grammar rule: {line!r}")
        rules[rule] = alternatives
    if "root" not in rules:
        raise ModelError("The grammar has no `root` rule.")
    return rules


def _alternatives(tokens: list[tuple[str, str]], at: int) -> tuple[Alternatives, int]:
    options: list[tuple[Any, ...]] = []
    sequence: list[Any] = []
    while at < len(tokens) and tokens[at] != ("sym", ")"):
        kind, value = tokens[at]
        if (kind, value) == ("sym", "|"):
            options.append(tuple(sequence))
            sequence, at = [], at + 1
            continue
        if kind == "lit":
            item: Any = Text(_unescape(value))
            at += 1
        elif kind == "name":
            item, at = Ref(value), at + 1
        elif kind == "cls":
            item, at = _char_class(value), at + 1
        elif (kind, value) == ("sym", "("):
            item, at = _alternatives(tokens, at + 1)
            at += 1  # the closing parenthesis
        else:
            raise ModelError(f"Unexpected {value!r} in the grammar.")
        while at < len(tokens) and (tokens[at][0] == "rep" or tokens[at][1] in ("?", "*", "+")):
            item, at = _repeat(item, tokens[at][1]), at + 1
        sequence.append(item)
    options.append(tuple(sequence))
    return Alternatives(tuple(options)), at


def _repeat(item: Any, suffix: str) -> Repeat:
    if suffix == "?":
        return Repeat(item, 0, 1)
    if suffix == "*":
        return Repeat(item, 0, OPEN_ENDED_REPEATS)
    if suffix == "+":
        return Repeat(item, 1, OPEN_ENDED_REPEATS)
    low, comma, high = suffix.strip("{} ").partition(",")
    if not comma:  # {n}: exactly n
        return Repeat(item, int(low), int(low))
    return Repeat(item, int(low), int(high) if high.strip() else OPEN_ENDED_REPEATS)


def sample(rules: dict[str, Alternatives], rng: random.Random) -> str:
    """One string the grammar allows: at every choice, each option equally likely."""
    out: list[str] = []

    def walk(item: Any, depth: int) -> None:
        if depth > 200:
            raise ModelError("The grammar recurses too deeply to sample.")
        if isinstance(item, Text):
            out.append(item.text)
        elif isinstance(item, Chars):
            out.append(rng.choice(item.chars))
        elif isinstance(item, Ref):
            walk(rules[item.name], depth + 1)
        elif isinstance(item, Alternatives):
            for part in rng.choice(item.options):
                walk(part, depth + 1)
        elif isinstance(item, Repeat):
            for _ in range(rng.randint(item.low, item.high)):
                walk(item.item, depth + 1)

    walk(rules["root"], 0)
    return "".join(out)


LANGUAGE_LIMIT = 5000  # a line grammar with more strings than this is not listed


def language(rules: dict[str, Alternatives], limit: int = LANGUAGE_LIMIT) -> list[str] | None:
    """Every string the grammar allows, in order, or None when there are more than
    `limit` (or infinitely many: a rule that refers to itself)."""

    def strings(item: Any, seen: tuple[str, ...]) -> list[str] | None:
        if isinstance(item, Text):
            return [item.text]
        if isinstance(item, Chars):
            return list(item.chars)
        if isinstance(item, Ref):
            if item.name in seen:
                return None
            return strings(rules[item.name], (*seen, item.name))
        if isinstance(item, Alternatives):
            found: list[str] = []
            for option in item.options:
                joined: list[str] | None = [""]
                for part in option:
                    tails = strings(part, seen)
                    if tails is None or joined is None:
                        return None
                    joined = [head + tail for head in joined for tail in tails]
                    if len(joined) > limit:
                        return None
                found += joined or []
                if len(found) > limit:
                    return None
            return found
        if isinstance(item, Repeat):
            inner = strings(item.item, seen)
            if inner is None:
                return None
            found, level = [], [""]
            for count in range(item.high + 1):
                if count >= item.low:
                    found += level
                level = [head + tail for head in level for tail in inner]
                if len(found) + len(level) > limit:
                    return None
            return found
        raise AssertionError(item)

    return strings(rules["root"], ("root",))


def remaining_lines_grammar(line_grammar: str, written: list[str]) -> str | None:
    """The line grammar less the lines already `written`, as a flat GBNF list of the
    strings left (sampling without replacement: the next line is drawn from the
    model's distribution over what is left); the grammar unchanged when its strings
    cannot be listed (then a repeat is drawn again instead); None when nothing is
    left."""
    strings = language(parse_grammar(line_grammar))
    if strings is None:
        return line_grammar
    left = [text for text in dict.fromkeys(strings) if text not in written]
    if not left:
        return None
    return "root ::= " + " | ".join(gbnf_literal(text) for text in left)


class ChanceGenerator(Generator):
    backend = "random"
    label = "Chance (no model: uniform over what the task's grammar allows)"
    supports_grammar = True
    supports_distinct_lines = True

    class Options(GeneratorOptions):
        delay: float = Field(0.0, ge=0, le=60, description="seconds per call (to watch it grow)")

    def __init__(self, model: str = "chance", delay: float = 0.0) -> None:
        super().__init__(model)
        self.delay = delay
        self._rules: dict[str, dict[str, Alternatives]] = {}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> ChanceGenerator:
        if spec.get("constrain", "auto") == "off":
            raise ModelError(
                "The random backend writes only what a task's grammar allows: "
                "run it with --constrain auto."
            )
        return cls(delay=float(spec.get("delay", 0.0)))

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def complete(self, requests: list[CompletionRequest]) -> list[Completion]:
        completions = []
        for request in requests:
            if request.grammar is None:
                raise ModelError(
                    "The random backend has no model: it can only write what a task's "
                    "grammar allows, and this call has none (a mode the task does not "
                    "constrain, such as a whole answer). Use a step-by-step strategy "
                    "(bfs, dfs, mcts) and verifiers, e.g. --judges game24-verifier."
                )
            started = time.perf_counter()
            if self.delay:
                time.sleep(self.delay)
            rules = self._parsed(request.grammar)
            if request.distinct_lines:  # the model's rule: redraw a repeated line

                def draw(
                    written: list[str], seed: int, _max_tokens: int, grammar: str = request.grammar
                ) -> tuple[str | None, int]:
                    left = remaining_lines_grammar(grammar, written)
                    if left is None:
                        return None, 0
                    line = sample(self._parsed(left), random.Random(seed))
                    return line, self.count_tokens(line)

                lines, spent = draw_distinct_lines(request, draw)
                text = "\n".join(lines)
            else:
                text = sample(rules, random.Random(request.seed))
                spent = self.count_tokens(text)
            completions.append(
                Completion(
                    text=text,
                    prompt_tokens=0,  # nothing reads the prompt
                    completion_tokens=spent,
                    latency_seconds=time.perf_counter() - started,
                )
            )
        return completions

    def _parsed(self, grammar: str) -> dict[str, Alternatives]:
        rules = self._rules.get(grammar)
        if rules is None:
            if len(self._rules) > 512:  # remaining-lines grammars are many and short-lived
                self._rules.clear()
            rules = self._rules[grammar] = parse_grammar(grammar)
        return rules
