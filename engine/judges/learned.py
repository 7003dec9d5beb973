"""The `learned` judge: P(live) from a judge file `treelight train judge` wrote.

A state the training trees settled is judged by what they showed (the file's
memory: "seen dead in training"); any other state by the file's small model, on
the features it was trained on: the task's own numbers for the state, the run
model's embedding of the state's text (one stored `embed` call per new text,
counted against the budgets), or both. Its rationale says what it is, what it
was trained on and how well it did on held-out problems, so a person reading
"why was this cut?" knows how much to trust it.

The file is data (engine/judges/learned_file.py): loading it runs no code.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import field_validator

from treelight.engine.errors import BadArguments
from treelight.engine.judges.base import Judge, JudgeContext, JudgeOptions, Verdict
from treelight.engine.judges.learned_file import JudgeFile, load
from treelight.engine.options import Field
from treelight.engine.types import NodeView

BUILTIN = "builtin:"


def reads_embeddings(features: str) -> bool:
    """Whether a judge file's features include the model's embeddings."""
    return features in ("embedding", "both")


def builtin_judge(name: str) -> Path:
    """A judge file shipped in treelight.assets/judges (see its README for how it
    was made, and on which problems: they are refused like any trained item)."""
    from importlib.resources import files

    found = Path(str(files("treelight.assets").joinpath("judges", f"{name}.judge")))
    if not found.is_file():
        raise ValueError(f"no built-in judge {name!r}")
    return found


@lru_cache(maxsize=16)
def _cached(path: str, _mtime: float, _size: int) -> tuple[JudgeFile, dict[str, bool], str]:
    loaded = load(Path(path))
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]
    return loaded, loaded.memory(), digest


def load_cached(path: Path) -> tuple[JudgeFile, dict[str, bool], str]:
    """The file, its memory and a short hash of its bytes; read again when it changes."""
    if not path.is_file():
        raise BadArguments(f"No judge file at {path}: make one with `treelight train judge`.")
    stat = path.stat()
    return _cached(str(path), stat.st_mtime, stat.st_size)


def describe(judge_file: JudgeFile) -> str:
    """ "g24.judge — trained on 41,230 states of eval #4, held-out AUC 0.96"."""
    meta = judge_file.meta
    sources = [f"eval #{e}" for e in meta.get("evals", [])]
    if meta.get("runs"):
        sources.append(f"{len(meta['runs'])} runs" if sources else f"runs {meta['runs_text']}")
    auc = (meta.get("holdout") or {}).get("auc")
    held = f", held-out AUC {auc:.2f}" if auc is not None else ""
    return (
        f"learned judge {judge_file.name} — trained on {int(meta['states']):,} states of "
        f"{' and '.join(sources) or 'stored runs'}{held}"
    )


def _path_text(node: NodeView, ctx: JudgeContext) -> str:
    """The path's thoughts, as training read them (engine/learning/labels.py)."""
    return "\n".join(n.text for n in ctx.tree.path(node.id)[1:])


