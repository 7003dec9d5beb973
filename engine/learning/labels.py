"""Labels from trees: which states a set of stored searches settled, and how.

A state is *live* when a solved (checked) node lies below a node in that state,
in any of the trees; *dead* when it is a finished path a gate rejected (the
answer failed its check), or when the task can list its moves
(`Task.next_state_keys`) and every state they lead to is dead. A subtree the
search only sampled is no proof of death: a state with an untried move is
settled by neither rule. It gets a *soft* label instead when finished paths lie
below it and none passed its check (where moves cannot be listed, as in math
and code, that is the only dead evidence there is): source "sampled", dead, and
P(live) = 1/(n+2) for its n failed finished paths (Laplace's rule of
succession: no success in n tries), which training weighs accordingly and the
memory never holds. A person's good/bad label on a node overrides what the
trees say, and every label keeps its source ("tree", "sampled" or "person").

Where a task's state keys mean the same situation whatever the problem
(`Task.shared_states`, Game of 24's numbers left), what one tree showed about a
state holds in all of them; otherwise keys are compared within one problem.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from treelight.engine.tasks.base import Task
from treelight.storage.vocabulary import LabelVerdict, NodeStatus, PrunedBy

TREE = "tree"
SAMPLED = "sampled"
PERSON = "person"


@dataclass(frozen=True)
class TreeNode:
    """What labelling reads of a stored node."""

    id: int
    parent_id: int | None
    text: str
    state: dict[str, Any]
    status: str
    pruned_by: str


@dataclass(frozen=True)
class Tree:
    """One stored search: its problem, its nodes, and a person's labels on them."""

    run_id: int
    task: Task
    nodes: list[TreeNode]
    person_labels: dict[int, str] = field(default_factory=dict)  # node id -> good/bad
    eval_id: int | None = None
    item: int | None = None


@dataclass(frozen=True)
class StateLabel:
    key: str  # the state's key, prefixed by its problem unless the task shares states
    live: bool
    source: str  # TREE or PERSON
    state: dict[str, Any]  # the state as one node holds it (for the task's features)
    text: str  # what an embedder reads (Task.state_text)
    problems: frozenset[str]  # the problems whose trees hold it
    soft: float | None = None  # a soft label's P(live), 1/(n+2); None when settled

    @property
    def target(self) -> float:
        """The P(live) training aims for."""
        return float(self.live) if self.soft is None else self.soft

    @property
    def settled(self) -> bool:
        """Proved live or dead by the trees (or said by a person): what the memory holds."""
        return self.soft is None


@dataclass
class Labels:
    states: dict[str, StateLabel]  # finished paths left out: the verifiers judge those
    nodes: dict[int, tuple[bool, str]]  # node id -> (live, source), labelled nodes only
    unlabelled_states: int
    finished: int = 0  # distinct finished paths (end states) seen
    solved: int = 0  # of them, the ones that passed their check

    @property
    def live(self) -> int:
        return sum(label.live for label in self.states.values())

    @property
    def dead(self) -> int:
        return len(self.states) - self.live

    @property
    def sampled(self) -> int:
        """Dead by the soft rule alone (finished paths below, none passed)."""
        return sum(label.source == SAMPLED for label in self.states.values())


def _path_text(node: TreeNode, by_id: dict[int, TreeNode]) -> str:
    texts = []
    at: TreeNode | None = node
    while at is not None and at.parent_id is not None:
        texts.append(at.text)
        at = by_id.get(at.parent_id)
    return "\n".join(reversed(texts))


def _is_state(node: TreeNode) -> bool:
    """A node whose state the task's rules produced: not an invalid thought, and not
    a step a gate rejected (its state need not be real); a finished path a gate
    rejected is a state, the one its check failed."""
    if node.status == NodeStatus.INVALID:
        return False
    if node.pruned_by == PrunedBy.JUDGE and "answer" not in node.state:
        return False
    return True


