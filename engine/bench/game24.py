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

import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from treelight.engine import steering
from treelight.engine.bench.game24_results import (
    PuzzleResult,
    check,
)
from treelight.engine.bench.reference_tot import run_reference
from treelight.engine.errors import BadArguments
from treelight.engine.evals.methods import parse_method
from treelight.engine.generators.base import Generator
from treelight.engine.generators.chance import ChanceGenerator
from treelight.engine.options import validate
from treelight.engine.run.creation import check_learned_judges, create_run
from treelight.engine.run.loop import Runner
from treelight.engine.strategies import strategy_classes
from treelight.engine.tasks.game24 import Game24
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


# --- Treelight's methods ------------------------------------------------------------------

# The methods are `treelight eval`'s (engine/evals/methods.py: one definition of
# io, cot, cot-sc, bfs-free, random and every strategy). Where the benchmark
# departs from them: `refine` and `evolve` are judged by the verifier alone (the
# check), so they spend no calls on the value judge; `reference` is the paper's
# own code (bench/reference_tot.py); chance runs on a ChanceGenerator instance.
BENCH_JUDGES: dict[str, list[dict[str, Any]]] = {
    "refine": [{"name": "game24-verifier"}],
    "evolve": [{"name": "game24-verifier"}],
}


def method_settings(
    written: str, sc_samples: int = 10, judges: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The settings of a method as written: a name from METHODS or any installed
    strategy, with options as a judge's are written (`bfs:beam=10`,
    `bfs:constrain=off`, `random:beam=10`, `cot-sc:n=5`). `constrain` goes to the
    backend, an option Game of 24 declares to the task, every other option to the
    strategy, all checked before anything runs."""
    name, _, options = written.partition(":")
    name = name.strip()
    if name == "reference":
        if options:
            raise BadArguments("The method reference takes no options: it runs the paper's.")
        return {"reference": True}
    if name not in METHODS and name not in strategy_classes():
        raise BadArguments(
            f"Unknown method {name!r}; choose from {', '.join(METHODS)} or a strategy "
            f"({', '.join(strategy_classes())}), with options as in bfs:beam=10."
        )
    method = parse_method(written, "game24")
    params = dict(method.params)
    if name == "cot-sc":
        params.setdefault("n", sc_samples)
    strategy = strategy_classes()[method.strategy]
    validate(strategy.Options, params, f"method {written!r}: strategy {strategy.name!r}")
    settings: dict[str, Any] = {
        "strategy": method.strategy,
        "strategy_params": params,
        "judges": BENCH_JUDGES.get(name, method.judges),
    }
    if settings["judges"] is None and judges is not None:
        settings["judges"] = judges
    if method.task_params:  # e.g. moves=distinct or the io prompt: the task's
        validate(Game24.Options, method.task_params, f"method {written!r}: task 'game24'")
        settings["task_params"] = dict(method.task_params)
    generator = dict(method.generator)
    if generator.pop("backend", None) == "random":
        settings["chance"] = True
    if generator:
        settings["generator"] = generator
    return settings


def stored_bench(
    engine: Engine,
    *,
    data: str,
    generator: dict[str, Any],
    max_calls: int | None,
    seed: int,
    fresh: bool = False,
    judges: list[dict[str, Any]] | None = None,
) -> DatasetEval:
    """The stored benchmark these settings belong to, made on first use: every
    puzzle × method is a run in it, so running the same command again (with more
    puzzles or more methods) reuses what is done and only runs what is not."""
    settings: dict[str, Any] = {
        "bench": "game24",
        "generator": generator,
        "max_calls": max_calls,
        "seed": seed,
    }
    if judges is not None:  # --judges: a method's results depend on them
        settings["judges"] = judges
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
    judges: list[dict[str, Any]] | None = None,
) -> PuzzleResult:
    """One puzzle under one method: its stored run when `bench` has it (continued if
    a killed process left it unfinished), else a new run, stored in `bench`.
    `judges` (--judges) replace the task's defaults in model-guided methods."""
    settings = method_settings(method, sc_samples, judges)
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
            status=RunStatus.RUNNING,
            allow_trained_items=True,  # checked for the whole bench by run_bench
        )
        assert run.id is not None
        run_id = run.id
        if bench is not None:
            _store_item(engine, bench, method, index, run_id)
    done, ran = _finish(engine, run_id, used)
    reused = reused and not ran
    note = "" if done.status == RunStatus.DONE else f"{done.status}: {done.status_reason}"
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
    judges: list[dict[str, Any]] | None = None,
    allow_trained_items: bool = False,
) -> list[PuzzleResult]:
    """Every method on every puzzle, puzzle by puzzle (so a run cut short compares
    its methods on the same puzzles). With `bench` (and `reference_store` for the
    reference, which makes no Treelight run), what is stored there is reused. A
    learned judge trained on any of the puzzles is refused unless
    `allow_trained_items`."""
    if len(set(methods)) < len(methods):
        raise BadArguments(f"--methods names a method twice: {','.join(methods)}.")
    for method in methods:  # every method checked before anything runs
        if method == "reference":
            continue
        settings = method_settings(method, sc_samples, judges)
        allowed = check_learned_judges(
            settings["judges"] or [],
            {"backend": generator.backend, "model": generator.model},
            {puzzle: str(index) for index, puzzle in puzzles},
            "bench",
            allow_trained_items,
        )
        if allowed:  # on purpose: said before anything runs
            print(f"Note, allowed on purpose ({method}): {allowed}", file=sys.stderr)
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
                    judges=judges,
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
