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

from treelight.engine.errors import BadArguments, ScriptExhausted
from treelight.engine.generators.base import Completion, CompletionRequest, Generator


class ScriptedGenerator(Generator):
    backend = "scripted"

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
                )
            )
        return completions
