"""Evaluation: judges give verdicts on a group of siblings, and gates decide.

Free judges (verifiers, no model call) speak first; model judges only see what
every gate let through; a verdict already stored for a judge of the active set
is never asked for again. A judge that needs a model asks through the context
here, which logs, caches and budgets the call like an expansion's.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row
from sqlmodel import Session

from treelight.engine.generators.base import embed_request
from treelight.engine.judges import Answer, Judge, Settlement, Verdict, settle
from treelight.engine.judges.base import Choices, Embedding
from treelight.engine.run.node_changes import pruning
from treelight.engine.run.state import RunState
from treelight.engine.types import NodeView, TreeView, judge_key
from treelight.storage import hot_path, queries
from treelight.storage.database import unit_of_work
from treelight.storage.models import utcnow
from treelight.storage.vocabulary import EventKind, NodeStatus, PrunedBy


def evaluate(
    runner: RunState,
    tree: TreeView,
    node_ids: list[int],
    decide: bool = True,
    judges: list[Judge] | None = None,
    kind: EventKind | None = None,
) -> dict[int, Settlement]:
    """Judge a group of siblings and write the verdicts. With `decide`, also
    prune what a gate rejects and mark checked answers solved.

    Free judges (no model call) speak first, and model judges only see the nodes
    every gate let through. A judge that has already judged a node in this judge
    set is not asked again: its stored verdict counts (a run that rested had its
    free verdicts written then). `judges` narrows the set (e.g. to the free ones)."""
    asked = runner.judges if judges is None else judges
    group = [tree.nodes[i] for i in node_ids]
    spoken: dict[int, dict[str, Verdict]] = {n.id: {} for n in group}
    if any(n.verdicts for n in group):
        with Session(runner.engine) as session:
            for ev in queries.group_evaluations(session, node_ids, runner.judge_set):
                verdict = Verdict(ev.score, ev.passed, ev.rationale, ev.model_call_ids)
                spoken[ev.node_id].setdefault(judge_key(ev.judge_config), verdict)
    context = _Context(runner, tree)
    fresh: list[tuple[int, Judge, Verdict]] = []
    for judge in sorted(asked, key=lambda j: not j.free):  # free first, else as given
        key = judge.key()
        todo = [
            n
            for n in group
            if key not in spoken[n.id] and (judge.free or not _rejected(runner, spoken[n.id]))
        ]
        if not todo:
            continue
        for view, verdict in zip(todo, judge.judge(todo, context), strict=True):
            spoken[view.id][key] = verdict
            fresh.append((view.id, judge, verdict))
    settlements: dict[int, Settlement] = {}
    with unit_of_work(runner.engine, runner.run_id) as session:
        connection = session.connection()
        stored = hot_path.node_rows_by_id(connection, node_ids)
        changes: dict[int, dict[str, Any]] = {}
        hot_path.insert_evaluations(
            connection,
            [_evaluation(runner, node_id, judge, verdict) for node_id, judge, verdict in fresh],
        )
        for node_id, judge, verdict in fresh:
            _remember(runner, judge, tree.nodes[node_id], verdict)
        for view in group:
            said = [
                (j, spoken[view.id][j.key()]) for j in runner.judges if j.key() in spoken[view.id]
            ]
            settlement = settlements[view.id] = settle([j for j, _ in said], [v for _, v in said])
            complete = len(said) == len(runner.judges) or settlement.rejected_by is not None
            if decide and (
                change := _decide(runner, session, stored[view.id], settlement, complete)
            ):
                changes[view.id] = change
        hot_path.update_nodes(connection, runner.run_id, changes)
        queries.add_event(
            session,
            runner.run_id,
            kind or (EventKind.EVALUATE if decide else EventKind.RESCORE),
            f"{len(group)} nodes by {', '.join(j.name for j in asked)}",
            node_id=group[0].parent_id,
            details={"nodes": node_ids},
        )
        runner.count_action(session)
    return settlements


def _rejected(runner: RunState, verdicts: dict[str, Verdict]) -> bool:
    """Has a gate of the active set already rejected this node?"""
    return any(
        judge.role == "gate" and verdicts.get(judge.key(), _NO_VERDICT).passed is False
        for judge in runner.judges
    )


def _evaluation(runner: RunState, node_id: int, judge: Judge, verdict: Verdict) -> dict[str, Any]:
    """An Evaluation row's values (written with Core: storage/hot_path.py)."""
    return {
        "run_id": runner.run_id,
        "node_id": node_id,
        "judge": judge.name,
        "judge_config": judge.config(),
        "judge_set": runner.judge_set,
        "role": judge.role,
        "score": verdict.score,
        "passed": verdict.passed,
        "rationale": verdict.rationale,
        "model_call_ids": list(verdict.model_call_ids),
        "created_at": utcnow(),
    }


