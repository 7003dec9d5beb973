"""The OpenAI API's answers read into plain choices: whole responses and streamed
chunks, from /v1/completions and /v1/chat/completions alike, with both shapes of
log-probabilities turned into the one every backend uses.

It reads; it does not call a server or decide what a fault means (the backend,
openai_backend.py, does both).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Choice:
    """One of a response's choices, as far as it has arrived."""

    text: str = ""
    logprobs: list[dict[str, Any]] | None = None
    finish_reason: str | None = None
    chunks: int = 0  # streamed pieces with text: about one a token


@dataclass
class Answer:
    choices: list[Choice] = field(default_factory=list)
    usage: dict[str, Any] | None = None

    def tokens_so_far(self) -> int:
        return sum(len(c.logprobs) if c.logprobs else c.chunks for c in self.choices)


def read_logprobs(data: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    """`{"token", "logprob", "top": [{"token", "logprob"}]}` per token, from the chat
    shape (`content`: a list of tokens, each with its `top_logprobs`; llama-server
    answers completions in it too) or the completions shape (parallel lists
    `tokens`, `token_logprobs` and `top_logprobs`, the last a dict per token)."""
    if not data:
        return None
    if data.get("content") is not None:
        return [
            {
                "token": entry["token"],
                "logprob": float(entry["logprob"]),
                "top": [
                    {"token": top["token"], "logprob": float(top["logprob"])}
                    for top in entry.get("top_logprobs") or []
                ],
            }
            for entry in data["content"]
        ]
    tokens = data.get("tokens")
    if tokens is None:
        return None
    tops = data.get("top_logprobs") or [None] * len(tokens)
    return [
        {
            "token": token,
            "logprob": float(logprob),
            "top": [
                {"token": t, "logprob": float(v)}
                for t, v in sorted((top or {}).items(), key=lambda item: -item[1])
            ],
        }
        for token, logprob, top in zip(tokens, data.get("token_logprobs") or [], tops, strict=False)
        if logprob is not None  # the first token of an echoed prompt has none
    ]


def read_response(data: dict[str, Any], chat: bool) -> Answer:
    """A whole (not streamed) response."""
    answer = Answer(usage=data.get("usage"))
    for choice in sorted(data.get("choices") or [], key=lambda c: c.get("index", 0)):
        text = (choice.get("message") or {}).get("content") if chat else choice.get("text")
        answer.choices.append(
            Choice(
                text=text or "",
                logprobs=read_logprobs(choice.get("logprobs")),
                finish_reason=choice.get("finish_reason"),
            )
        )
    return answer


def add_chunk(answer: Answer, data: dict[str, Any], chat: bool) -> None:
    """One streamed chunk into the answer so far: text and log-probabilities are
    appended per choice index; the last chunk carries the usage (when asked)."""
    if data.get("usage"):
        answer.usage = data["usage"]
    for piece in data.get("choices") or []:
        index = int(piece.get("index", 0))
        while len(answer.choices) <= index:
            answer.choices.append(Choice())
        choice = answer.choices[index]
        text = (piece.get("delta") or {}).get("content") if chat else piece.get("text")
        if text:
            choice.text += text
            choice.chunks += 1
        logprobs = read_logprobs(piece.get("logprobs"))
        if logprobs is not None:
            choice.logprobs = (choice.logprobs or []) + logprobs
        if piece.get("finish_reason"):
            choice.finish_reason = piece["finish_reason"]


def split_tokens(total: int, choices: list[Choice]) -> list[int]:
    """The completion tokens of each choice, when the server gave only their sum:
    exact where every choice has its log-probabilities (one entry a token), else
    the sum shared in proportion to the choices' lengths."""
    if all(c.logprobs is not None for c in choices):
        return [len(c.logprobs or []) for c in choices]
    weights = [max(1, len(c.text)) for c in choices]
    shares = [total * w / sum(weights) for w in weights]
    counts = [int(s) for s in shares]
    # Largest remainders first, so the counts add up to the server's total.
    by_remainder = sorted(range(len(shares)), key=lambda i: counts[i] - shares[i])
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts
