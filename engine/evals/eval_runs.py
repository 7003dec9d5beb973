"""`treelight eval`: methods over a dataset, each item an ordinary stored run.

An eval is a row (DatasetEval) and one run per item and method (EvalItem links
them). The runs are queued; any `treelight worker` works them (on this machine,
or on others sharing a PostgreSQL database), each under its lease, so an eval
killed half-way resumes where it was and no item is done twice. The expected
answer stays out of the runs: only the scoring reads it.

An item is solved when the run's answer passes the task's checker: Game of 24's
rules (no expected answer needed), math's exact numeric comparison against the
expected answer, code's tests run again in the sandbox (whatever judges the run
had); for a task with no checker, the answer equal to the expected one as text.
"""

from __future__ import annotations

import csv
import textwrap
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from treelight.engine import steering
from treelight.engine.errors import BadArguments
from treelight.engine.evals.datasets import Item, load_items
from treelight.engine.evals.methods import Method, parse_method
from treelight.engine.generators import prepare_generator
from treelight.engine.judges.code_tests import CodeTests, HasTests
from treelight.engine.run.creation import check_budget, check_learned_judges, create_run
from treelight.engine.tasks import task_classes
from treelight.storage import queries
from treelight.storage.database import unit_of_work
from treelight.storage.models import DatasetEval, EvalItem, Run
from treelight.storage.vocabulary import ENDED, RunStatus

CHANCE = "random"  # the method every search is read beside


@dataclass
class ItemResult:
    method: str
    item: int
    problem: str
    expected: str | None
    run_id: int
    status: str
    answer: str | None
    solved: bool
    model_calls: int
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    note: str

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class MethodSummary:
    method: str
    items: int
    finished: int  # done or stopped on its budget; the rest are queued, running or paused
    solved: int
    success_rate: float
    calls_per_item: float
    tokens_per_item: float
    seconds_per_item: float


def create_eval(
    engine: Engine,
    *,
    dataset: str,
    task: str,
    methods: list[str],
    generator: dict[str, Any],
    judges: list[dict[str, Any]] | None = None,
    start: int = 0,
    end: int | None = None,
    budget: dict[str, Any] | None = None,
    seed: int = 0,
    allow_trained_items: bool = False,
    task_params: dict[str, Any] | None = None,
    reference: str | None = None,
) -> DatasetEval:
    """Check everything, then store the eval and queue its runs, item by item (so
    an eval cut short compares its methods on the same items). A learned judge
    trained on any of the items is refused unless `allow_trained_items`."""
    if task not in task_classes():
        raise BadArguments(f"Unknown task {task!r}; choose from {', '.join(task_classes())}.")
    items = load_items(dataset, task, reference)[start:end]
    if not items:
        raise BadArguments(f"No items in {dataset} from {start} to {end}.")
    parsed = [parse_method(m, task) for m in methods]  # fails before anything is stored
    allowed = []
    for method in parsed:
        said = check_learned_judges(
            method.judges if method.judges is not None else judges or [],
            {**generator, **method.generator},
            {item.problem: str(item.index) for item in items},
            "eval",
            allow_trained_items,
        )
        if said:
            allowed.append(said)
    settings: dict[str, Any] = {
        "generator": generator,
        "judges": judges,
        "budget": check_budget(budget or {}),
        "seed": seed,
        "start": start,
        "end": end,
        # Options for every item (--task-option), over the dataset's own fields.
        "task_params": task_params or {},
        "reference": reference,  # the column of expected answers, when named
    }
    if allowed:  # on purpose: the eval's report says so
        settings["allowed_trained_items"] = allowed[0]
    with unit_of_work(engine) as session:
        evaluation = DatasetEval(task=task, dataset=dataset, methods=methods, settings=settings)
        session.add(evaluation)
    for item in items:
        for method in parsed:
            _queue_item(engine, evaluation, item, method)
    return evaluation


def _queue_item(engine: Engine, evaluation: DatasetEval, item: Item, method: Method) -> None:
    settings = evaluation.settings
    generator = dict(settings["generator"])
    override = dict(method.generator)
    if "backend" in override:  # e.g. chance: its own backend, the eval's temperature
        backend = override.pop("backend")
        generator = prepare_generator(backend, override, generator.get("temperature", 0.7))
    else:
        generator.update(override)
    run = create_run(
        engine,
        task=evaluation.task,
        problem=item.problem,
        strategy=method.strategy,
        strategy_params=method.params,
        task_params={**item.params, **settings.get("task_params", {}), **method.task_params},
        generator=generator,
        judges=method.judges if method.judges is not None else settings["judges"],
        budget=settings["budget"],
        seed=settings["seed"] + item.index,  # each item its own draws, as the bench does
        status=RunStatus.QUEUED,
        allow_trained_items=True,  # checked for the whole eval by create_eval
    )
    assert run.id is not None and evaluation.id is not None
    with unit_of_work(engine) as session:
        session.add(
            EvalItem(
                eval_id=evaluation.id,
                item=item.index,
                method=method.name,
                run_id=run.id,
                expected=item.expected,
            )
        )


def get_eval(engine: Engine, eval_id: int) -> DatasetEval:
    with Session(engine) as session:
        evaluation = session.get(DatasetEval, eval_id)
    if evaluation is None:
        raise BadArguments(f"No eval #{eval_id}: `treelight eval --list` lists them.")
    return evaluation


