"""A fake Ollama server speaking the documented HTTP API, for tests.

It runs on pytest-httpserver (the official Python client's own test tool) and
answers /api/tags, /api/generate (streamed NDJSON or one JSON object, with
log-probabilities when asked) and /api/pull (streamed progress), with the
documented error shapes. Faults are switched on per test: a missing model
(404), a full queue (503), an error line in the middle of a stream, a hang,
and a server that dies mid-response.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

CREATED = "2026-11-21T12:00:00.000000Z"


def default_reply(request: dict[str, Any]) -> str:
    """Deterministic in (prompt, seed), like a real model with a fixed seed."""
    seed = request.get("options", {}).get("seed", 0)
    listed = (request.get("format") or {}).get("properties", {}).get("lines")
    if listed:  # a grammar sent as a schema (Game of 24 moves): answer within it
        moves = listed["items"]["enum"]
        return json.dumps({"lines": [moves[(seed + i) % len(moves)] for i in range(3)]})
    if "sure/likely/impossible" in request.get("prompt", "") or request.get("format"):
        return json.dumps({"verdict": ["sure", "likely", "impossible"][seed % 3]})
    return f"4 + 9 = 13 (left: 10 13 13)\n13 - 10 = 3 (left: 3 9 13)\nseed {seed}"


class FakeOllama:
    def __init__(self, server: HTTPServer, models: tuple[str, ...] = ("tiny:1b",)) -> None:
        self.server = server
        self.models = list(models)
        self.reply: Callable[[dict[str, Any]], str] = default_reply
        self.requests: list[dict[str, Any]] = []
        self.busy_left = 0  # answer 503 this many times first
        # "error_mid_stream", "hang", "die", "bad_utf8", "garbage_line"
        self.fault: str | None = None
        self.hang_seconds = 3.0
        server.expect_request("/api/tags", method="GET").respond_with_handler(self._tags)
        server.expect_request("/api/generate", method="POST").respond_with_handler(self._generate)
        server.expect_request("/api/pull", method="POST").respond_with_handler(self._pull)
        server.expect_request("/api/embed", method="POST").respond_with_handler(self._embed)

    @property
    def url(self) -> str:
        return self.server.url_for("").rstrip("/")

    def _tags(self, _request: Request) -> Response:
        models = [
            {
                "name": name,
                "model": name,
                "modified_at": CREATED,
                "size": 1_321_098_329,
                "digest": "a" * 64,
                "details": {
                    "parent_model": "",
                    "format": "gguf",
                    "family": "llama",
                    "families": ["llama"],
                    "parameter_size": "1.2B",
                    "quantization_level": "Q8_0",
                },
            }
            for name in self.models
        ]
        return Response(json.dumps({"models": models}), content_type="application/json")

    def _embed(self, request: Request) -> Response:
        """/api/embed: a made-up vector per text (its length, its vowels, 1)."""
        body = json.loads(request.data)
        self.requests.append(body)
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        vectors = [[float(len(t)), float(sum(c in "aeiou" for c in t)), 1.0] for t in texts]
        answer = {"model": body["model"], "embeddings": vectors, "prompt_eval_count": 7}
        return Response(json.dumps(answer), content_type="application/json")

    def _generate(self, request: Request) -> Response:
        body = json.loads(request.data)
        self.requests.append(body)
        if body["model"] not in self.models:
            return _error(404, f"model '{body['model']}' not found, try pulling it first")
        if self.busy_left > 0:
            self.busy_left -= 1
            return _error(503, "server busy, please try again.  maximum pending requests exceeded")
        if self.fault == "hang":
            time.sleep(self.hang_seconds)
        text = self.reply(body)
        # Like a real server: at most num_predict tokens (a token is a word here).
        tokens = re.findall(r"\S+\s*", text)[: body.get("options", {}).get("num_predict")]
        text = "".join(tokens)
        final = {
            "model": body["model"],
            "created_at": CREATED,
            "response": "",
            "done": True,
            "done_reason": "stop",
            "total_duration": 5_000_000,
            "load_duration": 1_000_000,
            "prompt_eval_count": len(body["prompt"].split()),
            "prompt_eval_duration": 2_000_000,
            "eval_count": len(text.split()),
            "eval_duration": 2_000_000,
        }
        if not body.get("stream", True):
            whole = {**final, "response": text}
            if body.get("logprobs"):
                whole["logprobs"] = [_logprob(t, body.get("top_logprobs", 0)) for t in tokens]
            return Response(json.dumps(whole), content_type="application/json")
        return Response(self._chunks(body, text, final), content_type="application/x-ndjson")

    def _chunks(
        self, body: dict[str, Any], text: str, final: dict[str, Any]
    ) -> Iterator[str | bytes]:
        words = text.split(" ")
        for index, word in enumerate(words):
            piece = word if index == 0 else " " + word
            chunk = {
                "model": body["model"],
                "created_at": CREATED,
                "response": piece,
                "done": False,
            }
            if body.get("logprobs"):  # a piece is one token here
                chunk["logprobs"] = [_logprob(piece, body.get("top_logprobs", 0))]
            yield json.dumps(chunk) + "\n"
            if index == 0 and self.fault == "error_mid_stream":
                yield (
                    json.dumps(
                        {"error": "an error was encountered while running the model: out of memory"}
                    )
                    + "\n"
                )
                return
            if index == 0 and self.fault == "bad_utf8":  # bytes no UTF-8 decoder accepts
                yield b'{"response": " \xff\xfe\xc3(", "done": false}\n'
            if index == 0 and self.fault == "garbage_line":  # a broken proxy, say
                yield "<html>502 Bad Gateway</html>\n"
            if index == 0 and self.fault == "die":
                raise ConnectionAbortedError("the fake server dies mid-response")
        yield json.dumps(final) + "\n"

    def _pull(self, request: Request) -> Response:
        name = json.loads(request.data)["model"]

        def progress() -> Iterator[str]:
            yield json.dumps({"status": "pulling manifest"}) + "\n"
            for done in (0, 500, 1000):
                yield (
                    json.dumps(
                        {
                            "status": "pulling 6a0746a1ec1a",
                            "digest": "sha256:6a07",
                            "total": 1000,
                            "completed": done,
                        }
                    )
                    + "\n"
                )
            yield json.dumps({"status": "success"}) + "\n"
            self.models.append(name)

        return Response(progress(), content_type="application/x-ndjson")


def _logprob(token: str, top: int) -> dict[str, Any]:
    """Ollama's shape: the token, its log-probability, its bytes, the runners-up."""
    first = -round(0.05 + (len(token.strip()) % 4) * 0.3, 4)
    alternatives = [(token, first), *((f"alt{m}", first - 1 - m) for m in range(top - 1))][:top]
    return {
        "token": token,
        "logprob": first,
        "bytes": list(token.encode()),
        "top_logprobs": [
            {"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in alternatives
        ],
    }


def _error(status: int, message: str) -> Response:
    return Response(json.dumps({"error": message}), status=status, content_type="application/json")
