"""The methods `treelight eval` compares: named presets and any installed strategy.

A method is written `NAME` or `NAME:KEY=VALUE;KEY=VALUE` (the strategy's
parameters, as a judge's options are written), e.g. `bfs:beam=10` or
`cot-sc:n=5`. Presets, the Tree of Thoughts paper's baselines and ours:

- `cot`       one whole answer, steps then the answer, no judges
- `io`        one whole answer alone (tasks with a `prompt` option, e.g. game24)
- `cot-sc`    self-consistency: whole answers, majority vote, no judges
- `bfs-free`  beam search with the model writing freely (`constrain=off`)
- `random`    chance: beam search where each proposal is a uniform random draw
              from the task's grammar (the `random` backend, no model), judged by
              the task's free judges (its verifiers) alone, or by `judges=` (chance
              in the same shell as a model with those judges)
- any strategy name (`bfs`, `dfs`, `mcts`, ...): that strategy with the task's
  default judges; `constrain=off` among its options makes the model write freely
  (`bfs:constrain=off` is `bfs-free`)

Any model-guided method takes `judges`, the judges joined by `+`, each written as
in `--judges` (one option per judge: `;` separates the method's options), e.g.
`bfs:judges=game24-verifier+learned:file=g24.judge;beam=5`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from treelight.engine.errors import BadArguments
from treelight.engine.judges import judge_classes, parse_judge_specs
from treelight.engine.strategies import strategy_classes
from treelight.engine.tasks import task_classes

PRESETS = ("cot", "io", "cot-sc", "bfs-free", "random")


@dataclass(frozen=True)
class Method:
    name: str  # as written, e.g. "bfs:beam=10"
    strategy: str
    params: dict[str, Any] = field(default_factory=dict)
    judges: list[dict[str, Any]] | None = None  # None: the task's defaults
    task_params: dict[str, Any] = field(default_factory=dict)
    generator: dict[str, Any] = field(default_factory=dict)  # overrides of the eval's


def has_grammar(task: str) -> bool:
    """Whether the task declares the shape of its steps (Task.shape), so chance has
    something to draw from."""
    from treelight.engine.tasks.base import Task

    return task_classes()[task].shape is not Task.shape


def default_methods(task: str) -> str:
    return "cot,bfs,random" if has_grammar(task) else "cot,bfs"


def split_methods(text: str) -> list[str]:
    names = [m.strip() for m in text.split(",") if m.strip()]
    if not names:
        raise BadArguments("--methods needs at least one method, e.g. --methods cot,bfs,random.")
    if len(set(names)) < len(names):
        raise BadArguments(f"--methods names a method twice: {text}.")
    return names


def parse_method(written: str, task: str) -> Method:
    """`written` for `task`, or BadArguments saying what there is."""
    name, _, options = written.partition(":")
    name = name.strip()
    [spec] = parse_judge_specs(f"x:{options}") if options else [{"name": "x"}]
    spec.pop("name")
    # `constrain` is the backend's, not the strategy's: `bfs:constrain=off` runs free.
    writing = {"constrain": spec.pop("constrain")} if "constrain" in spec else {}
    named = _judges(str(spec.pop("judges")), written) if "judges" in spec else None
    if named is not None and name in ("cot", "io", "cot-sc"):
        raise BadArguments(
            f"The method {name} judges nothing (whole answers, checked at the end): "
            "`judges=` is for searches such as bfs, or random (chance with those judges)."
        )
    # An option the task declares is the task's (e.g. game24's moves=distinct).
    own = {k: spec.pop(k) for k in list(spec) if k in task_classes()[task].Options.model_fields}
    free_judges = [
        {"name": j} for j in task_classes()[task].default_judges if judge_classes()[j].free
    ]
    if name == "cot":
        return Method(written, "best-of-n", {"n": 1, **spec}, judges=[], task_params=own)
    if name == "io":
        if "prompt" not in task_classes()[task].Options.model_fields:
            raise BadArguments(
                f"The method io needs a task with a `prompt` option; {task} has none."
            )
        return Method(
            written, "best-of-n", {"n": 1, **spec}, judges=[], task_params={**own, "prompt": "io"}
        )
    if name == "cot-sc":
        return Method(written, "self-consistency", spec, judges=[], task_params=own)
    if name == "bfs-free":
        return Method(written, "bfs", spec, named, generator={"constrain": "off"}, task_params=own)
    if name == "random":
        if not has_grammar(task):
            raise BadArguments(
                f"The method random (chance) draws from the grammar a task's steps are "
                f"written in, and {task} declares none yet; leave it out for {task}."
            )
        # Equal scores from the verifiers alone: the beam keeps the first of its
        # random proposals, which is a random choice.
        return Method(
            written,
            "bfs",
            spec,
            judges=named if named is not None else free_judges,
            generator={"backend": "random"},
            task_params=own,
        )
    if name in strategy_classes():
        return Method(written, name, spec, named, generator=writing, task_params=own)
    raise BadArguments(
        f"Unknown method {name!r}: choose from the presets {', '.join(PRESETS)} or a "
        f"strategy ({', '.join(strategy_classes())})."
    )


def _judges(text: str, written: str) -> list[dict[str, Any]]:
    """`game24-verifier+learned:file=g24.judge` -> judge specs, each checked."""
    specs = parse_judge_specs(",".join(p for p in text.split("+") if p.strip()))
    if not specs:
        raise BadArguments(f"The method {written!r} names no judges after `judges=`.")
    for spec in specs:
        if spec["name"] not in judge_classes():
            raise BadArguments(
                f"The method {written!r} names an unknown judge {spec['name']!r}; "
                f"the judges are {', '.join(judge_classes())}."
            )
    return specs


def model_guided(method: Method) -> bool:
    """Whether `--judges` applies: a method that searches with the task's default
    judges (not cot, io or cot-sc, which have none, nor chance's verifiers)."""
    return method.judges is None
