"""One puzzle's result under one method, a method's summary over the puzzles,
and how they are checked, tabled and plotted: shared by Treelight's methods
(bench/game24.py) and the reference (bench/reference_tot.py).

Every answer is judged by Treelight's strict checker: the expression uses exactly
the four numbers, each once, and equals 24.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from treelight.engine.evals.datasets import game24_file
from treelight.engine.tasks.game24 import check_expression, parse_problem


@dataclass
class PuzzleResult:
    method: str
    index: int
    puzzle: str
    solved: bool
    answer: str | None
    model_calls: int
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    run_id: int | None = None
    note: str = ""
    reused: bool = False  # stored by an earlier run of the same command, not run now

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class MethodSummary:
    method: str
    puzzles: int
    solved: int
    success_rate: float
    calls_per_puzzle: float
    tokens_per_puzzle: float
    tokens_per_solved: float | None
    seconds_per_puzzle: float
    notes: list[str] = field(default_factory=list)


def load_puzzles(path: str | None = None) -> list[str]:
    with open(game24_file(path), newline="", encoding="utf-8") as handle:
        return [row["Puzzles"] for row in csv.DictReader(handle)]


def check(puzzle: str, answer: str | None) -> bool:
    return bool(answer) and check_expression(answer or "", parse_problem(puzzle)).passed


def summarize(results: list[PuzzleResult]) -> list[MethodSummary]:
    summaries = []
    for method in dict.fromkeys(r.method for r in results):
        mine = [r for r in results if r.method == method]
        solved = [r for r in mine if r.solved]
        tokens = sum(r.tokens for r in mine)
        summaries.append(
            MethodSummary(
                method=method,
                puzzles=len(mine),
                solved=len(solved),
                success_rate=round(len(solved) / len(mine), 3),
                calls_per_puzzle=round(sum(r.model_calls for r in mine) / len(mine), 1),
                tokens_per_puzzle=round(tokens / len(mine)),
                tokens_per_solved=round(tokens / len(solved)) if solved else None,
                seconds_per_puzzle=round(sum(r.seconds for r in mine) / len(mine), 1),
                notes=sorted({r.note.split(":")[0] for r in mine if r.note}),
            )
        )
    return summaries


def table(summaries: list[MethodSummary]) -> str:
    width = max([len("method"), *(len(s.method) for s in summaries)])
    lines = [
        f"{'method':<{width}} puzzles  solved  success  calls/puzzle  tokens/puzzle  "
        "tokens/solved  s/puzzle"
    ]
    for s in summaries:
        per_solved = f"{s.tokens_per_solved:,}" if s.tokens_per_solved is not None else "-"
        lines.append(
            f"{s.method:<{width}} {s.puzzles:>7} {s.solved:>7} {s.success_rate:>8.1%} "
            f"{s.calls_per_puzzle:>13} {s.tokens_per_puzzle:>14,} {per_solved:>14} "
            f"{s.seconds_per_puzzle:>9}"
        )
    return "\n".join(lines)


def short_name(method: str) -> str:
    """A method as a plot labels it: a learned judge by its file's name alone."""
    import re

    return re.sub(r"judges=[^;]*learned:file=([^;+,]+)[^;]*", r"learned judge \1", method)


def plot(summaries: list[MethodSummary], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7.2, 4.4), dpi=120)
    at_level: dict[float, int] = {}  # labels already at this success rate: stagger them
    for s in sorted(summaries, key=lambda s: s.tokens_per_puzzle):
        nth = at_level.get(s.success_rate, 0)
        at_level[s.success_rate] = nth + 1
        # Grey: no model of ours (the reference); orange: chance; blue: the model.
        name = s.method.split(":")[0]
        colour = {"reference": "#808080", "random": "#dd6b20"}.get(name, "#2b6cb0")
        axes.scatter(s.tokens_per_puzzle, 100 * s.success_rate, s=60, color=colour)
        axes.annotate(
            f"{short_name(s.method)} ({s.solved}/{s.puzzles})",
            (s.tokens_per_puzzle, 100 * s.success_rate),
            textcoords="offset points",
            xytext=(6, (4, -14, 16, -26)[nth % 4]),
            fontsize=9,
        )
    axes.set_xscale("log")
    axes.xaxis.set_minor_formatter(plt.NullFormatter())  # no crowded 2x10^2 labels
    low, high = axes.get_xlim()
    axes.set_xlim(low, high * 6)  # room for the labels of the rightmost points
    axes.set_xlabel("model tokens per puzzle (prompt + completion, log scale)")
    axes.set_ylabel("puzzles solved (%)")
    axes.set_title(title, fontsize=10)
    axes.set_ylim(-12, 105)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def result_rows(results: list[PuzzleResult]) -> list[dict[str, Any]]:
    return [{**asdict(r), "tokens": r.tokens} for r in results]


def summary_rows(summaries: list[MethodSummary]) -> list[dict[str, Any]]:
    return [asdict(s) for s in summaries]
