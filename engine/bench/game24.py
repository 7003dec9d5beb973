"""Game of 24, Treelight's methods beside the reference Tree of Thoughts, in one run.

Every method gets the same puzzles and the same model: one llama.cpp instance
of the embedded model (or any GGUF), loaded once. The reference is
`tot.methods.bfs.solve` from the PyPI package `tree-of-thoughts-llm`, unchanged,
with its model call (`tot.models.gpt`) redirected in-process to that same
model. Every answer is judged by Treelight's strict checker (the expression
uses exactly the four numbers, each once, and equals 24), for every method.

Methods:
- `io`        one call, the answer alone (the paper's IO prompt)
- `cot`       one call, steps then the answer
- `cot-sc`    self-consistency: k chain-of-thought samples, majority vote
- `bfs`       Treelight's beam search with Tree of Thoughts' settings; the model's
              proposals constrained to moves over the numbers left (a grammar)
- `bfs-free`  the same, the model writing freely (`constrain=off`)
- `random`    chance: the same beam search, width and verifier, no model — each
              proposal a uniform random legal move (engine/generators/chance.py)
- `dfs`       Treelight's depth-first search with backtracking
- `reference` the reference implementation's BFS with the paper's settings
- any installed strategy by name (`mcts`, `refine`, ...)

A method takes options as a judge does: `bfs:beam=10`, `random:beam=10`,
`bfs:constrain=off`, `cot-sc:n=5`, `bfs:moves=distinct` (`constrain` is the
backend's, an option the task declares is the task's, the rest the
strategy's). Under `constrain=auto` (the default) a whole answer is written
under Game of 24's answer grammar too (the four numbers, each once).

Stored and resumable: every puzzle × method is a run in `$TREELIGHT_HOME/bench.db`,
filed under a stored bench for these settings (model, budget, seed, puzzle file);
the reference's results go to a JSON-lines file beside it. The same command
again reuses what is there, continues what a killed process left, and runs only
what is missing, so the full set 900–999 can be built up over several sittings.
"""

from __future__ import annotations

import contextlib
import csv
import json
import sys
import time
import types
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from treelight.engine import steering
from treelight.engine.errors import BadArguments
from treelight.engine.evals.datasets import game24_file
from treelight.engine.generators.base import CompletionRequest, Generator
from treelight.engine.generators.chance import ChanceGenerator
from treelight.engine.judges import parse_judge_specs
from treelight.engine.options import validate
from treelight.engine.run.creation import create_run
from treelight.engine.run.loop import Runner
from treelight.engine.run.model_calls import derive_seed
from treelight.engine.strategies import strategy_classes
from treelight.engine.tasks.game24 import Game24, check_expression, parse_problem
from treelight.storage import queries
from treelight.storage.database import unit_of_work
from treelight.storage.models import DatasetEval, EvalItem, Run
from treelight.storage.vocabulary import ENDED, RunStatus

METHODS = (
    "io",
    "cot",
    "cot-sc",
    "bfs",
    "bfs-free",
    "random",
    "dfs",
    "mcts",
    "refine",
    "evolve",
    "reference",
)
REFERENCE_MAX_TOKENS = 192  # the reference asks for up to 1,000; a tiny model rambles


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


# --- Treelight's methods ------------------------------------------------------------------

SETTINGS: dict[str, dict[str, Any]] = {
    "io": {
        "strategy": "best-of-n",
        "strategy_params": {"n": 1},
        "judges": [],
        "task_params": {"prompt": "io"},
    },
    "cot": {"strategy": "best-of-n", "strategy_params": {"n": 1}, "judges": []},
    "cot-sc": {"strategy": "self-consistency", "judges": []},
    "bfs": {"strategy": "bfs", "judges": None},  # the task's: verifier + value x3
    "bfs-free": {"strategy": "bfs", "judges": None, "generator": {"constrain": "off"}},
    # Chance at the same width as `bfs` (ToT: one proposal call per state, beam 5),
    # judged by the verifier alone: with equal scores the beam keeps the first five,
    # which for random proposals is a random five.
    "random": {"strategy": "bfs", "judges": [{"name": "game24-verifier"}], "chance": True},
    "dfs": {"strategy": "dfs", "judges": None},
    "mcts": {"strategy": "mcts", "judges": None},
    "refine": {"strategy": "refine", "judges": [{"name": "game24-verifier"}]},  # the check
    "evolve": {"strategy": "evolve", "judges": [{"name": "game24-verifier"}]},
}


