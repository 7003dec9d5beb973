"""`treelight train judge`: the command line of engine/learning."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from treelight.engine.errors import BadArguments
from treelight.engine.learning.features import FEATURES
from treelight.engine.learning.training import TrainRequest, train_judge


def add_parser(sub: Any) -> None:
    train = sub.add_parser("train", help="learn from stored trees: `treelight train judge`")
    what = train.add_subparsers(dest="what", required=True)
    judge = what.add_parser(
        "judge",
        help="train a judge on the states stored searches settled (live, dead) and write a "
        "judge file for `--judges learned:file=PATH`",
        description="A state is live when a checked solution lies below it, dead when every "
        "move the task allows there was tried and failed, unlabelled otherwise; a person's "
        "good/bad label overrides. The held-out problems are labelled on their own and "
        "scored against a memory of the training problems only.",
    )
    judge.add_argument(
        "--eval",
        type=int,
        action="append",
        default=[],
        metavar="ID",
        help="an eval's runs (repeatable)",
    )
    judge.add_argument("--runs", default="", help="run ids, e.g. 1,5-9")
    judge.add_argument("--out", type=Path, help="the judge file to write (default: TASK.judge)")
    judge.add_argument(
        "--features",
        choices=FEATURES,
        default="embedding",
        help="embedding: the model's embedding of the state's text; task: the task's own "
        "numbers for a state; both (default: embedding)",
    )
    judge.add_argument(
        "--holdout", type=float, default=0.2, help="share of the problems held out (default 0.2)"
    )
    judge.add_argument(
        "--max-states",
        type=int,
        default=20_000,
        help="the most states a model is fitted to, a random sample (the memory keeps them all)",
    )
    judge.add_argument("--seed", type=int, default=0)
    judge.add_argument(
        "--no-soft-labels",
        dest="soft",
        action="store_false",
        help="learn from settled states only: a state below which the search only sampled "
        "failed paths stays unlabelled (default: it counts as dead with P(live) = 1/(n+2))",
    )
    judge.add_argument(
        "--backend", default="embedded", help="what embeds the states (default: embedded)"
    )
    judge.add_argument("--model", help="the embedding model (default: the backend's)")
    judge.add_argument("--json", action="store_true", help="print one JSON object")


def parse_ids(text: str) -> list[int]:
    """`"1,5-9"` -> [1, 5, 6, 7, 8, 9]."""
    found: list[int] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        low, dash, high = part.partition("-")
        try:
            found += list(range(int(low), int(high) + 1)) if dash else [int(low)]
        except ValueError:
            raise BadArguments(f"--runs takes ids and ranges like 1,5-9; got {part!r}.") from None
    return list(dict.fromkeys(found))


def stage_progress() -> Callable[[str, int], Callable[[int], object]]:
    from tqdm import tqdm

    def stage(name: str, total: int) -> Callable[[int], object]:
        bar = tqdm(total=total, desc=name, file=sys.stderr, disable=None, leave=False)

        def advance(n: int) -> None:
            bar.update(n)
            if bar.n >= total:
                bar.close()

        return advance

    return stage


def run(engine: Engine, args: argparse.Namespace) -> int:
    run_ids = parse_ids(args.runs)
    if not 0 <= args.holdout < 1:
        raise BadArguments("--holdout is a share of the problems, at least 0 and below 1.")
    embedder: dict[str, Any] = {"backend": args.backend}
    if args.model:
        embedder["model"] = args.model
    out = args.out
    if out is None:  # TASK.judge, once the runs say which task
        out = Path(f"{_task_of(engine, args.eval, run_ids)}.judge")
    request = TrainRequest(
        out=out,
        eval_ids=list(args.eval),
        run_ids=run_ids,
        runs_text=args.runs,
        features=args.features,
        holdout=args.holdout,
        max_states=args.max_states,
        seed=args.seed,
        soft=args.soft,
        embedder=embedder,
    )
    report = train_judge(engine, request, stage_progress())
    report["plot"] = plot_reliability(report, out)
    if args.json:
        print(json.dumps(report))
        return 0
    print(summary(report))
    return 0


def _task_of(engine: Engine, eval_ids: list[int], run_ids: list[int]) -> str:
    from sqlmodel import Session

    from treelight.storage import queries

    with Session(engine) as session:
        for eval_id in eval_ids:
            for _, found in queries.eval_runs(session, eval_id)[:1]:
                return found.task
        for run_id in run_ids:
            run = queries.get_run(session, run_id)
            if run is not None:
                return run.task
    return "judge"


def summary(report: dict[str, Any]) -> str:
    lines = [
        f"Wrote {report['file']}: a {report['model']} on {report['features']} features, "
        f"{report['states']:,} states ({report['live']:,} live, {report['dead']:,} dead"
        f"{_sampled(report['sampled'])}; {report['unlabelled']:,} unlabelled) from "
        f"{_runs(len(report['trained_items']))}."
    ]
    held = report["holdout"]
    if held:
        alone = held["model_alone"]
        lines.append(
            f"Held out ({held['problems']} problems, {held['states']:,} states, "
            f"{held['live']:,} live): AUC {_f(held['auc'])}, balanced accuracy "
            f"{held['balanced_accuracy']:.0%}; the model alone AUC {_f(alone['auc'])}, "
            f"{alone['balanced_accuracy']:.0%}; {held['remembered']:.0%} of the states "
            "were in the training trees."
        )
        lines.append(
            "Candidates (held-out AUC, the model alone): "
            + " · ".join(f"{m} {_f(c['auc'])}" for m, c in report["candidates"].items())
        )
    else:
        lines.append("No held-out figures: give trees of at least two problems and --holdout > 0.")
    if report.get("plot"):
        lines.append(f"Calibration plot: {report['plot']}")
    lines.append(f"Use it: --judges <the task's verifier>,learned:file={report['file']}")
    return "\n".join(lines)


def _sampled(count: int) -> str:
    if not count:
        return ""
    return f", of them {count:,} by soft labels: only failed paths were sampled below them"


def _runs(count: int) -> str:
    return "1 run" if count == 1 else f"{count:,} runs"


def _f(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def plot_reliability(report: dict[str, Any], out: Path) -> str | None:
    """The held-out reliability diagram beside the judge file (None without
    matplotlib or held-out states)."""
    held = report.get("holdout")
    if not held or not held.get("reliability"):
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    rows = held["reliability"]
    figure, axis = plt.subplots(figsize=(5, 5))
    axis.plot([0, 1], [0, 1], color="#999", linestyle="--", label="calibrated")
    axis.plot(
        [r["predicted"] for r in rows],
        [r["observed"] for r in rows],
        marker="o",
        color="#1f77b4",
        label="this judge",
    )
    for r in rows:
        axis.annotate(
            str(r["states"]),
            (r["predicted"], r["observed"]),
            fontsize=7,
            xytext=(4, -10),
            textcoords="offset points",
        )
    axis.set_xlabel("predicted P(live)")
    axis.set_ylabel("share live, held-out states")
    axis.set_title(
        f"{out.name}\nheld out: AUC {_f(held['auc'])}, balanced accuracy "
        f"{held['balanced_accuracy']:.0%}",
        fontsize=10,
    )
    axis.legend(loc="upper left")
    path = out.with_name(out.name + ".calibration.png")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return str(path)
