"""The runner: one action at a time, every result written before the next.

Each action reads the tree, asks the strategy what to do, does it, and commits.
Model calls are committed one by one as they return (engine/model_calls.py),
and the nodes or verdicts an action makes are committed together, so a crash
leaves either all of them or none. A resumed run re-reads the tree and carries
on; calls an interrupted action had already made are served again from
storage, so nothing is paid twice and the search stays deterministic.

Between actions the runner also serves a person's queued commands (re-run a
branch, re-score the tree): see engine/command_runner.py.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from treelight.engine.errors import (
    BadArguments,
    BudgetExhausted,
    RunBusy,
    RunNotFound,
    TreelightError,
)
from treelight.engine.generators import CompletionRequest, Generator, make_generator
from treelight.engine.judges import Answer, Judge, Settlement, Verdict, make_judges, settle
from treelight.engine.model_calls import ModelCaller, derive_seed
from treelight.engine.plugins import BUILTIN, MissingPlugin, registry
from treelight.engine.strategies import Strategy, make_strategy
from treelight.engine.tasks import make_task
from treelight.engine.tasks.base import WHOLE_ANSWER_MODES, Task, Transition
from treelight.engine.tree import TreeCache
from treelight.engine.types import (
    Action,
    Backup,
    Critique,
    Evaluate,
    Expand,
    Finish,
    NodeView,
    Prune,
    TreeView,
    judge_key,
)
from treelight.storage import queries
from treelight.storage.database import unit_of_work
from treelight.storage.models import Command, Evaluation, ModelCall, Node, Run, RunScript, utcnow

log = logging.getLogger(__name__)

LEASE_SECONDS = 60.0
MAX_NODE_TEXT = 4_000


def clip(text: str, call_id: int | None) -> str:
    """Node text is capped; the full output always stays in the model call."""
    if len(text) <= MAX_NODE_TEXT:
        return text
    where = f"model call #{call_id}" if call_id else "the model call"
    return f"{text[:MAX_NODE_TEXT]}… [truncated: {len(text):,} characters in all; see {where}]"


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Outcome:
    run: Run
    error: TreelightError | None = None


Progress = Any  # Callable[[Run], None]


class Runner:
    """Runs one search. Builds its roles from the run row unless given a generator."""

    def __init__(
        self,
        engine: Engine,
        run_id: int,
        generator: Generator | None = None,
        progress: Progress | None = None,
        owner: str | None = None,
    ) -> None:
        self.engine = engine
        self.run_id = run_id
        self.owner = owner or new_owner()
        self.progress = progress
        with Session(engine) as session:
            run = queries.get_run(session, run_id)
        if run is None:
            raise RunNotFound(f"No run #{run_id}: `treelight runs` lists the runs there are.")
        self.run = run
        try:
            self.task, self.strategy, self.judges = rebuild_roles(run)
        except MissingPlugin as missing:  # pause it, saying what to install
            from treelight.engine import commands

            if run.status in ("queued", "running"):
                commands.pause(engine, run_id, str(missing), actor="engine")
            raise
        self.judge_set = run.judge_set
        # Built when first needed: a runner that only brings a run to rest (a stop
        # asked for while it was paused) loads no model.
        self._generator = generator
        self.calls = ModelCaller(engine, run_id, self.elapsed, self._heartbeat)
        self._verdict_memo: dict[tuple[str, str], tuple[Verdict, int]] | None = None
        self._tree = TreeCache(engine, run_id)
        self._renewed = time.monotonic()
        self._clock_start = time.monotonic()
        self._elapsed_base = run.elapsed_seconds

    @property
    def generator(self) -> Generator:
        if self._generator is None:
            spec = self._generator_spec(self.run)
            provider = (self.run.plugins or {}).get(f"generator:{spec.get('backend')}")
            self._generator = make_generator(spec, provider)
        return self._generator

    def _generator_spec(self, run: Run) -> dict[str, Any]:
        spec = dict(run.generator)
        if spec.get("backend") == "scripted" and "outputs" not in spec:
            with Session(self.engine) as session:
                spec["outputs"] = queries.run_script(session, self.run_id) or []
        return spec

    # --- the loop ---------------------------------------------------------------------

    def run_until_idle(self) -> Outcome:
        """Work until the run is done, paused or stopped and no command is pending."""
        if not queries.claim_run(self.engine, self.run_id, self.owner, LEASE_SECONDS):
            raise RunBusy(
                f"Run #{self.run_id} is being worked on by another process "
                f"({self.run.lease_owner}); wait for it, or stop that process first."
            )
        self._clock_start = time.monotonic()
        try:
            while True:
                requested = self.ledger().requested
                command = None if requested else self._next_command()
                if requested:
                    return Outcome(self._apply_request(requested))
                if command is not None:
                    from treelight.engine.command_runner import serve

                    serve(self, command)
                elif self._should_act():
                    self.step()
                else:
                    return Outcome(self.reload())
        except BudgetExhausted as exhausted:
            return Outcome(self._stop_on_budget(str(exhausted)))
        except TreelightError as error:
            return Outcome(self._pause(str(error)), error)
        except Exception as error:  # a bug: keep the tree, pause, and say so
            log.exception("run #%s paused by an internal error", self.run_id)
            message = f"internal error: {type(error).__name__}: {error}"
            return Outcome(self._pause(message), TreelightError(message))
        finally:
            queries.release_run(self.engine, self.run_id, self.owner)

    def _next_command(self) -> Command | None:
        with Session(self.engine) as session:
            pending = queries.pending_commands(session, self.run_id)
        return pending[0] if pending else None

    def ledger(self) -> queries.RunLedger:
        with Session(self.engine) as session:
            return queries.run_ledger(session, self.run_id)

    def _apply_request(self, requested: str) -> Run:
        """A person's pause or stop, applied between two actions."""
        from treelight.engine import resting

        status, reason = {
            "stop": ("stopped", "stopped by a person"),
            "pause": ("paused", "paused by a person"),
        }[requested]
        return resting.rest(self, status, reason, status, actor="person", request=requested)

    def _should_act(self) -> bool:
        run = self.ledger()
        if run.status == "queued":
            self._set_status("running", "", "start")
            return True
        if run.status == "paused" and run.steps_requested > 0:
            with unit_of_work(self.engine, self.run_id) as session:
                fresh = session.get(Run, self.run_id)
                assert fresh is not None
                fresh.steps_requested = max(0, fresh.steps_requested - 1)
            return True
        return run.status == "running"

    def load(self) -> TreeView:
        if self.ledger().judge_set != self.judge_set:  # a person swapped the judges
            run = self.reload()
            self.judge_set, self.judges = run.judge_set, make_judges(run.judges)
            self._verdict_memo = None
        return self._tree.refresh(self.judge_set, frozenset(j.key() for j in self.judges))

    def step(self) -> Action:
        """Decide and perform one action."""
        from treelight.engine.resting import partly_judged

        tree = self.load()
        self._check_time_budget()
        action: Action = self.strategy.next_action(tree)
        if isinstance(action, Finish):  # not before what a rest left half-judged is judged
            action = partly_judged(self, tree) or action
        if isinstance(action, Expand):
            self._expand(tree, action)
        elif isinstance(action, Evaluate):
            self.evaluate(tree, list(action.node_ids))
        elif isinstance(action, Prune):
            self._prune(action)
        elif isinstance(action, Backup):
            self._backup(tree, action)
        elif isinstance(action, Critique):
            self._critique(action)
        else:
            self._finish(action)
        if self.progress:
            self.progress(self.ledger())
        return action

    # --- actions ----------------------------------------------------------------------

    def _expand(self, tree: TreeView, action: Expand) -> None:
        node = tree.nodes[action.node_id]
        # A loop rule's expansion is a new sample, not a repeat of the first expansion
        # of the node: its own purpose gives its calls their own seeds.
        purpose = "expand" if action.origin == "model" else action.origin
        try:
            outputs = self.propose(tree, node, action.samples, action.mode, purpose)
        except BudgetExhausted as exhausted:
            if exhausted.made:  # the calls that fit were paid for: keep what they say
                self.write_children(
                    node,
                    exhausted.made,
                    action.mode,
                    kind="expand",
                    origin=action.origin,
                    note=f"{len(exhausted.made)} of {action.samples} samples: the budget ran out",
                )
            raise
        self.write_children(
            node, outputs, action.mode, kind="expand", note=action.note, origin=action.origin
        )

    def _backup(self, tree: TreeView, action: Backup) -> None:
        """Add each leaf's reward to every node on its path (visits + 1, value + reward)."""
        with unit_of_work(self.engine, self.run_id) as session:
            touched = {n.id for leaf in action.rewards for n in tree.path(leaf)}
            stored = queries.nodes_by_id(session, list(touched))
            for leaf, reward in action.rewards.items():
                for view in tree.path(leaf):
                    node = stored[view.id]
                    node.visits += 1
                    node.value += reward
            queries.add_event(
                session,
                self.run_id,
                "backup",
                ", ".join(f"#{leaf}: {r:.2f}" for leaf, r in action.rewards.items()),
                node_id=tree.nodes[next(iter(action.rewards))].parent_id,
                details={"rewards": {str(k): v for k, v in action.rewards.items()}},
            )
            self.count_action(session)

    def _critique(self, action: Critique) -> None:
        """A critique node written from the verifiers' feedback: no model call."""
        with unit_of_work(self.engine, self.run_id) as session:
            parent = session.get(Node, action.node_id)
            assert parent is not None
            index = queries.child_count(session, action.node_id)
            text = action.text[:MAX_NODE_TEXT]
            node = Node(
                run_id=self.run_id,
                key=f"{parent.key}/{index}",
                parent_id=parent.id,
                depth=parent.depth + 1,
                text=text,
                status="critique",
                origin="judge",
                branch=parent.branch,
            )
            session.add(node)
            session.flush()
            queries.add_event(
                session,
                self.run_id,
                "critique",
                "from the verifiers' feedback",
                node_id=node.id,
            )
            self.count_action(session)

    def propose(
        self,
        tree: TreeView,
        node: NodeView,
        samples: int,
        mode: str,
        purpose: str,
        *,
        generator: Generator | None = None,
        extra_priors: tuple[str, ...] = (),
        seed: int | None = None,
        temperature: float | None = None,
    ) -> list[ModelCall]:
        """Ask the generator for `samples` outputs continuing `node`."""
        priors = [*tree.priors_on_path(node.id), *extra_priors]
        feedback = self.feedback(node.id) if mode in ("critique", "mutate") else ""
        prompt, max_tokens = self.task.prompt(mode, tree.path(node.id), priors, feedback)
        requests = [
            self.request(prompt, node.key, purpose, i, max_tokens, seed, temperature)
            for i in range(samples)
        ]
        return self.calls.call(generator or self.generator, node.id, requests, purpose)

    def write_children(
        self,
        node: NodeView,
        calls: list[ModelCall],
        mode: str,
        *,
        kind: str,
        note: str = "",
        branch: str | None = None,
        origin: str = "model",
    ) -> list[int]:
        """Turn model outputs into child nodes of `node`, all in one transaction."""
        skipped = 0
        made_ids: list[int] = []
        with unit_of_work(self.engine, self.run_id) as session:
            parent = session.get(Node, node.id)
            assert parent is not None
            index = queries.child_count(session, node.id)
            room = self._node_room()
            invalid = 0
            children: list[Node] = []
            pruned_at_birth: list[tuple[Node, str, str]] = []  # (node, born as, by whom)
            seen = self._sibling_states(session, parent, branch or parent.branch)
            for call in calls:
                for text, transition in self._candidates(call.output, node, mode):
                    if room is not None and len(children) >= room:
                        skipped += 1
                        continue
                    child = self._child(parent, index, call, text, transition)
                    child.branch, child.origin = branch or parent.branch, origin
                    born, by = child.status, "duplicate"
                    if parent.status == "pruned" and branch is None:
                        child.status, by = "pruned", "parent pruned"
                        child.status_reason = (
                            f"its parent #{parent.id} was pruned while it was being expanded"
                        )
                    self._mark_duplicate(session, child, seen)
                    session.add(child)
                    children.append(child)
                    if child.status != born:
                        pruned_at_birth.append((child, born, by))
                    index += 1
                    invalid += child.status == "invalid"
            if parent.status == "open" and branch is None:
                parent.status = "expanded"
            details: dict[str, Any] = {
                "candidates": len(children),
                "invalid": invalid,
                "model_calls": [c.id for c in calls],
                "mode": mode,
            }
            if branch:
                details["branch"] = branch
            if skipped:
                details["not_added"] = skipped
            reason = note or f"{len(children)} candidates, {invalid} invalid"
            queries.add_event(session, self.run_id, kind, reason, node_id=node.id, details=details)
            if note.startswith("backtrack"):
                queries.add_event(session, self.run_id, "backtrack", note, node_id=node.id)
            session.flush()
            for child, born, by in pruned_at_birth:
                # Logged like any prune, so a person can restore it to what it was.
                queries.add_event(
                    session,
                    self.run_id,
                    "prune",
                    child.status_reason,
                    node_id=child.id,
                    details={"by": by, "previous": born},
                )
            self.count_action(session)
            made_ids = [c.id or 0 for c in children]
        if skipped:
            limit = self.run.budget.get("max_nodes")
            raise BudgetExhausted(
                f"node budget: {limit} nodes reached; {skipped} more candidates were not added "
                "(their text is kept in the model calls)"
            )
        return made_ids

    def _sibling_states(self, session: Session, parent: Node, branch: str) -> dict[str, Node]:
        siblings = queries.children(session, parent.id or 0)
        return {
            key: sibling
            for sibling in reversed(siblings)
            if sibling.branch == branch
            and sibling.status != "invalid"
            and (key := self.task.state_key(sibling.state)) is not None
        }

    def _mark_duplicate(self, session: Session, child: Node, seen: dict[str, Node]) -> None:
        """A sibling that reaches a state an earlier sibling reached is kept, but
        pruned at once: expanding it again would only repeat that sibling's work."""
        if child.status not in ("open", "terminal"):
            return
        key = self.task.state_key(child.state)
        if key is None:
            return
        original = seen.get(key)
        if original is None:
            seen[key] = child
            return
        if original.id is None:
            session.flush()
        child.status = "pruned"
        child.status_reason = f"duplicate of #{original.id}: the same state"

    def feedback(self, node_id: int) -> str:
        """What the active judges (and the rules) said about a node, in one paragraph:
        the material for a critique or a mutation."""
        with Session(self.engine) as session:
            node = session.get(Node, node_id)
            verdicts = queries.node_evaluations(session, node_id, self.judge_set)
        parts = [node.status_reason] if node is not None and node.status_reason else []
        for verdict in verdicts:
            score = "" if verdict.score is None else f" (score {verdict.score:.2f})"
            parts.append(f"{verdict.judge}: {verdict.rationale}{score}")
        return "; ".join(parts)

    def _candidates(self, output: str, node: NodeView, mode: str) -> list[tuple[str, Transition]]:
        if mode == "critique":
            return [(output.strip() or output, self.task.parse_critique(output))]
        state = node.state
        if mode in WHOLE_ANSWER_MODES:  # a whole answer, from the problem's own state
            state, mode = self._tree.tree.root.state, "solution"
        texts = self.task.parse_candidates(output, mode)
        if not texts:
            why = (
                "the model returned an empty output"
                if not output.strip()
                else "no candidate could be read from the model output"
            )
            return [(output, Transition(invalid=f"{self.task.name} rules: {why}"))]
        return [(text, self.task.apply(state, text, mode)) for text in texts]

    def _child(
        self, parent: Node, index: int, call: ModelCall, text: str, transition: Transition
    ) -> Node:
        state = dict(transition.state)
        if transition.answer is not None:
            state["answer"] = transition.answer
        if transition.invalid:
            status, reason = "invalid", transition.invalid
        elif transition.status:
            status, reason = transition.status, ""
        else:
            status, reason = ("terminal" if transition.terminal else "open"), ""
        return Node(
            run_id=self.run_id,
            key=f"{parent.key}/{index}",
            parent_id=parent.id,
            depth=parent.depth + 1,
            text=clip(text, call.id),
            state=state,
            status=status,
            status_reason=reason,
            model_call_id=call.id,
        )

    def evaluate(
        self,
        tree: TreeView,
        node_ids: list[int],
        decide: bool = True,
        judges: list[Judge] | None = None,
        kind: str | None = None,
    ) -> dict[int, Settlement]:
        """Judge a group of siblings and write the verdicts. With `decide`, also
        prune what a gate rejects and mark checked answers solved.

        Free judges (no model call) speak first, and model judges only see the nodes
        every gate let through. A judge that has already judged a node in this judge
        set is not asked again: its stored verdict counts (a run that rested had its
        free verdicts written then). `judges` narrows the set (e.g. to the free ones)."""
        asked = self.judges if judges is None else judges
        group = [tree.nodes[i] for i in node_ids]
        spoken: dict[int, dict[str, Verdict]] = {n.id: {} for n in group}
        if any(n.verdicts for n in group):
            with Session(self.engine) as session:
                for ev in queries.group_evaluations(session, node_ids, self.judge_set):
                    verdict = Verdict(ev.score, ev.passed, ev.rationale, ev.model_call_ids)
                    spoken[ev.node_id].setdefault(judge_key(ev.judge_config), verdict)
        context = _Context(self, tree)
        fresh: list[tuple[int, Judge, Verdict]] = []
        for judge in sorted(asked, key=lambda j: not j.free):  # free first, else as given
            key = judge.key()
            todo = [
                n
                for n in group
                if key not in spoken[n.id] and (judge.free or not self._rejected(spoken[n.id]))
            ]
            if not todo:
                continue
            for view, verdict in zip(todo, judge.judge(todo, context), strict=True):
                spoken[view.id][key] = verdict
                fresh.append((view.id, judge, verdict))
        settlements: dict[int, Settlement] = {}
        with unit_of_work(self.engine, self.run_id) as session:
            stored = queries.nodes_by_id(session, node_ids)
            for node_id, judge, verdict in fresh:
                session.add(self._evaluation(node_id, judge, verdict))
                self._remember(judge, tree.nodes[node_id], verdict)
            for view in group:
                said = [
                    (j, spoken[view.id][j.key()]) for j in self.judges if j.key() in spoken[view.id]
                ]
                settlement = settlements[view.id] = settle(
                    [j for j, _ in said], [v for _, v in said]
                )
                complete = len(said) == len(self.judges) or settlement.rejected_by is not None
                if decide:
                    self._decide(session, stored[view.id], settlement, complete)
            queries.add_event(
                session,
                self.run_id,
                kind or ("evaluate" if decide else "rescore"),
                f"{len(group)} nodes by {', '.join(j.name for j in asked)}",
                node_id=group[0].parent_id,
                details={"nodes": node_ids},
            )
            self.count_action(session)
        return settlements

    def _rejected(self, verdicts: dict[str, Verdict]) -> bool:
        """Has a gate of the active set already rejected this node?"""
        return any(
            judge.role == "gate" and verdicts.get(judge.key(), _NO_VERDICT).passed is False
            for judge in self.judges
        )

    def _evaluation(self, node_id: int, judge: Judge, verdict: Verdict) -> Evaluation:
        return Evaluation(
            run_id=self.run_id,
            node_id=node_id,
            judge=judge.name,
            judge_config=judge.config(),
            judge_set=self.judge_set,
            role=judge.role,
            score=verdict.score,
            passed=verdict.passed,
            rationale=verdict.rationale,
            model_call_ids=verdict.model_call_ids,
        )

    def _decide(
        self, session: Session, node: Node, settlement: Settlement, complete: bool = True
    ) -> None:
        if complete:  # a score from some of the judges would rank the node wrongly
            node.score = settlement.score
        if node.status not in ("open", "terminal"):
            return  # a person decided it meanwhile: keep the verdicts, not a decision
        if settlement.rejected_by:
            queries.add_event(
                session,
                self.run_id,
                "prune",
                settlement.rejected_by,
                node_id=node.id,
                details={"by": "judge", "previous": node.status},
            )
            node.status, node.status_reason = "pruned", settlement.rejected_by
        elif node.status == "terminal":
            check = self.task.check_answer(node.state.get("answer", ""))
            if check is not None and check.passed:
                node.status, node.status_reason = "solved", check.reason
            elif settlement.solved_by:
                node.status, node.status_reason = "solved", settlement.solved_by

    def _prune(self, action: Prune) -> None:
        with unit_of_work(self.engine, self.run_id) as session:
            stored = queries.nodes_by_id(session, list(action.reasons))
            for node_id, reason in action.reasons.items():
                node = stored.get(node_id)
                if node is None or node.status not in ("open", "terminal"):
                    continue
                why = reason if reason.startswith(action.kind) else f"{action.kind}: {reason}"
                queries.add_event(
                    session,
                    self.run_id,
                    "prune",
                    why,
                    node_id=node_id,
                    details={"by": action.kind, "previous": node.status},
                )
                node.status, node.status_reason = "pruned", why
            self.count_action(session)

    def _finish(self, action: Finish) -> None:
        from treelight.engine.resting import rest

        rest(self, "done", action.reason, "finish", chosen=action.node_id, count_action=True)

    # --- requests to the model --------------------------------------------------------

    def request(
        self,
        prompt: str,
        key: str,
        purpose: str,
        index: int,
        max_tokens: int,
        seed: int | None = None,
        temperature: float | None = None,
        json_schema: dict[str, Any] | None = None,
    ) -> CompletionRequest:
        spec = self.run.generator
        return CompletionRequest(
            prompt=prompt,
            seed=derive_seed(self.run.seed if seed is None else seed, key, purpose, index),
            temperature=float(spec.get("temperature", 0.7) if temperature is None else temperature),
            top_p=float(spec.get("top_p", 0.95)),
            max_tokens=int(spec.get("max_tokens", max_tokens)),
            stop=tuple(spec.get("stop", self.task.stop)),
            chat=bool(spec.get("chat", self.task.chat)),
            json_schema=json_schema if self.generator.supports_schema else None,
        )

    # --- judges' memory of equal states -----------------------------------------------

    def earlier_verdict(self, judge: Judge, node: NodeView) -> tuple[Verdict, int] | None:
        key = self.task.state_key(node.state)
        if key is None:
            return None
        return self._memo().get((judge_key(judge.config()), key))

    def _remember(self, judge: Judge, node: NodeView, verdict: Verdict) -> None:
        key = self.task.state_key(node.state)
        if key is not None and verdict.passed is None:
            self._memo().setdefault((judge_key(judge.config()), key), (verdict, node.id))

    def _memo(self) -> dict[tuple[str, str], tuple[Verdict, int]]:
        if self._verdict_memo is None:
            memo: dict[tuple[str, str], tuple[Verdict, int]] = {}
            with Session(self.engine) as session:
                nodes = {n.id: n for n in queries.run_nodes(session, self.run_id)}
                for ev in queries.run_evaluations(session, self.run_id):
                    key = self.task.state_key(nodes[ev.node_id].state)
                    if key is not None and ev.passed is None:
                        verdict = Verdict(ev.score, ev.passed, ev.rationale, ev.model_call_ids)
                        memo.setdefault((judge_key(ev.judge_config), key), (verdict, ev.node_id))
            self._verdict_memo = memo
        return self._verdict_memo

    # --- run bookkeeping --------------------------------------------------------------

    def reload(self) -> Run:
        with Session(self.engine) as session:
            run = queries.get_run(session, self.run_id)
        assert run is not None
        self.run = run
        return run

    def elapsed(self) -> float:
        return self._elapsed_base + (time.monotonic() - self._clock_start)

    def _heartbeat(self) -> None:
        """Renew the lease before a model call, at most every few seconds."""
        now = time.monotonic()
        if now - self._renewed > LEASE_SECONDS / 6:
            queries.renew_lease(self.engine, self.run_id, self.owner, LEASE_SECONDS)
            self._renewed = now

    def count_action(self, session: Session) -> None:
        session.execute(
            update(Run)
            .where(col(Run.id) == self.run_id)
            .values(
                actions=col(Run.actions) + 1, elapsed_seconds=self.elapsed(), updated_at=utcnow()
            )
        )

    def _node_room(self) -> int | None:
        limit = self.run.budget.get("max_nodes")
        if limit is None:
            return None
        # The tree was refreshed at the start of this action, and only the runner
        # that holds the lease adds nodes.
        return max(0, int(limit) - len(self._tree.tree.nodes))

    def _check_time_budget(self) -> None:
        limit = self.run.budget.get("max_seconds")
        if limit is not None and self.elapsed() >= float(limit):
            raise BudgetExhausted(f"time budget: {self.elapsed():.1f} s of {limit} s used")

    def _set_status(self, status: str, reason: str, event: str) -> Run:
        with unit_of_work(self.engine, self.run_id) as session:
            run = session.get(Run, self.run_id)
            assert run is not None
            run.status, run.status_reason = status, reason
            run.elapsed_seconds = self.elapsed()
            queries.add_event(session, self.run_id, event, reason)
        return self.reload()

    def _pause(self, reason: str) -> Run:
        from treelight.engine.resting import rest

        return rest(self, "paused", reason, "error")

    def _stop_on_budget(self, reason: str) -> Run:
        from treelight.engine.resting import rest

        best = self.strategy.best(self.load())
        return rest(self, "stopped", reason, "budget_stop", chosen=best.id if best else None)


