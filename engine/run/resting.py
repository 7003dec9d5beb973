"""How a run comes to rest, and what it may then claim.

Whatever ends or pauses a run — the strategy's finish, a budget, a person's pause
or stop, an error — the same three things happen before its status changes:

1. Every candidate that free judges (verifiers: no model call) can settle is
   settled, so no candidate is left unchecked for want of model-call budget.
2. A run that ends (`done`, `stopped`) leaves no `open` node: what the search did
   not expand becomes `unexplored`, with the reason. (Resuming a stopped run opens
   them again: see engine/steering/control.py.)
3. The answer is only ever a candidate that passed its checks: a solved node, or a
   finished path every gate of the active set let through. With no gate in the set,
   the best-scored finished path, said to be judged by models only. With none, no
   answer, and the reason says so.

It does not decide what the search does next — strategies do — with one
exception that keeps a rested-and-resumed run equal to an uninterrupted one:
`partly_judged` holds back a strategy's finish while a group that a rest judged
with the free judges only still waits for its model judges.
"""

from __future__ import annotations

import logging

from sqlmodel import Session, col, select

from treelight.engine.run.judging import evaluate
from treelight.engine.run.state import RunState
from treelight.engine.strategies.base import rank_key
from treelight.engine.types import Evaluate, NodeView, TreeView
from treelight.storage import queries
from treelight.storage.database import unit_of_work
from treelight.storage.models import Node, Run
from treelight.storage.vocabulary import EventKind, NodeStatus, RunRequest, RunStatus

log = logging.getLogger(__name__)

JUDGEABLE = (NodeStatus.OPEN, NodeStatus.TERMINAL)


def unsettled_by_free_judges(runner: RunState, tree: TreeView) -> list[list[int]]:
    """Sibling groups of candidates some free judge of the active set has not judged."""
    keys = {judge.key() for judge in runner.judges if judge.free}
    if not keys:
        return []
    groups: dict[int, list[int]] = {}
    for node in tree.nodes.values():
        if node.parent_id is not None and node.status in JUDGEABLE and not keys <= node.verdicts:
            groups.setdefault(node.parent_id, []).append(node.id)
    return [sorted(ids) for _, ids in sorted(groups.items())]


def verify_with_free_judges(runner: RunState) -> int:
    """Settle what the free judges can; returns how many candidates they judged."""
    free = [judge for judge in runner.judges if judge.free]
    tree = runner.load()
    judged = 0
    for group in unsettled_by_free_judges(runner, tree):
        evaluate(runner, tree, group, judges=free, kind=EventKind.VERIFY)
        judged += len(group)
        tree = runner.load()
    return judged


def partly_judged(runner: RunState, tree: TreeView) -> Evaluate | None:
    """A sibling group the free judges settled at a rest but the model judges have not
    seen yet: judged before the strategy may finish, as an uninterrupted run would."""
    if not runner.judges:
        return None
    waiting = [
        n
        for n in tree.main()
        if n.parent_id is not None
        and not n.evaluated
        and (n.status in JUDGEABLE or (n.status == NodeStatus.SOLVED and n.verdicts))
    ]
    if not waiting:
        return None
    parent = min(waiting, key=lambda n: n.id).parent_id
    return Evaluate(tuple(n.id for n in waiting if n.parent_id == parent))