def method_settings(written: str, sc_samples: int = 10) -> dict[str, Any]:
    """The settings of a method as written: a name from METHODS or any installed
    strategy, with options as a judge's are written (`bfs:beam=10`,
    `bfs:constrain=off`, `random:beam=10`, `cot-sc:n=5`). `constrain` goes to the
    backend; every other option is the strategy's, checked before anything runs."""
    name, _, options = written.partition(":")
    name = name.strip()
    if name == "reference":
        if options:
            raise BadArguments("The method reference takes no options: it runs the paper's.")
        return {"reference": True}
    if name in SETTINGS:
        settings = dict(SETTINGS[name])
    elif name in strategy_classes():
        settings = {"strategy": name, "judges": None}
    else:
        raise BadArguments(
            f"Unknown method {name!r}; choose from {', '.join(METHODS)} or a strategy "
            f"({', '.join(strategy_classes())}), with options as in bfs:beam=10."
        )
    spec: dict[str, Any] = {}
    if options:
        [spec] = parse_judge_specs(f"x:{options}")
        spec.pop("name")
    if "constrain" in spec:
        settings["generator"] = {
            **settings.get("generator", {}),
            "constrain": spec.pop("constrain"),
        }
    task_options = {k: spec.pop(k) for k in list(spec) if k in Game24.Options.model_fields}
    if task_options:  # e.g. moves=distinct: the task's, checked by the task
        settings["task_params"] = {**settings.get("task_params", {}), **task_options}
        validate(Game24.Options, settings["task_params"], f"method {written!r}: task 'game24'")
    params = {**settings.get("strategy_params", {}), **spec}
    if name == "cot-sc":
        params.setdefault("n", sc_samples)
    strategy = strategy_classes()[settings["strategy"]]
    validate(strategy.Options, params, f"method {written!r}: strategy {strategy.name!r}")
    settings["strategy_params"] = params
    return settings


def stored_bench(
    engine: Engine,
    *,
    data: str,
    generator: dict[str, Any],
    max_calls: int | None,
    seed: int,
    fresh: bool = False,
) -> DatasetEval:
    """The stored benchmark these settings belong to, made on first use: every
    puzzle × method is a run in it, so running the same command again (with more
    puzzles or more methods) reuses what is done and only runs what is not."""
    settings = {"bench": "game24", "generator": generator, "max_calls": max_calls, "seed": seed}
    with Session(engine) as session:
        for stored in reversed(queries.list_evals(session)):  # the newest, after a --fresh
            same = stored.task == "game24" and stored.dataset == data
            if same and stored.settings == settings and not fresh:
                return stored
    with unit_of_work(engine) as session:
        created = DatasetEval(task="game24", dataset=data, methods=[], settings=settings)
        session.add(created)
    return created


def run_treelight(
    engine: Engine,
    generator: Generator,
    method: str,
    index: int,
    puzzle: str,
    *,
    max_calls: int | None,
    sc_samples: int,
    seed: int,
    bench: DatasetEval | None = None,
) -> PuzzleResult:
    """One puzzle under one method: its stored run when `bench` has it (continued if
    a killed process left it unfinished), else a new run, stored in `bench`."""
    settings = method_settings(method, sc_samples)
    used = ChanceGenerator() if settings.get("chance") else generator
    run_id = _stored_run(engine, bench, method, index) if bench is not None else None
    reused = run_id is not None
    if run_id is None:
        run = create_run(
            engine,
            task="game24",
            problem=puzzle,
            strategy=settings["strategy"],
            strategy_params=settings["strategy_params"],
            task_params=settings.get("task_params"),
            judges=settings["judges"],
            generator={
                "backend": used.backend,
                "model": used.model,
                **settings.get("generator", {}),
            },
            budget={"max_calls": max_calls},
            seed=seed + index,  # each puzzle its own draws (as the reference's seed + index)
            status="running",
        )
        assert run.id is not None
        run_id = run.id
        if bench is not None:
            _store_item(engine, bench, method, index, run_id)
    done, ran = _finish(engine, run_id, used)
    reused = reused and not ran
    note = "" if done.status == "done" else f"{done.status}: {done.status_reason}"
    return PuzzleResult(
        method=method,
        index=index,
        puzzle=puzzle,
        solved=check(puzzle, done.answer),
        answer=done.answer,
        model_calls=done.model_calls,
        prompt_tokens=done.prompt_tokens,
        completion_tokens=done.completion_tokens,
        seconds=round(done.elapsed_seconds, 2),
        run_id=run_id,
        note=note,
        reused=reused,
    )


