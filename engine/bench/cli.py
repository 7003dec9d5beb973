"""`treelight bench ...`: argument parsing and printing for the benchmarks."""

from __future__ import annotations

import argparse
import json
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from treelight.storage.paths import treelight_home


def add_parser(sub: Any) -> None:
    bench = sub.add_parser(
        "bench", help="benchmarks: game24, presets, overhead, model-bound, workers, ui"
    )
    which = bench.add_subparsers(dest="bench", required=True)

    game24 = which.add_parser("game24", help="Treelight's methods beside the reference ToT")
    game24.add_argument("--start", type=int, default=900, help="first puzzle index (0-based)")
    game24.add_argument("--end", type=int, default=1000, help="one past the last index")
    game24.add_argument(
        "--methods",
        default="io,cot,cot-sc,bfs,random,dfs,reference",
        help="comma-separated; options as a judge's, e.g. bfs:beam=10,random:beam=10,"
        "bfs:constrain=off,cot-sc:n=5",
    )
    game24.add_argument("--model", help="a GGUF file (default: the embedded SmolLM2-135M)")
    game24.add_argument("--data", help="the puzzles CSV (default: the reference's copy)")
    game24.add_argument("--max-calls", type=int, help="per method and puzzle (default: none)")
    game24.add_argument("--sc-samples", type=int, default=10, help="samples for cot-sc")
    game24.add_argument("--seed", type=int, default=0)
    game24.add_argument("--plot", default="bench-game24.png", help="where to save the plot")
    game24.add_argument(
        "--fresh", action="store_true", help="run everything again instead of reusing results"
    )
    game24.add_argument(
        "--judges",
        help="the judges of every model-guided method (bfs, dfs, mcts...), as in `treelight "
        "run --judges`, e.g. game24-verifier,learned:file=g24.judge; a method's own "
        "`judges=` option wins",
    )
    game24.add_argument(
        "--allow-trained-items",
        action="store_true",
        help="run a learned judge on puzzles it was trained on, on purpose (said in the output)",
    )
    game24.add_argument("--json", action="store_true")

    presets = which.add_parser(
        "presets", help="the easy Game of 24 presets on default settings, over seeds"
    )
    presets.add_argument(
        "--presets",
        default="1 1 4 6,5 5 7 7",
        help="comma-separated puzzles (default: the easy ones)",
    )
    presets.add_argument("--seeds", default="1-5", help="seeds, e.g. 1-5 or 1,3")
    presets.add_argument("--max-calls", type=int, help="per run (default: the run's own, none)")
    presets.add_argument("--model", help="a GGUF file (default: the embedded SmolLM2-135M)")
    presets.add_argument("--json", action="store_true")

    overhead = which.add_parser("overhead", help="engine cost per node vs plain sqlite3")
    overhead.add_argument("--nodes", default="100,1000,10000", help="tree sizes, comma-separated")
    overhead.add_argument(
        "--database-url",
        help="measure on this database (e.g. postgresql+psycopg://…; every run it makes "
        "stays there) instead of a fresh SQLite file; the sqlite3 floor is then not measured",
    )
    overhead.add_argument("--json", action="store_true")

    bound = which.add_parser("model-bound", help="share of wall time inside model calls")
    bound.add_argument("--problem", default="4 9 10 13")
    bound.add_argument("--max-calls", type=int, default=40)
    bound.add_argument("--model", help="a GGUF file (default: the embedded model)")
    bound.add_argument("--json", action="store_true")

    workers = which.add_parser(
        "workers", help="runs per second with `worker --concurrency N`, server delay fixed"
    )
    workers.add_argument("--concurrency", default="1,2,4,8", help="levels, comma-separated")
    workers.add_argument("--runs", type=int, default=16, help="runs per level")
    workers.add_argument("--delay", type=float, default=0.2, help="server seconds per request")
    workers.add_argument(
        "--executor",
        choices=["local", "ray", "both"],
        default="local",
        help="local: `worker --concurrency N`; ray: every run a Ray task, N at a time "
        "(a local Ray instance); both: side by side",
    )
    workers.add_argument("--json", action="store_true")

    judges = which.add_parser(
        "judges",
        help="judges as classifiers of live/dead states on stored trees (AUC, balanced accuracy)",
    )
    judges.add_argument("--eval", type=int, action="append", default=[], metavar="ID")
    judges.add_argument("--runs", default="", help="run ids, e.g. 1,5-9")
    judges.add_argument(
        "--judge", type=Path, action="append", default=[], help="a judge file (repeatable)"
    )
    judges.add_argument("--max-states", type=int, default=5000, help="states scored (a sample)")
    judges.add_argument(
        "--value-states",
        type=int,
        default=300,
        help="states the model's value judge scores, on the embedded model (0: none)",
    )
    judges.add_argument("--seed", type=int, default=0)
    judges.add_argument("--json", action="store_true")

    ui = which.add_parser("ui", help="drawing time and update bytes in headless Chromium")
    ui.add_argument("--nodes", default="100,1000,5000", help="tree sizes, comma-separated")
    ui.add_argument("--update-base", type=int, default=1000)
    ui.add_argument(
        "--cpu-seconds",
        type=float,
        default=15.0,
        help="how long the explorer server's CPU share is measured, on each run",
    )
    ui.add_argument("--json", action="store_true")


