"""A fake OpenAI-compatible server speaking the documented HTTP API, for tests.

On pytest-httpserver (as the official clients' own tests do): /v1/models,
/v1/completions and /v1/chat/completions with the documented response and
error shapes (`{"error": {"message", "type", "code"}}`): `n` choices,
log-probabilities in the completions shape (`tokens`, `token_logprobs`,
`top_logprobs`) and the chat shape (`content`), and server-sent events when
`stream` is asked (`data: {...}` chunks, then `data: [DONE]`). A token is a
word here. Faults per test: a wrong key (401), an unknown model (404), a prompt
over the context (400), a busy server (429 a given number of times before it
answers), a refused request field (400, as a server that does not take `n`,
`logprobs` or a grammar field), a server that ignores `n`, and a stream that
breaks (the connection dropped, an early end, or an error event).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

KEY = "sk-test"
GRAMMAR_FIELDS = ("grammar", "guided_grammar", "structured_outputs")


def error(status: int, message: str, kind: str, code: str | None = None) -> Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return Response(json.dumps(body), status=status, content_type="application/json")


def default_reply(body: dict[str, Any], index: int) -> str:
    """Deterministic in (seed, choice index), like a real model with a fixed seed."""
    choice = f" choice {index}" if index else ""
    return (
        f"4 + 9 = 13 (left: 10 13 13)\n13 - 10 = 3 (left: 3 9 13)\nseed {body.get('seed')}{choice}"
    )


def embedding_of(text: str) -> list[float]:
    return [float(len(text)), float(sum(c in "aeiou" for c in text)), 1.0]


def token_logprob(token: str) -> float:
    return -round(0.05 + (len(token.strip()) % 4) * 0.3, 4)


def alternatives(token: str, top: int) -> list[tuple[str, float]]:
    """The token itself, then made-up runners-up, likeliest first."""
    first = token_logprob(token)
    return [(token, first), *((f"alt{m}", first - 1 - m) for m in range(top - 1))][:top]


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
        self.reply: Callable[[dict[str, Any], int], str] = default_reply
        self.refuse: set[str] = set()  # request fields answered with a 400
        self.max_choices: int | None = None  # a server that ignores `n` answers 1
        self.stream_fault: str | None = None  # "drop", "end" or "error", after a few chunks
        self.stream_fault_after = 2
        server.expect_request("/v1/models", method="GET").respond_with_handler(self._models)
        for path in ("/v1/completions", "/v1/chat/completions"):
            server.expect_request(path, method="POST").respond_with_handler(self._complete)
        server.expect_request("/v1/embeddings", method="POST").respond_with_handler(self._embed)

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

    def _embed(self, request: Request) -> Response:
        """/v1/embeddings: a made-up vector per text (its length, its vowels, 1)."""
        body = json.loads(request.data)
        self.requests.append(body)
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {"object": "embedding", "index": i, "embedding": embedding_of(t)}
            for i, t in enumerate(texts)
        ]
        usage = {"prompt_tokens": sum(len(t.split()) for t in texts), "total_tokens": 0}
        answer = {"object": "list", "data": data[::-1], "model": body["model"], "usage": usage}
        return Response(json.dumps(answer), content_type="application/json")

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

    def _refusal(self, body: dict[str, Any]) -> Response | None:
        if "n" in self.refuse and body.get("n", 1) > 1:  # llama-server's words
            return error(400, "Only one completion choice is allowed", "invalid_request_error")
        if "logprobs" in self.refuse and body.get("logprobs"):
            return error(400, "logprobs is not supported by this model", "invalid_request_error")
        for name in self.refuse & set(body) & set(GRAMMAR_FIELDS):
            message = f"Unrecognized request argument supplied: {name}"
            return error(400, message, "invalid_request_error")
        return None

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
        refused = self._refusal(body)
        if refused is not None:
            return refused
        prompt = body["messages"][0]["content"] if chat else body["prompt"]
        used = len(prompt.split())
        if used > self.context_tokens:
            message = (
                f"This model's maximum context length is {self.context_tokens} tokens. "
                f"However, you requested {used} tokens."
            )
            return error(400, message, "invalid_request_error", "context_length_exceeded")
        n = min(int(body.get("n", 1)), self.max_choices or 1_000)
        choices = [self._tokens(body, index) for index in range(n)]
        usage = {"prompt_tokens": used, "completion_tokens": sum(len(t) for t in choices)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        top = _top(body, chat)
        if body.get("stream"):
            events = self._events(body, chat, choices, top, usage)
            # A dropped connection: the length promised is never sent in full.
            promised = {"Content-Length": "1000000"} if self.stream_fault == "drop" else {}
            return Response(events, content_type="text/event-stream", headers=promised)
        answer = {
            "id": "cmpl-1",
            "object": "chat.completion" if chat else "text_completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                _choice(index, "".join(tokens), tokens, top, chat, whole=True)
                for index, tokens in enumerate(choices)
            ],
            "usage": usage,
        }
        return Response(json.dumps(answer), content_type="application/json")

    def _tokens(self, body: dict[str, Any], index: int) -> list[str]:
        tokens = re.findall(r"\S+\s*", self.reply(body, index))
        if body.get("max_tokens"):  # a real server stops at max_tokens
            tokens = tokens[: int(body["max_tokens"])]
        if tokens:
            tokens[-1] = tokens[-1].rstrip()
        return tokens

    def _events(
        self,
        body: dict[str, Any],
        chat: bool,
        choices: list[list[str]],
        top: int | None,
        usage: dict[str, int],
    ) -> Iterator[str]:
        kind = "chat.completion.chunk" if chat else "text_completion"
        head = {"id": "cmpl-1", "object": kind, "created": 0, "model": body["model"]}
        sent = 0
        for index, tokens in enumerate(choices):
            for token in tokens:
                if sent == self.stream_fault_after and self.stream_fault == "drop":
                    raise ConnectionAbortedError("the fake server dies mid-stream")
                if sent == self.stream_fault_after and self.stream_fault == "end":
                    return  # closes the stream cleanly, without its last chunks
                if sent == self.stream_fault_after and self.stream_fault == "error":
                    failure = {"message": "out of memory", "type": "server_error", "code": None}
                    yield _event({"error": failure})
                    yield "data: [DONE]\n\n"
                    return
                piece = _choice(index, token, [token], top, chat, whole=False)
                yield _event({**head, "choices": [piece]})
                sent += 1
            end = _choice(index, "", [], None, chat, whole=False) | {"finish_reason": "stop"}
            yield _event({**head, "choices": [end]})
        if (body.get("stream_options") or {}).get("include_usage"):
            yield _event({**head, "choices": [], "usage": usage})
        yield "data: [DONE]\n\n"


def _top(body: dict[str, Any], chat: bool) -> int | None:
    """How many alternatives per token the request asked for (None: no logprobs)."""
    if chat:
        return int(body.get("top_logprobs") or 0) if body.get("logprobs") else None
    return None if body.get("logprobs") is None else int(body["logprobs"])


def _choice(
    index: int, text: str, tokens: list[str], top: int | None, chat: bool, *, whole: bool
) -> dict[str, Any]:
    logprobs = None if top is None else _logprobs(tokens, top, chat)
    if chat:
        message = {"role": "assistant", "content": text}
        said = {"message": message} if whole else {"delta": message if text else {}}
        return {
            "index": index,
            **said,
            "logprobs": logprobs,
            "finish_reason": "stop" if whole else None,
        }
    finish = "stop" if whole else None
    return {"index": index, "text": text, "logprobs": logprobs, "finish_reason": finish}


def _logprobs(tokens: list[str], top: int, chat: bool) -> dict[str, Any]:
    if chat:
        content = [
            {
                "token": token,
                "logprob": token_logprob(token),
                "bytes": list(token.encode()),
                "top_logprobs": [
                    {"token": t, "logprob": lp, "bytes": list(t.encode())}
                    for t, lp in alternatives(token, top)
                ],
            }
            for token in tokens
        ]
        return {"content": content, "refusal": None}
    offsets = [sum(len(t) for t in tokens[:i]) for i in range(len(tokens))]
    return {
        "tokens": tokens,
        "token_logprobs": [token_logprob(t) for t in tokens],
        "top_logprobs": [dict(alternatives(t, top)) for t in tokens],
        "text_offset": offsets,
    }


def _event(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data)}\n\n"
