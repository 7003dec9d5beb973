"""A fake OpenAI-compatible server speaking the documented HTTP API, for tests.

On pytest-httpserver (as the official clients' own tests do): /v1/models,
/v1/completions and /v1/chat/completions with the documented response and
error shapes (`{"error": {"message", "type", "code"}}`). Faults per test: a
wrong key (401), an unknown model (404), a prompt over the context (400), a
busy server (429 a given number of times before it answers).
"""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

KEY = "sk-test"


def error(status: int, message: str, kind: str, code: str | None = None) -> Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return Response(json.dumps(body), status=status, content_type="application/json")


def unauthorized() -> Response:
    return error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")


class FakeOpenAI:
    def __init__(self, server: HTTPServer, models: tuple[str, ...] = ("tiny-1b",)) -> None:
        self.server = server
        self.models = list(models)
        self.requests: list[dict[str, Any]] = []
        self.busy_left = 0
        self.context_tokens = 4096
        self.delay = 0.0  # seconds per completion, as a model would take
        self.in_flight = self.most_at_once = 0
        self._lock = threading.Lock()
        self.reply = lambda body: (
            f"4 + 9 = 13 (left: 10 13 13)\n13 - 10 = 3 (left: 3 9 13)\nseed {body.get('seed')}"
        )
        server.expect_request("/v1/models", method="GET").respond_with_handler(self._models)
        for path in ("/v1/completions", "/v1/chat/completions"):
            server.expect_request(path, method="POST").respond_with_handler(self._complete)

    @property
    def url(self) -> str:
        return self.server.url_for("/v1").rstrip("/")

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {KEY}"

    def _models(self, request: Request) -> Response:
        if not self._authorized(request):
            return error(
                401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
            )
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models]
        return Response(
            json.dumps({"object": "list", "data": data}), content_type="application/json"
        )

    def _complete(self, request: Request) -> Response:
        with self._lock:
            self.in_flight += 1
            self.most_at_once = max(self.most_at_once, self.in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            return self._answer(request)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _answer(self, request: Request) -> Response:
        body = json.loads(request.data)
        chat = request.path.endswith("/chat/completions")
        self.requests.append({"path": request.path, **body})
        if not self._authorized(request):
            return error(
                401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
            )
        if body.get("model") not in self.models:
            message = f"The model `{body.get('model')}` does not exist."
            return error(404, message, "invalid_request_error", "model_not_found")
        if self.busy_left > 0:
            self.busy_left -= 1
            return error(429, "Rate limit reached.", "requests", "rate_limit_exceeded")
        prompt = body["messages"][0]["content"] if chat else body["prompt"]
        used = len(prompt.split())
        if used > self.context_tokens:
            message = (
                f"This model's maximum context length is {self.context_tokens} tokens. "
                f"However, you requested {used} tokens."
            )
            return error(400, message, "invalid_request_error", "context_length_exceeded")
        text = self.reply(body)
        if body.get("max_tokens"):  # a real server stops at max_tokens: words stand in here
            text = "".join(re.findall(r"\S+\s*", text)[: int(body["max_tokens"])]).rstrip()
        usage = {"prompt_tokens": used, "completion_tokens": len(text.split())}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        if chat:
            choice: dict[str, Any] = {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
            kind = "chat.completion"
        else:
            choice = {"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}
            kind = "text_completion"
        answer = {
            "id": "cmpl-1",
            "object": kind,
            "created": 0,
            "model": body["model"],
            "choices": [choice],
            "usage": usage,
        }
        return Response(json.dumps(answer), content_type="application/json")