def _finish(engine: Engine, run_id: int, generator: Generator) -> tuple[Run, bool]:
    """The run worked until it rests, and whether it was worked now (a run already
    ended is left as it is; one a fault or a killed process left is resumed once)."""
    with Session(engine) as session:
        run = session.get(Run, run_id)
        assert run is not None
    if run.status in ENDED:
        return run, False
    if run.status == RunStatus.PAUSED:
        steering.resume(engine, run_id)
    return Runner(engine, run_id, generator=generator).run_until_idle().run, True


def _stored_run(engine: Engine, bench: DatasetEval, method: str, index: int) -> int | None:
    with Session(engine) as session:
        for item, run in queries.eval_runs(session, bench.id or 0):
            if item.method == method and item.item == index:
                return run.id
    return None


def _store_item(engine: Engine, bench: DatasetEval, method: str, index: int, run_id: int) -> None:
    with unit_of_work(engine) as session:
        stored = session.get(DatasetEval, bench.id)
        assert stored is not None
        if method not in stored.methods:
            stored.methods = [*stored.methods, method]
        session.add(EvalItem(eval_id=stored.id or 0, item=index, method=method, run_id=run_id))


# --- the reference ------------------------------------------------------------------------


class _CallBudgetSpent(Exception):
    pass


class ReferenceModel:
    """`tot.models.gpt`, answered by our generator. Counts calls and tokens."""

    def __init__(self, generator: Generator, seed: int, max_calls: int | None) -> None:
        self.generator, self.seed, self.max_calls = generator, seed, max_calls
        self.calls = self.prompt_tokens = self.completion_tokens = 0
        self.key = "reference"

    def gpt(
        self,
        prompt: str,
        model: str = "",
        temperature: float = 0.7,
        max_tokens: int = 1000,
        n: int = 1,
        stop: Any = None,
    ) -> list[str]:
        outputs = []
        for _ in range(n):
            if self.max_calls is not None and self.calls >= self.max_calls:
                raise _CallBudgetSpent
            request = CompletionRequest(
                prompt=prompt,
                seed=derive_seed(self.seed, self.key, "reference", self.calls),
                temperature=temperature,
                max_tokens=min(max_tokens, REFERENCE_MAX_TOKENS),
                stop=tuple([stop] if isinstance(stop, str) else stop or ()),
            )
            [completion] = self.generator.complete([request])
            self.calls += 1
            self.prompt_tokens += completion.prompt_tokens
            self.completion_tokens += completion.completion_tokens
            outputs.append(completion.text)
        return outputs


def _reference_modules() -> tuple[Any, Any]:
    # `tot.models` builds an OpenAI client at import (with the 2023 openai API);
    # the benchmark replaces the module, so nothing of it is needed.
    stub = types.ModuleType("tot.models")
    stub.gpt = lambda *a, **k: []  # type: ignore[attr-defined]
    sys.modules["tot.models"] = stub
    try:
        import tot.methods.bfs as reference_bfs
        from tot.tasks.game24 import Game24Task
    except ImportError as error:
        raise BadArguments(
            f"The reference Tree of Thoughts is not installed ({error}): "
            "`pip install --no-deps tree-of-thoughts-llm sympy pandas`."
        ) from None
    return reference_bfs, Game24Task