def machine() -> dict[str, Any]:
    import os

    return {
        "machine": platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "system": platform.platform(terse=True),
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }


def run(args: argparse.Namespace) -> int:
    handler = {
        "game24": bench_game24,
        "presets": bench_presets,
        "overhead": bench_overhead,
        "model-bound": bench_model_bound,
        "ui": bench_ui,
        "workers": bench_workers,
        "judges": bench_judges,
    }[args.bench]
    return handler(args)


def _emit(args: argparse.Namespace, data: dict[str, Any], text: str) -> int:
    if args.json:
        print(json.dumps({**data, "machine": machine()}))
    else:
        print(text)
    return 0


def bench_game24(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from treelight.engine.bench import game24, game24_results
    from treelight.engine.evals.datasets import game24_file
    from treelight.engine.evals.methods import split_methods
    from treelight.engine.generators.embedded import EmbeddedGenerator
    from treelight.engine.judges import parse_judge_specs
    from treelight.storage.database import make_engine

    methods = split_methods(args.methods)
    puzzles = game24_results.load_puzzles(args.data)
    chosen = list(enumerate(puzzles))[args.start : args.end]
    judges = parse_judge_specs(args.judges) if args.judges else None
    for method in methods:  # a typo fails now, not after the model has loaded
        game24.method_settings(method, args.sc_samples, judges)
    generator = EmbeddedGenerator(args.model)
    # Runs go to their own database, so they can be opened in the explorer
    # (DATABASE_URL=sqlite:///$TREELIGHT_HOME/bench.db treelight app) without
    # crowding the runs list. The same command run again reuses what is stored.
    home = treelight_home()
    engine = make_engine(f"sqlite:///{home / 'bench.db'}")
    bench = game24.stored_bench(
        engine,
        data=str(game24_file(args.data).resolve()),
        generator={"backend": generator.backend, "model": generator.model},
        max_calls=args.max_calls,
        seed=args.seed,
        fresh=args.fresh,
        judges=judges,
    )
    reference_store = home / f"bench-reference-{bench.id}.jsonl"
    bar = tqdm(
        total=len(chosen) * len(methods), desc="game24", unit="run", file=sys.stderr, disable=None
    )
    reused = 0

    def progress(result: game24_results.PuzzleResult) -> None:
        nonlocal reused
        reused += result.reused
        bar.update(1)
        bar.set_postfix(method=result.method, puzzle=result.index, stored=reused)

    try:
        results = game24.run_bench(
            engine,
            generator,
            chosen,
            methods,
            max_calls=args.max_calls,
            sc_samples=args.sc_samples,
            seed=args.seed,
            progress=progress,
            bench=bench,
            reference_store=reference_store,
            judges=judges,
            allow_trained_items=args.allow_trained_items,
        )
    finally:
        bar.close()
    print(
        f"Stored as bench #{bench.id} in {home / 'bench.db'}: {reused} of {len(results)} "
        "results were there already (the same command again runs only what is missing; "
        "--fresh runs all again).",
        file=sys.stderr,
    )
    summaries = game24_results.summarize(results)
    title = (
        f"Game of 24, puzzles {args.start}-{args.end - 1}, {generator.model}"
        f"{f', max {args.max_calls} calls' if args.max_calls else ''}"
    )
    plot_path = game24_results.plot(summaries, Path(args.plot), title) if args.plot else None
    data = {
        "puzzles": [args.start, args.end],
        "model": generator.model,
        "methods": game24_results.summary_rows(summaries),
        "results": game24_results.result_rows(results),
        "plot": str(plot_path) if plot_path else None,
    }
    return _emit(
        args,
        data,
        f"{title}\n{game24_results.table(summaries)}"
        + (f"\nplot: {plot_path}" if plot_path else ""),
    )


def bench_judges(args: argparse.Namespace) -> int:
    from treelight.engine.bench import judges
    from treelight.engine.learning.cli import parse_ids, stage_progress
    from treelight.storage.database import make_engine

    data = judges.bench_judges(
        make_engine(),
        eval_ids=list(args.eval),
        run_ids=parse_ids(args.runs),
        judge_files=list(args.judge),
        max_states=args.max_states,
        value_states=args.value_states,
        seed=args.seed,
        progress=stage_progress(),
    )
    return _emit(args, data, judges.table(data))


def _seeds(text: str) -> list[int]:
    seeds: list[int] = []
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        seeds += list(range(int(first), int(last or first) + 1))
    return seeds


def bench_presets(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from treelight.engine.bench.presets import solve_presets
    from treelight.engine.errors import BadArguments

    presets = [p.strip() for p in args.presets.split(",") if p.strip()]
    try:
        seeds = _seeds(args.seeds)
    except ValueError:
        raise BadArguments(f"--seeds {args.seeds!r}: write seeds as 1-5 or 1,3,4") from None
    bar = tqdm(total=len(presets) * len(seeds), unit="run", file=sys.stderr)

    def progress(run: dict[str, Any]) -> None:
        bar.set_postfix_str(f"seed {run['seed']}: {run['answer']}")
        bar.update()

    rows = solve_presets(
        presets, seeds, model=args.model, max_calls=args.max_calls, progress=progress
    )
    bar.close()
    lines = [
        f"{row['preset']}: solved with {row['solved']} of {row['seeds']} seeds "
        f"({', '.join(str(r['answer']) for r in row['runs'])})"
        for row in rows
    ]
    return _emit(args, {"presets": rows, "seeds": seeds}, "\n".join(lines))


def bench_overhead(args: argparse.Namespace) -> int:
    from treelight.engine.bench.overhead import measure

    sizes = [int(n) for n in args.nodes.split(",") if n.strip()]
    results = [measure(n, args.database_url) for n in sizes]
    largest = results[-1]
    lines = ["nodes   engine s  ms/node  sqlite3 s  sqlite3 ms/node  ratio  calls  commits"]
    for r in results:
        lines.append(
            f"{r.nodes:>6} {r.seconds:>9} {r.ms_per_node:>8} {r.sqlite_seconds:>10} "
            f"{r.sqlite_ms_per_node:>16} {r.ratio:>6} {r.model_calls:>6} {r.commits:>8}"
        )
    data = {
        "ms_per_node": largest.ms_per_node,
        "sqlite_ms_per_node": largest.sqlite_ms_per_node,
        "ratio": largest.ratio,
        "nodes": largest.nodes,
        "sizes": [r.as_dict() for r in results],
    }
    return _emit(args, data, "\n".join(lines))


def bench_model_bound(args: argparse.Namespace) -> int:
    from treelight.engine.bench.model_bound import measure

    result = measure(args.problem, args.max_calls, args.model)
    text = "\n".join(f"{key:<34} {value}" for key, value in result.items())
    return _emit(args, result, text)


def bench_ui(args: argparse.Namespace) -> int:
    from treelight.engine.bench.ui import measure

    sizes = [int(n) for n in args.nodes.split(",") if n.strip()]
    result = measure(sizes, args.update_base, args.cpu_seconds)
    lines = [
        "nodes  page load to drawn tree (s)  vis build (ms)  items drawn  "
        "| Whole tree: items  toggle to drawn (s)"
    ]
    lines += [
        f"{row['nodes']:>5}  {row['seconds']:>27}  {row['vis_build_ms']:>14}  {row['drawn']:>11}  "
        f"| {row.get('whole_drawn', '-'):>17}  {row.get('whole_seconds', '-'):>18}"
        for row in result["draws"]
    ]
    first = result["first_visit"]
    lines.append(
        f"(in a browser that has opened the explorer before; the same page with no tree: "
        f"{result['page_baseline_seconds']} s; a first visit with an empty browser cache, "
        f"{first['nodes']} nodes: {first['seconds']} s)"
    )
    update = result["update"]
    lines.append(
        f"update: +{update['added']} nodes to {update['base']}: drawn "
        f"{update['arrival_to_drawn_ms']} ms after its data arrived (applied in place in "
        f"{update['apply_ms']} ms; {update['bytes']:,} bytes; {update['end_to_end_ms']} ms "
        "from the database write, the once-a-second polling included)"
    )
    cpu = result["server_cpu"]
    lines.append(
        f"the explorer's server with one tab open, share of one core over {cpu['seconds']:g} s: "
        f"{cpu['finished_run']:.1%} on a finished run, {cpu['live_run']:.1%} on a live run "
        "(its tree redrawn every second)"
    )
    return _emit(args, result, "\n".join(lines))


def bench_workers(args: argparse.Namespace) -> int:
    from treelight.engine.bench.concurrency import measure, rows

    levels = [int(n) for n in args.concurrency.split(",") if n.strip()]
    executors = ("local", "ray") if args.executor == "both" else (args.executor,)
    results = measure(levels, args.runs, args.delay, executors)
    lines = [f"{args.runs} math searches per level, the server taking {args.delay} s a request"]
    lines.append("executor  concurrency  model calls  seconds  runs/s  speed-up")
    lines += [
        f"{r.executor:>8}  {r.concurrency:>11}  {r.model_calls:>11}  {r.seconds:>7}  "
        f"{r.runs_per_second:>6}  {r.speedup:>7}x"
        for r in results
    ]
    return _emit(args, {"delay": args.delay, "levels": rows(results)}, "\n".join(lines))
