"""The Ollama backend: any model an Ollama server has, through the official client.

Ollama has no `n`: k candidates are k requests, sent concurrently up to a limit
(`OLLAMA_NUM_PARALLEL` when set, else 1, matching the server's own default).
Every call has a timeout, because the client's default waits forever.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from engine.errors import ModelError, ModelUnavailable
from engine.generators.base import Completion, CompletionRequest, Generator

DEFAULT_HOST = "http://localhost:11434"
DEFAULT_TIMEOUT_SECONDS = 300.0


def ollama_host() -> str:
    host = os.environ.get("OLLAMA_HOST") or DEFAULT_HOST
    return host if "://" in host else f"http://{host}"


def parallel_limit() -> int:
    try:
        return max(1, int(os.environ.get("OLLAMA_NUM_PARALLEL", "1")))
    except ValueError:
        return 1


class OllamaGenerator(Generator):
    backend = "ollama"

    def __init__(
        self, model: str, host: str | None = None, timeout: float = DEFAULT_TIMEOUT_SECONDS
    ) -> None:
        import ollama

        super().__init__(model)
        self.host = host or ollama_host()
        self.client = ollama.Client(host=self.host, timeout=timeout)

    def complete(self, requests: list[CompletionRequest]) -> list[Completion]:
        if len(requests) == 1:
            return [self._complete_one(requests[0])]
        with ThreadPoolExecutor(max_workers=min(parallel_limit(), len(requests))) as pool:
            return list(pool.map(self._complete_one, requests))

    def _complete_one(self, request: CompletionRequest) -> Completion:
        import httpx
        import ollama

        options: dict[str, Any] = {
            "temperature": request.temperature,
            "top_p": request.top_p,
            "seed": request.seed,
            "num_predict": request.max_tokens,
        }
        if request.stop:
            options["stop"] = list(request.stop)
        started = time.perf_counter()
        try:
            response = self.client.generate(
                model=self.model, prompt=request.prompt, options=options, raw=not request.chat
            )
        except ollama.ResponseError as error:
            raise self._explain(error) from None
        except (ConnectionError, httpx.ConnectError):
            raise ModelUnavailable(
                f"Ollama is not running at {self.host} — start it with `ollama serve`, "
                "or set OLLAMA_HOST to where it runs."
            ) from None
        except httpx.TimeoutException:
            raise ModelError(
                f"Ollama at {self.host} did not answer in time: the model may still be loading "
                "or the server is overloaded. Resume the run to try again."
            ) from None
        except httpx.HTTPError as error:
            raise ModelError(f"Ollama at {self.host} failed mid-response: {error}") from None
        return Completion(
            text=response.response or "",
            prompt_tokens=int(response.prompt_eval_count or 0),
            completion_tokens=int(response.eval_count or 0),
            latency_seconds=time.perf_counter() - started,
            extra={"total_duration_ns": response.total_duration},
        )

    def _explain(self, error: Any) -> ModelError:
        if error.status_code == 404:
            return ModelUnavailable(
                f"Ollama at {self.host} does not have the model {self.model!r}: "
                f"run `ollama pull {self.model}`."
            )
        return ModelError(f"Ollama at {self.host} answered {error.status_code}: {error.error}")


def list_models(host: str | None = None, timeout: float = 3.0) -> list[dict[str, Any]]:
    """The server's models (`/api/tags`): name, size, family, quantization."""
    import httpx
    import ollama

    host = host or ollama_host()
    try:
        listed = ollama.Client(host=host, timeout=timeout).list()
    except (ConnectionError, httpx.ConnectError, httpx.TimeoutException):
        raise ModelUnavailable(
            f"Ollama is not running at {host} — start it with `ollama serve`, "
            "or set OLLAMA_HOST to where it runs."
        ) from None
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
