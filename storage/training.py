"""Trees as training data: a run's candidates, including the dead ends and why they
died, as JSONL lines in the shapes common trainers read.

How each label is derived (docs/TRAINING_DATA.md says the same, with examples):

- A person's label (good or bad, storage/queries.py: run_labels) on a node
  comes first: where a person said, that is the label, whatever the judges or
  the rules said. Labels always count, whatever `judges` says.
- `preference`: for every parent, each pair (chosen, rejected) of its children.
  Chosen: labelled good, or unlabelled and survived — solved, a finished path
  that passed its checks (terminal), or expanded. Rejected: labelled bad
  (`rejected_by` is the person, `reason` their note), or unlabelled and pruned
  by a judge or found invalid by the task's rules (`rejected_by` names the
  judge, or "rules"; `reason` is the recorded reason). `chosen_by` is the
  person or "search". Pairs are deduplicated on (prompt, chosen text, rejected
  text). Beam cut-offs, duplicates and a person's prunes are not rejections of
  the thought itself, so they make no pair.
- `prm` (process supervision): every step of the main search with a label:
  the person's (good 1, bad 0) where there is one; else 1 when it lies on a
  solved path, 0 when a judge rejected it or the rules found it invalid; left
  out otherwise (unknown is not a label). `label_source` says whose label it is:
  the person, or the checker or judge's name ("rules" for the task's own).
- `sft`: the solved paths and the finished paths whose last step a person
  labelled good, prompt = the problem, completion = the steps in order; a path
  with a step a person labelled bad is left out.

`judges` restricts which judges' rejections count (None: all). Model text and
a person's notes are data here: written as JSON strings, never interpreted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sqlmodel import Session

from treelight.storage import queries
from treelight.storage.models import Node
from treelight.storage.queries import Label
from treelight.storage.vocabulary import LabelVerdict, NodeStatus, PrunedBy

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


def _chosen_by(node: Node, labels: dict[int, Label]) -> str | None:
    """Who holds this thought good: the person who labelled it so, else the search when
    it survived; None when neither (or a person labelled it bad)."""
    label = labels.get(node.id or 0)
    if label is not None:
        return label.actor if label.verdict == LabelVerdict.GOOD else None
    return "search" if node.status in SURVIVED else None


def _rejected_by(
    node: Node, labels: dict[int, Label], judges: set[str] | None
) -> tuple[str, str] | None:
    """(who, why) when the thought was rejected: by a person's bad label (why: the
    note), else by a judge or the rules; None when a person labelled it good."""
    label = labels.get(node.id or 0)
    if label is not None:
        if label.verdict == LabelVerdict.GOOD:
            return None
        return label.actor, label.note or f"labelled bad by {label.actor}"
    return _rejection(node, judges)


def _checker(solved: Node, judge_names: set[str]) -> str:
    """Who proved a solved node right: a judge that names itself in the reason
    ("code-tests: 4 of 4 tests passed"), else the task's own answer check."""
    who = solved.status_reason.split(":", 1)[0].strip()
    return who if who in judge_names else "rules"


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

    labels = queries.run_labels(session, run_id)
    judge_names = {j["name"] for j in run.judges}
    solved = [n for n in nodes if n.status == NodeStatus.SOLVED]
    solved_by: dict[int | None, str] = {}  # step -> the checker of a solved path through it
    for leaf in solved:
        for step in path(leaf):
            solved_by.setdefault(step.id, _checker(leaf, judge_names))
    if format == "preference":
        seen: set[tuple[str, str, str]] = set()
        for parent_id, children in kids.items():
            prompt = _prompt(run.problem, path(by_id[parent_id]))
            good = [(c, by) for c in children if (by := _chosen_by(c, labels)) is not None]
            bad = [(c, r) for c in children if (r := _rejected_by(c, labels, judges)) is not None]
            for chosen, chosen_by in good:
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
                        "chosen_by": chosen_by,
                        "rejected_by": who,
                        "reason": why,
                    }
    elif format == "prm":
        for node in nodes:
            if node.parent_id is None:
                continue
            label = labels.get(node.id or 0)
            rejection = _rejection(node, judges)
            if label is not None:
                value = 1 if label.verdict == LabelVerdict.GOOD else 0
                source = label.actor
                why = label.note or f"labelled {label.verdict} by {label.actor}"
            elif node.id in solved_by:
                value, source, why = 1, solved_by[node.id], "on a solved path"
            elif rejection is not None:
                value, source, why = 0, *rejection
            else:
                continue
            yield {
                "prompt": _prompt(run.problem, path(node)[:-1]),
                "step": node.text,
                "label": value,
                "label_source": source,
                "run_id": run_id,
                "node": node.id,
                "why": why,
            }
    else:
        bad_steps = {i for i, label in labels.items() if label.verdict == LabelVerdict.BAD}
        # A finished path (its last step holds an answer) a person labelled good.
        approved = {
            n.id: label
            for n in nodes
            if (label := labels.get(n.id or 0)) is not None
            and label.verdict == LabelVerdict.GOOD
            and n.state.get("answer") is not None
        }
        leaves = {n.id: n for n in solved} | {i: by_id[i] for i in approved}
        for node_id, node in sorted(leaves.items(), key=lambda item: item[0] or 0):
            steps = path(node)[1:]
            if any(step.id in bad_steps for step in steps):
                continue  # a person said a step of it is wrong
            label = approved.get(node_id)
            yield {
                "prompt": run.problem,
                "completion": "\n".join(n.text for n in steps),
                "answer": node.state.get("answer"),
                "run_id": run_id,
                "node": node_id,
                "checked_by": node.status_reason
                if node.status == NodeStatus.SOLVED or label is None
                else f"labelled good by {label.actor}",
                "label_source": label.actor if label else solved_by[node_id],
            }


def training_jsonl(
    session: Session, run_id: int, format: str, judges: set[str] | None = None
) -> str:
    lines = training_lines(session, run_id, format, judges)
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)


# Why a run gives no lines in a format: said on stderr, so an empty file is explained.
EMPTY_BECAUSE = {
    "preference": "no step where one candidate survived (or was labelled good) and a "
    "sibling was rejected by a judge, the rules or a person: no preference pairs",
    "prm": "no step on a solved path and no rejected step: no prm labels",
    "sft": "no solved path and no finished path a person labelled good: no sft examples",
}
