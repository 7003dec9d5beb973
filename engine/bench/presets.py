"""Does a newcomer's first run succeed? The explorer's easy Game of 24 presets on
the default settings (bfs, the task's own judges, constrained distinct moves,
the embedded model), over several seeds, as a person starting them would get.

A solve counts only when Treelight's strict checker accepts the run's answer
(the four numbers, each once, equal to 24). Nothing here is asserted: the
figures go to docs/BENCHMARKS.md beside the target (each easy preset solved with
at least four of five seeds).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from treelight.engine.bench.game24_results import check
from treelight.engine.generators.embedded import EmbeddedGenerator
from treelight.engine.run.creation import create_run
from treelight.engine.run.loop import Runner
from treelight.storage.database import make_engine
from treelight.storage.vocabulary import RunStatus

EASY_PRESETS = ("1 1 4 6", "5 5 7 7")


def solve_presets(
    presets: list[str],
    seeds: list[int],
    *,
    model: str | None = None,
    max_calls: int | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """One row per preset: which seeds solved it, the answers, calls and seconds."""
    generator = EmbeddedGenerator(model)
    generator.complete([])  # the model is loaded before the clock starts
    rows = []
    with tempfile.TemporaryDirectory(prefix="treelight-bench-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'presets.db'}")
        for preset in presets:
            runs: list[dict[str, Any]] = []
            for seed in seeds:
                run = create_run(
                    engine,
                    task="game24",
                    problem=preset,
                    strategy="bfs",
                    generator={"backend": "embedded"},
                    budget={"max_calls": max_calls} if max_calls else None,
                    seed=seed,
                    status=RunStatus.RUNNING,
                )
                started = time.perf_counter()
                outcome = Runner(engine, run.id or 0, generator=generator).run_until_idle()
                done = outcome.run
                runs.append(
                    {
                        "seed": seed,
                        "run_status": str(done.status),
                        "answer": done.answer,
                        "solved": check(preset, done.answer),
                        "model_calls": done.model_calls,
                        "seconds": round(time.perf_counter() - started, 1),
                    }
                )
                if progress:
                    progress(runs[-1])
            rows.append(
                {
                    "preset": preset,
                    "seeds": len(runs),
                    "solved": sum(1 for r in runs if r["solved"]),
                    "runs": runs,
                }
            )
        engine.dispose()
    return rows
