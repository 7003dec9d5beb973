"""Making a run: its settings checked, stored with its root node; and rebuilding a
stored run's roles. Shared by the CLI, the app, the Python API and the runner."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine

from treelight.engine.errors import BadArguments
from treelight.engine.judges import Judge, judge_classes, judges_for, make_judges
from treelight.engine.judges.learned import embedding_mismatch, trained_overlap
from treelight.engine.plugins import BUILTIN, registry
from treelight.engine.strategies import Strategy, make_strategy
from treelight.engine.tasks import make_task
from treelight.engine.tasks.base import Task
from treelight.storage import queries
from treelight.storage.database import unit_of_work
from treelight.storage.models import Node, Run, RunScript, utcnow
from treelight.storage.vocabulary import EventKind, Origin, RunStatus


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
    for spec in judge_specs:
        kind = judge_classes().get(str(spec.get("name")))
        if kind is not None and kind.tasks and task not in kind.tasks:
            raise BadArguments(
                f"The judge {kind.name} judges {' and '.join(kind.tasks)} problems, not {task}; "
                f"the judges for {task} are {', '.join(sorted(judges_for(task)))}."
            )
    return task_obj, normalized_judges(judge_specs)


def normalized_judges(specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The specs as the judges read them, to be stored (a learned judge's file as an
    absolute path, so a worker started elsewhere finds it): each option given,
    normalized; BadArguments for a judge that cannot be made."""
    made = make_judges(specs)
    return [
        {**spec, **{k: judge.options[k] for k in spec if k in judge.options}}
        for spec, judge in zip(specs, made, strict=True)
    ]


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


BIRTH_LEASE_SECONDS = 60.0  # the runner's own lease (run/state.py) takes over at once


@dataclass(frozen=True)
class RunSettings:
    """What a run is asked to do: what the CLI, the app and the Python API each
    collect, then check and store through the same two functions below."""

    task: str
    problem: str
    strategy: str
    generator: dict[str, Any]
    judges: list[dict[str, Any]] | None = None  # None: the task's own
    strategy_params: dict[str, Any] | None = None
    task_params: dict[str, Any] | None = None
    budget: dict[str, Any] | None = None
    seed: int = 0
    replay: bool = False


@dataclass(frozen=True)
class CheckedRun:
    """Settings that can work, as they will be stored."""

    settings: RunSettings
    task: Task
    judges: list[dict[str, Any]]
    budget: dict[str, Any]
    allowed: str | None  # a learned judge's training overlap, allowed on purpose


def check_run(settings: RunSettings, allow_trained_items: bool = False) -> CheckedRun:
    """Raise BadArguments for settings that cannot work. A learned judge trained on
    this very problem is refused unless `allow_trained_items`."""
    s = settings
    task, judges = check_settings(
        s.task, s.problem, s.strategy, s.strategy_params, s.task_params, s.judges
    )
    allowed = check_learned_judges(
        judges, s.generator, {task.problem: task.problem}, "run", allow_trained_items
    )
    return CheckedRun(s, task, judges, check_budget(s.budget or {}), allowed)


def store_run(
    engine: Engine,
    checked: CheckedRun,
    status: RunStatus = RunStatus.QUEUED,
    lease_owner: str | None = None,
) -> Run:
    """Store a checked run with its root node and its creation event. With
    `lease_owner`, the run is born leased to it: a process that creates a running
    run to work on it itself (`treelight run`) cannot lose it to a worker (the app's,
    say) that sees the new run before it claims it."""
    s, task_obj = checked.settings, checked.task
    generator = dict(s.generator)
    outputs = generator.pop("outputs", None)  # kept beside the run: see RunScript
    with unit_of_work(engine) as session:
        run = Run(
            task=s.task,
            problem=task_obj.problem,
            task_params=s.task_params or {},
            strategy=s.strategy,
            strategy_params=s.strategy_params or {},
            generator=generator,
            judges=checked.judges,
            budget=checked.budget,
            seed=s.seed,
            replay=s.replay,
            status=status,
        )
        if lease_owner is not None:
            run.lease_owner = lease_owner
            run.lease_until = utcnow() + timedelta(seconds=BIRTH_LEASE_SECONDS)
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
                origin=Origin.PERSON,
            )
        )
        why = f"{s.strategy} on {s.task}"
        if checked.allowed:  # allowed on purpose: the log says so
            why += f" — allowed: {checked.allowed}"
        queries.add_event(session, run.id, EventKind.CREATE, why, actor="person")
    return run


def create_run(
    engine: Engine,
    *,
    status: RunStatus = RunStatus.QUEUED,
    allow_trained_items: bool = False,
    **settings: Any,
) -> Run:
    """`store_run(check_run(RunSettings(**settings)))`, for scripts, benchmarks and
    tests: the keywords are RunSettings' fields."""
    return store_run(engine, check_run(RunSettings(**settings), allow_trained_items), status)


def check_learned_judges(
    judge_specs: list[dict[str, Any]],
    generator: dict[str, Any],
    problems: dict[str, str],
    what: str,
    allow_trained_items: bool,
) -> str | None:
    """Refuse learned judges that cannot judge here (trained on these problems, or
    reading another model's embeddings); with `allow_trained_items`, the overlap is
    returned to be said instead of refused."""
    if not any(spec.get("name") == "learned" for spec in judge_specs):
        return None
    judges = make_judges(judge_specs)
    mismatch = embedding_mismatch(judges, generator)
    if mismatch:
        raise BadArguments(mismatch)
    overlap = trained_overlap(judges, problems, what)
    if overlap and not allow_trained_items:
        raise BadArguments(overlap)
    return overlap.split(";")[0] if overlap else None