class LearnedJudge(Judge):
    name = "learned"
    description = (
        "P(live) from a judge trained on the search's own trees (`treelight train judge`)."
    )

    class Options(JudgeOptions):
        file: str = Field(
            description="the judge file `treelight train judge` wrote, or builtin:NAME for "
            "one shipped with Treelight (builtin:game24-selfplay)"
        )

        @field_validator("file")
        @classmethod
        def _absolute(cls, value: str) -> str:
            # Stored with the run: a worker started elsewhere finds the same file.
            if value.startswith(BUILTIN):
                return str(builtin_judge(value.removeprefix(BUILTIN)))
            return str(Path(value).expanduser().resolve())

    def __init__(self, **values: Any) -> None:
        super().__init__(**values)
        self.path = Path(self.options["file"])
        self.file, self.memory, self.digest = load_cached(self.path)
        self.features = str(self.file.meta["features"])
        self.free = not reads_embeddings(self.features)  # task features need no model call
        self.summary = describe(self.file)

    def judge(self, nodes: list[NodeView], ctx: JudgeContext) -> list[Verdict]:
        trained_for = self.file.meta.get("task")
        if trained_for != ctx.task.name:
            why = f"{self.summary} was trained on {trained_for} trees, not {ctx.task.name}"
            return [Verdict(None, None, why) for _ in nodes]
        verdicts: list[Verdict | None] = []
        unseen: list[int] = []
        for i, node in enumerate(nodes):
            key = ctx.task.learning_key(node.state, partial(_path_text, node, ctx))
            if "answer" in node.state:
                verdicts.append(
                    Verdict(None, None, "nothing to judge: a finished path is for the verifiers")
                )
            elif key in self.memory:
                seen = "live" if self.memory[key] else "dead"
                verdicts.append(
                    Verdict(
                        1.0 if self.memory[key] else 0.0,
                        None,
                        f"{self.summary}: this state was seen {seen} in its training trees",
                    )
                )
            else:
                verdicts.append(None)
                unseen.append(i)
        if unseen:
            predicted = self._predict([nodes[i] for i in unseen], ctx)
            for i, verdict in zip(unseen, predicted, strict=True):
                verdicts[i] = verdict
        return [v or Verdict(None, None, "") for v in verdicts]

    def _predict(self, nodes: list[NodeView], ctx: JudgeContext) -> list[Verdict]:
        """P(live) from the file's model, for states its memory does not hold."""
        columns: list[np.ndarray] = []
        call_ids: list[list[int]] = [[] for _ in nodes]
        if self.features in ("task", "both"):
            rows = [ctx.task.state_features(n.state) for n in nodes]
            if any(r is None for r in rows):
                return [Verdict(None, None, f"{ctx.task.name} declares no state features")] * len(
                    nodes
                )
            columns.append(np.array(rows, dtype=np.float64))
        if reads_embeddings(self.features):
            vectors = []
            for n, ids in zip(nodes, call_ids, strict=True):
                found = ctx.embed(n, [ctx.task.state_text(n.state, _path_text(n, ctx))])
                if found is None:
                    why = "this run's backend cannot embed: the judge reads embeddings"
                    return [Verdict(None, None, why)] * len(nodes)
                vectors.append(found[0].vector)
                ids.append(found[0].call_id)
            columns.append(np.array(vectors, dtype=np.float64))
        p = self.file.predict(np.hstack(columns))
        model = self.file.meta["model"]
        return [
            Verdict(
                round(float(live), 4),
                None,
                f"{self.summary}: live {live:.2f} (its {model} on the state's "
                f"{self.features} features; file {self.digest})",
                ids,
            )
            for live, ids in zip(p, call_ids, strict=True)
        ]


def ranges(numbers: list[int]) -> str:
    """[0, 1, 2, 5] -> "0–2, 5"."""
    runs: list[list[int]] = []
    for n in sorted(set(numbers)):
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}–{r[-1]}" for r in runs)


def _trained_on(meta: dict[str, Any]) -> str:
    items = meta.get("trained_items", [])
    by_eval: dict[int, list[int]] = {}
    loose = []
    for entry in items:
        if entry.get("eval") is not None and entry.get("item") is not None:
            by_eval.setdefault(int(entry["eval"]), []).append(int(entry["item"]))
        else:
            loose.append(str(entry.get("problem")))
    said = [f"items {ranges(found)} of eval #{e}" for e, found in sorted(by_eval.items())]
    if loose:
        said.append(f"{len(loose)} other problems")
    return " and ".join(said) or "no problems"


def trained_overlap(judges: list[Judge], problems: dict[str, str], what: str) -> str | None:
    """Why judging these problems with these judges would be judging what a learned
    judge was trained on (None: it would not). `problems` maps each problem to how
    the asker names it (an item number, or the problem itself)."""
    for judge in judges:
        if not isinstance(judge, LearnedJudge):
            continue
        trained = {str(e.get("problem")) for e in judge.file.meta.get("trained_items", [])}
        overlap = [name for problem, name in problems.items() if problem in trained]
        if overlap:
            numbered = [int(n) for n in overlap if n.isdigit()]
            named = ranges(numbered) if len(numbered) == len(overlap) else ", ".join(overlap[:5])
            more = "" if len(overlap) <= 5 or numbered else f" and {len(overlap) - 5} more"
            return (
                f"The judge {judge.file.name} was trained on {_trained_on(judge.file.meta)}; "
                f"this {what} includes {named}{more}. A judge scored on the problems it "
                "learned from says nothing about new ones: choose other problems, or pass "
                "--allow-trained-items to do it on purpose (the output then says so)."
            )
    return None


def embedding_mismatch(judges: list[Judge], generator: dict[str, Any]) -> str | None:
    """Why a learned judge that reads embeddings cannot judge with this run's model."""
    for judge in judges:
        if not isinstance(judge, LearnedJudge) or not reads_embeddings(judge.features):
            continue
        made_by = judge.file.meta.get("embedding") or {}
        backend = generator.get("backend", "embedded")
        model = generator.get("model")
        if made_by.get("backend") != backend or (model and model != made_by.get("model")):
            return (
                f"The judge {judge.file.name} reads embeddings made by "
                f"{made_by.get('model')} ({made_by.get('backend')}); this run's model is "
                f"{model or 'the default'} ({backend}). Run it on that model, or train a "
                "judge on this one (or with --features task)."
            )
    return None
