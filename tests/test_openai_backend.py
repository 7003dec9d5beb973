"""The OpenAI-compatible backend against a fake server speaking the OpenAI HTTP API."""

from __future__ import annotations

import socket

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.fake_openai import KEY, FakeOpenAI
from tests.invariants import check_tree_invariants
from treelight.engine import commands
from treelight.engine.cli import main
from treelight.engine.errors import BadArguments, ModelError, ModelUnavailable
from treelight.engine.generators.base import CompletionRequest
from treelight.engine.generators.openai_backend import OpenAIGenerator
from treelight.engine.runner import Runner, create_run
from treelight.storage import queries


@pytest.fixture
def fake(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> FakeOpenAI:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    return FakeOpenAI(httpserver)


def ask(generator: OpenAIGenerator, **fields: object) -> str:
    request = CompletionRequest(**{"prompt": "Input: 4 9 10 13", "seed": 5, **fields})
    return generator.complete([request])[0].text


def test_completions_and_chat_send_the_request_as_asked(fake: FakeOpenAI) -> None:
    generator = OpenAIGenerator("tiny-1b", base_url=fake.url)
    request = CompletionRequest(
        "Input: 4 9 10 13", seed=5, temperature=0.3, max_tokens=40, stop=("Input:",)
    )
    [completion] = generator.complete([request])
    assert completion.text.endswith("seed 5")
    # The fake counts words; the point is that the server's counts are what we record.
    assert (completion.prompt_tokens, completion.extra["finish_reason"]) == (5, "stop")
    sent = fake.requests[-1]
    assert sent["path"] == "/v1/completions"
    assert (sent["seed"], sent["temperature"], sent["max_tokens"], sent["stop"]) == (
        5,
        0.3,
        40,
        ["Input:"],
    )
    schema = {"type": "object", "properties": {"verdict": {"enum": ["sure"]}}}
    ask(generator, chat=True, json_schema=schema)
    sent = fake.requests[-1]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["messages"] == [{"role": "user", "content": "Input: 4 9 10 13"}]
    assert sent["response_format"]["json_schema"]["schema"] == schema


def test_k_candidates_are_k_requests_each_with_its_seed(fake: FakeOpenAI) -> None:
    generator = OpenAIGenerator("tiny-1b", base_url=fake.url, parallel=3)
    requests = [CompletionRequest("Input: 1 2 3 4", seed=s) for s in (1, 2, 3)]
    texts = [c.text for c in generator.complete(requests)]
    assert [t.rsplit(" ", 1)[1] for t in texts] == ["1", "2", "3"]  # in order
    assert sorted(r["seed"] for r in fake.requests) == [1, 2, 3]


def test_each_fault_says_what_to_do(fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ModelUnavailable, match="does not serve the model 'nope'.*serves: tiny-1b"):
        ask(OpenAIGenerator("nope", base_url=fake.url))
    fake.context_tokens = 2
    with pytest.raises(ModelError, match="longer than the model's context.*maximum context"):
        ask(OpenAIGenerator("tiny-1b", base_url=fake.url))
    fake.context_tokens = 4096
    fake.busy_left = 1  # one 429, then an answer: the client retries
    assert ask(OpenAIGenerator("tiny-1b", base_url=fake.url, retries=1)).endswith("seed 5")
    fake.busy_left = 5
    with pytest.raises(ModelError, match="rate-limiting"):
        ask(OpenAIGenerator("tiny-1b", base_url=fake.url, retries=0))
    fake.busy_left = 0
    monkeypatch.setenv("OPENAI_API_KEY", "wrong")
    with pytest.raises(ModelUnavailable, match="refused the API key.*OPENAI_API_KEY"):
        ask(OpenAIGenerator("tiny-1b", base_url=fake.url))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    gone = f"http://127.0.0.1:{port}/v1"
    with pytest.raises(ModelUnavailable, match=f"No OpenAI-compatible server answers at {gone}"):
        ask(OpenAIGenerator("tiny-1b", base_url=gone, retries=0))
    with pytest.raises(BadArguments, match="needs a model"):
        OpenAIGenerator.from_spec({"backend": "openai"})


def test_a_run_pauses_on_a_bad_key_and_resumes_once_it_is_fixed(
    engine: Engine, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "wrong")
    run = create_run(
        engine,
        task="game24",
        problem="4 9 10 13",
        strategy="bfs",
        generator={"backend": "openai", "model": "tiny-1b", "base_url": fake.url},
        budget={"max_calls": 12},
        status="running",
    )
    assert run.id is not None
    paused = Runner(engine, run.id).run_until_idle().run
    assert paused.status == "paused" and "OPENAI_API_KEY" in paused.status_reason
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    commands.resume(engine, run.id)
    finished = Runner(engine, run.id).run_until_idle().run
    assert finished.status in ("done", "stopped"), finished.status_reason
    check_tree_invariants(engine, run.id)
    with Session(engine) as session:
        calls = queries.run_model_calls(session, run.id)
        nodes = queries.run_nodes(session, run.id)
    assert calls and {c.backend for c in calls} == {"openai"} and len(nodes) > 2
    assert "OPENAI_API_KEY" not in str(finished.generator) and KEY not in str(finished.generator)


def test_models_lists_the_servers_models(
    fake: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "--backend", "openai", "--base-url", fake.url, "--json"]) == 0
    assert '"name": "tiny-1b"' in capsys.readouterr().out
    assert main(["models", "--backend", "scripted"]) == 2
    assert "has no model list" in capsys.readouterr().err
