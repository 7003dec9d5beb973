"""The Ollama backend against a fake server speaking Ollama's HTTP API."""

from __future__ import annotations

import json
import socket

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from engine.cli import main
from engine.errors import ModelUnavailable
from engine.generators.base import CompletionRequest
from engine.generators.ollama_backend import OllamaGenerator


def generate_reply(text: str) -> dict:
    return {
        "model": "tiny",
        "created_at": "2026-11-21T00:00:00Z",
        "response": text,
        "done": True,
        "done_reason": "stop",
        "prompt_eval_count": 17,
        "eval_count": 5,
        "total_duration": 1_000_000,
    }


def test_generate_passes_options_and_records_tokens(httpserver: HTTPServer) -> None:
    seen: list[dict] = []

    def handler(request: Request) -> Response:
        seen.append(json.loads(request.data))
        return Response(
            json.dumps(generate_reply("4 + 9 = 13 (left: 10 13 13)")),
            content_type="application/json",
        )

    httpserver.expect_request("/api/generate", method="POST").respond_with_handler(handler)
    generator = OllamaGenerator("tiny", host=httpserver.url_for(""))
    [completion] = generator.complete(
        [CompletionRequest("Input: 4 9 10 13", seed=5, max_tokens=40, stop=("Input:",))]
    )
    assert completion.text.startswith("4 + 9 = 13")
    assert (completion.prompt_tokens, completion.completion_tokens) == (17, 5)
    options = seen[0]["options"]
    assert options["seed"] == 5 and options["num_predict"] == 40 and options["stop"] == ["Input:"]
    assert seen[0]["model"] == "tiny" and seen[0]["stream"] is False


def test_missing_model_names_ollama_pull(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/generate").respond_with_json(
        {"error": "model 'tiny' not found, try pulling it first"}, status=404
    )
    generator = OllamaGenerator("tiny", host=httpserver.url_for(""))
    with pytest.raises(ModelUnavailable, match="ollama pull tiny"):
        generator.complete([CompletionRequest("hi", seed=1)])


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_server_down_says_how_to_start_it() -> None:
    host = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(ModelUnavailable, match=f"Ollama is not running at {host}.*ollama serve"):
        OllamaGenerator("tiny", host=host).complete([CompletionRequest("hi", seed=1)])


def test_cli_search_against_the_fake_server(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    httpserver.expect_request("/api/generate").respond_with_json(
        generate_reply("4 + 9 = 13 (left: 10 13 13)\n10 - 4 = 6 (left: 6 9 13)\nlikely")
    )
    monkeypatch.setenv("OLLAMA_HOST", httpserver.url_for("").rstrip("/"))
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
            "tiny",
            "--max-calls",
            "10",
            "--json",
        ]
    )
    result = json.loads(capsys.readouterr().out)
    assert code == 0, result
    assert result["status"] in ("done", "stopped") and 0 < result["model_calls"] <= 10
    assert result["nodes"] > 3


def test_cli_with_the_server_down_exits_1_and_pauses(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", f"http://127.0.0.1:{closed_port()}")
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
            "tiny",
            "--json",
        ]
    )
    captured = capsys.readouterr()
    assert code == 1
    assert json.loads(captured.out)["status"] == "paused"
    assert "ollama serve" in captured.err and "treelight resume" in captured.err
