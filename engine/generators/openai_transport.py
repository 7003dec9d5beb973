"""Talking to an OpenAI-compatible server: where it is, the client, and what a
failed request means to a person.

Every fault becomes a ModelError (or ModelUnavailable) that says what to do next,
except a refusal of an optional part the backend asked for (`n`, log-probabilities),
which is `Refused`, so the backend can ask again without it.
"""

from __future__ import annotations

import os
import re
from typing import Any

from treelight.engine.errors import ModelError, ModelUnavailable

DEFAULT_BASE_URL = "http://localhost:8000/v1"
KEY_VARIABLE = "OPENAI_API_KEY"
URL_VARIABLE = "OPENAI_BASE_URL"
NO_KEY = "not-needed"  # what a local server gets when no key is set
# What a 400 says when the server refuses `n` ("Only one completion choice is
# allowed", llama-server) or the log-probabilities.
REFUSED_N = re.compile(r"\bn\b|choice", re.IGNORECASE)
REFUSED_LOGPROBS = re.compile(r"logprob", re.IGNORECASE)


def server_url(given: str | None = None) -> str:
    return (given or os.environ.get(URL_VARIABLE) or DEFAULT_BASE_URL).rstrip("/")


class Refused(Exception):
    """The server refused an optional part of a request (`n`, `logprobs`): the
    backend asks again without it, and remembers."""

    def __init__(self, part: str) -> None:
        super().__init__(part)
        self.part = part


def client_for(url: str, options: dict[str, Any], timeout: float, retries: int) -> Any:
    import openai

    variable = str(options.get("api_key_variable") or KEY_VARIABLE)
    return openai.OpenAI(
        base_url=url,
        api_key=os.environ.get(variable) or NO_KEY,
        timeout=timeout,
        max_retries=retries,
    )


def call_server(
    url: str,
    options: dict[str, Any],
    call: Any,
    model: str | None = None,
    asked: set[str] | frozenset[str] = frozenset(),
    grammar_field: str | None = None,
) -> Any:
    """Run one client call; every fault becomes a ModelError that says what to do,
    except the refusal of an optional part it `asked` for (Refused)."""
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
    except (openai.BadRequestError, openai.UnprocessableEntityError) as error:
        said = what_the_server_said(error)
        if "context" in said.lower() or "too long" in said.lower():
            raise ModelError(
                f"The prompt is longer than the model's context at {url} ({said}): shorten "
                "the problem or the path, or use a model with a longer context."
            ) from None
        if grammar_field and ("grammar" in said.lower() or grammar_field in said):
            raise ModelError(
                f"The server at {url} refused the grammar, sent as `{grammar_field}` "
                f"({error.status_code}: {said}). If it takes grammars under another name, set "
                "the backend option grammar_field (llama-server: grammar; vLLM: "
                "structured_outputs, or guided_grammar before it); grammar_field=none or "
                "--constrain off runs free. Then resume."
            ) from None
        for part, refusal in (("logprobs", REFUSED_LOGPROBS), ("n", REFUSED_N)):
            if part in asked and refusal.search(said):
                raise Refused(part) from None
        raise ModelError(
            f"The server at {url} refused the request ({error.status_code}): {said}"
        ) from None
    except openai.APIStatusError as error:
        raise ModelError(
            f"The server at {url} answered {error.status_code}: "
            f"{what_the_server_said(error)}. Resume to retry."
        ) from None


def what_the_server_said(error: Any) -> str:
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    return str(getattr(error, "message", error))


def _unknown_model(url: str, options: dict[str, Any], model: str) -> str:
    # The backend lists the models; imported here, as it imports this module.
    from treelight.engine.generators.openai_backend import OpenAIGenerator

    try:
        names = [m["name"] for m in OpenAIGenerator.catalog({**options, "base_url": url})]
    except ModelError:
        names = []
    served = f" It serves: {', '.join(names)}." if names else ""
    return f"The server at {url} does not serve the model {model!r}.{served} Pick one, then resume."
