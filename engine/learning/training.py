"""`treelight train judge`: label the states stored trees settled, fit a small
model to them, keep the best on held-out problems, write a judge file.

Held-out figures are honest by construction: the problems are split first (a
seeded 80/20 by default), the held-out problems' trees are labelled on their
own, and the memory scored with them is the training problems' alone. The file
itself is then fitted to every tree given, and its memory holds every state
they settled.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine
from sqlmodel import Session

from treelight.engine.errors import BadArguments
from treelight.engine.generators import make_generator
from treelight.engine.judges.learned_file import save
from treelight.engine.learning.features import StoredEmbedder, feature_matrix
from treelight.engine.learning.fitting import CANDIDATES, Fitted, fit, probabilities, score
from treelight.engine.learning.labels import (
    PERSON,
    SAMPLED,
    Labels,
    StateLabel,
    Tree,
    TreeNode,
    label_trees,
)
from treelight.engine.tasks import task_classes
from treelight.storage import queries
from treelight.storage.models import Run
from treelight.storage.vocabulary import NodeStatus, PrunedBy, RunStatus

Progress = Callable[[str, int], Callable[[int], object]]  # (stage, total) -> advance(n)


@dataclass(frozen=True)
class TrainRequest:
    out: Path
    eval_ids: list[int] = field(default_factory=list)
    run_ids: list[int] = field(default_factory=list)
    runs_text: str = ""
    features: str = "embedding"
    holdout: float = 0.2
    max_states: int = 20_000
    seed: int = 0
    soft: bool = True  # sampled subtrees count as soft labels (engine/learning/labels.py)
    embedder: dict[str, Any] = field(default_factory=lambda: {"backend": "embedded"})


def treelight_version() -> str:
    try:
        return version("treelight")
    except PackageNotFoundError:  # pragma: no cover - a source checkout without install
        return "unknown"


def load_trees(engine: Engine, eval_ids: list[int], run_ids: list[int]) -> list[Tree]:
    """The runs of `eval_ids` and `run_ids`, each once, with their nodes and labels.

    An eval keeps each item's expected answer out of its searches, so their
    finished paths stay unchecked (`terminal`); here each is checked against the
    item's answer, as the eval scores its runs, and marked solved or failed."""
    with Session(engine) as session:
        wanted: dict[int, tuple[Run, int | None, int | None, str | None]] = {}
        for eval_id in eval_ids:
            rows = queries.eval_runs(session, eval_id)
            if not rows:
                raise BadArguments(f"Eval #{eval_id} has no runs (see `treelight eval --list`).")
            for item, run in rows:
                wanted.setdefault(run.id or 0, (run, eval_id, item.item, item.expected))
        for run_id in run_ids:
            found = queries.get_run(session, run_id)
            if found is None:
                raise BadArguments(f"There is no run #{run_id} (see `treelight runs`).")
            wanted.setdefault(run_id, (found, None, None, None))
        tasks = {run.task for run, _, _, _ in wanted.values()}
        if len(tasks) > 1:
            raise BadArguments(
                f"A judge learns one task's states; these runs are of {', '.join(sorted(tasks))}."
            )
        trees = []
        for run_id, (run, from_eval, index, expected) in wanted.items():
            if run.status == RunStatus.QUEUED:
                continue  # never started: its tree is the problem alone, nothing learned
            task = task_classes()[run.task](run.problem, run.task_params)
            check = _checker(run, expected)
            nodes = [
                TreeNode(r.id, r.parent_id, r.text, r.state, *check(r.status, r.pruned_by, r.state))
                for r in queries.tree_rows(session, run_id)
            ]
            person = {
                n: str(label.verdict) for n, label in queries.run_labels(session, run_id).items()
            }
            trees.append(Tree(run_id, task, nodes, person, from_eval, index))
    return trees


