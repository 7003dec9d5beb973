"""`treelight bench judges`: judges read as classifiers of live and dead states, on
the states a set of stored trees settled (the test puzzles' self-play trees).

Each judge file is scored twice on the same states: its model alone, and with
its memory of the states its training trees settled (what it does in a run).
The model's own value judge ("sure / likely / impossible", its probabilities
read in one call per state) is scored on a sample of the same states, so the
figures sit side by side. AUC says how well a judge ranks live above dead;
balanced accuracy (the mean of the recall of live and of dead states, at 0.5)
how often its verdict is right when live states are rare.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine

from treelight.engine.errors import BadArguments
from treelight.engine.generators import make_generator
from treelight.engine.generators.base import CompletionRequest, Generator
from treelight.engine.judges.learned import reads_embeddings
from treelight.engine.judges.learned_file import load
from treelight.engine.judges.value import WORD_SCORES, value_prompt
from treelight.engine.learning.features import StoredEmbedder, feature_matrix
from treelight.engine.learning.fitting import score
from treelight.engine.learning.labels import StateLabel, label_trees
from treelight.engine.learning.training import load_trees
from treelight.engine.types import NodeView
from treelight.storage.vocabulary import NodeStatus, Origin

Advance = Callable[[str, int], Callable[[int], object]]


def _scores(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    found = score(y, p)
    return {"auc": found.auc, "balanced_accuracy": found.balanced_accuracy}


def _view(state: StateLabel) -> NodeView:
    return NodeView(
        id=0, key="0", parent_id=None, depth=0, text=state.text, state=state.state,
        status=NodeStatus.OPEN, status_reason="", origin=Origin.MODEL, branch="main", score=None,
        visits=0, value=0.0, pinned=False, evaluated=False,
    )  # fmt: skip


def value_scores(generator: Generator, task: Any, states: list[StateLabel]) -> np.ndarray:
    """The value judge's expected score for each state, its words' probabilities read
    in one call (as the judge does on backends that give them)."""
    if not generator.supports_choices:
        raise BadArguments(f"The {generator.backend} backend cannot read the words' probabilities.")
    found = []
    for state in states:
        prompt = value_prompt(task, [_view(state)])
        if prompt is None:
            found.append(0.0)
            continue
        request = CompletionRequest(prompt=prompt, seed=0, max_tokens=1, choices=tuple(WORD_SCORES))
        [completion] = generator.complete([request])
        p = completion.extra.get("choices", {})
        found.append(sum(WORD_SCORES[w] * p.get(w, 0.0) for w in WORD_SCORES))
    return np.array(found)


def bench_judges(
    engine: Engine,
    *,
    eval_ids: list[int],
    run_ids: list[int],
    judge_files: list[Path],
    max_states: int,
    value_states: int,
    seed: int,
    progress: Advance,
) -> dict[str, Any]:
    trees = load_trees(engine, eval_ids, run_ids)
    labels = label_trees(trees, soft=False)  # the truth judges are scored on: proved states
    states = list(labels.states.values())
    random.Random(seed).shuffle(states)
    states = states[:max_states]
    if not states:
        raise BadArguments("These trees settled no states to score judges on.")
    y = np.array([s.live for s in states], dtype=np.int64)
    task = trees[0].task
    problems = {t.task.problem for t in trees}
    rows: list[dict[str, Any]] = []
    for path in judge_files:
        judge = load(path)
        trained = {str(e.get("problem")) for e in judge.meta.get("trained_items", [])}
        if trained & problems:
            raise BadArguments(
                f"The judge {path.name} was trained on {len(trained & problems)} of these "
                "problems: score it on problems it has not seen."
            )
        embedder = None
        if reads_embeddings(judge.meta["features"]):
            embedder = StoredEmbedder(engine, make_generator(dict(judge.meta["embedding"])))
        step = progress(f"features for {path.name}", len(states))
        x = feature_matrix(judge.meta["features"], task, states, embedder, step)
        alone = judge.predict(x)
        memory = judge.memory()
        known = np.array([s.key in memory for s in states])
        remembered = np.array([float(memory.get(s.key, False)) for s in states])
        rows.append(
            {
                "judge": path.name,
                "features": judge.meta["features"],
                "model": judge.meta["model"],
                "trained_states": judge.meta["states"],
                "alone": _scores(y, alone),
                "with_memory": _scores(y, np.where(known, remembered, alone)),
                "remembered": float(known.mean()),
            }
        )
    value = None
    if value_states:
        sample = states[:value_states]
        generator = make_generator({"backend": "embedded"})
        step = progress("value judge", len(sample))
        p: list[float] = []
        for state in sample:
            p.extend(value_scores(generator, task, [state]))
            step(1)
        value = {
            "states": len(sample),
            "live": int(y[: len(sample)].sum()),
            **_scores(y[: len(sample)], np.array(p)),
        }
    return {
        "trees": len(trees),
        "problems": len(problems),
        "states": len(states),
        "live": int(y.sum()),
        "dead": int(len(y) - y.sum()),
        "judges": rows,
        "value_judge": value,
    }


def table(data: dict[str, Any]) -> str:
    def f(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.3f}"

    lines = [
        f"{data['states']:,} states ({data['live']:,} live) settled by {data['trees']} trees "
        f"of {data['problems']} problems",
        "| judge | features | AUC alone | bal. acc. alone | AUC with memory | bal. acc. with "
        "memory | remembered |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in data["judges"]:
        lines.append(
            f"| {row['judge']} ({row['model']}) | {row['features']} | {f(row['alone']['auc'])} | "
            f"{row['alone']['balanced_accuracy']:.1%} | {f(row['with_memory']['auc'])} | "
            f"{row['with_memory']['balanced_accuracy']:.1%} | {row['remembered']:.0%} |"
        )
    value = data.get("value_judge")
    if value:
        lines.append(
            f"| value judge (the model's own, {value['states']} states) | – | {f(value['auc'])} | "
            f"{value['balanced_accuracy']:.1%} | – | – | – |"
        )
    return "\n".join(lines)
