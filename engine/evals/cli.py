"""`treelight eval`: arguments, local workers, the progress bar and the report."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from treelight.engine.cli.roles import add_role_arguments, generator_spec, task_params
from treelight.engine.errors import BadArguments
from treelight.engine.evals import eval_runs
from treelight.engine.evals.datasets import BUILTIN
from treelight.engine.evals.methods import default_methods, split_methods
from treelight.engine.evals.ray_executor import RaySettings
from treelight.engine.generators.embedded import THREADS_VARIABLE
from treelight.engine.judges import parse_judge_specs
from treelight.engine.run.worker import work_concurrently
from treelight.storage.vocabulary import ENDED, RunStatus

RESPAWNS_PER_WORKER = 3  # a local worker that dies is replaced, this many times each


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "eval",
        help="run methods over a dataset (JSONL or CSV); a results table, CSV and plot",
        description="Each item under each method is an ordinary stored run: open any of "
        "them in the explorer. The expected answer is held out of the search and only "
        "scores its answer. Ctrl-C leaves the eval resumable: --resume ID.",
    )
    parser.add_argument(
        "--dataset",
        help=f"a .jsonl, .json or .csv file (or .gz of one) with a problem column (and an "
        f"answer), HumanEval or MBPP as they ship, hf:NAME[:CONFIG[:SPLIT]] (Hugging Face, "
        f"with the `datasets` library), a folder Dataset.save_to_disk wrote, or: "
        f"{', '.join(BUILTIN)}",
    )
    parser.add_argument(
        "--reference",
        metavar="COLUMN",
        help="the column holding each item's expected answer, which scores the runs "
        "(default: the first of answer, expected, target, solution)",
    )
    add_role_arguments(parser, strategy=False, task_required=False)
    parser.add_argument(
        "--methods",
        help="comma-separated: cot, io, cot-sc, bfs-free, random (chance), or any strategy; "
        "options as NAME:KEY=VALUE;KEY=VALUE (default: cot,bfs, and random where the task's "
        "steps have a grammar)",
    )
    parser.add_argument("--start", type=int, default=0, help="first item (0-based)")
    parser.add_argument("--end", type=int, help="one past the last item (default: all)")
    parser.add_argument("--max-calls", type=int, help="model calls per item and method")
    parser.add_argument("--max-tokens", type=int, help="tokens per item and method")
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=0, help="item i's runs use seed + i")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes on this machine (default 1, in this process); 0: only queue "
        "the runs for `treelight worker` processes elsewhere, and wait for them",
    )
    parser.add_argument(
        "--allow-trained-items",
        action="store_true",
        help="judge items a learned judge was trained on, on purpose (said in the report)",
    )
    parser.add_argument(
        "--check-references",
        action="store_true",
        help="run no model: check each item's own reference solution against its tests "
        "in the sandbox (code datasets: HumanEval's canonical_solution, MBPP's code)",
    )
    parser.add_argument(
        "--executor",
        choices=["local", "ray"],
        default="local",
        help="local: --workers processes on this machine (default); ray: every run a Ray "
        "task, on a local Ray instance or the cluster at --ray-address",
    )
    parser.add_argument(
        "--ray-address",
        metavar="ADDRESS",
        help="a Ray cluster: auto (the one this machine belongs to) or ray://HEAD:10001 "
        "(default: start Ray here)",
    )
    parser.add_argument("--ray-num-cpus", type=float, default=1.0, help="CPUs per run's task")
    parser.add_argument(
        "--ray-num-gpus", type=float, default=0.0, help="GPUs per run's task (embedded models)"
    )
    parser.add_argument("--resume", type=int, metavar="EVAL_ID", help="continue an eval")
    parser.add_argument("--list", action="store_true", help="list the evals there are")
    parser.add_argument(
        "--out", default=".", help="folder for eval-ID-results.csv and eval-ID.png (default: .)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(engine: Engine, args: argparse.Namespace) -> int:
    if args.list:
        return _list(engine)
    if args.workers < 0:
        raise BadArguments("--workers takes 0 or more.")
    if args.resume is not None:
        evaluation = eval_runs.get_eval(engine, args.resume)
        requeued = eval_runs.resume_eval(engine, args.resume)
        print(f"Eval #{evaluation.id}: {requeued} paused run(s) queued again.", file=sys.stderr)
    else:
        if not args.dataset or not args.task:
            raise BadArguments("treelight eval needs --dataset and --task (or --resume ID).")
        if args.check_references:
            return check_references(args)
        budget = {"max_calls": args.max_calls, "max_tokens": args.max_tokens}
        judges = None
        if args.judges is not None:
            judges = [] if args.judges.strip() == "none" else parse_judge_specs(args.judges)
        evaluation = eval_runs.create_eval(
            engine,
            dataset=args.dataset,
            task=args.task,
            methods=split_methods(args.methods or default_methods(args.task)),
            generator=generator_spec(args),
            judges=judges,
            start=args.start,
            end=args.end,
            budget={k: v for k, v in budget.items() if v is not None},
            seed=args.seed,
            allow_trained_items=args.allow_trained_items,
            task_params=task_params(args),
            reference=args.reference,
        )
    assert evaluation.id is not None
    ray = None
    if args.executor == "ray":
        from treelight.engine.evals.ray_executor import RaySettings

        ray = RaySettings(args.ray_address, args.ray_num_cpus, args.ray_num_gpus)
        # Ray's driver prints the cluster's news (a node lost…) on stdout: to stderr
        # with the progress bar, so stdout stays the report (--json).
        with contextlib.redirect_stdout(sys.stderr):
            _work(engine, evaluation.id, args.workers, ray)
    else:
        _work(engine, evaluation.id, args.workers)
    return _report(engine, evaluation.id, args)


def _list(engine: Engine) -> int:
    rows = eval_runs.list_evals(engine)
    if not rows:
        print("No evals yet: treelight eval --dataset game24 --task game24 --end 20")
    for row in rows:
        print(f"#{row.id:<4} {row.task:<8} {', '.join(row.methods):<30} {row.dataset}")
    return 0


def _work(engine: Engine, eval_id: int, workers: int, ray: RaySettings | None = None) -> None:
    """Work the eval's runs and show progress until none is queued or running."""
    from tqdm import tqdm

    total = len(eval_runs.eval_runs(engine, eval_id))
    bar = tqdm(total=total, desc=f"eval #{eval_id}", unit="run", file=sys.stderr, disable=None)
    processes: list[subprocess.Popen[bytes]] = []
    respawns = RESPAWNS_PER_WORKER * workers
    tasks: list[Any] = []
    if ray is not None:
        from treelight.engine.evals.ray_executor import submit_eval

        left = [run.id or 0 for _, run in eval_runs.eval_runs(engine, eval_id)]
        tasks = submit_eval(engine, [i for i in left if _has_work(engine, i)], ray)
    elif workers == 1:
        import threading

        threading.Thread(
            target=work_concurrently, args=(engine, 1, 0.2, eval_id), daemon=True
        ).start()
    elif workers > 1:
        processes = [_start_worker(eval_id, workers) for _ in range(workers)]
    elif workers == 0:
        print(
            f"Eval #{eval_id}: {total} runs queued. Start workers against this database "
            f"(`treelight worker`, or `treelight worker --eval {eval_id}`); waiting for them. "
            f"Ctrl-C leaves them queued.",
            file=sys.stderr,
        )
    try:
        while True:
            rows = eval_runs.eval_runs(engine, eval_id)
            settled = sum(
                1 for _, run in rows if run.status not in (RunStatus.QUEUED, RunStatus.RUNNING)
            )
            bar.update(settled - bar.n)
            bar.set_postfix(done=sum(run.status in ENDED for _, run in rows))
            if not eval_runs.has_work(run for _, run in rows):
                break
            if tasks and _all_finished(tasks):  # Ray gave up on some: say why, stop waiting
                from treelight.engine.evals.ray_executor import failed_tasks

                for said in failed_tasks(tasks):
                    print(f"A Ray task failed for good: {said}", file=sys.stderr)
                break
            if processes and all(p.poll() is not None for p in processes) and respawns > 0:
                # Every local worker is gone (killed?) with work left: start another.
                respawns -= 1
                processes.append(_start_worker(eval_id, workers))
            time.sleep(0.5)
    except KeyboardInterrupt:
        print(f"\nInterrupted: `treelight eval --resume {eval_id}` continues.", file=sys.stderr)
        raise
    finally:
        bar.close()
        for process in processes:
            if process.poll() is None:
                process.terminate()


