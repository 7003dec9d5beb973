"""A model's output token by token, shaded by how sure the model was of each one,
with the likeliest alternatives on hover: where the model hesitated is visible.

Tokens are model text: every token and every alternative is HTML-escaped (quotes
included) before it goes into the markup, so it shows as the characters it is.
Streamlit's `st.html` sanitizes the markup again on top of that.
"""

from __future__ import annotations

import html
import math
from typing import Any

# Orange, stronger the less likely the token was.
SHADE = "253, 141, 60"


def token_html(logprobs: list[dict[str, Any]]) -> str:
    """`logprobs` as stored on a model call: [{"token", "logprob", "top": [...]}]."""
    spans = []
    for entry in logprobs:
        token = str(entry.get("token", ""))
        logprob = entry.get("logprob")
        p = math.exp(logprob) if isinstance(logprob, int | float) else None
        alternatives = ", ".join(
            f"{_visible(str(alt.get('token', '')))} {math.exp(alt['logprob']):.2f}"
            for alt in entry.get("top") or []
            if isinstance(alt.get("logprob"), int | float)
        )
        title = (f"p = {p:.2f}" if p is not None else "p unknown") + (
            f" · likeliest: {alternatives}" if alternatives else ""
        )
        if entry.get("by") == "engine":  # e.g. the line break between distinct moves
            title, p = "written by the engine, not sampled", None
        alpha = 0.0 if p is None else round(0.85 * (1.0 - p), 3)
        spans.append(
            f'<span title="{html.escape(title, quote=True)}" '
            f'style="background: rgba({SHADE}, {alpha}); border-radius: 2px">'
            f"{html.escape(token, quote=True)}</span>"
        )
    return (
        '<div style="font-family: monospace; white-space: pre-wrap; line-height: 1.7; '
        'font-size: 0.95rem">' + "".join(spans) + "</div>"
    )


def _visible(token: str) -> str:
    """A token as a hover line can show it: spaces and line breaks made visible."""
    return repr(token)[1:-1] if token.strip() != token or not token else token


def least_sure(logprobs: list[dict[str, Any]], count: int = 3) -> list[tuple[str, float]]:
    """The `count` tokens the model was least sure of, with their probabilities."""
    scored = [
        (str(e.get("token", "")), math.exp(e["logprob"]))
        for e in logprobs
        if isinstance(e.get("logprob"), int | float) and e.get("by") != "engine"
    ]
    return sorted(scored, key=lambda item: item[1])[:count]
