"""Trees as training data: a run's candidates, including the dead ends and why they
died, as JSONL lines in the shapes common trainers read.

How each label is derived (docs/TRAINING_DATA.md says the same):

- `preference`: for every parent, each pair (chosen, rejected) of its children
  where `chosen` survived — solved, a finished path that passed its checks
  (terminal), or expanded — and `rejected` was pruned by a judge or found
  invalid by the task's rules. `rejected_by` names the judge (or "rules"),
  `reason` is the recorded reason. Pairs are deduplicated on (prompt, chosen
  text, rejected text). Beam cut-offs, duplicates and a person's prunes are not
  rejections of the thought itself, so they make no pair.
- `prm` (process supervision): every step of the main search that was judged or
  checked, labelled 1 when it lies on a solved path, 0 when a judge rejected it
  or the rules found it invalid, and left out otherwise (unknown is not a label).
- `sft`: the solved paths, prompt = the problem, completion = the steps in order.

`judges` restricts which judges' rejections count (None: all). Model text is
data here: it is written as JSON strings, never interpreted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sqlmodel import Session

from treelight.storage import queries
from treelight.storage.models import Node
from treelight.storage.vocabulary import NodeStatus, PrunedBy

FORMATS = ("preference", "prm", "sft")
SURVIVED = (NodeStatus.SOLVED, NodeStatus.TERMINAL, NodeStatus.EXPANDED)


def _rejection(node: Node, judges: set[str] | None) -> tuple[str, str] | None:
    """(who, why) when this node's thought itself was rejected; None otherwise."""
    if node.status == NodeStatus.INVALID:
        return "rules", node.status_reason
    if node.status == NodeStatus.PRUNED and node.pruned_by == PrunedBy.JUDGE:
        who = node.status_reason.removeprefix("rejected by ").split(":", 1)[0].strip()
        if judges is None or who in judges:
            return who, node.status_reason
    return None


def _prompt(problem: str, path: list[Node]) -> str:
    steps = "".join(f"{n.text}\n" for n in path[1:])
    return f"{problem}\n{steps}"


def training_lines(
    session: Session, run_id: int, format: str, judges: set[str] | None = None
) -> Iterator[dict[str, Any]]:
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    run = queries.get_run(session, run_id)
    if run is None:
        raise LookupError(f"No run #{run_id}")
    nodes = [n for n in queries.run_nodes(session, run_id) if n.branch == "main"]
    by_id = {n.id: n for n in nodes}
    kids: dict[int, list[Node]] = {}
    for node in nodes:
        if node.parent_id is not None:
            kids.setdefault(node.parent_id, []).append(node)

    def path(node: Node) -> list[Node]:
        found = [node]
        while found[-1].parent_id is not None and found[-1].parent_id in by_id:
            found.append(by_id[found[-1].parent_id])
        return found[::-1]

    solved = [n for n in nodes if n.status == NodeStatus.SOLVED]
    on_solved = {m.id for n in solved for m in path(n)}
    if format == "preference":
        seen: set[tuple[str, str, str]] = set()
        for parent_id, children in kids.items():
            prompt = _prompt(run.problem, path(by_id[parent_id]))
            good = [c for c in children if c.status in SURVIVED]
            bad = [(c, r) for c in children if (r := _rejection(c, judges)) is not None]
            for chosen in good:
                for rejected, (who, why) in bad:
                    key = (prompt, chosen.text, rejected.text)
                    if chosen.text == rejected.text or key in seen:
                        continue
                    seen.add(key)
                    yield {
                        "prompt": prompt,
                        "chosen": chosen.text,
                        "rejected": rejected.text,
                        "run_id": run_id,
                        "chosen_node": chosen.id,
                        "rejected_node": rejected.id,
                        "chosen_status": str(chosen.status),
                        "rejected_by": who,
                        "reason": why,
                    }
    elif format == "prm":
        for node in nodes:
            if node.parent_id is None:
                continue
            label = 1 if node.id in on_solved else (0 if _rejection(node, judges) else None)
            if label is None:
                continue
            yield {
                "prompt": _prompt(run.problem, path(node)[:-1]),
                "step": node.text,
                "label": label,
                "run_id": run_id,
                "node": node.id,
                "why": "on a solved path" if label else node.status_reason,
            }
    else:
        for node in solved:
            steps = path(node)[1:]
            yield {
                "prompt": run.problem,
                "completion": "\n".join(n.text for n in steps),
                "answer": node.state.get("answer"),
                "run_id": run_id,
                "node": node.id,
                "checked_by": node.status_reason,
            }


def training_jsonl(
    session: Session, run_id: int, format: str, judges: set[str] | None = None
) -> str:
    lines = training_lines(session, run_id, format, judges)
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