def run_reference(
    generator: Generator, index: int, puzzle: str, *, max_calls: int | None, seed: int
) -> PuzzleResult:
    reference_bfs, game24_task = _reference_modules()
    task = game24_task()
    if task.get_input(index) != puzzle:
        raise BadArguments(
            f"The reference's puzzle {index} is {task.get_input(index)!r}, "
            f"not {puzzle!r}: use the Tree of Thoughts 24.csv."
        )
    model = ReferenceModel(generator, seed + index, max_calls)
    reference_bfs.gpt = model.gpt  # solve() wraps the module's gpt with its settings
    args = types.SimpleNamespace(
        backend="treelight-embedded",
        temperature=0.7,
        method_generate="propose",
        method_evaluate="value",
        method_select="greedy",
        n_generate_sample=1,
        n_evaluate_sample=3,
        n_select_sample=5,
        prompt_sample=None,
    )
    started = time.perf_counter()
    note, answer = "", None
    try:
        with contextlib.redirect_stdout(sys.stderr):  # solve() prints its model function
            ys, _info = reference_bfs.solve(args, task, index, to_print=False)
        last = ys[0].strip().split("\n")[-1] if ys else ""
        answer = last.lower().replace("answer: ", "").split("=")[0].strip() or None
    except _CallBudgetSpent:
        note = f"stopped: model-call budget of {max_calls} used"
    seconds = time.perf_counter() - started
    return PuzzleResult(
        method="reference",
        index=index,
        puzzle=puzzle,
        solved=check(puzzle, answer),
        answer=answer,
        model_calls=model.calls,
        prompt_tokens=model.prompt_tokens,
        completion_tokens=model.completion_tokens,
        seconds=round(seconds, 2),
        note=note,
    )


# --- the whole benchmark ------------------------------------------------------------------


def run_bench(
    engine: Engine,
    generator: Generator,
    puzzles: list[tuple[int, str]],
    methods: list[str],
    *,
    max_calls: int | None = None,
    sc_samples: int = 10,
    seed: int = 0,
    progress: Callable[[PuzzleResult], None] | None = None,
    bench: DatasetEval | None = None,
    reference_store: Path | None = None,
) -> list[PuzzleResult]:
    """Every method on every puzzle, puzzle by puzzle (so a run cut short compares
    its methods on the same puzzles). With `bench` (and `reference_store` for the
    reference, which makes no Treelight run), what is stored there is reused."""
    if len(set(methods)) < len(methods):
        raise BadArguments(f"--methods names a method twice: {','.join(methods)}.")
    for method in methods:  # every method checked before anything runs
        method_settings(method, sc_samples)
    results = []
    for index, puzzle in puzzles:
        for method in methods:
            if method == "reference":
                result = _stored_reference(
                    reference_store, generator, index, puzzle, max_calls, seed
                )
            else:
                result = run_treelight(
                    engine,
                    generator,
                    method,
                    index,
                    puzzle,
                    max_calls=max_calls,
                    sc_samples=sc_samples,
                    seed=seed,
                    bench=bench,
                )
            results.append(result)
            if progress:
                progress(result)
    return results


def _stored_reference(
    store: Path | None,
    generator: Generator,
    index: int,
    puzzle: str,
    max_calls: int | None,
    seed: int,
) -> PuzzleResult:
    """The reference's result for this puzzle and these settings: read from `store`
    (one JSON line per result) when an earlier run left it there, else run now and
    appended."""
    key = {"index": index, "puzzle": puzzle, "model": generator.model}
    key |= {"max_calls": max_calls, "seed": seed}
    if store is not None and store.exists():
        for line in store.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row.get("key") == key:
                return PuzzleResult(**{**row["result"], "reused": True})
    result = run_reference(generator, index, puzzle, max_calls=max_calls, seed=seed)
    if store is not None:
        store.parent.mkdir(parents=True, exist_ok=True)
        with store.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"key": key, "result": asdict(result)}) + "\n")
    return result


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
            f"{s.method} ({s.solved}/{s.puzzles})",
            (s.tokens_per_puzzle, 100 * s.success_rate),
            textcoords="offset points",
            xytext=(6, (4, -14, 16, -26)[nth % 4]),
            fontsize=9,
        )
    axes.set_xscale("log")
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
