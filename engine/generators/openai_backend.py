"""The OpenAI-compatible backend: vLLM, SGLang, llama.cpp's llama-server, LM Studio,
or a hosted API, through the official `openai` client.

- Where: `base_url` (default $OPENAI_BASE_URL, else http://localhost:8000/v1) and
  `api_key` (default $OPENAI_API_KEY; local servers accept any, so a placeholder
  is sent when none is set). Both can be set per run.
- A few-shot prompt is a plain completion (`/v1/completions`); an instruction
  goes through the server's chat template (`/v1/chat/completions`). A verdict's
  JSON schema is sent as `response_format` (structured outputs) on chat calls.
- k candidates are k requests, sent concurrently (up to `parallel`), each with
  its own seed, so a resumed run asks for exactly the same calls again.
- Every call has a timeout; 429 and 5xx answers are retried with backoff by the
  client; every fault becomes a ModelError saying what to do, which pauses the
  run (resume continues it).

Not done: grammars (llama-server and vLLM take one, under different names), so
under `constrain=auto` this backend runs free and its calls say so.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from treelight.engine.errors import BadArguments, ModelError, ModelUnavailable
from treelight.engine.generators.base import (
    Completion,
    CompletionRequest,
    Generator,
    GeneratorOptions,
)
from treelight.engine.options import Field

DEFAULT_BASE_URL = "http://localhost:8000/v1"
KEY_VARIABLE = "OPENAI_API_KEY"
URL_VARIABLE = "OPENAI_BASE_URL"
NO_KEY = "not-needed"  # what a local server gets when no key is set


def server_url(given: str | None = None) -> str:
    return (given or os.environ.get(URL_VARIABLE) or DEFAULT_BASE_URL).rstrip("/")


class OpenAIGenerator(Generator):
    backend = "openai"
    label = "OpenAI-compatible server (vLLM, llama-server, LM Studio, ...)"
    supports_schema = True

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
        parallel: int = Field(4, ge=1, le=64, description="requests sent at once")

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
        )

    # The ModelCatalog capability: `treelight models --backend openai` and the app.
    @staticmethod
    def catalog(options: dict[str, Any]) -> list[dict[str, Any]]:
        url = server_url(options.get("base_url"))
        client = _client(url, options, timeout=10.0, retries=0)
        return [{"name": m.id} for m in _call(url, options, lambda: list(client.models.list()))]

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
    ) -> None:
        super().__init__(model)
        self.url = server_url(base_url)
        self.options = {"api_key_variable": api_key_variable}
        self.parallel = parallel
        self.timeout = timeout
        self.client = _client(self.url, self.options, timeout=timeout, retries=retries)

    def complete(self, requests: list[CompletionRequest]) -> list[Completion]:
        if len(requests) == 1:
            return [self._complete_one(requests[0])]
        with ThreadPoolExecutor(max_workers=min(self.parallel, len(requests))) as pool:
            return list(pool.map(self._complete_one, requests))

    def _complete_one(self, request: CompletionRequest) -> Completion:
        started = time.perf_counter()
        common: dict[str, Any] = {
            "model": self.model,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "max_tokens": request.max_tokens,
            "seed": request.seed,
        }
        if request.stop:
            common["stop"] = list(request.stop)[:4]  # the API takes at most four
        if request.chat:
            if request.json_schema is not None:
                common["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": "answer", "schema": request.json_schema},
                }
            messages = [{"role": "user", "content": request.prompt}]
            response = _call(
                self.url,
                self.options,
                lambda: self.client.chat.completions.create(messages=messages, **common),
                model=self.model,
            )
            choice = response.choices[0]
            text = choice.message.content or ""
        else:
            response = _call(
                self.url,
                self.options,
                lambda: self.client.completions.create(prompt=request.prompt, **common),
                model=self.model,
            )
            choice = response.choices[0]
            text = choice.text or ""
        usage = response.usage
        return Completion(
            text=text,
            prompt_tokens=int(usage.prompt_tokens) if usage else self.count_tokens(request.prompt),
            completion_tokens=int(usage.completion_tokens) if usage else self.count_tokens(text),
            latency_seconds=time.perf_counter() - started,
            extra={"finish_reason": choice.finish_reason},
        )


def _client(url: str, options: dict[str, Any], timeout: float, retries: int) -> Any:
    import openai

    variable = str(options.get("api_key_variable") or KEY_VARIABLE)
    return openai.OpenAI(
        base_url=url,
        api_key=os.environ.get(variable) or NO_KEY,
        timeout=timeout,
        max_retries=retries,
    )


def _call(url: str, options: dict[str, Any], call: Any, model: str | None = None) -> Any:
    """Run one client call; every fault becomes a ModelError that says what to do."""
    import openai

    variable = str(options.get("api_key_variable") or KEY_VARIABLE)
    try:
        return call()
    except openai.APITimeoutError:
        raise ModelError(
            f"The server at {url} did not answer in time: it may be overloaded or still "
            "loading the model. Resume the run to try again (or raise the timeout)."
        ) from None
    except openai.APIConnectionError:
        raise ModelUnavailable(
            f"No OpenAI-compatible server answers at {url}: start it (e.g. `vllm serve MODEL` "
            f"or `llama-server -m MODEL.gguf`) or set {URL_VARIABLE} to where it runs, then "
            "resume."
        ) from None
    except openai.AuthenticationError:
        raise ModelUnavailable(
            f"The server at {url} refused the API key (401): set {variable} to a valid key, "
            "then resume."
        ) from None
    except openai.NotFoundError as error:
        if model is None:
            raise ModelError(f"The server at {url} has no {error.request.url.path}.") from None
        raise ModelUnavailable(_unknown_model(url, options, model)) from None
    except openai.RateLimitError:
        raise ModelError(
            f"The server at {url} is rate-limiting (429) and stayed so after the retries: "
            "wait, or lower `parallel`, then resume."
        ) from None
    except openai.BadRequestError as error:
        said = _said(error)
        if "context" in said.lower() or "too long" in said.lower():
            raise ModelError(
                f"The prompt is longer than the model's context at {url} ({said}): shorten "
                "the problem or the path, or use a model with a longer context."
            ) from None
        raise ModelError(f"The server at {url} refused the request (400): {said}") from None
    except openai.APIStatusError as error:
        raise ModelError(
            f"The server at {url} answered {error.status_code}: {_said(error)}. Resume to retry."
        ) from None


def _said(error: Any) -> str:
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    return str(getattr(error, "message", error))


def _unknown_model(url: str, options: dict[str, Any], model: str) -> str:
    try:
        names = [m["name"] for m in OpenAIGenerator.catalog({**options, "base_url": url})]
    except ModelError:
        names = []
    served = f" It serves: {', '.join(names)}." if names else ""
    return f"The server at {url} does not serve the model {model!r}.{served} Pick one, then resume."
