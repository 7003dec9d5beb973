"""States as numbers: the task's own features, the model's embedding of the
state's text, or both side by side.

Embeddings made for training are stored like any model call (a ModelCall row,
purpose "embed", no run) and served from storage the next time the same text is
embedded by the same model, so training again costs no model time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine

from treelight.engine.errors import BadArguments
from treelight.engine.generators.base import Generator, embed_request
from treelight.engine.learning.labels import StateLabel
from treelight.engine.tasks.base import Task
from treelight.storage import hot_path
from treelight.storage.models import CallRecord

FEATURES = ("embedding", "task", "both")
BATCH = 32


class StoredEmbedder:
    def __init__(self, engine: Engine, generator: Generator) -> None:
        if not generator.supports_embedding:
            raise BadArguments(
                f"The {generator.backend} backend cannot embed text: use --features task, "
                "or the embedded model, an OpenAI-compatible server or Ollama."
            )
        self.engine = engine
        self.generator = generator

    def provenance(self) -> dict[str, Any]:
        """Which model embedded, and the hash of its file where it is one."""
        found: dict[str, Any] = {"backend": self.generator.backend, "model": self.generator.model}
        path = getattr(self.generator, "path", None)
        if isinstance(path, Path) and path.is_file():
            digest = hashlib.sha256()
            with path.open("rb") as model_file:
                for block in iter(lambda: model_file.read(1 << 20), b""):
                    digest.update(block)
            found["file_sha256"] = digest.hexdigest()
        return found

    def embed(self, texts: list[str], advance: Callable[[int], object]) -> np.ndarray:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), BATCH):
            vectors += self._batch(texts[start : start + BATCH])
            advance(len(texts[start : start + BATCH]))
        return np.array(vectors, dtype=np.float64)

    def _batch(self, texts: list[str]) -> list[list[float]]:
        requests = [embed_request(t) for t in texts]
        prints = [self.generator.fingerprint(r) for r in requests]
        with self.engine.connect() as connection:
            stored = hot_path.find_model_calls(connection, prints, None)
        vectors: dict[str, list[float]] = {
            f: list((call.extra or {}).get("embedding", [])) for f, call in stored.items()
        }
        missing = [(r, f) for r, f in zip(requests, prints, strict=True) if f not in vectors]
        if missing:
            done = self.generator.complete([r for r, _ in missing])
            with self.engine.begin() as connection:
                for (request, fingerprint), completion in zip(missing, done, strict=True):
                    row = CallRecord(
                        purpose="embed",
                        backend=self.generator.backend,
                        model=self.generator.model,
                        prompt=request.prompt,
                        params=request.params(),
                        fingerprint=fingerprint,
                        prompt_tokens=completion.prompt_tokens,
                        latency_seconds=completion.latency_seconds,
                        extra=completion.extra,
                    )
                    hot_path.insert_model_call(connection, row)
                    vectors[fingerprint] = list(completion.extra["embedding"])
        return [vectors[f] for f in prints]


def task_features(task: Task, states: list[StateLabel]) -> np.ndarray:
    rows = [task.state_features(s.state) for s in states]
    if any(r is None for r in rows):
        raise BadArguments(
            f"The task {task.name} declares no features of its states: use --features embedding."
        )
    return np.array(rows, dtype=np.float64)


def feature_matrix(
    features: str,
    task: Task,
    states: list[StateLabel],
    embedder: StoredEmbedder | None,
    advance: Callable[[int], object],
) -> np.ndarray:
    columns = []
    if features in ("task", "both"):
        columns.append(task_features(task, states))
    if features in ("embedding", "both"):
        assert embedder is not None
        columns.append(embedder.embed([s.text for s in states], advance))
    else:
        advance(len(states))
    return np.hstack(columns)
