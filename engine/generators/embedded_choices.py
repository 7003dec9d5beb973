"""The embedded model's reading of a verdict judge's words: how likely each is to
come next, from the logits llama.cpp computed after the prompt (no sampling)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from treelight.engine.errors import ModelError
from treelight.engine.generators.base import Completion, CompletionRequest

CONTEXT_TOKENS = 2048  # the embedded model's context (every prompt must fit)
READ_TOP = 10  # next-token alternatives a verdict call keeps as its log-probabilities


def read_choices(
    llm: Any, chat_prompt: Callable[[str], tuple[str, list[str]]], request: CompletionRequest
) -> Completion:
    """How likely each word is to come next: one greedy token, then the logits
    llama.cpp computed for the position after the prompt (kept without
    `logits_all`: the last decoded position's are always there)."""
    import numpy as np

    prompt = chat_prompt(request.prompt)[0] if request.chat else request.prompt
    prompt_ids = llm.tokenize(prompt.encode("utf-8", "replace"))
    if len(prompt_ids) >= CONTEXT_TOKENS:
        raise ModelError(
            f"The prompt has {len(prompt_ids)} tokens, more than the model's context of "
            f"{CONTEXT_TOKENS}: shorten the problem or the path."
        )
    cached = common_prefix(list(llm.input_ids[: llm.n_tokens]), prompt_ids)
    started = time.perf_counter()
    try:
        llm.create_completion(prompt=prompt, max_tokens=1, temperature=0.0, seed=request.seed)
        logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),))
        logprobs = logits - np.logaddexp.reduce(logits)
    except Exception as error:
        raise ModelError(f"The embedded model failed: {error}") from error
    assert request.choices is not None
    starts = {word: first_tokens(llm, word) for word in request.choices}
    shared = {
        t for w, ids in starts.items() for t in ids if any(t in starts[o] for o in starts if o != w)
    }
    raw = {
        word: float(sum(np.exp(logprobs[t]) for t in ids - shared)) for word, ids in starts.items()
    }
    mass = sum(raw.values())
    probabilities = {w: (p / mass if mass > 0 else 1 / len(raw)) for w, p in raw.items()}
    top = [  # what was read, kept as the call's log-probabilities
        {
            "token": llm.detokenize([int(t)]).decode("utf-8", "replace"),
            "logprob": float(logprobs[t]),
        }
        for t in np.argsort(logprobs)[::-1][:READ_TOP]
    ]
    return Completion(
        text=top[0]["token"],  # the greedy token; the reading is in `extra["choices"]`
        logprobs=[{"token": top[0]["token"], "logprob": top[0]["logprob"], "top": top}],
        prompt_tokens=len(prompt_ids),
        completion_tokens=1,
        latency_seconds=time.perf_counter() - started,
        cached_prompt_tokens=min(cached, max(0, len(prompt_ids) - 1)),
        extra={
            "choices": {w: round(p, 4) for w, p in probabilities.items()},
            # How much the model wanted to say one of the words at all.
            "choice_mass": round(mass, 4),
        },
    )


def first_tokens(llm: Any, word: str) -> set[int]:
    """The tokens a word can start with as the next token (with or without a
    space, capitalized or not) that carry at least three of its letters, so a
    bare "s" does not count as "sure"."""
    found = set()
    for variant in (word, f" {word}", word.capitalize(), f" {word.capitalize()}"):
        token = llm.tokenize(variant.encode(), add_bos=False, special=False)[0]
        text = llm.detokenize([token]).decode("utf-8", "replace").strip().lower()
        if len(text) >= min(3, len(word)) and word.lower().startswith(text):
            found.add(token)
    return found


def common_prefix(a: list[int], b: list[int]) -> int:
    count = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        count += 1
    return count
