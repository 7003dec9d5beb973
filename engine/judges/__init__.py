"""Built-in judges (registered through the plugin hooks) and the spec language.

A judge spec is `name[:key=value;...]`, e.g. `value:samples=5;weight=2` or
`vote:role=gate`; specs are separated by commas. A run stores its active set
as a list of dicts.
"""

from __future__ import annotations

from typing import Any

from treelight.engine.errors import BadArguments
from treelight.engine.hookspecs import hookimpl
from treelight.engine.judges.base import Answer, Judge, JudgeContext, Verdict
from treelight.engine.judges.calculator import AnswerChecker, Calculator
from treelight.engine.judges.code_tests import CodeTests
from treelight.engine.judges.composite import Settlement, settle
from treelight.engine.judges.game24_verifier import Game24Verifier
from treelight.engine.judges.learned import LearnedJudge
from treelight.engine.judges.value import ValueJudge
from treelight.engine.judges.vote import VoteJudge
from treelight.engine.plugins import RegisterFunction, registry

__all__ = ["Answer", "Judge", "JudgeContext", "Settlement", "Verdict", "judge_classes", "settle"]


@hookimpl
def register_judges(register: RegisterFunction) -> None:
    for judge in (
        Game24Verifier,
        ValueJudge,
        VoteJudge,
        Calculator,
        AnswerChecker,
        CodeTests,
        LearnedJudge,
    ):
        register(judge)


def judge_classes() -> dict[str, type[Judge]]:
    """Every installed judge by name (built-in and plugins)."""
    return registry().roles["judge"]


def judges_for(task: str) -> dict[str, type[Judge]]:
    """The installed judges that can judge `task` (those that name no task judge any)."""
    return {n: j for n, j in judge_classes().items() if not j.tasks or task in j.tasks}


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


def make_judges(
    specs: list[dict[str, Any]], providers: dict[str, str] | None = None
) -> list[Judge]:
    """Judges from a run's stored specs; `providers` (`judge:name` -> package) names
    what to install when one is missing."""
    judges = []
    for spec in specs:
        options = dict(spec)
        name = options.pop("name")
        needed_from = (providers or {}).get(f"judge:{name}")
        judge_class: type[Judge] = registry().get("judge", name, needed_from)
        judges.append(judge_class(**options))
    return judges
