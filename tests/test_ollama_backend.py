"""The Ollama backend against a fake server speaking Ollama's HTTP API."""

from __future__ import annotations

import json
import socket

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.fake_ollama import FakeOllama
from tests.invariants import check_end_state
from treelight.engine import steering
from treelight.engine.cli import main
from treelight.engine.errors import ModelError, ModelUnavailable
from treelight.engine.generators.base import CompletionRequest
from treelight.engine.generators.ollama_backend import OllamaGenerator, list_models, pull_model
from treelight.engine.run.creation import create_run
from treelight.engine.run.loop import Runner
from treelight.storage import queries
from treelight.storage.database import make_engine, unit_of_work


@pytest.fixture
def fake(httpserver: HTTPServer) -> FakeOllama:
    return FakeOllama(httpserver)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ask(generator: OllamaGenerator, **fields: object) -> str:
    request = CompletionRequest(**{"prompt": "Input: 4 9 10 13", "seed": 5, **fields})
    return generator.complete([request])[0].text


def test_models_are_listed_with_size_family_and_quantization(fake: FakeOllama) -> None:
    [model] = list_models(fake.url)
    assert model == {
        "name": "tiny:1b",
        "size": 1_321_098_329,
        "family": "llama",
        "parameters": "1.2B",
        "quantization": "Q8_0",
    }


def test_streamed_generation_passes_every_option_and_records_tokens(fake: FakeOllama) -> None:
    generator = OllamaGenerator("tiny:1b", host=fake.url, keep_alive="30m", num_ctx=4096)
    request = CompletionRequest(
        "Input: 4 9 10 13", seed=5, temperature=0.3, max_tokens=40, stop=("Input:",), chat=False
    )
    [completion] = generator.complete([request])
    assert completion.text == "4 + 9 = 13 (left: 10 13 13)\n13 - 10 = 3 (left: 3 9 13)\nseed 5"
    # The fake counts words; the point is that the server's counts are what we record.
    assert completion.prompt_tokens == 5
    assert completion.completion_tokens == len(completion.text.split())
    assert completion.extra["total_duration"] == 5_000_000
    assert completion.extra["done_reason"] == "stop"
    [sent] = fake.requests
    assert sent["stream"] is True and sent["raw"] is True and sent["keep_alive"] == "30m"
    assert sent["options"] == {
        "temperature": 0.3,
        "top_p": 0.95,
        "seed": 5,
        "num_predict": 40,
        "stop": ["Input:"],
        "num_ctx": 4096,
    }


def test_log_probabilities_are_asked_for_and_read(fake: FakeOllama) -> None:
    generator = OllamaGenerator("tiny:1b", host=fake.url, logprobs=3)
    [completion] = generator.complete([CompletionRequest("Input: 4 9 10 13", seed=5)])
    sent = fake.requests[-1]
    assert (sent["logprobs"], sent["top_logprobs"]) == (True, 3)
    logprobs = completion.logprobs
    assert logprobs is not None and "".join(t["token"] for t in logprobs) == completion.text
    assert [t["token"] for t in logprobs[0]["top"]] == ["4", "alt0", "alt1"]
    assert logprobs[0]["logprob"] == logprobs[0]["top"][0]["logprob"] < 0
    [free] = OllamaGenerator("tiny:1b", host=fake.url, logprobs=0).complete(
        [CompletionRequest("Input: 4 9 10 13", seed=5)]
    )
    assert free.logprobs is None and "logprobs" not in fake.requests[-1]


def test_chat_prompts_use_the_template_and_judges_get_a_json_schema(fake: FakeOllama) -> None:
    generator = OllamaGenerator("tiny:1b", host=fake.url)
    schema = {"type": "object", "properties": {"verdict": {"enum": ["sure"]}}}
    ask(generator, chat=True, json_schema=schema)
    assert fake.requests[0]["raw"] is False and fake.requests[0]["format"] == schema


