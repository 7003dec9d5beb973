"""`treelight`: parse the arguments, dispatch to the command's handler, and turn
an error into its message and exit code (1; 2 for bad arguments).
"""

from __future__ import annotations

import os
import sys

from treelight.engine.cli.handlers import (
    cmd_app,
    cmd_bench,
    cmd_eval,
    cmd_export,
    cmd_label,
    cmd_models,
    cmd_pull,
    cmd_resume,
    cmd_run,
    cmd_runs,
    cmd_show,
    cmd_steer,
    cmd_train,
    cmd_worker,
)
from treelight.engine.cli.parser import build_parser
from treelight.engine.errors import BadArguments, TreelightError
from treelight.storage.database import make_engine

HANDLERS = {
    "run": cmd_run,
    "resume": cmd_resume,
    "show": cmd_show,
    "export": cmd_export,
    "runs": cmd_runs,
    "pause": cmd_steer,
    "stop": cmd_steer,
    "step": cmd_steer,
    "label": cmd_label,
    "worker": cmd_worker,
    "models": cmd_models,
    "pull": cmd_pull,
    "app": cmd_app,
    "bench": cmd_bench,
    "eval": cmd_eval,
    "train": cmd_train,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        engine = make_engine()
        return HANDLERS[args.command](engine, args)
    except BadArguments as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except TreelightError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`treelight runs | head`): stop quietly, as Unix tools
        # do; output to the closed pipe at exit would raise again, so it goes nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