def _checker(
    run: Run, expected: str | None
) -> Callable[[str, str, dict[str, Any]], tuple[str, str]]:
    """(status, pruned_by, state) -> (status, pruned_by): an unchecked finished path
    checked against the eval item's expected answer (each answer once per run)."""
    from treelight.engine.evals.eval_runs import score

    verdicts: dict[str, bool] = {}

    def check(status: str, pruned_by: str, state: dict[str, Any]) -> tuple[str, str]:
        answer = state.get("answer")
        if expected is None or status != NodeStatus.TERMINAL or answer is None:
            return str(status), str(pruned_by)
        text = str(answer)
        if text not in verdicts:
            verdicts[text] = score(run.task, run.problem, run.task_params, expected, text)
        if verdicts[text]:
            return NodeStatus.SOLVED, ""
        return NodeStatus.PRUNED, PrunedBy.JUDGE

    return check


def _split(trees: list[Tree], holdout: float, seed: int) -> tuple[list[Tree], list[Tree]]:
    problems = sorted({t.task.problem for t in trees})
    if holdout <= 0 or len(problems) < 2:
        return trees, []
    random.Random(seed).shuffle(problems)
    held = set(problems[: max(1, round(holdout * len(problems)))])
    return [t for t in trees if t.task.problem not in held], [
        t for t in trees if t.task.problem in held
    ]


def _sample(states: list[StateLabel], limit: int, seed: int) -> list[StateLabel]:
    if len(states) <= limit:
        return states
    return random.Random(seed).sample(states, limit)


def _needs_both(labels: Labels, where: str) -> None:
    if labels.live and labels.dead:
        return
    why = ""
    if labels.finished and not labels.solved:
        why = (
            f" None of the {labels.finished:,} finished paths in them passed its check: "
            "the model never reached a right answer there, so no state is known to lead "
            "to one. Search with more samples or a stronger model, or mark good steps "
            "by hand (`treelight label`)."
        )
    raise BadArguments(
        f"The {where} trees settled {len(labels.states)} states ({labels.live} live, "
        f"{labels.dead} dead); a judge needs both.{why} Run more searches to learn from: "
        "self-play that tries every move (e.g. `treelight eval --methods "
        '"random:beam=1000;stop_at_first=false;moves=all"` for game24; '
        "docs/BENCHMARKS.md has the recipe)."
    )


