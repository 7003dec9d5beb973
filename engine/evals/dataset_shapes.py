"""Code datasets as they ship, read into the code task's fields.

HumanEval (openai/human-eval's HumanEval.jsonl.gz): `prompt` (a signature and
docstring), `test` (a `check(candidate)` function), `entry_point` (the function it
checks), `canonical_solution` (the body). MBPP (google-research's mbpp.jsonl and its
sanitized set): `text` or `prompt` (the task in words), `test_list` (assert
lines), `test_setup_code` or `test_imports`, `code` (a reference solution).

A reference solution is kept with the item (`Item.reference`) to check the
dataset and its tests (`treelight eval --check-references`); it never reaches a
prompt, and no run stores it.
"""

from __future__ import annotations

import ast
from typing import Any

HUMANEVAL_FIELDS = {"prompt", "test", "entry_point"}


def code_item(row: dict[str, Any]) -> tuple[str, dict[str, Any], str | None] | None:
    """(problem, the code task's fields, reference program) for a HumanEval or MBPP
    row; None for any other row."""
    if HUMANEVAL_FIELDS <= row.keys():
        return _humaneval(row)
    if "test_list" in row and ("text" in row or "prompt" in row):
        return _mbpp(row)
    return None


def _humaneval(row: dict[str, Any]) -> tuple[str, dict[str, Any], str | None]:
    prompt, entry = str(row["prompt"]), str(row["entry_point"])
    problem = (
        f"Complete the Python function {entry} (keep its name and signature):\n"
        f"```python\n{prompt.strip()}\n```"
    )
    fields = {
        "tests": str(row["test"]),
        "entry_point": entry,
        # The prompt's imports (from typing import List, ...), which a model's
        # answer may leave out: the benchmark runs the prompt and the body together.
        "setup": _imports(prompt),
        # HumanEval's convention: the model sees the prompt, not the tests.
        "show_tests": False,
    }
    solution = row.get("canonical_solution")
    return problem, fields, (prompt + str(solution)) if solution else None


def _mbpp(row: dict[str, Any]) -> tuple[str, dict[str, Any], str | None]:
    problem = str(row.get("text") or row.get("prompt"))
    tests = row["test_list"]
    setup = row.get("test_setup_code") or row.get("test_imports") or ""
    fields = {
        "tests": "\n".join(tests) if isinstance(tests, list) else str(tests),
        "setup": "\n".join(setup) if isinstance(setup, list) else str(setup),
    }
    return problem, fields, str(row["code"]) if row.get("code") else None


def _imports(code: str) -> str:
    try:
        module = ast.parse(code)
    except SyntaxError:
        return ""
    return "\n".join(
        ast.unparse(n) for n in module.body if isinstance(n, ast.Import | ast.ImportFrom)
    )
