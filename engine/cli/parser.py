"""The `treelight` command line's arguments: every command, its flags and help.

Role flags come from the plugin registry (cli/roles.py); what each command does
is in cli/handlers.py.
"""

from __future__ import annotations

import argparse

from treelight.engine.cli.roles import (
    add_role_arguments,
    roles_epilog,
)


def _budget_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-calls", type=int, help="stop after this many model calls")
    parser.add_argument("--max-tokens", type=int, help="stop after this many tokens (in + out)")
    parser.add_argument("--max-seconds", type=float, help="stop after this many seconds")
    parser.add_argument("--max-nodes", type=int, help="stop when the tree has this many nodes")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="treelight",
        description="Reasoning as infrastructure: search over model thoughts, every step kept.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run",
        help="run a search and print its answer",
        epilog=roles_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--problem", required=True, help='e.g. "4 9 10 13" for game24')
    add_role_arguments(run)
    run.add_argument("--temperature", type=float, default=0.7)
    run.add_argument("--seed", type=int, default=0)
    run.add_argument(
        "--allow-trained-items",
        action="store_true",
        help="use a learned judge on a problem it was trained on, on purpose",
    )
    run.add_argument(
        "--replay",
        action="store_true",
        help="serve identical model calls from earlier runs' stored outputs",
    )
    _budget_args(run)

    resume = sub.add_parser("resume", help="continue a paused, stopped or interrupted run")
    resume.add_argument("run_id", type=int)
    _budget_args(resume)

    show = sub.add_parser("show", help="print a run's tree as indented text")
    show.add_argument("run_id", type=int)

    export = sub.add_parser(
        "export",
        help="print a run as JSON or GraphML, or as training data (JSONL; docs/TRAINING_DATA.md)",
    )
    export.add_argument("run_id", type=int, nargs="?")
    export.add_argument(
        "--eval", type=int, metavar="EVAL_ID", help="training data from every run of an eval"
    )
    export.add_argument(
        "--format", choices=("json", "graphml", "preference", "prm", "sft"), default="json"
    )
    export.add_argument(
        "--judges", help="training data: only these judges' rejections count (comma-separated)"
    )

    runs = sub.add_parser("runs", help="list runs")
    runs.add_argument("--json", action="store_true")

    models = sub.add_parser("models", help="list the models a server has (Ollama by default)")
    models.add_argument("--backend", default="ollama", help="ollama, openai, or a plugin's")
    models.add_argument("--host", help="Ollama: default $OLLAMA_HOST or http://localhost:11434")
    models.add_argument(
        "--base-url", help="OpenAI-compatible: default $OPENAI_BASE_URL or http://localhost:8000/v1"
    )
    models.add_argument("--json", action="store_true")

    pull = sub.add_parser("pull", help="pull a model onto the Ollama server, with progress")
    pull.add_argument("name")
    pull.add_argument("--host", help="default: $OLLAMA_HOST or http://localhost:11434")

    steering_help = {
        "pause": "pause a run after the action in flight (its candidates are checked first)",
        "stop": "end a run after the action in flight; `treelight resume` can continue it",
        "step": "do exactly one action of a paused run (a running one pauses after its "
        "action in flight)",
    }
    for name, text in steering_help.items():
        command = sub.add_parser(name, help=text)
        command.add_argument("run_id", type=int)

    label = sub.add_parser(
        "label",
        help="mark a node good or bad with a short note (none clears it); the search "
        "ignores it, the tree and the training exports show it",
    )
    label.add_argument("run_id", type=int)
    label.add_argument("node_id", type=int)
    label.add_argument("verdict", choices=("good", "bad", "none"))
    label.add_argument("--note", default="", help="why, in a line (at most 500 characters)")

    app = sub.add_parser("app", help="open the explorer (Streamlit) on this machine")
    app.add_argument("--port", type=int, default=8501)
    app.add_argument(
        "--address",
        default="127.0.0.1",
        help="where to listen (default: this machine only; see the docs first)",
    )

    from treelight.engine.bench.cli import add_parser as add_bench_parser
    from treelight.engine.evals.cli import add_parser as add_eval_parser
    from treelight.engine.learning.cli import add_parser as add_train_parser

    add_bench_parser(sub)
    add_eval_parser(sub)
    add_train_parser(sub)

    worker = sub.add_parser("worker", help="run queued searches in the background")
    worker.add_argument("--once", action="store_true", help="work on one run, then exit")
    worker.add_argument("--poll", type=float, default=0.5, help="seconds between looks")
    worker.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="runs worked at once (each under its own lease): for model servers that "
        "answer many requests at once; 1 for the embedded model",
    )
    worker.add_argument(
        "--eval", type=int, metavar="EVAL_ID", help="only this eval's runs; exit when it is done"
    )
    return parser
