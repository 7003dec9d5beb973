"""The OpenAI-compatible backend: vLLM, SGLang, llama.cpp's llama-server, LM Studio,
or a hosted API, through the official `openai` client.

- Where: `base_url` (default $OPENAI_BASE_URL, else http://localhost:8000/v1) and
  `api_key` (default $OPENAI_API_KEY; local servers accept any, so a placeholder
  is sent when none is set). Both can be set per run.
- A few-shot prompt is a plain completion (`/v1/completions`); an instruction
  goes through the server's chat template (`/v1/chat/completions`).
- k candidates of one prompt (requests that differ only in their seed) are one
  request with `n=k`, sent with the first request's seed; its choices become the
  k completions, in order. The prompt's tokens are counted once, on the first;
  each choice's completion tokens are its log-probability entries (one a token)
  when it has them, else the server's total shared in proportion to the texts'
  lengths; the request's latency is shared evenly. A server that refuses `n`
  (400 naming it) or ignores it (fewer choices) is sent k requests instead, each
  with its own seed, concurrently (up to `parallel`), from then on.
- Log-probabilities with the top alternatives (`logprobs`, 5 by default) are
  asked for (completions: `logprobs: 5`; chat: `logprobs: true, top_logprobs: 5`)
  and kept on the call; a server that refuses them (400 naming them) is asked
  once more without, and not asked again.
- Constraints: a verdict's JSON schema goes as `response_format` on chat calls; a
  grammar (GBNF) in the request body under `grammar_field` (llama-server:
  `grammar`; vLLM: `structured_outputs` or, older, `guided_grammar`). A chat call
  with a schema sends the schema only (servers take one constraint at a time). A
  server that ignores an unknown field runs free without saying so: set
  `grammar_field` to what the server takes (its call's `extra` names the field).
- `stream=true` streams the answer (so a call can be watched as it comes) and
  assembles it; a stream that breaks off is a fault like the others.
- Every call has a timeout; 429 and 5xx answers are retried with backoff by the
  client; every fault becomes a ModelError saying what to do, which pauses the
  run (resume continues it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, Literal, TypeVar

from treelight.engine.errors import BadArguments, ModelError
from treelight.engine.generators.base import (
    Completion,
    CompletionRequest,
    Generator,
    GeneratorOptions,
    choices_from_top,
    embedding_completion,
    one_token,
    repeated_lines_grammar,
)
from treelight.engine.generators.openai_choices import (
    Answer,
    add_chunk,
    read_response,
    split_tokens,
)
from treelight.engine.generators.openai_lines import distinct_lines
from treelight.engine.generators.openai_transport import (
    DEFAULT_BASE_URL,
    KEY_VARIABLE,
    URL_VARIABLE,
    Refused,
    call_server,
    client_for,
    server_url,
    what_the_server_said,
)
from treelight.engine.options import Field

GrammarField = Literal["grammar", "guided_grammar", "structured_outputs", "none"]
T = TypeVar("T")
R = TypeVar("R")


class OpenAIGenerator(Generator):
    backend = "openai"
    label = "OpenAI-compatible server (vLLM, llama-server, LM Studio, ...)"
    supports_schema = True
    supports_embedding = True  # /v1/embeddings

    class Options(GeneratorOptions):
        model: str | None = Field(None, description="a model the server serves")
        base_url: str | None = Field(
            None,
            description=f"the server's /v1 address (default: ${URL_VARIABLE}, "
            f"else {DEFAULT_BASE_URL})",
            json_schema_extra={
                "placeholder": f"{DEFAULT_BASE_URL} (or ${URL_VARIABLE})",
                "flag": "--base-url",
            },
        )
        api_key_variable: str = Field(
            KEY_VARIABLE,
            description="the environment variable holding the API key (the key itself is "
            "never stored with the run)",
        )
        timeout: float = Field(120.0, gt=0, le=86_400, description="seconds before a call fails")
        retries: int = Field(3, ge=0, le=10, description="retries on 429 and 5xx, with backoff")
        parallel: int = Field(
            4,
            ge=1,
            le=64,
            description="requests sent at once (k candidates are one request "
            "with n=k where the server takes it)",
        )
        logprobs: int = Field(
            5,
            ge=0,
            le=20,
            description="top alternatives kept per output token, with the "
            "tokens' log-probabilities (0: do not ask for log-probabilities)",
        )
        grammar_field: GrammarField = Field(
            "grammar",
            description="where a grammar goes in the request: grammar (llama.cpp's "
            "llama-server), structured_outputs (vLLM), guided_grammar (vLLM before "
            "structured_outputs), none (the server takes no grammar: the model writes freely)",
        )
        stream: bool = Field(
            False, description="stream each answer (the call can be watched as it comes)"
        )

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> OpenAIGenerator:
        if not spec.get("model"):
            raise BadArguments(
                "The openai backend needs a model: pick one in Model (on the command line, "
                "--model NAME; `treelight models --backend openai` lists the server's)."
            )
        return cls(
            spec["model"],
            base_url=spec.get("base_url"),
            api_key_variable=spec.get("api_key_variable", KEY_VARIABLE),
            timeout=float(spec.get("timeout", 120.0)),
            retries=int(spec.get("retries", 3)),
            parallel=int(spec.get("parallel", 4)),
            logprobs=int(spec.get("logprobs", 5)),
            grammar_field=spec.get("grammar_field", "grammar"),
            stream=bool(spec.get("stream", False)),
        )

    # The ModelCatalog capability: `treelight models --backend openai` and the app.
    @staticmethod
    def catalog(options: dict[str, Any]) -> list[dict[str, Any]]:
        url = server_url(options.get("base_url"))
        client = client_for(url, options, timeout=10.0, retries=0)
        return [
            {"name": m.id} for m in call_server(url, options, lambda: list(client.models.list()))
        ]

    @staticmethod
    def pull(name: str, options: dict[str, Any]) -> Any:
        raise BadArguments("An OpenAI-compatible server cannot pull models: load one there.")

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key_variable: str = KEY_VARIABLE,
        timeout: float = 120.0,
        retries: int = 3,
        parallel: int = 4,
        logprobs: int = 5,
        grammar_field: GrammarField = "grammar",
        stream: bool = False,
    ) -> None:
        super().__init__(model)
        self.url = server_url(base_url)
        self.options = {"api_key_variable": api_key_variable}
        self.parallel = parallel
        self.timeout = timeout
        self.grammar_field = grammar_field
        self.supports_grammar = grammar_field != "none"
        self.stream = stream
        self.client = client_for(self.url, self.options, timeout=timeout, retries=retries)
        # What this server turned down, learnt from its answers: not asked again.
        self.top_logprobs = logprobs
        self.use_n = True

    def complete(self, requests: list[CompletionRequest]) -> list[Completion]:
        if requests and all(r.embed for r in requests):
            return self._embed([r.prompt for r in requests])
        if any(r.embed or r.choices or self._line_by_line(r) for r in requests):
            return [self._one(r) for r in requests]
        batches = _same_shape(requests) if self.use_n else [[r] for r in requests]
        return [c for made in self._each(self._complete_batch, batches) for c in made]

    def _each(self, work: Callable[[T], R], items: list[T]) -> list[R]:
        """`work` on every item, up to `parallel` at once, results in order."""
        if len(items) == 1:
            return [work(items[0])]
        with ThreadPoolExecutor(max_workers=min(self.parallel, len(items))) as pool:
            return list(pool.map(work, items))

    def _complete_batch(self, batch: list[CompletionRequest]) -> list[Completion]:
        made: list[Completion] = []
        try:
            made = self._ask(batch[0], len(batch))
        except Refused:  # `n`: the only part _ask passes on
            pass
        if len(made) < len(batch):  # `n` refused or ignored: k requests from now on
            self.use_n = False
            made += self._each(lambda r: self._ask(r, 1)[0], batch[len(made) :])
        return made[: len(batch)]

    def _one(self, request: CompletionRequest) -> Completion:
        if request.embed:
            return self._embed([request.prompt])[0]
        if self._line_by_line(request) and request.chat:  # no continuing a chat answer
            grammar = repeated_lines_grammar(request.grammar or "", request.distinct_lines)
            return self._ask(replace(request, grammar=grammar, distinct_lines=0), 1)[0]
        if self._line_by_line(request):
            return distinct_lines(request, lambda line: self._ask(line, 1)[0])
        if request.choices:  # one greedy token, its top alternatives read
            return choices_from_top(self._ask(one_token(request), 1)[0], request.choices)
        return self.complete([request])[0]

    @property
    def supports_choices(self) -> bool:  # type: ignore[override]
        return self.top_logprobs > 0

    @property
    def supports_distinct_lines(self) -> bool:  # type: ignore[override]
        """Where a grammar is sent (openai_lines.py); a chat request falls back to one
        request of repeated lines (_line_by_line)."""
        return self.supports_grammar

    def _line_by_line(self, request: CompletionRequest) -> bool:
        return bool(request.distinct_lines and request.grammar and self.supports_grammar)

    def _embed(self, texts: list[str]) -> list[Completion]:
        """`/v1/embeddings`, every text in one request."""
        started = time.perf_counter()
        response = call_server(
            self.url,
            self.options,
            lambda: self.client.embeddings.create(model=self.model, input=texts),
            model=self.model,
        )
        data = sorted(response.data, key=lambda item: item.index)
        if len(data) != len(texts):
            raise ModelError(
                f"The server at {self.url} returned {len(data)} embeddings for {len(texts)} "
                "texts. Resume to retry."
            )
        tokens = int(getattr(response.usage, "prompt_tokens", 0) or 0)
        latency = (time.perf_counter() - started) / len(texts)
        return [
            embedding_completion(list(item.embedding), tokens // len(texts), latency)
            for item in data
        ]

    def _ask(self, request: CompletionRequest, n: int) -> list[Completion]:
        try:
            return self._send(request, n)
        except Refused as refused:
            if refused.part != "logprobs":
                raise
            self.top_logprobs = 0  # this server gives none: do not ask again
            return self._send(request, n)

    def _send(self, request: CompletionRequest, n: int) -> list[Completion]:
        body, constraint = self._body(request, n)
        asked = {"n"} if n > 1 else set()
        if self.top_logprobs:
            asked.add("logprobs")
        grammar = constraint if constraint != "response_format" else None
        endpoint = self.client.chat.completions if request.chat else self.client.completions
        started = time.perf_counter()
        response = call_server(
            self.url,
            self.options,
            lambda: endpoint.create(**body),
            model=self.model,
            asked=asked,
            grammar_field=grammar,
        )
        if self.stream:
            answer = self._read_stream(response, request.chat)
        else:
            answer = read_response(response.model_dump(), request.chat)
        latency = time.perf_counter() - started
        if not answer.choices:
            raise ModelError(f"The server at {self.url} answered with no choices. Resume to retry.")
        return self._completions(request, answer, latency, constraint)

    def _body(self, request: CompletionRequest, n: int) -> tuple[dict[str, Any], str | None]:
        """The request as the API takes it, and what constrains it (None, the
        schema's "response_format" or the grammar's field)."""
        body: dict[str, Any] = {
            "model": self.model,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "max_tokens": request.max_tokens,
            "seed": request.seed,
        }
        if n > 1:
            body["n"] = n
        if request.stop:
            body["stop"] = list(request.stop)[:4]  # the API takes at most four
        constraint = None
        if request.chat:
            body["messages"] = [{"role": "user", "content": request.prompt}]
            if self.top_logprobs:
                body |= {"logprobs": True, "top_logprobs": self.top_logprobs}
            if request.json_schema is not None:
                constraint = "response_format"
                body["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": "answer", "schema": request.json_schema},
                }
        else:
            body["prompt"] = request.prompt
            if self.top_logprobs:
                body["logprobs"] = self.top_logprobs
        if request.grammar and constraint is None and self.grammar_field != "none":
            constraint = self.grammar_field
            body["extra_body"] = _grammar_body(self.grammar_field, request.grammar)
        if self.stream:
            body |= {"stream": True, "stream_options": {"include_usage": True}}
        return body, constraint

    def _read_stream(self, stream: Iterable[Any], chat: bool) -> Answer:
        import openai

        answer = Answer()
        try:
            for chunk in stream:
                add_chunk(answer, chunk.model_dump(), chat)
        except openai.APIError as error:  # the connection dropped, or an error event came
            raise self._broken(answer, what_the_server_said(error)) from None
        if not answer.choices or any(c.finish_reason is None for c in answer.choices):
            raise self._broken(answer, "it ended before its last chunk")
        return answer

    def _broken(self, answer: Answer, why: str) -> ModelError:
        return ModelError(
            f"The stream from {self.url} broke after {answer.tokens_so_far()} tokens ({why}): "
            "resume to retry."
        )

    def _completions(
        self, request: CompletionRequest, answer: Answer, latency: float, constraint: str | None
    ) -> list[Completion]:
        choices = answer.choices
        usage = answer.usage or {}
        if usage.get("prompt_tokens") is not None:
            prompt_tokens = int(usage["prompt_tokens"])
        else:
            prompt_tokens = self.count_tokens(request.prompt)
        if usage.get("completion_tokens") is not None:
            completion_tokens = split_tokens(int(usage["completion_tokens"]), choices)
        else:
            completion_tokens = [
                len(c.logprobs) if c.logprobs is not None else self.count_tokens(c.text)
                for c in choices
            ]
        completions = []
        for index, (choice, tokens) in enumerate(zip(choices, completion_tokens, strict=True)):
            extra: dict[str, Any] = {"finish_reason": choice.finish_reason}
            if constraint:
                extra["constrained_by"] = constraint
            if len(choices) > 1:  # one request with `n`, sent with the first's seed
                extra["n"] = {"choices": len(choices), "index": index, "seed": request.seed}
            completions.append(
                Completion(
                    text=choice.text,
                    prompt_tokens=prompt_tokens if index == 0 else 0,  # one prompt, read once
                    completion_tokens=tokens,
                    latency_seconds=latency / len(choices),
                    extra=extra,
                    logprobs=choice.logprobs,
                )
            )
        return completions


def _same_shape(requests: list[CompletionRequest]) -> list[list[CompletionRequest]]:
    """Runs of consecutive requests that differ only in seed and sequence: the k
    samples of one prompt, which one request with `n` can serve."""
    batches: list[list[CompletionRequest]] = []
    for request in requests:
        if batches and _shape(batches[-1][0]) == _shape(request):
            batches[-1].append(request)
        else:
            batches.append([request])
    return batches


def _shape(request: CompletionRequest) -> CompletionRequest:
    return replace(request, seed=0, sequence=0)


def _grammar_body(where: str, grammar: str) -> dict[str, Any]:
    if where == "structured_outputs":
        return {"structured_outputs": {"grammar": grammar}}
    return {where: grammar}
