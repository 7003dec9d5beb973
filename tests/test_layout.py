"""The house a newcomer walks: engine/ in rooms, small modules, and the import
paths users' scripts and plugins depend on still there.

Every public path in the README and docs/PLUGINS.md is imported here by name, so
moving a module without re-exporting what users import fails this test.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENGINE = ROOT / "engine"

# Public import paths: (module, names) as the README, docs/PLUGINS.md, the example
# plugin (tests/plugin/) and the console script use them.
PUBLIC = [
    ("treelight.engine", ["api"]),
    ("treelight.engine.api", ["create_run", "open_run", "RunHandle"]),
    ("treelight.engine.errors", ["ModelError", "TreelightError", "BadArguments"]),
    ("treelight.engine.generators.base", ["Generator", "CompletionRequest", "Completion"]),
    ("treelight.engine.generators.base", ["draw_distinct_lines"]),
    ("treelight.engine.options", ["Field", "Options"]),
    ("treelight.engine.hookspecs", ["hookimpl", "hookspec"]),
    ("treelight.engine.plugins", ["RegisterFunction"]),
    ("treelight.engine.judges.base", ["Judge", "JudgeContext", "Verdict"]),
    ("treelight.engine.strategies.base", ["Strategy", "StrategyOptions", "ranked"]),
    ("treelight.engine.strategies.base", ["pending_evaluation"]),
    ("treelight.engine.tasks.base", ["Task", "Transition"]),
    ("treelight.engine.types", ["Action", "Expand", "NodeView", "TreeView"]),
    ("treelight.engine.cli", ["main"]),
    ("treelight.engine.steering", ["pause", "resume", "step", "stop", "prune", "pin"]),
    ("treelight.storage.models", ["Run", "Node", "Evaluation", "Event", "ModelCall"]),
    ("treelight.storage.vocabulary", ["RunStatus", "NodeStatus", "EventKind"]),
]


def _submodule(module: str, name: str) -> bool:
    """`from package import module` works for a submodule too."""
    try:
        importlib.import_module(f"{module}.{name}")
    except ModuleNotFoundError:
        return False
    return True


@pytest.mark.parametrize(("module", "names"), PUBLIC, ids=[f"{m}:{n[0]}" for m, n in PUBLIC])
def test_public_import_paths_still_work(module: str, names: list[str]) -> None:
    imported = importlib.import_module(module)
    missing = [
        name for name in names if not hasattr(imported, name) and not _submodule(module, name)
    ]
    assert not missing, f"{module} no longer offers {missing}: re-export them where they moved"


def test_the_console_script_and_module_entry_point() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'treelight = "treelight.engine.cli:main"' in pyproject
    assert (ENGINE / "cli" / "__main__.py").exists()  # python -m treelight.engine.cli


def test_engine_root_holds_at_most_ten_modules() -> None:
    root = sorted(p.name for p in ENGINE.glob("*.py"))
    assert len(root) <= 10, root


def test_no_product_module_is_over_400_lines() -> None:
    """Small enough to read in one sitting."""
    long = {
        str(path.relative_to(ROOT)): lines
        for folder in ("app", "engine", "storage")
        for path in (ROOT / folder).rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > 400
    }
    assert not long, long


def test_every_room_says_what_it_owns() -> None:
    """Each engine subpackage opens with a docstring that says what it owns and,
    for the new rooms, what it does not."""
    for package in sorted(p.parent for p in ENGINE.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or ""
        assert len(doc) > 40, f"engine/{package.name}/ has no docstring saying what it owns"


def test_every_product_module_has_a_docstring() -> None:
    for folder in ("app", "engine", "storage"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.name == "__init__.py" and not path.read_text().strip():
                continue
            tree = ast.parse(path.read_text())
            assert ast.get_docstring(tree), f"{path.relative_to(ROOT)} has no module docstring"


def test_every_package_folder_is_in_the_wheel() -> None:
    """A new room must be listed in pyproject.toml's packages, or the installed
    command cannot import it (the wheel test finds it too, but only in the slow tier)."""
    import tomllib

    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        "treelight." + ".".join(init.parent.relative_to(ROOT).parts)
        for folder in ("app", "engine", "storage", "assets")
        for init in (ROOT / folder).rglob("__init__.py")
    }
    assert found <= listed, sorted(found - listed)
