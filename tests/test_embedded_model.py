"""The real embedded model (SmolLM2-135M via llama.cpp) inside a real search."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from engine.generators.base import CompletionRequest
from engine.generators.embedded import EmbeddedGenerator
from engine.runner import Runner, create_run
from storage import queries

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def generator() -> EmbeddedGenerator:
    return EmbeddedGenerator()


def test_same_seed_same_output_and_the_prefix_is_reused(generator: EmbeddedGenerator) -> None:
    request = CompletionRequest(prompt="List three colours:\n1.", seed=11, max_tokens=12)
    first, second = generator.complete([request, request])
    assert first.text == second.text and first.completion_tokens > 0
    assert second.cached_prompt_tokens == second.prompt_tokens - 1


def test_small_search_writes_nodes_verdicts_and_model_calls(
    engine: Engine, generator: EmbeddedGenerator
) -> None:
    run = create_run(
        engine,
        task="game24",
        problem="4 9 10 13",
        strategy="bfs",
        generator={"backend": "embedded"},
        budget={"max_calls": 8},
        seed=3,
        status="running",
    )
    assert run.id is not None
    outcome = Runner(engine, run.id, generator=generator).run_until_idle()
    assert outcome.error is None
    assert outcome.run.status in ("done", "stopped")

    with Session(engine) as session:
        nodes = queries.run_nodes(session, run.id)
        calls = queries.run_model_calls(session, run.id)
        evaluations = queries.run_evaluations(session, run.id)
    assert 0 < len(calls) <= 8
    for call in calls:
        assert call.backend == "embedded" and call.model == "smollm2-135m"
        assert call.prompt_tokens > 0 and call.latency_seconds > 0 and call.error is None
    assert outcome.run.prompt_tokens == sum(c.prompt_tokens for c in calls)

    children = [n for n in nodes if n.parent_id is not None]
    assert children, "the model's proposals must become nodes"
    call_ids = {c.id for c in calls}
    assert all(n.model_call_id in call_ids for n in children)
    for node in children:
        if node.status in ("invalid", "pruned"):
            assert node.status_reason.startswith(("game24 rules:", "rejected by", "beam cutoff"))
    judged = {e.node_id for e in evaluations}
    assert (
        judged == {n.id for n in children if n.status != "invalid"}
        or outcome.run.status == "stopped"
    )
    for evaluation in evaluations:
        assert evaluation.judge in ("game24-verifier", "value") and evaluation.rationale
    value_calls = [c for c in calls if c.purpose == "value"]
    if len(value_calls) > 1:  # samples of one node share the whole prompt
        assert any(c.cached_prompt_tokens > 0 for c in value_calls[1:])
