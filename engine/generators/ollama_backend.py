"""The Ollama backend: any model an Ollama server has, through the official client.

- Ollama has no `n`: k candidates are k requests, sent concurrently up to a
  limit (`OLLAMA_NUM_PARALLEL` when set, else 1, the server's own default).
- Every call has a timeout (`timeout` in the generator spec, default 300 s),
  because the client's default waits forever; a stalled stream times out too.
- Responses are streamed (NDJSON), so an error line in the middle of a stream,
  or a server that dies mid-response, is caught and named.
- A full queue (503) is retried with backoff, then reported.
- Log-probabilities with the top alternatives (`logprobs`, 5 by default) are
  asked for (`logprobs`, `top_logprobs`: client 0.6.1 and up, server 0.12.11 and
  up; an older server ignores the fields, and its calls keep none).
- Every fault becomes a ModelError whose message says what to do; the runner
  pauses the run with it, and `resume` continues once the fault is fixed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from treelight.engine.errors import BadArguments, ModelError, ModelUnavailable
from treelight.engine.generators.base import (
    Completion,
    CompletionRequest,
    Generator,
    GeneratorOptions,
    choices_from_top,
    embedding_completion,
    one_token,
)
from treelight.engine.generators.chance import language, parse_grammar
from treelight.engine.options import Field

DEFAULT_HOST = "http://localhost:11434"
DEFAULT_TIMEOUT_SECONDS = 300.0
DEFAULT_KEEP_ALIVE = "10m"  # keep the model loaded between the calls of a search
BUSY_RETRIES = 5
BUSY_FIRST_WAIT_SECONDS = 0.5


def ollama_host() -> str:
    host = os.environ.get("OLLAMA_HOST") or DEFAULT_HOST
    return host if "://" in host else f"http://{host}"


def parallel_limit() -> int:
    try:
        return max(1, int(os.environ.get("OLLAMA_NUM_PARALLEL", "1")))
    except ValueError:
        return 1


def not_running(host: str) -> ModelUnavailable:
    return ModelUnavailable(
        f"Ollama is not running at {host} — start it with `ollama serve` "
        "(or set OLLAMA_HOST to where it runs), then resume."
    )


def grammar_as_schema(request: CompletionRequest) -> dict[str, Any] | None:
    """Ollama takes a JSON schema (`format`), not GBNF. A grammar whose strings can
    be listed (chance.language: a Game of 24 move over the numbers left, a verdict
    word) goes as an enum of them — one string, or for a distinct-lines request a
    list of up to that many; None when they cannot (digits, whole expressions): that
    call runs free, and its record says so."""
    if request.grammar is None:
        return None
    strings = language(parse_grammar(request.grammar))
    if strings is None:
        return None
    item = {"type": "string", "enum": list(dict.fromkeys(strings))}
    if request.distinct_lines:
        lines = {"type": "array", "items": item, "minItems": 1}
        lines |= {"maxItems": request.distinct_lines, "uniqueItems": True}
        return {"type": "object", "properties": {"lines": lines}, "required": ["lines"]}
    return {"type": "object", "properties": {"answer": item}, "required": ["answer"]}


def schema_answer(raw: str, schema: dict[str, Any], distinct: bool) -> str | None:
    """The text a grammar-as-schema answer stands for: its lines (repeats and strings
    outside the enum dropped: an older server may not enforce `uniqueItems`), or its
    one string; None when it is not the JSON asked for."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    if distinct:
        allowed = set(schema["properties"]["lines"]["items"]["enum"])
        lines = data.get("lines")
        if not isinstance(lines, list):
            return None
        return "\n".join(dict.fromkeys(x for x in lines if isinstance(x, str) and x in allowed))
    answer = data.get("answer")
    return answer if isinstance(answer, str) else None


