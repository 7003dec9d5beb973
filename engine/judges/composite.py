"""The composite: how the active judge set settles a node.

Any gate that fails prunes the node, and the reason names the judge and its
rationale. The score is the weighted mean of the weight judges' scores; with
no weight judge (or none with an opinion) it is the share of gates passed.
"""

from __future__ import annotations

from dataclasses import dataclass

from treelight.engine.judges.base import Judge, Verdict


@dataclass(frozen=True)
class Settlement:
    score: float | None
    rejected_by: str | None  # "game24-verifier: 8 is not among 2 7 11"
    solved_by: str | None = None  # "code-tests: 4 of 4 tests passed"


def settle(judges: list[Judge], verdicts: list[Verdict]) -> Settlement:
    for judge, verdict in zip(judges, verdicts, strict=True):
        if judge.role == "gate" and verdict.passed is False:
            return Settlement(0.0, f"rejected by {judge.name}: {verdict.rationale}")
    solved_by = next(
        (
            f"{judge.name}: {verdict.rationale}"
            for judge, verdict in zip(judges, verdicts, strict=True)
            if judge.role == "gate" and verdict.passed and verdict.solves
        ),
        None,
    )
    settlement = _score(judges, verdicts)
    return Settlement(settlement, None, solved_by)


def _score(judges: list[Judge], verdicts: list[Verdict]) -> float | None:
    weighted = [
        (judge.weight, verdict.score)
        for judge, verdict in zip(judges, verdicts, strict=True)
        if judge.role == "weight" and verdict.score is not None
    ]
    total = sum(weight for weight, _ in weighted)
    if weighted and total > 0:
        return sum(w * s for w, s in weighted) / total
    gates = [v.passed for j, v in zip(judges, verdicts, strict=True) if j.role == "gate"]
    decided = [p for p in gates if p is not None]
    if decided:
        return sum(decided) / len(decided)
    return None
