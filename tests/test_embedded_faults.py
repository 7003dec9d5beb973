"""The real embedded model failing mid-run, and a model file that cannot be loaded.

Either way the run pauses with the reason, every node made before stays as it
was, and resuming once the fault is gone carries the search on to its end.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.invariants import check_tree_invariants
from treelight.engine import steering
from treelight.engine.generators.embedded import EmbeddedGenerator, default_model_path
from treelight.engine.run.creation import create_run
from treelight.engine.run.loop import Runner
from treelight.engine.run.worker import Worker
from treelight.storage import queries

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def generator() -> EmbeddedGenerator:
    return EmbeddedGenerator()


def embedded_run(engine: Engine, model: str | None = None, status: str = "running") -> int:
    run = create_run(
        engine,
        task="game24",
        problem="4 9 10 13",
        strategy="bfs",
        strategy_params={"samples": 2},
        generator={"backend": "embedded", **({"model": model} if model else {})},
        budget={"max_calls": 8},
        seed=5,
        status=status,
    )
    assert run.id is not None
    return run.id


def snapshot(engine: Engine, run_id: int) -> dict[int, tuple[str, str]]:
    with Session(engine) as session:
        return {n.id or 0: (n.key, n.text) for n in queries.run_nodes(session, run_id)}


def test_the_model_raising_mid_run_pauses_it_and_resume_finishes(
    engine: Engine, generator: EmbeddedGenerator, monkeypatch: pytest.MonkeyPatch
) -> None:
    llm = generator.loaded.llm
    real = llm.create_completion
    real_call = generator._complete_one
    calls = {"n": 0, "armed": False}

    def counts_model_calls(request: Any) -> Any:
        calls["n"] += 1
        calls["armed"] = calls["n"] == 3
        return real_call(request)

    def fails_inside_the_third_call(*args: Any, **kwargs: Any) -> Any:
        # A model call may decode several times (distinct moves: a line at a time).
        if calls["armed"]:  # what llama.cpp raises when decoding fails
            calls["armed"] = False
            raise RuntimeError("llama_decode returned -3")
        return real(*args, **kwargs)

    monkeypatch.setattr(generator, "_complete_one", counts_model_calls)
    monkeypatch.setattr(llm, "create_completion", fails_inside_the_third_call)
    run_id = embedded_run(engine)
    outcome = Runner(engine, run_id, generator=generator).run_until_idle()
    assert outcome.run.status == "paused"
    assert "The embedded model failed: llama_decode returned -3" in outcome.run.status_reason
    before = snapshot(engine, run_id)
    assert len(before) > 1, "the nodes made before the fault are kept"
    with Session(engine) as session:
        assert queries.run_events(session, run_id)[-1].kind == "error"
        kept_calls = queries.run_model_calls(session, run_id)
    assert len([c for c in kept_calls if c.error is None]) == 2

    monkeypatch.setattr(llm, "create_completion", real)  # the fault clears
    monkeypatch.setattr(generator, "_complete_one", real_call)
    steering.resume(engine, run_id)
    resumed = Runner(engine, run_id, generator=generator).run_until_idle()
    assert resumed.error is None and resumed.run.status in ("done", "stopped")
    after = snapshot(engine, run_id)
    assert {i: after[i] for i in before} == before  # nothing lost, nothing rewritten
    assert resumed.run.model_calls > len(kept_calls)
    check_tree_invariants(engine, run_id)


def test_a_model_file_that_cannot_load_pauses_the_run_until_it_is_fixed(
    engine: Engine, generator: EmbeddedGenerator, tmp_path: Path
) -> None:
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF" + os.urandom(4096))  # a truncated, corrupt download
    run_id = embedded_run(engine, model=str(model), status="queued")
    assert Worker(engine).work_once() == run_id
    with Session(engine) as session:
        run = queries.get_run(session, run_id)
    assert run is not None and run.status == "paused"
    assert f"Could not load the GGUF model {model}" in run.status_reason
    assert len(snapshot(engine, run_id)) == 1  # the problem itself is still there

    model.unlink()
    model.symlink_to(default_model_path())  # the person fixes the download
    steering.resume(engine, run_id)
    assert Worker(engine).work_once() == run_id
    with Session(engine) as session:
        run = queries.get_run(session, run_id)
    assert run is not None and run.status in ("done", "stopped")
    assert len(snapshot(engine, run_id)) > 1
    check_tree_invariants(engine, run_id)
