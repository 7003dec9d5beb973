"""Datasets for `treelight eval`: a JSONL or CSV file of items, or a built-in set.

An item is a problem, maybe an expected answer, and maybe the task's own fields
(a column named like one of the task's options, e.g. the code task's `tests`).
The problem is read from the first of PROBLEM_FIELDS the item has, the expected
answer from ANSWER_FIELDS. GSM8K writes its answers as worked solutions ending
"#### 72"; the part after "####" is the answer.

Built-in: `game24`, the Tree of Thoughts puzzle set (1,362 puzzles; the paper's
test set is items 900-999), and `math20`, twenty short GSM8K-style word problems
(one to two steps of arithmetic) written for Treelight's own tests and figures.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from treelight.engine.errors import BadArguments
from treelight.engine.tasks import task_classes

PROBLEM_FIELDS = ("problem", "question", "input", "puzzle", "Puzzles")
ANSWER_FIELDS = ("answer", "expected", "target", "solution")
GAME24_VARIABLE = "TREELIGHT_GAME24_CSV"


@dataclass(frozen=True)
class Item:
    index: int  # 0-based, in the file's order
    problem: str
    expected: str | None = None
    params: dict[str, Any] = field(default_factory=dict)  # the task's own fields


def game24_file(path: str | None = None) -> Path:
    """The Tree of Thoughts puzzle set: a given file, $TREELIGHT_GAME24_CSV, or the
    copy inside the `tree-of-thoughts-llm` package."""
    for candidate in (path, os.environ.get(GAME24_VARIABLE)):
        if candidate:
            return Path(candidate)
    try:
        return Path(str(resources.files("tot"))) / "data" / "24" / "24.csv"
    except ModuleNotFoundError:
        raise BadArguments(
            f"No Game of 24 puzzle file: set {GAME24_VARIABLE} to the Tree of Thoughts "
            "24.csv, or install it with `pip install --no-deps tree-of-thoughts-llm`."
        ) from None


def math20_file() -> Path:
    return Path(str(resources.files("treelight.assets").joinpath("math20.jsonl")))


BUILTIN = {"game24": game24_file, "math20": math20_file}


def load_items(source: str, task: str) -> list[Item]:
    """Every item of a dataset file (or built-in) for `task`."""
    path = BUILTIN[source]() if source in BUILTIN else Path(source)
    if not path.is_file():
        raise BadArguments(
            f"No dataset at {path}: pass a .jsonl or .csv file, or a built-in "
            f"({', '.join(BUILTIN)})."
        )
    rows = _csv_rows(path) if path.suffix.lower() == ".csv" else _jsonl_rows(path)
    options = set(task_classes()[task].Options.model_fields)
    items = [_item(index, row, options, path) for index, row in enumerate(rows)]
    if not items:
        raise BadArguments(f"The dataset {path} has no items.")
    return items


def _jsonl_rows(path: Path) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise BadArguments(f"Line {number} of {path} is not JSON: {error.msg}.") from None
            if not isinstance(row, dict):
                raise BadArguments(f"Line {number} of {path} is not a JSON object.")
            rows.append(row)
    return rows


def _csv_rows(path: Path) -> list[dict[str, Any]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _item(index: int, row: dict[str, Any], options: set[str], path: Path) -> Item:
    problem = next((row[f] for f in PROBLEM_FIELDS if row.get(f) not in (None, "")), None)
    if problem is None:
        raise BadArguments(
            f"Item {index} of {path} has no problem: name its field one of "
            f"{', '.join(PROBLEM_FIELDS)} (it has: {', '.join(row) or 'nothing'})."
        )
    expected = next((row[f] for f in ANSWER_FIELDS if row.get(f) not in (None, "")), None)
    if expected is not None:
        expected = str(expected).split("####")[-1].strip()
    taken = {*PROBLEM_FIELDS, *ANSWER_FIELDS}
    params = {k: v for k, v in row.items() if k in options and k not in taken and v != ""}
    return Item(index=index, problem=str(problem), expected=expected, params=params)