def train_judge(engine: Engine, request: TrainRequest, progress: Progress) -> dict[str, Any]:
    if not request.eval_ids and not request.run_ids:
        raise BadArguments("Name the trees to learn from: --eval ID and/or --runs 1,5-9.")
    trees = load_trees(engine, request.eval_ids, request.run_ids)
    if not trees:
        raise BadArguments("None of these runs has started: there is nothing to learn from yet.")
    task = trees[0].task
    embedder = None
    if request.features in ("embedding", "both"):
        embedder = StoredEmbedder(engine, make_generator(request.embedder))
    advance = progress("labelling trees", len(trees))
    train_trees, held_trees = _split(trees, request.holdout, request.seed)
    train_labels = label_trees(train_trees, request.soft)
    held_labels = label_trees(held_trees, request.soft)
    every = label_trees(trees, request.soft)
    advance(len(trees))
    _needs_both(every, "given")

    def matrix(states: list[StateLabel], stage: str) -> tuple[np.ndarray, np.ndarray]:
        step = progress(stage, len(states))
        x = feature_matrix(request.features, task, states, embedder, step)
        return x, np.array([s.live for s in states], dtype=np.int64)

    def targets(states: list[StateLabel]) -> np.ndarray:
        return np.array([s.target for s in states], dtype=np.float64)

    settled_in_training = {k: s for k, s in train_labels.states.items() if s.settled}

    holdout: dict[str, Any] | None = None
    candidates: dict[str, Any] = {}
    chosen = "gbm"
    if held_trees and train_labels.live and train_labels.dead and held_labels.states:
        train_states = _sample(list(train_labels.states.values()), request.max_states, request.seed)
        held_states = _sample(
            list(held_labels.states.values()), max(1, request.max_states // 4), request.seed
        )
        x, y = matrix(train_states, "features (training problems)")
        xh, yh = matrix(held_states, "features (held-out problems)")
        remembered = np.array([s.key in settled_in_training for s in held_states])
        memory = np.array(
            [
                float(settled_in_training[s.key].live) if s.key in settled_in_training else 0.0
                for s in held_states
            ]
        )
        fit_step = progress("fitting models", len(CANDIDATES))
        best: tuple[float, Fitted, np.ndarray] | None = None
        for model in CANDIDATES:
            fitted = fit(model, x, y, request.seed, targets(train_states))
            p = probabilities(fitted, xh)
            alone = score(yh, p)
            candidates[model] = {"auc": alone.auc, "balanced_accuracy": alone.balanced_accuracy}
            if best is None or (alone.auc or 0) > best[0]:
                best = (alone.auc or 0, fitted, p)
            fit_step(1)
        assert best is not None
        chosen, p = best[1].model, best[2]
        with_memory = np.where(remembered, memory, p)
        both = score(yh, with_memory)
        holdout = {
            "problems": len({t.task.problem for t in held_trees}),
            "states": len(held_states),
            "live": int(yh.sum()),
            "dead": int(len(yh) - yh.sum()),
            "sampled": sum(s.source == SAMPLED for s in held_states),
            "auc": both.auc,
            "balanced_accuracy": both.balanced_accuracy,
            "remembered": float(remembered.mean()),
            "model_alone": candidates[chosen],
            "reliability": reliability(yh, with_memory),
        }
    all_states = _sample(list(every.states.values()), request.max_states, request.seed)
    x_all, y_all = matrix(all_states, "features (all problems)")
    final = fit(chosen, x_all, y_all, request.seed, targets(all_states))
    keys = [k for k, s in every.states.items() if s.settled]  # what the trees proved
    arrays = dict(final.arrays)
    arrays["memory_keys"] = np.array(keys, dtype=str)
    arrays["memory_live"] = np.array([every.states[k].live for k in keys], dtype=bool)
    trained_items = sorted(
        (
            {"problem": t.task.problem, "run": t.run_id, "eval": t.eval_id, "item": t.item}
            for t in trees
        ),
        key=lambda entry: (entry["eval"] or 0, entry["item"] or 0, entry["run"]),
    )
    meta = {
        "task": task.name,
        "features": request.features,
        "model": chosen,
        "states": len(every.states),
        "live": every.live,
        "dead": every.dead,
        "sampled": every.sampled,
        "unlabelled": every.unlabelled_states,
        "person_labels": sum(s.source == PERSON for s in every.states.values()),
        "fitted_on": len(all_states),
        "holdout": holdout,
        "candidates": candidates,
        "evals": list(request.eval_ids),
        "runs": list(request.run_ids),
        "runs_text": request.runs_text,
        "trained_items": trained_items,
        "embedding": embedder.provenance() if embedder else None,
        "treelight_version": treelight_version(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seed": request.seed,
    }
    save(request.out, meta, arrays)
    return {
        "file": str(request.out),
        "states": meta["states"],
        "live": meta["live"],
        "dead": meta["dead"],
        "sampled": meta["sampled"],
        "unlabelled": meta["unlabelled"],
        "features": request.features,
        "model": chosen,
        "holdout": holdout,
        "candidates": candidates,
        "trained_items": trained_items,
    }


def reliability(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Per bin of predicted P(live): how many states, the mean prediction, and the
    share that was live (a calibrated judge has the two equal)."""
    rows = []
    edges = np.linspace(0, 1, bins + 1)
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (p >= low) & ((p < high) | (high == 1.0))
        if inside.any():
            rows.append(
                {
                    "predicted": float(p[inside].mean()),
                    "observed": float(y[inside].mean()),
                    "states": int(inside.sum()),
                }
            )
    return rows
