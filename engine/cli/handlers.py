"""What each `treelight` command does: run, resume, show, export, runs, pause,
stop, step, label, worker, models, pull, app, bench, eval.

Exit codes: 0 when a run finishes or stops on its budget, 1 when it pauses on
an error (model unavailable, ...), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from treelight.engine import steering
from treelight.engine.cli.app_script import SERVER_FLAGS, app_script
from treelight.engine.cli.roles import (
    generator_spec,
    key_values,
    task_params,
)
from treelight.engine.errors import BadArguments, RunNotFound
from treelight.engine.generators import make_generator
from treelight.engine.judges import parse_judge_specs
from treelight.engine.run.creation import (
    RunSettings,
    check_run,
    store_run,
)
from treelight.engine.run.loop import Outcome, Runner
from treelight.engine.run.state import new_owner
from treelight.engine.views.text import format_tree
from treelight.storage import queries
from treelight.storage.export import run_to_dict, run_to_graphml
from treelight.storage.hot_path import RunLedger
from treelight.storage.models import Run
from treelight.storage.training import EMPTY_BECAUSE, training_jsonl
from treelight.storage.vocabulary import RunStatus


def _budget(args: argparse.Namespace) -> dict[str, Any]:
    pairs = {
        "max_calls": args.max_calls,
        "max_tokens": args.max_tokens,
        "max_seconds": args.max_seconds,
        "max_nodes": args.max_nodes,
    }
    return {k: v for k, v in pairs.items() if v is not None}


def summary(engine: Engine, run: Run) -> dict[str, Any]:
    """The run as `--json` prints it (run, resume, runs)."""
    with Session(engine) as session:
        nodes = queries.node_count(session, run.id or 0)
    return {
        "run_id": run.id,
        "status": run.status,
        "reason": run.status_reason,
        "answer": run.answer,
        "task": run.task,
        "strategy": run.strategy,
        "problem": run.problem,
        "nodes": nodes,
        "model_calls": run.model_calls,
        "prompt_tokens": run.prompt_tokens,
        "completion_tokens": run.completion_tokens,
        "seconds": round(run.elapsed_seconds, 3),
    }


def _drive(
    engine: Engine,
    run: Run,
    args: argparse.Namespace,
    generator: Any = None,
    owner: str | None = None,
) -> int:
    from tqdm import tqdm

    total = run.budget.get("max_calls")
    bar = tqdm(
        total=total, unit="call", desc=f"run #{run.id}", file=sys.stderr, disable=None, leave=False
    )
    seen = run.model_calls
    bar.update(seen)

    def progress(current: RunLedger) -> None:
        nonlocal seen
        bar.update(current.model_calls - seen)
        seen = current.model_calls
        bar.set_postfix(
            tokens=current.prompt_tokens + current.completion_tokens, actions=current.actions
        )

    try:
        outcome: Outcome = Runner(
            engine, run.id or 0, generator=generator, progress=progress, owner=owner
        ).run_until_idle()
    finally:
        bar.close()
    data = summary(engine, outcome.run)
    if args.json:
        print(json.dumps(data))
    else:
        print(f"Answer: {outcome.run.answer if outcome.run.answer is not None else '(none)'}")
        print(f"Run #{data['run_id']}: {data['status']} — {data['reason']}")
        print(
            f"{data['nodes']} nodes, {data['model_calls']} model calls, "
            f"{data['prompt_tokens'] + data['completion_tokens']:,} tokens, "
            f"{data['seconds']:.1f} s. See the tree: treelight show {data['run_id']}"
        )
    if outcome.error is not None:
        print(f"error: {outcome.error}", file=sys.stderr)
        print(
            f"The run is paused with every node kept; fix the cause, then "
            f"`treelight resume {data['run_id']}`.",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_run(engine: Engine, args: argparse.Namespace) -> int:
    spec = generator_spec(args)
    judges = None
    if args.judges is not None:
        judges = [] if args.judges.strip() == "none" else parse_judge_specs(args.judges)
    settings = RunSettings(
        task=args.task,
        problem=args.problem,
        strategy=args.strategy,
        strategy_params=key_values(args.param, "--param"),
        task_params=task_params(args),
        generator=spec,
        judges=judges,
        budget=_budget(args),
        seed=args.seed,
        replay=args.replay,
    )
    checked = check_run(settings, args.allow_trained_items)
    if checked.allowed:
        print(f"Note, allowed on purpose: {checked.allowed}", file=sys.stderr)
    generator = make_generator(spec)  # fails early on a missing model file or package
    owner = new_owner()  # born leased to this process: no worker can take it first
    run = store_run(engine, checked, RunStatus.RUNNING, lease_owner=owner)
    return _drive(engine, run, args, generator, owner)


def cmd_resume(engine: Engine, args: argparse.Namespace) -> int:
    with Session(engine) as session:
        run = queries.get_run(session, args.run_id)
    if run is None:
        raise RunNotFound(f"No run #{args.run_id}: `treelight runs` lists the runs there are.")
    if _budget(args):
        from treelight.storage.database import unit_of_work

        with unit_of_work(engine, args.run_id) as session:
            stored = session.get(Run, args.run_id)
            assert stored is not None
            stored.budget = {**stored.budget, **_budget(args)}
    run = steering.resume(engine, args.run_id)
    return _drive(engine, run, args)


def cmd_show(engine: Engine, args: argparse.Namespace) -> int:
    with Session(engine) as session:
        run = queries.get_run(session, args.run_id)
        if run is None:
            raise RunNotFound(f"No run #{args.run_id}: `treelight runs` lists the runs there are.")
        print(
            format_tree(
                run,
                queries.run_nodes(session, args.run_id),
                queries.run_evaluations(session, args.run_id),
                queries.run_labels(session, args.run_id),
            )
        )
    return 0


def cmd_export(engine: Engine, args: argparse.Namespace) -> int:
    if (args.run_id is None) == (args.eval is None):
        raise BadArguments("treelight export takes a RUN_ID or --eval EVAL_ID (one of them).")
    if args.eval is not None and args.format in ("json", "graphml"):
        raise BadArguments("--eval exports training data: --format preference, prm or sft.")
    judges = {j.strip() for j in args.judges.split(",")} if args.judges else None
    if args.eval is not None:
        from treelight.engine.evals.eval_runs import eval_run_ids, get_eval

        get_eval(engine, args.eval)  # says so when there is no such eval
        run_ids = eval_run_ids(engine, args.eval)
    else:
        run_ids = [args.run_id]
    with Session(engine) as session:
        try:
            if args.format == "json":
                print(json.dumps(run_to_dict(session, args.run_id), indent=1))
            elif args.format == "graphml":
                print(run_to_graphml(session, args.run_id))
            else:
                empty = []
                for run_id in run_ids:
                    lines = training_jsonl(session, run_id, args.format, judges)
                    sys.stdout.write(lines)
                    if not lines:
                        empty.append(run_id)
                if empty:
                    _say_why_empty(empty, len(run_ids), args.format, judges)
        except LookupError:
            raise RunNotFound(f"No run #{args.run_id}: `treelight runs` lists the runs.") from None
    return 0


def _say_why_empty(empty: list[int], total: int, format: str, judges: set[str] | None) -> None:
    """An empty export is not an error, but it is said, with why, on stderr."""
    which = f"run #{empty[0]} has" if total == 1 else f"{len(empty)} of {total} runs have"
    only = f" (only judges {', '.join(sorted(judges))} counted)" if judges else ""
    print(f"{which} {EMPTY_BECAUSE[format]}{only}.", file=sys.stderr)


def cmd_runs(engine: Engine, args: argparse.Namespace) -> int:
    with Session(engine) as session:
        runs = queries.list_runs(session)
    rows = [summary(engine, run) for run in runs]
    if args.json:
        print(json.dumps(rows))
        return 0
    if not rows:
        print('No runs yet. Start one: treelight run --task game24 --problem "4 9 10 13"')
    for row in rows:
        print(
            f"#{row['run_id']:<5} {row['status']:<8} {row['task']:<9} {row['strategy']:<17} "
            f"{row['nodes']:>6} nodes {row['model_calls']:>5} calls  "
            f"answer: {row['answer'] if row['answer'] is not None else '-'}"
        )
    return 0


def cmd_steer(engine: Engine, args: argparse.Namespace) -> int:
    run = getattr(steering, args.command)(engine, args.run_id)
    coming = {"pause": "pausing", "stop": "stopping"}.get(run.requested)
    if coming:  # a runner is working on it: applied at the end of the action in flight
        print(f"Run #{run.id}: {run.status}, {coming} after the current step…")
    else:
        print(f"Run #{run.id}: {run.status}")
    return 0


def cmd_label(engine: Engine, args: argparse.Namespace) -> int:
    label = steering.label(engine, args.run_id, args.node_id, args.verdict, args.note)
    if label is None:
        print(f"Run #{args.run_id}, node #{args.node_id}: no label")
    else:
        note = f": {label.note}" if label.note else ""
        print(f"Run #{args.run_id}, node #{args.node_id}: {label.verdict} by {label.actor}{note}")
    return 0


def cmd_worker(engine: Engine, args: argparse.Namespace) -> int:
    import logging

    from treelight.engine.run.worker import Worker, work_concurrently

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.concurrency < 1:
        raise BadArguments("--concurrency takes 1 or more.")
    if args.once:
        Worker(engine, poll_seconds=args.poll, eval_id=args.eval).work_once()
        return 0
    try:
        work_concurrently(engine, args.concurrency, args.poll, args.eval)
    except KeyboardInterrupt:
        pass
    return 0


def cmd_eval(engine: Engine, args: argparse.Namespace) -> int:
    from treelight.engine.evals.cli import run

    return run(engine, args)


def cmd_train(engine: Engine, args: argparse.Namespace) -> int:
    from treelight.engine.learning.cli import run

    return run(engine, args)


def cmd_app(engine: Engine, args: argparse.Namespace) -> int:
    script = app_script()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(script),
        "--server.address",
        args.address,
        "--server.port",
        str(args.port),
        *SERVER_FLAGS,
    ]
    print(f"Treelight explorer: http://{args.address}:{args.port}", file=sys.stderr)
    sys.stderr.flush()
    # Become the Streamlit server rather than wait for it: a SIGTERM or Ctrl-C sent to
    # `treelight app` then reaches the server itself, which stops (a child process
    # would have gone on serving after its parent was killed).
    os.execv(sys.executable, command)
    return 0  # not reached


def cmd_models(engine: Engine, args: argparse.Namespace) -> int:
    from treelight.engine.generators import generator_classes
    from treelight.engine.generators.base import ModelCatalog
    from treelight.engine.plugins import registry

    backend = registry().get("generator", args.backend)
    if not isinstance(backend, ModelCatalog):
        names = [n for n, c in generator_classes().items() if isinstance(c, ModelCatalog)]
        raise BadArguments(
            f"The {args.backend} backend has no model list; these do: {', '.join(names)}."
        )
    options = {k: v for k, v in (("host", args.host), ("base_url", args.base_url)) if v}
    models = backend.catalog(options)
    if args.json:
        print(json.dumps(models))
    elif not models and args.backend == "ollama":
        print("The Ollama server has no models yet: `treelight pull llama3.2` pulls one.")
    elif not models:
        print(f"The {args.backend} server lists no models.")
    for model in [] if args.json else models:
        size = f"{model['size'] / 1e9:.1f} GB" if model.get("size") else "?"
        print(
            f"{model['name']:<32} {size:>8}  {model.get('parameters') or '':<8} "
            f"{model.get('family') or '':<10} {model.get('quantization') or ''}"
        )
    return 0


def cmd_pull(engine: Engine, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from treelight.engine.generators.ollama_backend import pull_model

    bar = tqdm(unit="B", unit_scale=True, desc=args.name, file=sys.stderr, disable=None)
    try:
        for progress in pull_model(args.name, args.host):
            if progress.get("total"):
                bar.total = progress["total"]
                bar.n = progress.get("completed") or 0
                bar.refresh()
            bar.set_postfix_str(progress.get("status") or "")
    finally:
        bar.close()
    print(f"Pulled {args.name}.")
    return 0


def cmd_bench(engine: Engine, args: argparse.Namespace) -> int:
    from treelight.engine.bench.cli import run

    return run(args)
