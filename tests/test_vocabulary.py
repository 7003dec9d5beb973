"""The stored vocabulary is typed: statuses, event kinds, who pruned, and a
command's kind and status are StrEnums in storage/vocabulary.py, and product
code names them, never spells them.

The check reads the code (no import): a string equal to a vocabulary value is a
defect where it is compared with something, given as `status=`, `kind=`,
`pruned_by=`, `requested=` or `event=`, or passed as the kind or status of
`add_event`, `rest` or `set_status`. Strings that only look like the vocabulary
(a JSON field of a model server, a widget label) are allowed by name below.
"""

from __future__ import annotations

import ast
from pathlib import Path

from treelight.storage.vocabulary import (
    CommandKind,
    CommandStatus,
    EventKind,
    NodeStatus,
    Origin,
    PrunedBy,
    RunRequest,
    RunStatus,
)

ROOT = Path(__file__).resolve().parent.parent
WORDS = {
    str(member)
    for vocabulary in (
        RunStatus,
        RunRequest,
        NodeStatus,
        PrunedBy,
        Origin,
        EventKind,
        CommandKind,
        CommandStatus,
    )
    for member in vocabulary
    if str(member)
}
KEYWORDS = {"status", "kind", "pruned_by", "requested", "event", "by", "origin"}
# Fields that only ever hold vocabulary: any string written to them is a defect
# (a word outside the vocabulary, like "cutoff" for `pruned_by`, most of all).
TYPED_FIELDS = {"status", "pruned_by", "requested", "origin"}
# Comparisons with these names are about other words that happen to look alike: an
# expansion's mode ("step", "critique") and an event's actor ("person", "engine").
OTHER_WORDS = {"mode", "actor"}
# Calls whose leading positional arguments are vocabulary: name -> argument positions.
CALLS = {"add_event": (2,), "rest": (1, 3), "set_status": (0, 2), "_change": (2,), "in_": (0,)}
# (file, line text fragment): strings that only look like the vocabulary.
ALLOWED = {
    ("engine/generators/ollama_backend.py", '"done"'),  # Ollama's stream field
}


def _literal(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in WORDS:
        return node.value
    return None


def _literals(node: ast.AST, typed: bool = False) -> list[str]:
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [w for element in node.elts for w in _literals(element, typed)]
    if isinstance(node, ast.IfExp):
        return _literals(node.body, typed) + _literals(node.orelse, typed)
    if typed and isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value:
        return [node.value]
    found = _literal(node)
    return [found] if found else []


def _field(target: ast.AST) -> str | None:
    """The field a target names: `x.status` or `x["status"]`."""
    if isinstance(target, ast.Attribute):
        return target.attr
    if isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant):
        return str(target.slice.value)
    if isinstance(target, ast.Name):
        return target.id
    return None


def _offences(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            parts = [node.left, *node.comparators]
            if any(_field(part) in OTHER_WORDS for part in parts):
                continue
            for part in parts:
                found += [(node.lineno, w) for w in _literals(part)]
        elif isinstance(node, ast.Assign):
            targets = node.targets[0]
            pairs = (
                list(zip(targets.elts, node.value.elts, strict=False))
                if isinstance(targets, ast.Tuple) and isinstance(node.value, ast.Tuple)
                else [(target, node.value) for target in node.targets]
            )
            for target, value in pairs:
                if _field(target) in KEYWORDS and not isinstance(target, ast.Name):
                    typed = _field(target) in TYPED_FIELDS
                    found += [(node.lineno, w) for w in _literals(value, typed)]
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value in KEYWORDS:
                    typed = key.value in TYPED_FIELDS
                    found += [(node.lineno, w) for w in _literals(value, typed)]
        elif isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg in KEYWORDS:
                    typed = keyword.arg in TYPED_FIELDS
                    found += [(node.lineno, w) for w in _literals(keyword.value, typed)]
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            for position in CALLS.get(name, ()):
                if position < len(node.args):
                    found += [(node.lineno, w) for w in _literals(node.args[position])]
    return found


def test_no_status_or_event_kind_is_spelled_outside_the_vocabulary() -> None:
    offences = []
    for folder in ("app", "engine", "storage"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = str(path.relative_to(ROOT))
            if relative == "storage/vocabulary.py":
                continue
            lines = path.read_text().splitlines()
            for line, word in _offences(path):
                text = lines[line - 1]
                if any(relative == f and fragment in text for f, fragment in ALLOWED):
                    continue
                offences.append(f"{relative}:{line}: {word!r} — {text.strip()}")
    assert not offences, "use the StrEnums of storage/vocabulary.py:\n" + "\n".join(offences)