_NO_VERDICT = Verdict(None, None, "")


class _Context:
    """What a judge may use: the task, the tree, and model calls through the runner."""

    def __init__(self, runner: Runner, tree: TreeView) -> None:
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
    ) -> list[Answer]:
        requests = [
            self.runner.request(prompt, node.key, purpose, i, max_tokens, json_schema=json_schema)
            for i in range(samples)
        ]
        calls = self.runner.calls.call(self.runner.generator, node.id, requests, purpose)
        return [Answer(call.output, call.id or 0) for call in calls]

    def earlier_verdict(self, judge: Judge, node: NodeView) -> tuple[Verdict, int] | None:
        return self.runner.earlier_verdict(judge, node)


def rebuild_roles(run: Run) -> tuple[Task, Strategy, list[Judge]]:
    """A stored run's task, strategy and judges, from whatever plugins provide them."""
    plugins = run.plugins or {}
    task = make_task(run.task, run.problem, run.task_params, plugins.get(f"task:{run.task}"))
    strategy = make_strategy(
        run.strategy, task, run.strategy_params, plugins.get(f"strategy:{run.strategy}")
    )
    return task, strategy, make_judges(run.judges, plugins)


def roles_from_plugins(run: Run) -> dict[str, str]:
    """`role:name` -> package, for the roles of `run` that a plugin provides."""
    found = registry()
    names = [("task", run.task), ("strategy", run.strategy)]
    names += [("judge", str(spec["name"])) for spec in run.judges]
    names.append(("generator", str(run.generator.get("backend", "embedded"))))
    return {
        f"{role}:{name}": found.provider(role, name)
        for role, name in names
        if found.provider(role, name) != BUILTIN
    }


