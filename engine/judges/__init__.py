"""Built-in judges and the spec language for choosing them.

A judge spec is `name[:key=value;...]`, e.g. `value:samples=5;weight=2` or
`vote:role=gate`; specs are separated by commas. A run stores its active set
as a list of dicts.
"""

from __future__ import annotations

from typing import Any

from treelight.engine.errors import BadArguments
from treelight.engine.judges.base import Answer, Judge, JudgeContext, Verdict
from treelight.engine.judges.calculator import AnswerChecker, Calculator
from treelight.engine.judges.code_tests import CodeTests
from treelight.engine.judges.composite import Settlement, settle
from treelight.engine.judges.game24_verifier import Game24Verifier
from treelight.engine.judges.value import ValueJudge
from treelight.engine.judges.vote import VoteJudge

JUDGES: dict[str, type[Judge]] = {
    j.name: j for j in (Game24Verifier, ValueJudge, VoteJudge, Calculator, AnswerChecker, CodeTests)
}

__all__ = ["JUDGES", "Answer", "Judge", "JudgeContext", "Settlement", "Verdict", "settle"]


def parse_judge_specs(text: str) -> list[dict[str, Any]]:
    """`"game24-verifier,value:samples=5;weight=2"` -> a list of judge spec dicts."""
    specs: list[dict[str, Any]] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, _, options = part.partition(":")
        spec: dict[str, Any] = {"name": name.strip()}
        for option in (o.strip() for o in options.split(";") if o.strip()):
            key, sep, value = option.partition("=")
            if not sep:
                raise BadArguments(f"Judge option {option!r} must look like key=value.")
            spec[key.strip()] = _number(value.strip())
        specs.append(spec)
    return specs


def _number(value: str) -> Any:
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def make_judges(specs: list[dict[str, Any]]) -> list[Judge]:
    judges = []
    for spec in specs:
        options = dict(spec)
        name = options.pop("name")
        if name not in JUDGES:
            raise BadArguments(f"Unknown judge {name!r}; choose from: {', '.join(sorted(JUDGES))}.")
        try:
            judges.append(JUDGES[name](**options))
        except TypeError as error:
            raise BadArguments(f"Bad options for judge {name!r}: {error}") from None
    return judges
