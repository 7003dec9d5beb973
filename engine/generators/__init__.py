"""Built-in generator backends, registered through the plugin hooks like any other."""

from __future__ import annotations

from typing import Any

from treelight.engine.generators.base import Completion, CompletionRequest, Generator
from treelight.engine.generators.chance import ChanceGenerator
from treelight.engine.generators.embedded import EmbeddedGenerator
from treelight.engine.generators.ollama_backend import OllamaGenerator
from treelight.engine.generators.openai_backend import OpenAIGenerator
from treelight.engine.generators.scripted import ScriptedGenerator
from treelight.engine.hookspecs import hookimpl
from treelight.engine.plugins import RegisterFunction, registry

__all__ = [
    "Completion",
    "CompletionRequest",
    "Generator",
    "generator_classes",
    "make_generator",
    "prepare_generator",
]


@hookimpl
def register_generators(register: RegisterFunction) -> None:
    for generator in (
        EmbeddedGenerator,
        OllamaGenerator,
        OpenAIGenerator,
        ScriptedGenerator,
        ChanceGenerator,
    ):
        register(generator)


def generator_classes() -> dict[str, type[Generator]]:
    """Every installed backend by name (built-in and plugins)."""
    return registry().roles["generator"]


def prepare_generator(backend: str, values: dict[str, Any], temperature: float) -> dict[str, Any]:
    """The generator spec a new run stores, from a person's choices."""
    generator_class: type[Generator] = registry().get("generator", backend)
    return {"backend": backend, "temperature": temperature, **generator_class.prepare(values)}


def make_generator(spec: dict[str, Any], provider: str | None = None) -> Generator:
    """Build a generator from a run's `generator` spec (backend, model, options...)."""
    backend = spec.get("backend", "embedded")
    generator_class: type[Generator] = registry().get("generator", backend, provider)
    return generator_class.from_spec(spec)