def test_k_candidates_are_k_requests_sent_concurrently(
    fake: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_NUM_PARALLEL", "3")
    generator = OllamaGenerator("tiny:1b", host=fake.url)
    requests = [CompletionRequest("p", seed=s) for s in (1, 2, 3)]
    texts = [c.text for c in generator.complete(requests)]
    assert [t.rsplit(" ", 1)[-1] for t in texts] == ["1", "2", "3"]  # in order
    assert len(fake.requests) == 3


def test_missing_model_names_ollama_pull(fake: FakeOllama) -> None:
    with pytest.raises(ModelUnavailable, match="run `ollama pull nope:7b`"):
        ask(OllamaGenerator("nope:7b", host=fake.url))


def test_server_down_names_the_host_and_ollama_serve() -> None:
    host = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(ModelUnavailable, match=f"Ollama is not running at {host}.*ollama serve"):
        ask(OllamaGenerator("tiny:1b", host=host))
    with pytest.raises(ModelUnavailable, match="ollama serve"):
        list_models(host)


def test_a_full_queue_is_retried_with_backoff(fake: FakeOllama) -> None:
    waits: list[float] = []
    generator = OllamaGenerator("tiny:1b", host=fake.url, sleep=waits.append)
    fake.busy_left = 2
    assert ask(generator).endswith("seed 5")
    assert waits == [0.5, 1.0]


def test_a_queue_that_stays_full_gives_up_with_advice(fake: FakeOllama) -> None:
    generator = OllamaGenerator("tiny:1b", host=fake.url, sleep=lambda _: None)
    fake.busy_left = 100
    with pytest.raises(ModelError, match="busy.*OLLAMA_NUM_PARALLEL"):
        ask(generator)


def test_an_error_line_in_the_middle_of_a_stream(fake: FakeOllama) -> None:
    fake.fault = "error_mid_stream"
    with pytest.raises(ModelError, match="in the middle of a response: an error was encountered"):
        ask(OllamaGenerator("tiny:1b", host=fake.url))


def test_a_hang_times_out(fake: FakeOllama) -> None:
    fake.fault, fake.hang_seconds = "hang", 2.5
    with pytest.raises(ModelError, match="did not answer within 1 s"):
        ask(OllamaGenerator("tiny:1b", host=fake.url, timeout=1.0))


def test_the_server_dying_mid_response(fake: FakeOllama) -> None:
    fake.fault = "die"
    with pytest.raises(ModelError, match="in the middle of a response.*ollama serve"):
        ask(OllamaGenerator("tiny:1b", host=fake.url))


def test_pull_reports_progress(fake: FakeOllama) -> None:
    progress = list(pull_model("qwen:0.5b", fake.url))
    assert progress[0]["status"] == "pulling manifest"
    assert [p["completed"] for p in progress if p["total"]] == [0, 500, 1000]
    assert "qwen:0.5b" in [m["name"] for m in list_models(fake.url)]


def test_invalid_utf8_in_a_stream_becomes_replacement_characters(fake: FakeOllama) -> None:
    fake.fault = "bad_utf8"
    text = ask(OllamaGenerator("tiny:1b", host=fake.url))
    assert "\ufffd" in text and text.startswith("4 ")


def test_a_line_that_is_not_json_names_the_host_and_a_proxy(fake: FakeOllama) -> None:
    fake.fault = "garbage_line"
    with pytest.raises(ModelError, match="not Ollama's JSON.*<html>502 Bad Gateway"):
        ask(OllamaGenerator("tiny:1b", host=fake.url))


FAULTS = ["missing", "busy", "error_mid_stream", "die", "garbage_line", "down"]


@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_pauses_the_run_and_resume_continues_once_it_clears(
    engine: Engine, fake: FakeOllama, fault: str
) -> None:
    generator_spec = {"backend": "ollama", "model": "tiny:1b", "host": fake.url}
    if fault == "down":
        generator_spec["host"] = f"http://127.0.0.1:{closed_port()}"
    run = create_run(
        engine,
        task="game24",
        problem="4 9 10 13",
        strategy="bfs",
        generator=generator_spec,
        budget={"max_calls": 8},
        status="running",
    )
    assert run.id is not None
    first = Runner(engine, run.id).run_until_idle()  # one healthy expansion and judging
    assert first.run.status == "stopped" or fault == "down"
    if fault != "down":
        steering.resume(engine, run.id)
        # Raise the budget so the run goes on, and break the server.
        with unit_of_work(engine) as session:
            stored = session.get(type(run), run.id)
            assert stored is not None
            stored.budget = {"max_calls": 20}
        if fault == "missing":
            fake.models = []
        elif fault == "busy":
            fake.busy_left = 10_000
        else:
            fake.fault = fault
        nodes_before = _node_ids(engine, run.id)
        faulty = Runner(
            engine,
            run.id,
            generator=OllamaGenerator("tiny:1b", host=fake.url, sleep=lambda _: None),
        ).run_until_idle()
    else:
        nodes_before = _node_ids(engine, run.id)
        faulty = first
    assert faulty.run.status == "paused" and faulty.error is not None
    assert isinstance(faulty.error, ModelError)
    assert _node_ids(engine, run.id) >= nodes_before  # nothing lost
    # The fault clears; resume carries on.
    fake.models, fake.busy_left, fake.fault = ["tiny:1b"], 0, None
    with unit_of_work(engine) as session:
        stored = session.get(type(run), run.id)
        assert stored is not None
        stored.generator = {**stored.generator, "host": fake.url}
    steering.resume(engine, run.id)
    healed = Runner(engine, run.id).run_until_idle()
    assert healed.error is None and healed.run.status in ("done", "stopped")
    check_end_state(engine, run.id)  # and whichever it is, it is so
    assert _node_ids(engine, run.id) > nodes_before or healed.run.status == "done"


def _node_ids(engine: Engine, run_id: int) -> set[int]:
    with Session(engine) as session:
        return {n.id or 0 for n in queries.run_nodes(session, run_id)}


def test_cli_search_against_the_fake_server(
    fake: FakeOllama, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", fake.url)
    code = main(
        [
            "run",
            "--task",
            "game24",
            "--problem",
            "4 9 10 13",
            "--backend",
            "ollama",
            "--model",
            "tiny:1b",
            "--max-calls",
            "10",
            "--json",
        ]
    )
    result = json.loads(capsys.readouterr().out)
    assert code == 0, result
    assert result["status"] in ("done", "stopped") and 0 < result["model_calls"] <= 10
    check_end_state(make_engine(), result["run_id"])
    assert result["nodes"] > 2 and result["prompt_tokens"] > 0


def test_cli_models_lists_the_server(
    fake: FakeOllama, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", fake.url)
    assert main(["models"]) == 0
    assert "tiny:1b" in capsys.readouterr().out
    assert main(["models", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["quantization"] == "Q8_0"


def test_cli_with_the_server_down_exits_1_and_pauses(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    host = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("OLLAMA_HOST", host)
    code = main(
        [
            "run",
            "--task",
            "game24",
            "--problem",
            "4 9 10 13",
            "--backend",
            "ollama",
            "--model",
            "tiny:1b",
            "--json",
        ]
    )
    captured = capsys.readouterr()
    assert code == 1
    assert json.loads(captured.out)["status"] == "paused"
    assert f"Ollama is not running at {host}" in captured.err
    assert "ollama serve" in captured.err and "treelight resume" in captured.err


def test_cli_with_a_missing_model_names_ollama_pull(
    fake: FakeOllama, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", fake.url)
    code = main(
        [
            "run",
            "--task",
            "game24",
            "--problem",
            "4 9 10 13",
            "--backend",
            "ollama",
            "--model",
            "llama3.2",
            "--json",
        ]
    )
    assert code == 1
    assert "run `ollama pull llama3.2`" in capsys.readouterr().err


def schema_reply(request: dict) -> str:
    """Answers the schema it is sent, as a server enforcing `format` would: three of
    the listed moves (one twice), or a verdict."""
    properties = (request.get("format") or {}).get("properties", {})
    if "lines" in properties:
        moves = properties["lines"]["items"]["enum"]
        at = request["options"]["seed"] % len(moves)
        picked = [moves[at], moves[(at + 1) % len(moves)], moves[at]]
        return json.dumps({"lines": picked})
    return json.dumps({"verdict": "likely"})


def test_a_listable_grammar_goes_as_a_json_schema_and_the_rest_runs_free(
    fake: FakeOllama,
) -> None:
    """Ollama takes JSON schemas, not GBNF: Game of 24's move grammar is sent as the
    enum of its 48 moves (8 distinct at most), the answer read back as lines; a
    grammar whose strings cannot be listed (math's numbers) is not sent, and the call
    says it ran free."""
    from fractions import Fraction

    from tests.test_constrained import root
    from treelight.engine.tasks.game24 import Game24, answer_grammar

    fake.reply = lambda body: json.dumps(
        {"lines": ["4 + 9", "4 + 9", "13 - 10", "7 * 7"]} if body.get("format") else {}
    )
    generator = OllamaGenerator("tiny:1b", host=fake.url)
    task = Game24("4 9 10 13")
    shape = task.shape("step", [root(task)], [])
    assert shape is not None
    request = CompletionRequest(
        "Input: 4 9 10 13", seed=1, grammar=shape.grammar, distinct_lines=shape.distinct_lines
    )
    [done] = generator.complete([request])
    sent = fake.requests[-1]["format"]["properties"]["lines"]
    assert len(sent["items"]["enum"]) == 48 and sent["maxItems"] == 8 and sent["uniqueItems"]
    assert done.text == "4 + 9\n13 - 10"  # the repeat and the move not listed are dropped
    assert done.extra["constraint"] == "json schema" and "7 * 7" in done.extra["raw"]
    expression = answer_grammar([Fraction(n) for n in (4, 9, 10, 13)], steps=False)
    [free] = generator.complete([CompletionRequest("Input: 4 9 10 13", seed=1, grammar=expression)])
    assert "format" not in fake.requests[-1] or fake.requests[-1]["format"] is None
    assert free.extra["constraint"] == "none: not listable"


def test_a_game24_search_on_ollama_writes_only_legal_moves(
    fake: FakeOllama, engine: Engine
) -> None:
    fake.reply = schema_reply
    run = create_run(
        engine,
        task="game24",
        problem="4 9 10 13",
        strategy="bfs",
        strategy_params={"beam": 2, "steps": 2},
        generator={"backend": "ollama", "model": "tiny:1b", "host": fake.url},
        judges=[{"name": "game24-verifier"}, {"name": "value", "samples": 1}],
        status="running",
    )
    outcome = Runner(engine, run.id or 0).run_until_idle()
    assert outcome.error is None, outcome.error
    with Session(engine) as session:
        nodes = queries.run_nodes(session, run.id or 0)[1:]
        calls = queries.run_model_calls(session, run.id or 0)
    steps = [c for c in calls if c.purpose == "expand"]
    assert steps and all(c.extra["constraint"] == "json schema" for c in steps)
    assert nodes and all(n.status != "invalid" for n in nodes)
    assert all(" = " in n.text and "(left: " in n.text for n in nodes)  # the engine wrote it


def test_embeddings_come_from_api_embed(fake: FakeOllama) -> None:
    from treelight.engine.generators.base import embed_request

    generator = OllamaGenerator("tiny:1b", host=fake.url)
    [made] = generator.complete([embed_request("left: 4 9 13")])
    assert made.extra["embedding"] == [12.0, 1.0, 1.0] and made.prompt_tokens == 7
    assert fake.requests[-1]["model"] == "tiny:1b"
    assert fake.requests[-1]["input"] == "left: 4 9 13"


def test_verdict_words_are_read_from_ollamas_top_log_probabilities(fake: FakeOllama) -> None:
    from treelight.engine.generators.base import CompletionRequest

    fake.reply = lambda request: "impossible"
    generator = OllamaGenerator("tiny:1b", host=fake.url)
    words = ("sure", "likely", "impossible")
    [read] = generator.complete([CompletionRequest("Judge: ", seed=1, choices=words)])
    assert read.text == "impossible" and read.extra["choices"]["impossible"] == 1.0
    assert fake.requests[-1]["options"]["num_predict"] == 1 and read.logprobs