def label_trees(trees: Iterable[Tree], soft: bool = True) -> Labels:
    """Every state the trees settled (and, with `soft`, each state below which only
    failed finished paths were seen), and the label of each node in such a state."""
    seen: dict[str, tuple[Task, TreeNode, dict[int, TreeNode]]] = {}
    problems: dict[str, set[str]] = defaultdict(set)
    parents_of: dict[str, set[str]] = defaultdict(set)  # observed: child key -> parent keys
    listed: dict[str, set[str]] = {}
    live_seeds: set[str] = set()
    dead: set[str] = set()
    node_keys: dict[int, str] = {}
    person: dict[str, tuple[bool, int]] = {}  # key -> (live, node id) from a person's label
    for tree in trees:
        by_id = {n.id: n for n in tree.nodes}
        for node in tree.nodes:
            if not _is_state(node):
                continue
            path_text = partial(_path_text, node, by_id)
            key = node_keys[node.id] = tree.task.learning_key(node.state, path_text)
            seen.setdefault(key, (tree.task, node, by_id))
            problems[key].add(tree.task.problem)
            if node.status == NodeStatus.SOLVED:
                live_seeds.add(key)
            elif node.pruned_by == PrunedBy.JUDGE:  # a finished path that failed its check
                dead.add(key)
            if key not in listed:
                moves = tree.task.next_state_keys(node.state)
                if moves:
                    prefix = "" if tree.task.shared_states else f"{tree.task.problem}\x1f"
                    listed[key] = {prefix + k for k in moves}
            verdict = tree.person_labels.get(node.id)
            if verdict in (LabelVerdict.GOOD, LabelVerdict.BAD):
                person[key] = (verdict == LabelVerdict.GOOD, node.id)
        for node in tree.nodes:
            if node.id in node_keys and node.parent_id in node_keys:
                parents_of[node_keys[node.id]].add(node_keys[node.parent_id])
    failed_ends = set(dead)
    live = _closure(live_seeds, parents_of)
    dead = _dead_states(dead - live, listed, live)
    children_of: dict[str, set[str]] = defaultdict(set)
    for child, parents in parents_of.items():
        for parent in parents:
            children_of[parent].add(child)
    states: dict[str, StateLabel] = {}
    for key, (task, node, by_id) in seen.items():
        is_live: bool | None = True if key in live else False if key in dead else None
        source, p_live = TREE, None
        if is_live is None and soft and "answer" not in node.state:
            failed = _failed_ends_below(key, children_of, failed_ends)
            if failed:
                is_live, source, p_live = False, SAMPLED, 1 / (failed + 2)
        if key in person:
            is_live, source, p_live = person[key][0], PERSON, None
        if is_live is None or "answer" in node.state:
            continue  # a finished path is the verifiers' to judge, not a learned judge's
        text = task.state_text(node.state, _path_text(node, by_id))
        states[key] = StateLabel(
            key, is_live, source, node.state, text, frozenset(problems[key]), p_live
        )
    nodes = {
        node_id: (states[key].live, states[key].source)
        for node_id, key in node_keys.items()
        if key in states
    }
    ends = sum("answer" in node.state for _, node, _ in seen.values())
    return Labels(
        states,
        nodes,
        unlabelled_states=len(seen) - len(states) - ends,
        finished=ends,
        solved=len(live_seeds),
    )


def _closure(seeds: set[str], parents_of: dict[str, set[str]]) -> set[str]:
    """The seeds and every state observed above one of them."""
    found, todo = set(seeds), list(seeds)
    while todo:
        for parent in parents_of.get(todo.pop(), ()):
            if parent not in found:
                found.add(parent)
                todo.append(parent)
    return found


def _failed_ends_below(key: str, children_of: dict[str, set[str]], failed: set[str]) -> int:
    """How many failed finished paths (distinct end states) were seen below `key`."""
    found, todo = {key}, [key]
    while todo:
        for child in children_of.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return len(found & failed)


def _dead_states(dead: set[str], listed: dict[str, set[str]], live: set[str]) -> set[str]:
    """`dead`, and every listed state all of whose moves lead to dead states."""
    dead = set(dead)
    changed = True
    while changed:
        changed = False
        for key, moves in listed.items():
            if key not in dead and key not in live and moves <= dead:
                dead.add(key)
                changed = True
    return dead
