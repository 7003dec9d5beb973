"""Check a code dataset before spending model time on it: each item's own reference
solution (HumanEval's canonical_solution, MBPP's code) run against its tests in the
sandbox, exactly as the code-tests judge runs a model's program. A reference that
fails points at the dataset or the harness, not at a model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from treelight.engine.errors import BadArguments
from treelight.engine.evals.datasets import Item
from treelight.engine.judges.code_tests import CodeTests
from treelight.engine.tasks import make_task
from treelight.engine.tasks.code import CodeTask


@dataclass(frozen=True)
class ReferenceCheck:
    item: int
    passed: bool
    why: str


def check_references(
    items: list[Item],
    task: str,
    options: dict[str, Any] | None = None,
    progress: Callable[[], None] = lambda: None,
) -> list[ReferenceCheck]:
    """Each item's reference solution judged by its own tests; items without one are
    refused (say which)."""
    if task != "code":
        raise BadArguments("--check-references checks code datasets: use --task code.")
    missing = [item.index for item in items if not item.reference]
    if missing:
        raise BadArguments(
            f"{len(missing)} item(s) have no reference solution (first: item {missing[0]}); "
            "HumanEval's canonical_solution and MBPP's code are read as references."
        )
    judge = CodeTests()
    checks = []
    for item in items:
        code_task = make_task(task, item.problem, {**item.params, **(options or {})})
        assert isinstance(code_task, CodeTask)
        verdict = judge.run_tests(item.reference, code_task)
        checks.append(ReferenceCheck(item.index, bool(verdict.passed), verdict.rationale))
        progress()
    return checks