def list_evals(engine: Engine) -> list[DatasetEval]:
    with Session(engine) as session:
        return queries.list_evals(session)


def eval_runs(engine: Engine, eval_id: int) -> list[tuple[EvalItem, Run]]:
    with Session(engine) as session:
        return queries.eval_runs(session, eval_id)


def eval_run_ids(engine: Engine, eval_id: int) -> list[int]:
    return [run.id or 0 for _, run in eval_runs(engine, eval_id)]


def resume_eval(engine: Engine, eval_id: int) -> int:
    """Queue again every run of the eval a fault paused; return how many."""
    paused = [r for _, r in eval_runs(engine, eval_id) if r.status == RunStatus.PAUSED]
    for run in paused:
        steering.resume(engine, run.id or 0)
    return len(paused)


def has_work(runs: Iterable[Run]) -> bool:
    return any(r.status in (RunStatus.QUEUED, RunStatus.RUNNING) for r in runs)


def score(
    task: str, problem: str, params: dict[str, Any], expected: str | None, answer: str | None
) -> bool:
    """Whether `answer` solves the item (see the module docstring)."""
    if not answer:
        return False
    task_class = task_classes()[task]
    if expected is not None and "answer" in task_class.Options.model_fields:
        params = {**params, "answer": expected}  # the task's own expected-answer option
    task_object = task_class(problem, params)
    if isinstance(task_object, HasTests):  # code: its tests, run again in the sandbox
        return bool(CodeTests().run_tests(answer, task_object).passed)
    check = task_object.check_answer(answer)
    if check is not None:
        return check.passed
    return expected is not None and answer.strip().lower() == expected.strip().lower()


def results(engine: Engine, eval_id: int) -> list[ItemResult]:
    evaluation = get_eval(engine, eval_id)
    rows = []
    for item, run in eval_runs(engine, eval_id):
        note = "" if run.status == RunStatus.DONE else f"{run.status}: {run.status_reason}"
        rows.append(
            ItemResult(
                method=item.method,
                item=item.item,
                problem=run.problem,
                expected=item.expected,
                run_id=run.id or 0,
                status=run.status,
                answer=run.answer,
                solved=score(
                    evaluation.task, run.problem, run.task_params, item.expected, run.answer
                ),
                model_calls=run.model_calls,
                prompt_tokens=run.prompt_tokens,
                completion_tokens=run.completion_tokens,
                seconds=round(run.elapsed_seconds, 2),
                note=note,
            )
        )
    return rows


def summarize(evaluation: DatasetEval, rows: list[ItemResult]) -> list[MethodSummary]:
    summaries = []
    for method in evaluation.methods:
        mine = [r for r in rows if r.method == method]
        count = max(1, len(mine))
        solved = sum(r.solved for r in mine)
        summaries.append(
            MethodSummary(
                method=method,
                items=len(mine),
                finished=sum(r.status in ENDED for r in mine),
                solved=solved,
                success_rate=round(solved / count, 3),
                calls_per_item=round(sum(r.model_calls for r in mine) / count, 1),
                tokens_per_item=round(sum(r.tokens for r in mine) / count),
                seconds_per_item=round(sum(r.seconds for r in mine) / count, 1),
            )
        )
    return summaries


def table(summaries: list[MethodSummary]) -> str:
    width = max([len("method"), *(len(s.method) for s in summaries)])
    lines = [
        f"{'method':<{width}}  items  solved  success  calls/item  tokens/item  s/item  finished"
    ]
    for s in summaries:
        lines.append(
            f"{s.method:<{width}}  {s.items:>5}  {s.solved:>6}  {s.success_rate:>7.1%}  "
            f"{s.calls_per_item:>10}  {s.tokens_per_item:>11,}  {s.seconds_per_item:>6}  "
            f"{s.finished:>8}"
        )
    return "\n".join(lines)


def write_csv(rows: list[ItemResult], path: Path) -> Path:
    fields = [*ItemResult.__dataclass_fields__, "tokens"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({**asdict(row), "tokens": row.tokens})
    return path


def plot(summaries: list[MethodSummary], path: Path, title: str) -> Path:
    """Success per method as bars, chance in grey, tokens per item written on each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(1.6 + 1.1 * len(summaries), 4.2), dpi=120)
    names = [s.method for s in summaries]
    rates = [100 * s.success_rate for s in summaries]
    colours = ["#9e9e9e" if n.split(":")[0] == CHANCE else "#2b6cb0" for n in names]
    bars = axes.bar(names, rates, color=colours)
    for bar, s in zip(bars, summaries, strict=True):
        axes.annotate(
            f"{s.solved}/{s.items}\n{s.tokens_per_item:,.0f} tok",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            textcoords="offset points",
            xytext=(0, 3),
            ha="center",
            fontsize=8,
        )
    axes.set_ylabel("items solved (%)")
    axes.set_ylim(0, 115)
    axes.set_title(textwrap.fill(title, 48), fontsize=10)  # a long title wraps, never clips
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def summary_rows(summaries: list[MethodSummary]) -> list[dict[str, Any]]:
    return [asdict(s) for s in summaries]
