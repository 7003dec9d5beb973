"""A generator that replays model outputs from a list, in order.

For tests, demos and reproducible bug reports: `--script FILE.json` holds a
JSON list of strings. Output number i answers the run's model call number i,
so a paused or crashed run picks up exactly where it stopped.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from treelight.engine.errors import BadArguments, ScriptExhausted
from treelight.engine.generators.base import (
    Completion,
    CompletionRequest,
    Generator,
    GeneratorOptions,
)
from treelight.engine.options import Field

NEEDS_SCRIPT = (
    "The scripted backend needs a script: a JSON file with a list of model outputs "
    "(the field 'script'; on the command line, --script FILE.json)."
)


class ScriptedGenerator(Generator):
    backend = "scripted"
    label = "Scripted (replay outputs)"

    class Options(GeneratorOptions):
        script: str | None = Field(
            None,
            description="a JSON file with a list of model outputs, used in order",
            json_schema_extra={"flag": "--script"},
        )
        delay: float = Field(0.0, ge=0, le=60, description="seconds per call (to watch a run grow)")

    @classmethod
    def prepare(cls, values: dict[str, Any]) -> dict[str, Any]:
        """The outputs go into the run itself, so it replays without the file."""
        values = dict(values)
        outputs = values.pop("outputs", None)
        spec = super().prepare(values)
        if outputs is not None:  # given directly (the Python API, tests)
            return {**spec, "outputs": list(outputs)}
        if not spec.get("script"):
            raise BadArguments(NEEDS_SCRIPT)
        script = spec.pop("script")
        spec["outputs"] = cls.from_file(script).outputs
        spec.setdefault("model", Path(script).name)
        return spec

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> ScriptedGenerator:
        if "outputs" in spec:
            return cls(
                spec["outputs"],
                model=spec.get("model") or "script",
                delay=float(spec.get("delay", 0.0)),
            )
        if not spec.get("script"):
            raise BadArguments(NEEDS_SCRIPT)
        return cls.from_file(spec["script"])

    def __init__(self, outputs: list[str], model: str = "script", delay: float = 0.0) -> None:
        super().__init__(model)
        self.outputs = list(outputs)
        self.delay = delay  # seconds per call: to watch a run grow, or to kill it mid-run
        self.history: list[CompletionRequest] = []

    @classmethod
    def from_file(cls, path: str | Path) -> ScriptedGenerator:
        try:
            outputs = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BadArguments(f"Script file not found: {path}") from None
        except json.JSONDecodeError as error:
            raise BadArguments(f"Script file {path} is not valid JSON: {error}") from None
        if not isinstance(outputs, list) or not all(isinstance(o, str) for o in outputs):
            raise BadArguments(f"Script file {path} must hold a JSON list of strings.")
        return cls(outputs, model=Path(path).name)

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def complete(self, requests: list[CompletionRequest]) -> list[Completion]:
        completions = []
        for request in requests:
            if request.sequence >= len(self.outputs):
                raise ScriptExhausted(
                    f"The script has {len(self.outputs)} outputs and model call "
                    f"{request.sequence + 1} asked for another: add outputs to the script "
                    "or lower --max-calls."
                )
            self.history.append(request)
            if self.delay:
                time.sleep(self.delay)
            # A "token" here is a word with its trailing space, so the budget is exact.
            words = re.findall(r"\S+\s*", self.outputs[request.sequence])
            text = "".join(words[: request.max_tokens])
            completions.append(
                Completion(
                    text=text,
                    prompt_tokens=self.count_tokens(request.prompt),
                    completion_tokens=self.count_tokens(text),
                    latency_seconds=0.0,
                    extra={
                        "finish_reason": "length" if len(words) > request.max_tokens else "stop"
                    },
                )
            )
        return completions
