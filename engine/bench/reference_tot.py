"""The reference Tree of Thoughts, run beside Treelight's methods on the same model.

`tot.methods.bfs.solve` from the PyPI package `tree-of-thoughts-llm`, unchanged,
with its model call (`tot.models.gpt`) redirected in-process to our generator;
its answer is judged by Treelight's checker like every method's.
"""

from __future__ import annotations

import contextlib
import sys
import time
import types
from typing import Any

from treelight.engine.bench.game24_results import PuzzleResult, check
from treelight.engine.errors import BadArguments
from treelight.engine.generators.base import CompletionRequest, Generator
from treelight.engine.run.model_calls import derive_seed

REFERENCE_MAX_TOKENS = 192  # the reference asks for up to 1,000; a tiny model rambles


class _CallBudgetSpent(Exception):
    pass


class ReferenceModel:
    """`tot.models.gpt`, answered by our generator. Counts calls and tokens."""

    def __init__(self, generator: Generator, seed: int, max_calls: int | None) -> None:
        self.generator, self.seed, self.max_calls = generator, seed, max_calls
        self.calls = self.prompt_tokens = self.completion_tokens = 0
        self.key = "reference"

    def gpt(
        self,
        prompt: str,
        model: str = "",
        temperature: float = 0.7,
        max_tokens: int = 1000,
        n: int = 1,
        stop: Any = None,
    ) -> list[str]:
        outputs = []
        for _ in range(n):
            if self.max_calls is not None and self.calls >= self.max_calls:
                raise _CallBudgetSpent
            request = CompletionRequest(
                prompt=prompt,
                seed=derive_seed(self.seed, self.key, "reference", self.calls),
                temperature=temperature,
                max_tokens=min(max_tokens, REFERENCE_MAX_TOKENS),
                stop=tuple([stop] if isinstance(stop, str) else stop or ()),
            )
            [completion] = self.generator.complete([request])
            self.calls += 1
            self.prompt_tokens += completion.prompt_tokens
            self.completion_tokens += completion.completion_tokens
            outputs.append(completion.text)
        return outputs


def _reference_modules() -> tuple[Any, Any]:
    # `tot.models` builds an OpenAI client at import (with the 2023 openai API);
    # the benchmark replaces the module, so nothing of it is needed.
    stub = types.ModuleType("tot.models")
    stub.gpt = lambda *a, **k: []  # type: ignore[attr-defined]
    sys.modules["tot.models"] = stub
    try:
        import tot.methods.bfs as reference_bfs
        from tot.tasks.game24 import Game24Task
    except ImportError as error:
        raise BadArguments(
            f"The reference Tree of Thoughts is not installed ({error}): "
            "`pip install --no-deps tree-of-thoughts-llm sympy pandas`."
        ) from None
    return reference_bfs, Game24Task


def run_reference(
    generator: Generator, index: int, puzzle: str, *, max_calls: int | None, seed: int
) -> PuzzleResult:
    reference_bfs, game24_task = _reference_modules()
    task = game24_task()
    if task.get_input(index) != puzzle:
        raise BadArguments(
            f"The reference's puzzle {index} is {task.get_input(index)!r}, "
            f"not {puzzle!r}: use the Tree of Thoughts 24.csv."
        )
    model = ReferenceModel(generator, seed + index, max_calls)
    reference_bfs.gpt = model.gpt  # solve() wraps the module's gpt with its settings
    args = types.SimpleNamespace(
        backend="treelight-embedded",
        temperature=0.7,
        method_generate="propose",
        method_evaluate="value",
        method_select="greedy",
        n_generate_sample=1,
        n_evaluate_sample=3,
        n_select_sample=5,
        prompt_sample=None,
    )
    started = time.perf_counter()
    note, answer = "", None
    try:
        with contextlib.redirect_stdout(sys.stderr):  # solve() prints its model function
            ys, _info = reference_bfs.solve(args, task, index, to_print=False)
        last = ys[0].strip().split("\n")[-1] if ys else ""
        answer = last.lower().replace("answer: ", "").split("=")[0].strip() or None
    except _CallBudgetSpent:
        note = f"stopped: model-call budget of {max_calls} used"
    seconds = time.perf_counter() - started
    return PuzzleResult(
        method="reference",
        index=index,
        puzzle=puzzle,
        solved=check(puzzle, answer),
        answer=answer,
        model_calls=model.calls,
        prompt_tokens=model.prompt_tokens,
        completion_tokens=model.completion_tokens,
        seconds=round(seconds, 2),
        note=note,
    )