class OllamaGenerator(Generator):
    backend = "ollama"
    label = "Ollama server"
    supports_schema = True
    supports_embedding = True  # /api/embed
    # GBNF is not Ollama's: a grammar whose strings can be listed goes as a JSON
    # schema (grammar_as_schema), the others run free.
    supports_grammar = True
    supports_distinct_lines = True

    class Options(GeneratorOptions):
        model: str | None = Field(None, description="a model the server has (`treelight models`)")
        host: str | None = Field(
            None,
            description="the server (default: $OLLAMA_HOST or " + DEFAULT_HOST + ")",
            json_schema_extra={"placeholder": DEFAULT_HOST + " (or $OLLAMA_HOST)"},
        )
        timeout: float = Field(
            DEFAULT_TIMEOUT_SECONDS, gt=0, le=86_400, description="seconds before a call fails"
        )
        keep_alive: str = Field(
            DEFAULT_KEEP_ALIVE, description="how long the server keeps the model loaded"
        )
        num_ctx: int | None = Field(
            None, ge=256, le=1_048_576, description="context window (default: the model's)"
        )
        logprobs: int = Field(
            5,
            ge=0,
            le=20,
            description="top alternatives kept per output token, with the tokens' "
            "log-probabilities (0: do not ask for log-probabilities)",
        )

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> OllamaGenerator:
        if not spec.get("model"):
            raise BadArguments(
                "The ollama backend needs a model: pick one in Model (on the command line, "
                "--model NAME; `treelight models` lists them)."
            )
        return cls(
            spec["model"],
            host=spec.get("host"),
            timeout=float(spec.get("timeout", DEFAULT_TIMEOUT_SECONDS)),
            keep_alive=spec.get("keep_alive", DEFAULT_KEEP_ALIVE),
            num_ctx=spec.get("num_ctx"),
            logprobs=int(spec.get("logprobs", 5)),
        )

    # The ModelCatalog capability: the New run page lists and pulls models with it.
    @staticmethod
    def catalog(options: dict[str, Any]) -> list[dict[str, Any]]:
        return list_models(options.get("host") or ollama_host())

    @staticmethod
    def pull(name: str, options: dict[str, Any]) -> Iterator[dict[str, Any]]:
        return pull_model(name, options.get("host") or ollama_host())

    def __init__(
        self,
        model: str,
        host: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        keep_alive: str | float = DEFAULT_KEEP_ALIVE,
        num_ctx: int | None = None,
        logprobs: int = 5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import ollama

        super().__init__(model)
        self.host = (host or ollama_host()).rstrip("/")
        self.timeout = float(timeout)
        self.keep_alive = keep_alive
        self.num_ctx = num_ctx
        self.top_logprobs = logprobs
        self.sleep = sleep
        self.client = ollama.Client(host=self.host, timeout=self.timeout)
        self.supports_choices = logprobs > 0  # read from its top log-probabilities

    def complete(self, requests: list[CompletionRequest]) -> list[Completion]:
        if len(requests) == 1:
            return [self._with_retries(requests[0])]
        with ThreadPoolExecutor(max_workers=min(parallel_limit(), len(requests))) as pool:
            return list(pool.map(self._with_retries, requests))

    def _with_retries(self, request: CompletionRequest) -> Completion:
        import ollama

        wait = BUSY_FIRST_WAIT_SECONDS
        for attempt in range(1, BUSY_RETRIES + 1):
            try:
                return self._complete_one(request)
            except ollama.ResponseError as error:
                if error.status_code not in (429, 503) or attempt == BUSY_RETRIES:
                    raise self._explain(error) from None
            self.sleep(wait)
            wait *= 2
        raise AssertionError("unreachable")

    def _embed(self, request: CompletionRequest) -> Completion:
        """`/api/embed`: the model's embedding of the prompt."""
        started = time.perf_counter()
        answer = self.client.embed(
            model=self.model, input=request.prompt, keep_alive=self.keep_alive
        )
        vectors = list(answer.embeddings or [])
        if not vectors:
            raise ModelError(f"Ollama at {self.host} returned no embedding. Resume to retry.")
        tokens = int(answer.prompt_eval_count or 0)
        return embedding_completion(list(vectors[0]), tokens, time.perf_counter() - started)

    def _options(self, request: CompletionRequest) -> dict[str, Any]:
        options: dict[str, Any] = {
            "temperature": request.temperature,
            "top_p": request.top_p,
            "seed": request.seed,
            "num_predict": request.max_tokens,
        }
        if request.stop:
            options["stop"] = list(request.stop)
        if self.num_ctx:
            options["num_ctx"] = self.num_ctx
        return options

    def _complete_one(self, request: CompletionRequest) -> Completion:
        import httpx

        if request.embed:
            return self._embed(request)
        if request.choices:  # one greedy token, its top alternatives read
            return choices_from_top(self._complete_one(one_token(request)), request.choices)
        started = time.perf_counter()
        text: list[str] = []
        logprobs: list[dict[str, Any]] = []
        final: Any = None
        from_grammar = None if request.json_schema else grammar_as_schema(request)
        try:
            stream: Iterator[Any] = self.client.generate(
                model=self.model,
                prompt=request.prompt,
                options=self._options(request),
                raw=not request.chat,
                format=request.json_schema or from_grammar,
                keep_alive=self.keep_alive,
                stream=True,
                logprobs=bool(self.top_logprobs) or None,
                top_logprobs=self.top_logprobs or None,
            )
            for part in stream:
                text.append(part.response or "")
                logprobs += [_logprob(entry) for entry in part.logprobs or []]
                if part.done:
                    final = part
        except (ConnectionError, httpx.ConnectError):
            raise not_running(self.host) from None
        except httpx.TimeoutException:
            raise ModelError(
                f"Ollama at {self.host} did not answer within {self.timeout:g} s: the model may "
                "still be loading, or the server is overloaded. Resume the run to try again."
            ) from None
        except json.JSONDecodeError as error:
            raise ModelError(
                f"The server at {self.host} sent a line that is not Ollama's JSON "
                f"({error.doc[:60]!r}): is {self.host} really Ollama, or is a proxy in "
                "between failing? Check OLLAMA_HOST, then resume."
            ) from None
        except (httpx.RemoteProtocolError, httpx.ReadError):
            raise ModelError(
                f"The connection to Ollama at {self.host} broke in the middle of a response "
                "(did the server stop or crash?). Restart it with `ollama serve`, then resume."
            ) from None
        except httpx.HTTPError as error:
            raise ModelError(f"Ollama at {self.host} failed: {error}") from None
        if final is None:  # the stream ended without its closing "done" line
            raise ModelError(
                f"Ollama at {self.host} stopped in the middle of a response (did the server "
                "stop or crash?). Restart it with `ollama serve` if needed, then resume."
            )
        durations = {
            name: getattr(final, name, None)
            for name in ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration")
        }
        output, extra = "".join(text), {k: v for k, v in durations.items() if v is not None}
        extra["done_reason"] = getattr(final, "done_reason", None)
        if request.grammar is not None and not request.json_schema:
            # What the grammar became here: a JSON schema, or nothing (it ran free).
            extra["constraint"] = "json schema" if from_grammar else "none: not listable"
            if from_grammar:
                read = schema_answer(output, from_grammar, bool(request.distinct_lines))
                extra["raw"] = output
                output = output if read is None else read
        return Completion(
            text=output,
            prompt_tokens=int(final.prompt_eval_count or 0),
            completion_tokens=int(final.eval_count or 0),
            latency_seconds=time.perf_counter() - started,
            extra=extra,
            logprobs=logprobs or None,
        )

    def _explain(self, error: Any) -> ModelError:
        if error.status_code == 404:
            return ModelUnavailable(
                f"Ollama at {self.host} does not have the model {self.model!r}: "
                f"run `ollama pull {self.model}` (or use Pull in the app), then resume."
            )
        if error.status_code in (429, 503):
            return ModelError(
                f"Ollama at {self.host} is busy (status {error.status_code}: {error.error}) and "
                f"stayed busy after {BUSY_RETRIES} tries. Lower OLLAMA_NUM_PARALLEL or wait, "
                "then resume."
            )
        if error.status_code == -1:
            return ModelError(
                f"Ollama at {self.host} reported an error in the middle of a response: "
                f"{error.error}. Resume to retry."
            )
        return ModelError(f"Ollama at {self.host} answered {error.status_code}: {error.error}")


def _logprob(entry: Any) -> dict[str, Any]:
    return {
        "token": entry.token,
        "logprob": float(entry.logprob),
        "top": [
            {"token": top.token, "logprob": float(top.logprob)} for top in entry.top_logprobs or []
        ],
    }


def list_models(host: str | None = None, timeout: float = 5.0) -> list[dict[str, Any]]:
    """The server's models (`/api/tags`): name, size, family, parameters, quantization."""
    import httpx
    import ollama

    host = (host or ollama_host()).rstrip("/")
    try:
        listed = ollama.Client(host=host, timeout=timeout).list()
    except (ConnectionError, httpx.ConnectError, httpx.TimeoutException):
        raise not_running(host) from None
    except ollama.ResponseError as error:
        raise ModelError(f"Ollama at {host} answered {error.status_code}: {error.error}") from None
    models = []
    for model in listed.models:
        details = model.details
        models.append(
            {
                "name": model.model,
                "size": model.size,
                "family": details.family if details else None,
                "parameters": details.parameter_size if details else None,
                "quantization": details.quantization_level if details else None,
            }
        )
    return models


def pull_model(
    name: str, host: str | None = None, timeout: float = 3600.0
) -> Iterator[dict[str, Any]]:
    """Pull a model, yielding progress: {"status", "completed", "total"}."""
    import httpx
    import ollama

    host = (host or ollama_host()).rstrip("/")
    try:
        for part in ollama.Client(host=host, timeout=timeout).pull(name, stream=True):
            yield {"status": part.status, "completed": part.completed, "total": part.total}
    except (ConnectionError, httpx.ConnectError):
        raise not_running(host) from None
    except ollama.ResponseError as error:
        raise ModelError(f"Ollama at {host} could not pull {name!r}: {error.error}") from None
    except httpx.HTTPError as error:
        raise ModelError(f"Pulling {name!r} from Ollama at {host} failed: {error}") from None