def check_settings(
    task: str,
    problem: str,
    strategy: str,
    strategy_params: dict[str, Any] | None = None,
    task_params: dict[str, Any] | None = None,
    judges: list[dict[str, Any]] | None = None,
) -> tuple[Task, list[dict[str, Any]]]:
    """Raise BadArguments for settings that cannot work; return the task and judge specs."""
    task_obj = make_task(task, problem, task_params)
    make_strategy(strategy, task_obj, strategy_params)
    judge_specs = judges if judges is not None else [{"name": n} for n in task_obj.default_judges]
    make_judges(judge_specs)
    return task_obj, judge_specs


BUDGET_NAMES = {
    "max_calls": "model calls",
    "max_tokens": "tokens",
    "max_seconds": "seconds",
    "max_nodes": "nodes",
}


def check_budget(budget: dict[str, Any]) -> dict[str, Any]:
    """The limits that are set (None: no limit); each a number of at least 0."""
    checked: dict[str, Any] = {}
    for key, value in budget.items():
        if value is None:
            continue
        if key not in BUDGET_NAMES:
            raise BadArguments(
                f"Unknown budget {key!r}; the budgets are {', '.join(BUDGET_NAMES)}."
            )
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise BadArguments(
                f"The budget of {BUDGET_NAMES[key]} must be a number of at least 0, not {value!r}."
            )
        checked[key] = value
    return checked


