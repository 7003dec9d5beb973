"""The `treelight run` flags for roles, made from what the registry holds.

Every installed task, strategy, judge and backend (built-in or from a plugin)
appears in `treelight run --help` with its options, and a task's or backend's
own flags (`--answer`, `--tests`, `--script`) come from its option declarations:
nothing here names a particular task or backend.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from treelight.engine.errors import BadArguments
from treelight.engine.generators import generator_classes, prepare_generator
from treelight.engine.judges import judge_classes
from treelight.engine.options import OptionInfo, Options, describe, parse_value
from treelight.engine.strategies import strategy_classes
from treelight.engine.strategies.base import LOOP_RULES
from treelight.engine.tasks import task_classes


def options_text(options: type[Options], skip: tuple[str, ...] = ()) -> str:
    infos = [i for i in describe(options) if i.name not in skip]
    return ", ".join(f"{i.name}={_default(i)}" for i in infos) or "no options"


def _default(info: OptionInfo) -> str:
    return "" if info.default is None else str(info.default).lower()


def roles_epilog() -> str:
    """What `treelight run --help` lists after the flags: every role and its options."""
    lines = [
        "tasks (--task; options with --task-option KEY=VALUE; every task also takes "
        "max_tokens=N, the longest output of one model call):"
    ]
    for name, task in task_classes().items():
        lines.append(
            f"  {name}: {task.description} Limits: {task.limits()} (the max_tokens option "
            f"sets them). [{options_text(task.Options, ('max_tokens',))}]"
        )
    lines.append("strategies (--strategy; options with --param KEY=VALUE):")
    for name, strategy in strategy_classes().items():
        own = options_text(strategy.Options, LOOP_RULES)
        lines.append(f"  {name}: {strategy.summary} [{own}]")
    lines.append(f"  any strategy also takes the loop rules: {', '.join(LOOP_RULES)}")
    lines.append("judges (--judges NAME:KEY=VALUE;..., comma-separated):")
    for name, judge in judge_classes().items():
        lines.append(f"  {name}: {judge.description} [{options_text(judge.Options)}]")
    lines.append("backends (--backend; options with --backend-option KEY=VALUE):")
    for name, generator in generator_classes().items():
        lines.append(f"  {name}: {generator.label} [{options_text(generator.Options)}]")
    return "\n".join(lines)


def _flag_options() -> dict[str, list[tuple[str, str, OptionInfo]]]:
    """flag -> (role, role name, option) for every option that asks for its own flag."""
    flags: dict[str, list[tuple[str, str, OptionInfo]]] = {}
    roles: list[tuple[str, str, type[Options]]]
    roles = [("task", n, c.Options) for n, c in task_classes().items()]
    roles += [("backend", n, c.Options) for n, c in generator_classes().items()]
    for role, name, options in roles:
        for info in describe(options):
            if info.flag:
                flags.setdefault(info.flag, []).append((role, name, info))
    return flags


def add_role_arguments(
    run: argparse.ArgumentParser, strategy: bool = True, task_required: bool = True
) -> None:
    """The role flags; `strategy=False` for commands that choose strategies another way
    (`treelight eval --methods`)."""
    tasks, strategies = task_classes(), strategy_classes()
    run.add_argument("--task", required=task_required, choices=sorted(tasks))
    run.add_argument(
        "--task-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a task option (repeatable; the list is below)",
    )
    if strategy:
        run.add_argument("--strategy", default="bfs", choices=list(strategies))
        run.add_argument(
            "--param",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="a strategy parameter, e.g. --param beam=3 (repeatable)",
        )
    run.add_argument("--backend", default="embedded", choices=list(generator_classes()))
    run.add_argument("--model", help="Ollama model name, or a .gguf path for embedded")
    run.add_argument(
        "--backend-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a backend option, e.g. --backend-option host=http://gpu:11434 (repeatable)",
    )
    for flag, owners in _flag_options().items():
        _, _, info = owners[0]
        whose = " / ".join(f"{role} {name}" for role, name, _ in owners)
        kind = "FILE" if info.from_file else info.name.upper()
        run.add_argument(flag, metavar=kind, help=f"{whose}: {info.help}")
    run.add_argument(
        "--judges",
        help="e.g. game24-verifier,value:samples=3 (default: the task's); 'none' for no judges",
    )


def key_values(texts: list[str], flag: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for text in texts:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise BadArguments(f"{flag} {text!r} must look like KEY=VALUE.")
        values[key.strip()] = parse_value(value)
    return values


def _flag_values(args: argparse.Namespace, role: str, name: str) -> dict[str, Any]:
    """The values given through dedicated flags for the chosen task or backend."""
    values: dict[str, Any] = {}
    for flag, owners in _flag_options().items():
        given = getattr(args, flag.lstrip("-").replace("-", "_"), None)
        if given is None:
            continue
        mine = [info for r, n, info in owners if (r, n) == (role, name)]
        if not mine:
            if any(r == role for r, _, _ in owners):
                takers = ", ".join(f"--{role} {n}" for r, n, _ in owners if r == role)
                raise BadArguments(f"{flag} is for {takers}.")
            continue
        info = mine[0]
        if info.from_file:  # the text is stored with the run: it never needs the file again
            try:
                given = Path(given).read_text(encoding="utf-8")
            except OSError as error:
                raise BadArguments(f"Cannot read {flag} {given}: {error.strerror}.") from None
        values[info.name] = given
    return values


def task_params(args: argparse.Namespace) -> dict[str, Any]:
    return {
        **key_values(args.task_option, "--task-option"),
        **_flag_values(args, "task", args.task),
    }


def generator_spec(args: argparse.Namespace) -> dict[str, Any]:
    values = key_values(args.backend_option, "--backend-option")
    values.update(_flag_values(args, "backend", args.backend))
    if args.model:
        values["model"] = args.model
    return prepare_generator(args.backend, values, args.temperature)
