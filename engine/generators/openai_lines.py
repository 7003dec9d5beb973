"""Distinct lines on an OpenAI-compatible server: one request a line, each under the
grammar of the lines not yet written (chance.remaining_lines_grammar), continuing
the prompt and the lines before it, so the server's prompt cache reads only the
new line. A server takes one `n` of one grammar, which repeats lines; this asks
for what is left instead, as the embedded backend does (base.draw_distinct_lines).
Plain completions only: a chat answer cannot be continued line by line."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from treelight.engine.generators.base import (
    Completion,
    CompletionRequest,
    draw_distinct_lines,
    joined_line_tokens,
)
from treelight.engine.generators.chance import remaining_lines_grammar


def distinct_lines(
    request: CompletionRequest, ask: Callable[[CompletionRequest], Completion]
) -> Completion:
    """One output of up to `request.distinct_lines` distinct lines, each asked of the
    server by `ask` (one completion of one line)."""
    started = time.perf_counter()
    written: dict[str, list[dict[str, Any]]] = {}
    first: list[Completion] = []

    def draw(lines: list[str], seed: int, max_tokens: int) -> tuple[str | None, int]:
        left = remaining_lines_grammar(request.grammar or "", lines)
        if left is None:
            return None, 0
        one = replace(
            request,
            prompt=request.prompt + "".join(f"{line}\n" for line in lines),
            grammar=left,
            seed=seed,
            max_tokens=max(1, max_tokens),
            stop=("\n", *request.stop),  # first: the API keeps only four stops
            distinct_lines=0,
        )
        made = ask(one)
        first.append(made)
        written.setdefault(made.text.strip(), made.logprobs or [])
        return made.text, made.completion_tokens

    lines, spent = draw_distinct_lines(request, draw)
    extra = dict(first[0].extra) if first else {}
    extra.pop("finish_reason", None)  # each line stops on its own; the output as a whole:
    extra |= {"finish_reason": "stop", "lines": "one request a line", "requests": len(first)}
    return Completion(
        text="\n".join(lines),
        logprobs=joined_line_tokens(lines, written),
        prompt_tokens=first[0].prompt_tokens if first else 0,  # the prompt, read once
        completion_tokens=spent,
        latency_seconds=time.perf_counter() - started,
        extra=extra,
    )
