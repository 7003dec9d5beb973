"""One contract, every backend: the engine must not care which one it talks to.

Parametrized over the embedded llama.cpp model (real), Ollama and an
OpenAI-compatible server (fake servers speaking their APIs) and the scripted
generator.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from pytest_httpserver import HTTPServer

from tests.fake_ollama import FakeOllama
from tests.fake_openai import KEY, FakeOpenAI
from treelight.engine.errors import ModelError
from treelight.engine.generators.base import CompletionRequest, Generator
from treelight.engine.generators.embedded import EmbeddedGenerator
from treelight.engine.generators.ollama_backend import OllamaGenerator
from treelight.engine.generators.openai_backend import OpenAIGenerator
from treelight.engine.generators.scripted import ScriptedGenerator

PROMPT = "List three colours:\n1."


def embedded(_server: HTTPServer) -> tuple[Generator, Callable[[], list[CompletionRequest]]]:
    generator = EmbeddedGenerator()
    too_long = CompletionRequest("word " * 5000, seed=1)  # more than the 2,048-token context
    return generator, lambda: [too_long]


def ollama(server: HTTPServer) -> tuple[Generator, Callable[[], list[CompletionRequest]]]:
    fake = FakeOllama(server)

    def break_it() -> list[CompletionRequest]:
        fake.models = []  # the model disappears from the server
        return [CompletionRequest(PROMPT, seed=1)]

    return OllamaGenerator("tiny:1b", host=fake.url), break_it


def openai(server: HTTPServer) -> tuple[Generator, Callable[[], list[CompletionRequest]]]:
    fake = FakeOpenAI(server)
    os.environ["OPENAI_API_KEY"] = KEY  # the fixture below restores it
    generator = OpenAIGenerator("tiny-1b", base_url=fake.url)

    def break_it() -> list[CompletionRequest]:
        fake.models = []  # the server stops serving the model
        return [CompletionRequest(PROMPT, seed=1)]

    return generator, break_it


def scripted(_server: HTTPServer) -> tuple[Generator, Callable[[], list[CompletionRequest]]]:
    outputs = ["red, green, blue", "cyan, magenta", "black and white", "orange"]
    return ScriptedGenerator(outputs), lambda: [CompletionRequest(PROMPT, seed=1, sequence=99)]


BACKENDS = [
    pytest.param(embedded, marks=pytest.mark.model, id="embedded"),
    pytest.param(ollama, id="ollama"),
    pytest.param(openai, id="openai"),
    pytest.param(scripted, id="scripted"),
]


@pytest.fixture(params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Generator, Callable[[], list[CompletionRequest]]]]:
    monkeypatch.setenv("OPENAI_API_KEY", os.environ.get("OPENAI_API_KEY", ""))
    yield request.param(httpserver)


def requests_for(k: int) -> list[CompletionRequest]:
    return [CompletionRequest(PROMPT, seed=10 + i, max_tokens=12, sequence=i) for i in range(k)]


def test_k_requests_give_k_completions_in_order(backend) -> None:  # type: ignore[no-untyped-def]
    generator, _ = backend
    completions = generator.complete(requests_for(3))
    assert len(completions) == 3
    assert all(isinstance(c.text, str) for c in completions)


def test_the_same_seed_gives_the_same_output(backend) -> None:  # type: ignore[no-untyped-def]
    generator, _ = backend
    [first] = generator.complete(requests_for(1))
    [again] = generator.complete(requests_for(1))
    assert first.text == again.text


def test_token_counts_are_reported(backend) -> None:  # type: ignore[no-untyped-def]
    generator, _ = backend
    completions = generator.complete(requests_for(2))
    # Samples of one prompt served by one request (OpenAI's `n`) read the prompt once.
    assert completions[0].prompt_tokens > 0 and completions[1].prompt_tokens >= 0
    for completion in completions:
        assert 0 < completion.completion_tokens <= 12
        assert completion.latency_seconds >= 0


def test_fingerprints_tell_requests_apart(backend) -> None:  # type: ignore[no-untyped-def]
    generator, _ = backend
    a, b = requests_for(2)
    assert generator.fingerprint(a) == generator.fingerprint(a)
    assert generator.fingerprint(a) != generator.fingerprint(b)  # other seed


def test_failures_are_model_errors_with_advice(backend) -> None:  # type: ignore[no-untyped-def]
    generator, failing = backend
    with pytest.raises(ModelError) as caught:
        generator.complete(failing())
    message = str(caught.value)
    assert len(message) > 30 and message[0].isupper()


def test_log_probabilities_have_one_shape(backend) -> None:  # type: ignore[no-untyped-def]
    generator, _ = backend
    for completion in generator.complete(requests_for(2)):
        for entry in completion.logprobs or []:
            assert isinstance(entry["token"], str) and entry["logprob"] <= 0
            assert all({"token", "logprob"} == set(top) for top in entry["top"])