def rest(
    runner: RunState,
    status: RunStatus,
    reason: str,
    event: EventKind,
    chosen: int | None = None,
    actor: str = "engine",
    count_action: bool = False,
    request: RunRequest = RunRequest.NONE,
) -> Run:
    """Verify, close the frontier (for an end), choose an honest answer, then set
    `status`. `chosen` is the node the strategy picked as its answer, if any;
    `request` the person's pause or stop this applies (withdrawn by a resume
    meanwhile: nothing changes)."""
    try:
        verify_with_free_judges(runner)
    except Exception:  # never let a failing check hide why the run rests
        log.exception("run #%s: checking candidates before resting failed", runner.run_id)
    ends = status in (RunStatus.DONE, RunStatus.STOPPED)
    with unit_of_work(runner.engine, runner.run_id) as session:
        # The run's lock is held from here: no person's prune or restore can land
        # between the look at the tree and the answer and statuses written from it.
        run = session.get(Run, runner.run_id)
        assert run is not None
        if request and run.requested != request:  # resumed while the checks ran
            return run
        tree = runner.load()
        answer: NodeView | None = None
        note = ""
        if ends:
            answer, note = choose_answer(runner, tree, chosen)
        if ends:
            _close_frontier(runner, session, reason)
            run.answer = None if answer is None else answer.state.get("answer")
            run.answer_node_id = None if answer is None else answer.id
        run.status = status
        run.status_reason = f"{reason}; {note}" if note else reason
        run.requested = RunRequest.NONE
        run.elapsed_seconds = runner.elapsed()
        details = {"answer": run.answer} if ends else {}
        queries.add_event(
            session,
            runner.run_id,
            event,
            run.status_reason,
            node_id=run.answer_node_id,
            actor=actor,
            details=details,
        )
        if count_action:
            runner.count_action(session)
    return runner.reload()


def _close_frontier(runner: RunState, session: Session, reason: str) -> None:
    """Open nodes become `unexplored`: the run will not expand them."""
    query = select(Node).where(Node.run_id == runner.run_id, col(Node.status) == NodeStatus.OPEN)
    still_open = list(session.exec(query))
    if not still_open:
        return
    open_ids = [n.id for n in still_open]
    why = f"the run ended before expanding it: {reason}"
    for node in still_open:
        node.status, node.status_reason = NodeStatus.UNEXPLORED, why
    queries.add_event(
        session,
        runner.run_id,
        EventKind.UNEXPLORED,
        f"{len(open_ids)} open nodes left unexpanded",
        details={"nodes": open_ids},
    )


def choose_answer(
    runner: RunState, tree: TreeView, chosen: int | None
) -> tuple[NodeView | None, str]:
    """The node to report and a note on how far it was checked."""
    gates = {judge.key() for judge in runner.judges if judge.role == "gate"}
    finished = [n for n in tree.main() if n.status in (NodeStatus.SOLVED, NodeStatus.TERMINAL)]
    solved = [n for n in finished if n.status == NodeStatus.SOLVED]
    terminal = [n for n in finished if n.status == NodeStatus.TERMINAL and not n.rejected]
    passed = [n for n in terminal if gates and gates <= n.verdicts]
    unchecked = [n for n in terminal if not gates]
    for pool, note in (
        (solved, ""),
        (passed, "the answer passed its checks but was not proven right"),
        (unchecked, _unchecked_note(runner, unchecked)),
    ):
        if pool:
            pick = next((n for n in pool if n.id == chosen), None)
            if pick is None and chosen is not None:
                pick = max(pool, key=rank_key)
                skipped = f"#{pick.id} is reported: it passed more checks than the pick #{chosen}"
                note = f"{skipped}; {note}" if note else skipped
            return pick or max(pool, key=rank_key), note
    leftover = [n for n in finished if n.status == NodeStatus.TERMINAL]
    if leftover:
        best = max(leftover, key=rank_key)
        return None, f"no answer passed its checks (the best one that did not: #{best.id})"
    return None, ""


def _unchecked_note(runner: RunState, pool: list[NodeView]) -> str:
    if not runner.judges:
        return "unverified: no judge checked the answer"
    if any(n.evaluated for n in pool):
        return "judged by models only, not verified"
    return "unverified: the judges did not get to it"


def reopen_unexplored(session: Session, run_id: int) -> int:
    """Resuming a stopped run: what it left unexplored is open again."""
    nodes = list(
        session.exec(
            select(Node).where(Node.run_id == run_id, col(Node.status) == NodeStatus.UNEXPLORED)
        )
    )
    for node in nodes:
        node.status, node.status_reason = NodeStatus.OPEN, ""
    if nodes:
        queries.add_event(
            session,
            run_id,
            EventKind.REOPEN,
            f"{len(nodes)} unexplored nodes open again",
            details={"nodes": [n.id for n in nodes]},
        )
    return len(nodes)
