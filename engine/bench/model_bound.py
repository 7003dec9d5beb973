"""Is a real run model-bound? During an embedded search: the share of wall time
spent inside model calls, and the share of prompt tokens served from llama.cpp's
reused prefix (for sibling requests, which share their whole prompt)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from sqlmodel import Session

from treelight.engine.generators.embedded import EmbeddedGenerator
from treelight.engine.run.creation import create_run
from treelight.engine.run.loop import Runner
from treelight.storage import queries
from treelight.storage.database import make_engine
from treelight.storage.vocabulary import RunStatus


def measure(problem: str, max_calls: int, model: str | None = None) -> dict[str, Any]:
    generator = EmbeddedGenerator(model)
    generator.complete([])  # nothing: the model is loaded before the clock starts
    with tempfile.TemporaryDirectory(prefix="treelight-bench-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bound.db'}")
        run = create_run(
            engine,
            task="game24",
            problem=problem,
            strategy="bfs",
            strategy_params={"samples": 2},
            generator={"backend": "embedded"},
            budget={"max_calls": max_calls},
            status=RunStatus.RUNNING,
        )
        assert run.id is not None
        started = time.perf_counter()
        Runner(engine, run.id, generator=generator).run_until_idle()
        wall = time.perf_counter() - started
        with Session(engine) as session:
            calls = queries.run_model_calls(session, run.id)
            nodes = queries.node_count(session, run.id)
        engine.dispose()
    inside = sum(c.latency_seconds for c in calls)
    siblings = [
        c for previous, c in zip(calls, calls[1:], strict=False) if c.prompt == previous.prompt
    ]
    prompt_tokens = sum(c.prompt_tokens for c in calls)
    return {
        "model_calls": len(calls),
        "nodes": nodes,
        "wall_seconds": round(wall, 2),
        "seconds_in_model_calls": round(inside, 2),
        "share_in_model_calls": round(inside / wall, 4) if wall else 0.0,
        "engine_ms_per_call": round(1000 * (wall - inside) / max(1, len(calls)), 2),
        "prompt_tokens": prompt_tokens,
        "prompt_tokens_reused": sum(c.cached_prompt_tokens for c in calls),
        "share_reused_all_calls": round(
            sum(c.cached_prompt_tokens for c in calls) / max(1, prompt_tokens), 4
        ),
        "sibling_calls": len(siblings),
        "share_reused_sibling_calls": round(
            sum(c.cached_prompt_tokens for c in siblings)
            / max(1, sum(c.prompt_tokens for c in siblings)),
            4,
        ),
    }
