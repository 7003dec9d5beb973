"""Reading the embedded model's per-token log-probabilities as it generates, and
its five likeliest alternatives at each token.

Does not sample or decide anything: it only records what llama.cpp's logits said.
"""

from __future__ import annotations

from typing import Any

TOP_ALTERNATIVES = 5


class TokenRecorder:
    """Per-token log-probabilities without `logits_all` (which made every call
    about 0.5 s slower here): llama-cpp-python calls a stopping criterion after
    each sampled token, while the context still holds the logits that token was
    sampled from; the token itself is known one call later (it is the last input
    id by then), the final one from the text. The probabilities are the model's
    own, before any grammar: where a constraint overrode the model, it shows."""

    def __init__(self, llm: Any) -> None:
        self.llm = llm
        self.entries: list[dict[str, Any]] = []
        self.pending: Any = None  # the logits of the token sampled last, not yet known
        self.seen = -1  # how many input ids the last call saw

    def __call__(self, input_ids: Any, _scores: Any) -> bool:
        import numpy as np

        if len(input_ids) == self.seen:
            return False  # asked again at the end, nothing new sampled
        self.seen = len(input_ids)
        if self.pending is not None:
            self._settle(int(input_ids[-1]))
        logits = np.ctypeslib.as_array(self.llm._ctx.get_logits(), shape=(self.llm.n_vocab(),))
        self.pending = np.array(logits)  # a copy: llama.cpp reuses the buffer
        return False  # never stops the generation

    def _settle(self, token: int) -> None:
        import numpy as np

        logits, self.pending = self.pending, None
        peak = float(logits.max())
        normaliser = peak + float(np.log(np.exp(logits - peak, dtype=np.float64).sum()))
        top = np.argpartition(logits, -TOP_ALTERNATIVES)[-TOP_ALTERNATIVES:]
        top = top[np.argsort(-logits[top])]
        self.entries.append(
            {
                "id": token,
                "token": self._text(token),
                "logprob": float(logits[token]) - normaliser,
                "top": [
                    {"token": self._text(int(t)), "logprob": float(logits[t]) - normaliser}
                    for t in top
                ],
            }
        )

    def _text(self, token: int) -> str:
        return self.llm.detokenize([token]).decode("utf-8", "replace")  # type: ignore[no-any-return]

    def tokens(self, text: str) -> list[dict[str, Any]] | None:
        """The entries for `text`, the completion as returned: the last sampled token
        comes from the text's remainder (none after an end-of-text token), and
        tokens of a stop sequence cut from the text are left out."""
        if self.pending is not None:
            shown = "".join(e["token"] for e in self.entries)
            rest = text[len(shown) :] if text.startswith(shown) else ""
            ids = self.llm.tokenize(rest.encode("utf-8"), add_bos=False, special=False)
            if ids:
                self._settle(int(ids[0]))
            else:
                self.pending = None
        kept, length = [], 0
        for entry in self.entries:
            if length + len(entry["token"]) > len(text):
                break
            length += len(entry["token"])
            kept.append({k: v for k, v in entry.items() if k != "id"})
        return kept or None
