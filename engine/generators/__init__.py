"""Generator backends, by the name the CLI and the app use."""

from __future__ import annotations

from typing import Any

from treelight.engine.errors import BadArguments
from treelight.engine.generators.base import Completion, CompletionRequest, Generator

BACKENDS = ("embedded", "ollama", "scripted")

__all__ = ["BACKENDS", "Completion", "CompletionRequest", "Generator", "make_generator"]


def make_generator(spec: dict[str, Any]) -> Generator:
    """Build a generator from a run's `generator` spec (backend, model, script...)."""
    backend = spec.get("backend", "embedded")
    if backend == "embedded":
        from treelight.engine.generators.embedded import EmbeddedGenerator

        return EmbeddedGenerator(spec.get("model"))
    if backend == "ollama":
        from treelight.engine.generators.ollama_backend import (
            DEFAULT_TIMEOUT_SECONDS,
            OllamaGenerator,
        )

        if not spec.get("model"):
            raise BadArguments(
                "The ollama backend needs a model: --model NAME (`treelight models` lists them)."
            )
        return OllamaGenerator(
            spec["model"],
            host=spec.get("host"),
            timeout=float(spec.get("timeout", DEFAULT_TIMEOUT_SECONDS)),
            keep_alive=spec.get("keep_alive", "10m"),
            num_ctx=spec.get("num_ctx"),
        )
    if backend == "scripted":
        from treelight.engine.generators.scripted import ScriptedGenerator

        if "outputs" in spec:
            return ScriptedGenerator(
                spec["outputs"],
                model=spec.get("model") or "script",
                delay=float(spec.get("delay", 0.0)),
            )
        if not spec.get("script"):
            raise BadArguments("The scripted backend needs --script FILE.json.")
        return ScriptedGenerator.from_file(spec["script"])
    raise BadArguments(f"Unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}.")