def create_run(
    engine: Engine,
    *,
    task: str,
    problem: str,
    strategy: str,
    generator: dict[str, Any],
    judges: list[dict[str, Any]] | None = None,
    strategy_params: dict[str, Any] | None = None,
    task_params: dict[str, Any] | None = None,
    budget: dict[str, Any] | None = None,
    seed: int = 0,
    replay: bool = False,
    status: str = "queued",
) -> Run:
    """Validate a run's settings, then store it with its root node."""
    task_obj, judge_specs = check_settings(
        task, problem, strategy, strategy_params, task_params, judges
    )
    budget = check_budget(budget or {})
    generator = dict(generator)
    outputs = generator.pop("outputs", None)  # kept beside the run: see RunScript
    with unit_of_work(engine) as session:
        run = Run(
            task=task,
            problem=task_obj.problem,
            task_params=task_params or {},
            strategy=strategy,
            strategy_params=strategy_params or {},
            generator=generator,
            judges=judge_specs,
            budget=budget,
            seed=seed,
            replay=replay,
            status=status,
        )
        run.plugins = roles_from_plugins(run)
        session.add(run)
        session.flush()
        assert run.id is not None
        if outputs is not None:
            session.add(RunScript(run_id=run.id, outputs=list(outputs)))
        session.add(
            Node(
                run_id=run.id,
                key="0",
                depth=0,
                text=task_obj.problem,
                state=task_obj.initial_state(),
                origin="person",
            )
        )
        queries.add_event(session, run.id, "create", f"{strategy} on {task}", actor="person")
    return run