def _has_work(engine: Engine, run_id: int) -> bool:
    from sqlmodel import Session

    from treelight.storage import queries

    with Session(engine) as session:
        run = queries.get_run(session, run_id)
    return run is not None and run.status in (RunStatus.QUEUED, RunStatus.RUNNING)


def _all_finished(tasks: list[Any]) -> bool:
    import ray

    ready, _ = ray.wait(tasks, num_returns=len(tasks), timeout=0)
    return len(ready) == len(tasks)


def _start_worker(eval_id: int, workers: int) -> subprocess.Popen[bytes]:
    # Each process loads its own model: with the embedded one, share the cores out.
    threads = max(1, (os.cpu_count() or 1) // workers)
    env = {**os.environ, THREADS_VARIABLE: os.environ.get(THREADS_VARIABLE, str(threads))}
    return subprocess.Popen(
        [sys.executable, "-m", "treelight.engine.cli", "worker", "--eval", str(eval_id)],
        env=env,
        stdout=subprocess.DEVNULL,
    )


def _report(engine: Engine, eval_id: int, args: argparse.Namespace) -> int:
    evaluation = eval_runs.get_eval(engine, eval_id)
    rows = eval_runs.results(engine, eval_id)
    summaries = eval_runs.summarize(evaluation, rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    csv_path = eval_runs.write_csv(rows, out / f"eval-{eval_id}-results.csv")
    generator = evaluation.settings["generator"]
    numbers = sorted({r.item for r in rows})
    span = f"items {numbers[0]}-{numbers[-1]}" if numbers else "no items"
    title = (
        f"{evaluation.task}: {Path(evaluation.dataset).name}, {span} ({len(numbers)}), "
        f"{generator.get('backend')} {generator.get('model') or '(default model)'}"
    )
    plot_path = eval_runs.plot(summaries, out / f"eval-{eval_id}.png", title)
    paused = [r for r in rows if r.status == RunStatus.PAUSED]
    if args.json:
        print(
            json.dumps(
                {
                    "eval_id": eval_id,
                    "task": evaluation.task,
                    "dataset": evaluation.dataset,
                    "summaries": eval_runs.summary_rows(summaries),
                    "csv": str(csv_path),
                    "plot": str(plot_path),
                    "paused": [r.run_id for r in paused],
                    "allowed_trained_items": evaluation.settings.get("allowed_trained_items"),
                    "executor": args.executor,
                }
            )
        )
    else:
        print(f"Eval #{eval_id}: {title}")
        if evaluation.settings.get("allowed_trained_items"):
            print(f"Note, allowed on purpose: {evaluation.settings['allowed_trained_items']}")
        print(eval_runs.table(summaries))
        print(f"per item: {csv_path}\nplot: {plot_path}")
        print(f"Open a run: treelight show RUN_ID (run ids are in {csv_path.name})")
    if paused:
        reasons = sorted({r.note for r in paused})
        print(
            f"{len(paused)} run(s) paused on a fault ({'; '.join(reasons)[:300]}): fix it, "
            f"then `treelight eval --resume {eval_id}`.",
            file=sys.stderr,
        )
        return 1
    return 0


def check_references(args: argparse.Namespace) -> int:
    """`treelight eval --check-references`: no model, no runs stored; exit 1 when a
    reference solution fails its own tests."""
    from tqdm import tqdm

    from treelight.engine.evals.datasets import load_items
    from treelight.engine.evals.references import check_references as check

    items = load_items(args.dataset, args.task, args.reference)[args.start : args.end]
    bar = tqdm(total=len(items), desc="references", unit="item", file=sys.stderr, disable=None)
    checks = check(items, args.task, task_params(args), progress=lambda: bar.update(1))
    bar.close()
    failed = [c for c in checks if not c.passed]
    if args.json:
        print(
            json.dumps(
                {
                    "dataset": args.dataset,
                    "items": len(checks),
                    "passed": len(checks) - len(failed),
                    "failed": [{"item": c.item, "why": c.why} for c in failed],
                }
            )
        )
    else:
        for c in failed:
            print(f"item {c.item}: {c.why}")
        print(f"{len(checks) - len(failed)} of {len(checks)} reference solutions pass their tests.")
    return 1 if failed else 0
