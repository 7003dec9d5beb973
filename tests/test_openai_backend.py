"""The OpenAI-compatible backend against a fake server speaking the OpenAI HTTP API."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.fake_openai import KEY, FakeOpenAI, token_logprob
from tests.invariants import check_tree_invariants
from treelight.engine import steering
from treelight.engine.cli import main
from treelight.engine.errors import BadArguments, ModelError, ModelUnavailable
from treelight.engine.generators.base import CompletionRequest
from treelight.engine.generators.openai_backend import OpenAIGenerator
from treelight.engine.generators.openai_choices import Choice, split_tokens
from treelight.engine.run.creation import create_run
from treelight.engine.run.loop import Runner
from treelight.storage import queries
from treelight.storage.export import run_to_dict


@pytest.fixture
def fake(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> FakeOpenAI:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    return FakeOpenAI(httpserver)


def ask(generator: OpenAIGenerator, **fields: object) -> str:
    request = CompletionRequest(**{"prompt": "Input: 4 9 10 13", "seed": 5, **fields})
    return generator.complete([request])[0].text


def samples(k: int, **fields: object) -> list[CompletionRequest]:
    """k samples of one prompt: requests that differ only in seed and sequence."""
    return [
        CompletionRequest(**{"prompt": "Input: 1 2 3 4", "seed": s, "sequence": s, **fields})
        for s in range(1, k + 1)
    ]


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
    assert sent["logprobs"] == 5 and "n" not in sent and "stream" not in sent
    schema = {"type": "object", "properties": {"verdict": {"enum": ["sure"]}}}
    ask(generator, chat=True, json_schema=schema)
    sent = fake.requests[-1]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["messages"] == [{"role": "user", "content": "Input: 4 9 10 13"}]
    assert sent["response_format"]["json_schema"]["schema"] == schema
    assert (sent["logprobs"], sent["top_logprobs"]) == (True, 5)


def test_k_samples_of_one_prompt_are_one_request_with_n(fake: FakeOpenAI) -> None:
    generator = OpenAIGenerator("tiny-1b", base_url=fake.url)
    completions = generator.complete(samples(3))
    [sent] = fake.requests
    assert (sent["n"], sent["seed"]) == (3, 1)  # the first request's seed
    assert [c.text.rsplit("\n", 1)[1] for c in completions] == [
        "seed 1",
        "seed 1 choice 1",
        "seed 1 choice 2",
    ]
    # The prompt is read once; each choice has its own completion tokens.
    assert [c.prompt_tokens for c in completions] == [5, 0, 0]
    assert [c.completion_tokens for c in completions] == [len(c.text.split()) for c in completions]
    assert [c.extra["n"] for c in completions] == [
        {"choices": 3, "index": i, "seed": 1} for i in range(3)
    ]
    # Different prompts are not put together (their requests go at once).
    fake.requests.clear()
    generator.complete([*samples(2), *samples(2, prompt="Input: 5 6 7 8")])
    assert sorted((r["prompt"], r["n"]) for r in fake.requests) == [
        ("Input: 1 2 3 4", 2),
        ("Input: 5 6 7 8", 2),
    ]


def test_without_log_probabilities_the_servers_total_is_shared_by_length() -> None:
    choices = [Choice("a" * 10), Choice("b" * 30), Choice("c" * 13)]
    assert split_tokens(8, choices[:2]) == [2, 6]
    assert sum(split_tokens(11, choices)) == 11
    choices[0].logprobs, choices[1].logprobs = [{}] * 4, [{}] * 7
    assert split_tokens(99, choices[:2]) == [4, 7]  # one entry a token: exact


@pytest.mark.parametrize("server", ["refuses n", "ignores n"])
def test_a_server_without_n_gets_k_requests_from_then_on(fake: FakeOpenAI, server: str) -> None:
    if server == "refuses n":
        fake.refuse = {"n"}
    else:
        fake.max_choices = 1
    generator = OpenAIGenerator("tiny-1b", base_url=fake.url, parallel=3)
    texts = [c.text for c in generator.complete(samples(3))]
    assert [t.rsplit(" ", 1)[1] for t in texts] == ["1", "2", "3"]  # in order, own seeds
    first, *rest = fake.requests
    assert first["n"] == 3 and all("n" not in r for r in rest)
    made = 0 if server == "refuses n" else 1  # an ignored `n` still gave the first
    assert sorted(r["seed"] for r in rest) == [1, 2, 3][made:]
    fake.requests.clear()
    generator.complete(samples(3))
    assert len(fake.requests) == 3 and all("n" not in r for r in fake.requests)


@pytest.mark.parametrize("chat", [False, True])
def test_log_probabilities_in_either_shape_become_one_list(fake: FakeOpenAI, chat: bool) -> None:
    generator = OpenAIGenerator("tiny-1b", base_url=fake.url, logprobs=3)
    [completion] = generator.complete([CompletionRequest("Input: 4 9 10 13", seed=5, chat=chat)])
    logprobs = completion.logprobs
    assert logprobs is not None and "".join(t["token"] for t in logprobs) == completion.text
    first = logprobs[0]
    assert first["token"] == "4 " and first["logprob"] == token_logprob("4 ")
    assert [t["token"] for t in first["top"]] == ["4 ", "alt0", "alt1"]
    assert all(
        [a["logprob"] for a in t["top"]] == sorted((a["logprob"] for a in t["top"]), reverse=True)
        for t in logprobs
    )
    fake.requests.clear()
    [free] = OpenAIGenerator("tiny-1b", base_url=fake.url, logprobs=0).complete(
        [CompletionRequest("Input: 4 9 10 13", seed=5, chat=chat)]
    )
    assert free.logprobs is None and "logprobs" not in fake.requests[-1]


def test_a_server_that_refuses_log_probabilities_is_not_asked_again(fake: FakeOpenAI) -> None:
    fake.refuse = {"logprobs"}
    generator = OpenAIGenerator("tiny-1b", base_url=fake.url)
    [completion] = generator.complete([CompletionRequest("Input: 4 9 10 13", seed=5)])
    assert completion.text.endswith("seed 5") and completion.logprobs is None
    assert ["logprobs" in r for r in fake.requests] == [True, False]
    generator.complete(samples(2))
    assert "logprobs" not in fake.requests[-1] and fake.requests[-1]["n"] == 2


GRAMMAR = 'root ::= "4 + 9"'


@pytest.mark.parametrize(
    ("field", "sent"),
    [
        ("grammar", {"grammar": GRAMMAR}),
        ("guided_grammar", {"guided_grammar": GRAMMAR}),
        ("structured_outputs", {"structured_outputs": {"grammar": GRAMMAR}}),
        ("none", {}),
    ],
)
def test_a_grammar_goes_under_the_chosen_field(
    fake: FakeOpenAI, field: str, sent: dict[str, object]
) -> None:
    generator = OpenAIGenerator.from_spec(
        {"backend": "openai", "model": "tiny-1b", "base_url": fake.url, "grammar_field": field}
    )
    assert generator.supports_grammar == (field != "none")
    [completion] = generator.complete(
        [CompletionRequest("Input: 1 2 3 4", seed=1, grammar=GRAMMAR)]
    )
    body = fake.requests[-1]
    assert {
        k: body[k] for k in ("grammar", "guided_grammar", "structured_outputs") if k in body
    } == (sent)
    assert completion.extra.get("constrained_by") == (field if sent else None)
    # A verdict with a schema on a chat call sends the schema alone: one constraint at a time.
    schema = {"type": "object"}
    ask(generator, chat=True, json_schema=schema, grammar=GRAMMAR)
    assert "response_format" in fake.requests[-1] and field not in fake.requests[-1]


def test_a_refused_grammar_field_names_the_option_to_set(fake: FakeOpenAI) -> None:
    fake.refuse = {"grammar"}
    generator = OpenAIGenerator("tiny-1b", base_url=fake.url)
    with pytest.raises(ModelError, match="sent as `grammar`.*set the backend option grammar_field"):
        ask(generator, grammar=GRAMMAR)


@pytest.mark.parametrize("chat", [False, True])
def test_a_stream_is_assembled_like_a_whole_answer(fake: FakeOpenAI, chat: bool) -> None:
    whole = OpenAIGenerator("tiny-1b", base_url=fake.url).complete(samples(2, chat=chat))
    streamed = OpenAIGenerator("tiny-1b", base_url=fake.url, stream=True).complete(
        samples(2, chat=chat)
    )
    sent = fake.requests[-1]
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    for a, b in zip(whole, streamed, strict=True):
        assert (a.text, a.logprobs, a.prompt_tokens, a.completion_tokens) == (
            b.text,
            b.logprobs,
            b.prompt_tokens,
            b.completion_tokens,
        )
        assert b.extra["finish_reason"] == "stop"


@pytest.mark.parametrize(
    ("fault", "why"),
    [
        ("drop", "Connection error"),
        ("end", "ended before its last chunk"),
        ("error", "out of memory"),
    ],
)
def test_a_broken_stream_says_how_far_it_got(fake: FakeOpenAI, fault: str, why: str) -> None:
    fake.stream_fault = fault
    generator = OpenAIGenerator("tiny-1b", base_url=fake.url, stream=True, retries=0)
    with pytest.raises(ModelError, match=f"stream from {fake.url} broke after 2 tokens.*{why}"):
        ask(generator)


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


def openai_run(
    engine: Engine, fake: FakeOpenAI, max_calls: int = 12, replay: bool = False, **options: object
) -> int:
    run = create_run(
        engine,
        task="game24",
        problem="4 9 10 13",
        strategy="bfs",
        generator={"backend": "openai", "model": "tiny-1b", "base_url": fake.url, **options},
        budget={"max_calls": max_calls},
        replay=replay,
        status="running",
    )
    assert run.id is not None
    return run.id


def _unreachable(fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    fake.server.stop()
    return fake.server.start


def _bad_key(fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    monkeypatch.setenv("OPENAI_API_KEY", "wrong")
    return lambda: monkeypatch.setenv("OPENAI_API_KEY", KEY)


def _unknown_model(fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    fake.models = ["other-7b"]
    return lambda: setattr(fake, "models", ["tiny-1b"])


def _busy(fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    fake.busy_left = 1_000
    return lambda: setattr(fake, "busy_left", 0)


def _context(fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    fake.context_tokens = 3
    return lambda: setattr(fake, "context_tokens", 4096)


def _broken_stream(fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    fake.stream_fault = "drop"
    return lambda: setattr(fake, "stream_fault", None)


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        (_unreachable, "No OpenAI-compatible server answers at"),
        (_bad_key, "OPENAI_API_KEY"),
        (_unknown_model, "does not serve the model 'tiny-1b'. It serves: other-7b"),
        (_busy, "rate-limiting"),
        (_context, "longer than the model's context"),
        (_broken_stream, "broke after 2 tokens"),
    ],
    ids=["unreachable", "bad key", "unknown model", "busy", "context", "broken stream"],
)
def test_each_fault_pauses_a_run_that_resumes_once_it_is_fixed(
    engine: Engine,
    fake: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
    fault: Callable[[FakeOpenAI, pytest.MonkeyPatch], Callable[[], None]],
    said: str,
) -> None:
    run_id = openai_run(engine, fake, retries=1, stream=fault is _broken_stream)
    fix = fault(fake, monkeypatch)
    paused = Runner(engine, run_id).run_until_idle().run
    assert paused.status == "paused" and said in paused.status_reason, paused.status_reason
    fix()
    steering.resume(engine, run_id)
    finished = Runner(engine, run_id).run_until_idle().run
    assert finished.status in ("done", "stopped"), finished.status_reason
    check_tree_invariants(engine, run_id)
    with Session(engine) as session:
        calls = queries.run_model_calls(session, run_id)
        nodes = queries.run_nodes(session, run_id)
    assert calls and {c.backend for c in calls} == {"openai"} and len(nodes) > 2
    assert KEY not in str(finished.generator)


def test_log_probabilities_are_kept_on_calls_nodes_and_in_the_export(
    engine: Engine, fake: FakeOpenAI
) -> None:
    run_id = openai_run(engine, fake)
    Runner(engine, run_id).run_until_idle()
    with Session(engine) as session:
        calls = queries.run_model_calls(session, run_id)
        nodes = queries.run_nodes(session, run_id)
        exported = json.loads(json.dumps(run_to_dict(session, run_id)))
    # the value judge reads its words' probabilities in one call, and keeps what it read
    valued = [c for c in calls if c.purpose == "value"]
    assert valued and all("choices" in c.extra and c.logprobs for c in valued)
    made = [c for c in calls if c.error is None]
    assert made and all(c.logprobs for c in made)
    # Under constrain=auto the steps ran under the task's grammar, and each call says so.
    constrained = [c for c in made if c.params.get("grammar")]
    assert constrained and all(c.extra["constrained_by"] == "grammar" for c in constrained)
    # Distinct moves go a line at a time, each under the grammar of the moves left.
    from treelight.engine.generators.chance import remaining_lines_grammar

    first_line = remaining_lines_grammar(constrained[0].params["grammar"], [])
    assert first_line in {r.get("grammar") for r in fake.requests}
    assert all("".join(t["token"] for t in c.logprobs or []) == c.output for c in made)
    assert [c["logprobs"] for c in exported["model_calls"]] == [c.logprobs for c in calls]
    by_id = {c.id: c for c in made}
    children = [n for n in nodes if n.model_call_id is not None]
    assert children and all(n.logprob is not None and n.logprob < 0 for n in children)
    # A step's log-probability is its own tokens', not the whole output's.
    for node in children:
        whole = sum(t["logprob"] for t in by_id[node.model_call_id].logprobs or [])
        assert node.logprob >= whole
    assert {n["id"]: n["logprob"] for n in exported["nodes"]} == {n.id: n.logprob for n in nodes}


def test_a_replayed_run_keeps_the_log_probabilities(engine: Engine, fake: FakeOpenAI) -> None:
    first = openai_run(engine, fake, max_calls=200)
    assert Runner(engine, first).run_until_idle().run.status == "done"
    fake.models = []  # no model at all: every call must come from storage
    again = openai_run(engine, fake, max_calls=200, replay=True)
    finished = Runner(engine, again).run_until_idle().run
    assert finished.status == "done", finished.status_reason
    with Session(engine) as session:
        logprobs = [n.logprob for n in queries.run_nodes(session, again) if n.depth > 0]
    assert logprobs and all(lp is not None for lp in logprobs)


def test_models_lists_the_servers_models(
    fake: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "--backend", "openai", "--base-url", fake.url, "--json"]) == 0
    assert '"name": "tiny-1b"' in capsys.readouterr().out
    assert main(["models", "--backend", "scripted"]) == 2
    assert "has no model list" in capsys.readouterr().err


def test_embeddings_come_from_v1_embeddings_in_order(fake: FakeOpenAI) -> None:
    from tests.fake_openai import embedding_of
    from treelight.engine.generators.base import embed_request

    generator = OpenAIGenerator("tiny-1b", base_url=fake.url)
    texts = ["left: 4 9 13", "left: 24", "an apple a day"]
    made = generator.complete([embed_request(t) for t in texts])
    assert [c.extra["embedding"] for c in made] == [embedding_of(t) for t in texts]
    assert fake.requests[-1]["input"] == texts  # one request for all of them
    assert all(c.text == "" and c.completion_tokens == 0 for c in made)


def test_verdict_words_are_read_from_the_top_log_probabilities(fake: FakeOpenAI) -> None:
    words = ("sure", "likely", "impossible")
    fake.reply = lambda body, index: " likely"
    generator = OpenAIGenerator("tiny-1b", base_url=fake.url)
    assert generator.supports_choices
    [read] = generator.complete([CompletionRequest("Judge: ", seed=1, choices=words)])
    assert read.text.strip() == "likely" and read.extra["choices"]["likely"] == 1.0
    assert read.extra["choice_mass"] > 0 and read.logprobs and read.logprobs[0]["top"]
    sent = fake.requests[-1]
    assert sent["max_tokens"] == 1 and sent["temperature"] == 0.0 and sent["logprobs"]

    fake.refuse = {"logprobs"}  # a server without log-probabilities: no reading, the judge samples
    refused = OpenAIGenerator("tiny-1b", base_url=fake.url)
    [plain] = refused.complete([CompletionRequest("Judge: ", seed=1, choices=words)])
    assert "choices" not in plain.extra and not refused.supports_choices