def _decide(
    runner: RunState,
    session: Session,
    node: Row[Any],
    settlement: Settlement,
    complete: bool = True,
) -> dict[str, Any]:
    """What the verdicts change on a node (its columns, written by the caller)."""
    change: dict[str, Any] = {}
    if complete and node.score != settlement.score:  # a partial score would rank it wrongly
        change["score"] = settlement.score
    if node.status not in (NodeStatus.OPEN, NodeStatus.TERMINAL):
        return change  # a person decided it meanwhile: keep the verdicts, not a decision
    if settlement.rejected_by:
        reason, by = settlement.rejected_by, PrunedBy.JUDGE
        change |= pruning(session, runner.run_id, node.id, node.status, reason, by)
    elif node.status == NodeStatus.TERMINAL:
        check = runner.task.check_answer(node.state.get("answer", ""))
        if check is not None and check.passed:
            change |= {"status": NodeStatus.SOLVED, "status_reason": check.reason}
        elif settlement.solved_by:
            change |= {"status": NodeStatus.SOLVED, "status_reason": settlement.solved_by}
    return change


def earlier_verdict(runner: RunState, judge: Judge, node: NodeView) -> tuple[Verdict, int] | None:
    key = runner.task.state_key(node.state)
    if key is None:
        return None
    return _memo(runner).get((judge_key(judge.config()), key))


def _remember(runner: RunState, judge: Judge, node: NodeView, verdict: Verdict) -> None:
    key = runner.task.state_key(node.state)
    if key is not None and verdict.passed is None:
        _memo(runner).setdefault((judge_key(judge.config()), key), (verdict, node.id))


def _memo(runner: RunState) -> dict[tuple[str, str], tuple[Verdict, int]]:
    if runner.verdict_memo is None:
        memo: dict[tuple[str, str], tuple[Verdict, int]] = {}
        with Session(runner.engine) as session:
            nodes = {n.id: n for n in queries.run_nodes(session, runner.run_id)}
            for ev in queries.run_evaluations(session, runner.run_id):
                key = runner.task.state_key(nodes[ev.node_id].state)
                if key is not None and ev.passed is None:
                    verdict = Verdict(ev.score, ev.passed, ev.rationale, ev.model_call_ids)
                    memo.setdefault((judge_key(ev.judge_config), key), (verdict, ev.node_id))
        runner.verdict_memo = memo
    return runner.verdict_memo


_NO_VERDICT = Verdict(None, None, "")


class _Context:
    """What a judge may use: the task, the tree, and model calls through the runner."""

    def __init__(self, runner: RunState, tree: TreeView) -> None:
        self.runner = runner
        self.task = runner.task
        self.tree = tree

    def ask(
        self,
        node: NodeView,
        prompt: str,
        samples: int,
        purpose: str,
        max_tokens: int,
        json_schema: dict[str, Any] | None = None,
        grammar: str | None = None,
    ) -> list[Answer]:
        constrained = self.runner.run.generator.get("constrain", "auto") != "off"
        if not (constrained and self.runner.generator.supports_grammar):
            grammar = None
        requests = [
            self.runner.request(
                prompt,
                node.key,
                purpose,
                i,
                max_tokens,
                json_schema=json_schema if constrained else None,
                grammar=grammar,
            )
            for i in range(samples)
        ]
        calls = self.runner.calls.call(self.runner.generator, node.id, requests, purpose)
        return [Answer(call.output, call.id or 0) for call in calls]

    def ask_choices(
        self, node: NodeView, prompt: str, purpose: str, words: tuple[str, ...]
    ) -> Choices | None:
        if not self.runner.generator.supports_choices:
            return None
        request = self.runner.request(prompt, node.key, purpose, 0, 1, choices=words)
        [call] = self.runner.calls.call(self.runner.generator, node.id, [request], purpose)
        extra = call.extra or {}
        if "choices" not in extra:  # the server gave no probabilities: the judge samples
            return None
        return Choices(
            dict(extra.get("choices", {})), float(extra.get("choice_mass", 0.0)), call.id or 0
        )

    def embed(self, node: NodeView, texts: list[str]) -> list[Embedding] | None:
        if not self.runner.generator.supports_embedding:
            return None
        requests = [embed_request(text) for text in texts]
        calls = self.runner.calls.call(self.runner.generator, node.id, requests, "embed")
        return [Embedding(list((c.extra or {})["embedding"]), c.id or 0) for c in calls]

    def earlier_verdict(self, judge: Judge, node: NodeView) -> tuple[Verdict, int] | None:
        return earlier_verdict(self.runner, judge, node)
