"""Treelight from Python: notebooks and scripts.

    from treelight.engine import api

    run = api.create_run("game24", "4 9 10 13", strategy="bfs", strategy_options={"beam": 3},
                         budget={"max_calls": 40})
    run.step()                     # one action, then paused
    run.prune(run.tree()[1].id)    # steer it
    result = run.run()             # to the end (or the budget)
    print(result.status, result.answer)
    run.export("json")

Every function here is the one the CLI and the app call (run creation, the
runner, steering, export): a run made here is a normal stored run, which
`treelight show`, the explorer and `treelight resume` all see.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any, Literal

from sqlalchemy.engine import Engine
from sqlmodel import Session

from treelight.engine import steering
from treelight.engine.errors import RunNotFound
from treelight.engine.generators import prepare_generator
from treelight.engine.judges import parse_judge_specs
from treelight.engine.run.creation import RunSettings, check_run, store_run
from treelight.engine.run.loop import Runner
from treelight.engine.run.tree_cache import load_tree
from treelight.engine.types import NodeView
from treelight.engine.views.html_export import standalone_html
from treelight.engine.views.text import format_tree
from treelight.storage import queries
from treelight.storage.database import make_engine
from treelight.storage.export import run_to_dict, run_to_graphml
from treelight.storage.models import Run
from treelight.storage.queries import Label
from treelight.storage.training import FORMATS, training_jsonl
from treelight.storage.vocabulary import RunStatus

__all__ = ["RunHandle", "connect", "create_run", "open_run", "runs"]


def connect(database_url: str | None = None) -> Engine:
    """The database (default: the same as the CLI's: $DATABASE_URL or the data folder)."""
    return make_engine(database_url)


def create_run(
    task: str,
    problem: str,
    *,
    strategy: str = "bfs",
    backend: str = "embedded",
    task_options: dict[str, Any] | None = None,
    strategy_options: dict[str, Any] | None = None,
    backend_options: dict[str, Any] | None = None,
    judges: str | list[dict[str, Any]] | None = None,
    budget: dict[str, Any] | None = None,
    temperature: float = 0.7,
    seed: int = 0,
    engine: Engine | None = None,
) -> RunHandle:
    """Store a new run, paused before its first action: `step()` or `run()` it.

    `judges` is a spec like the CLI's ("game24-verifier,value:samples=3") or a list
    of dicts; None uses the task's own. Options are checked against each role's
    declaration (a bad one raises BadArguments naming the option)."""
    engine = engine or connect()
    specs = parse_judge_specs(judges) if isinstance(judges, str) else judges
    generator = prepare_generator(backend, dict(backend_options or {}), temperature)
    settings = RunSettings(
        task=task,
        problem=problem,
        strategy=strategy,
        strategy_params=strategy_options,
        task_params=task_options,
        generator=generator,
        judges=specs,
        budget=budget,
        seed=seed,
    )
    run = store_run(engine, check_run(settings), RunStatus.PAUSED)
    assert run.id is not None
    return RunHandle(engine, run.id)


def open_run(run_id: int, engine: Engine | None = None) -> RunHandle:
    handle = RunHandle(engine or connect(), run_id)
    handle.info()  # raises RunNotFound with what to do
    return handle


def runs(engine: Engine | None = None, limit: int = 50) -> list[Run]:
    with Session(engine or connect()) as session:
        return queries.list_runs(session, limit=limit)


@dataclass(frozen=True)
class RunHandle:
    """One stored run: drive it, read its tree, steer it, export it."""

    engine: Engine
    run_id: int

    # --- driving ----------------------------------------------------------------------

    def step(self) -> Run:
        """Exactly one action (a paused or new run), then paused again."""
        steering.step(self.engine, self.run_id)
        return Runner(self.engine, self.run_id).run_until_idle().run

    def run(self) -> Run:
        """Run until the strategy finishes, a budget ends it, or an error pauses it
        (then `info().status_reason` says why; fix it and `run()` again)."""
        if self.info().status in (RunStatus.PAUSED, RunStatus.STOPPED, RunStatus.QUEUED):
            steering.resume(self.engine, self.run_id)
        return Runner(self.engine, self.run_id).run_until_idle().run

    def pause(self) -> Run:
        return steering.pause(self.engine, self.run_id)

    def stop(self) -> Run:
        return steering.stop(self.engine, self.run_id)

    # --- reading ----------------------------------------------------------------------

    def info(self) -> Run:
        """The run row: status, reason, answer, totals."""
        with Session(self.engine) as session:
            run = queries.get_run(session, self.run_id)
        if run is None:
            raise RunNotFound(f"No run #{self.run_id}: `treelight runs` lists the runs there are.")
        return run

    def tree(self) -> list[NodeView]:
        """Every node, root first, as the strategies see them (status, score, who
        pruned it, the verdicts of the active judges), with a person's label."""
        run = self.info()
        view = load_tree(self.engine, self.run_id, run.judge_set)
        labels = self.labels()
        return [
            replace(node, label=labels[i].verdict, label_note=labels[i].note)
            if i in labels
            else node
            for i, node in sorted(view.nodes.items())
        ]

    def labels(self) -> dict[int, Label]:
        """Each labelled node's current label: verdict, note, who and when."""
        with Session(self.engine) as session:
            return queries.run_labels(session, self.run_id)

    def show(self) -> str:
        """The tree as indented text (what `treelight show` prints)."""
        with Session(self.engine) as session:
            nodes = queries.run_nodes(session, self.run_id)
            verdicts = queries.run_evaluations(session, self.run_id)
            labels = queries.run_labels(session, self.run_id)
        return format_tree(self.info(), nodes, verdicts, labels)

    # --- steering ---------------------------------------------------------------------

    def prune(self, node_id: int, branch: bool = True, note: str = "") -> int:
        return steering.prune(self.engine, self.run_id, node_id, branch, note)

    def restore(self, node_id: int, branch: bool = False) -> int:
        return steering.restore(self.engine, self.run_id, node_id, branch)

    def pin(self, node_id: int, pinned: bool = True) -> None:
        steering.pin(self.engine, self.run_id, node_id, pinned)

    def prior(self, node_id: int, text: str) -> None:
        steering.add_prior(self.engine, self.run_id, node_id, text)

    def note(self, node_id: int, text: str) -> None:
        """An instructor's note on a node: kept with the run, shown in replay and export."""
        steering.add_note(self.engine, self.run_id, node_id, text)

    def label(self, node_id: int, verdict: str, note: str = "") -> Label | None:
        """Mark a node "good" or "bad" with a short note ("none" clears it): drawn on the
        tree and preferred over the judges in the training exports; the search ignores it."""
        return steering.label(self.engine, self.run_id, node_id, verdict, note)

    def swap_judges(self, judges: str | list[dict[str, Any]], whole_tree: bool = False) -> Run:
        specs = parse_judge_specs(judges) if isinstance(judges, str) else judges
        return steering.swap_judges(self.engine, self.run_id, specs, whole_tree)

    # --- export -----------------------------------------------------------------------

    def export(
        self, format: Literal["json", "graphml", "html", "preference", "prm", "sft"] = "json"
    ) -> str:
        """The whole run as JSON, GraphML (networkx) or a standalone HTML page; or as
        training data, JSONL (storage/training.py says how each label is derived)."""
        with Session(self.engine) as session:
            if format in FORMATS:
                return training_jsonl(session, self.run_id, format)
            if format == "json":
                return json.dumps(run_to_dict(session, self.run_id), indent=1)
            if format == "graphml":
                return run_to_graphml(session, self.run_id)
            nodes = queries.run_nodes(session, self.run_id)
            priors = queries.run_priors(session, self.run_id)
            notes = queries.run_notes(session, self.run_id)
            labels = queries.run_labels(session, self.run_id)
        return standalone_html(self.info(), nodes, priors, notes, labels)
