"""Two runs side by side: what was set differently, and what came out differently."""

from __future__ import annotations

from collections import Counter
from typing import Any

from treelight.storage.models import Node, Run
from treelight.storage.vocabulary import NodeStatus


def settings(run: Run) -> dict[str, Any]:
    """What a person chose for a run, flattened into comparable rows."""
    rows: dict[str, Any] = {
        "task": run.task,
        "problem": run.problem,
        "strategy": run.strategy,
        "judges": ", ".join(
            j["name"] + "".join(f" {k}={v}" for k, v in j.items() if k != "name")
            for j in run.judges
        )
        or "none",
        "seed": run.seed,
    }
    rows.update({f"param {k}": v for k, v in sorted(run.strategy_params.items())})
    rows.update({f"task {k}": v for k, v in sorted(run.task_params.items())})
    generator = dict(run.generator)
    rows["backend"] = generator.pop("backend", "embedded")
    rows["model"] = generator.pop("model", None) or "(default)"
    rows["temperature"] = generator.pop("temperature", None)
    rows.update({f"backend {k}": v for k, v in sorted(generator.items())})
    rows.update({f"budget {k}": v for k, v in sorted(run.budget.items())})
    return rows


def outcome(run: Run, nodes: list[Node]) -> dict[str, Any]:
    statuses = Counter(n.status for n in nodes)
    return {
        "status": run.status,
        "answer": run.answer if run.answer is not None else "no answer",
        "why": run.status_reason,
        "nodes": len(nodes),
        "solved nodes": statuses[NodeStatus.SOLVED],
        "invalid nodes": statuses[NodeStatus.INVALID],
        "pruned nodes": statuses[NodeStatus.PRUNED],
        "deepest": max((n.depth for n in nodes), default=0),
        "model calls": run.model_calls,
        "tokens": run.prompt_tokens + run.completion_tokens,
        "seconds": round(run.elapsed_seconds, 1),
    }


def side_by_side(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of (what, first, second, differs), every key of either, in order."""
    keys = list(dict.fromkeys([*a, *b]))
    return [
        {
            "": key,
            "first": _text(a.get(key, "—")),
            "second": _text(b.get(key, "—")),
            "differs": "≠" if a.get(key, "—") != b.get(key, "—") else "",
        }
        for key in keys
    ]


def _text(value: Any) -> str:
    return "" if value is None else str(value)
