"""Treelight installs as one namespaced package, from a real wheel.

Builds a wheel of this checkout, installs it (not editable) into a throwaway
virtual environment whose only other packages are this test environment's
dependencies, and then, from a folder outside the checkout: `import app` must
fail, `treelight run` must solve a puzzle, and the app's New run page must open.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from tests.conftest import game24_script

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow  # builds a wheel and a virtual environment


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway venv with the wheel installed; returns its python."""
    base = tmp_path_factory.mktemp("wheel")
    # Built from a copy: an in-tree build would leave build/ and *.egg-info behind.
    source = base / "source"
    ignore = shutil.ignore_patterns(".*", "build", "test-artifacts", "*.egg-info", "__pycache__")
    shutil.copytree(ROOT, source, ignore=ignore)
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(base), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = base.glob("treelight-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"treelight", wheel.name.split("-")[0] + "-0.1.0.dist-info"}, tops
    assert "treelight/assets/presets.json" in names
    assert "treelight/assets/judges/game24-selfplay.judge" in names  # the built-in judge
    assert "treelight/assets/tree_component.js" in names

    env_dir = base / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # The dependencies come from this environment's site-packages as a plain path
    # entry: its .pth files (the editable install of this checkout) are not read.
    ours = sysconfig.get_paths()["purelib"]
    Path(site, "test-deps.pth").write_text(ours + "\n")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps"]
        + [str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    return python


def run_outside(python: Path, args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TREELIGHT_HOME": str(home), "TREELIGHT_WORKER": "off"}
    env.pop("PYTHONPATH", None)
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        args, cwd=home, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_plain_names_are_not_installed(installed: Path, tmp_path: Path) -> None:
    for name in ("app", "engine", "storage", "assets"):
        result = run_outside(installed, [str(installed), "-c", f"import {name}"], tmp_path)
        assert "ModuleNotFoundError" in result.stderr, (name, result.stdout, result.stderr)
    result = run_outside(
        installed,
        [str(installed), "-c", "import treelight.engine.cli.entry as c; print(c.__file__)"],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert str(installed.parent.parent) in result.stdout, "imported from the checkout"


def test_the_installed_command_runs_a_search(installed: Path, tmp_path: Path) -> None:
    script = tmp_path / "outputs.json"
    script.write_text(json.dumps(game24_script(3)))
    treelight = str(installed.parent / "treelight")
    args = ["run", "--task", "game24", "--problem", "4 4 4 4", "--backend", "scripted"]
    args += ["--script", str(script), "--max-calls", "20", "--json"]
    result = run_outside(installed, [treelight, *args], tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] in ("done", "stopped") and summary["nodes"] > 1, summary
    shown = run_outside(installed, [treelight, "show", str(summary["run_id"])], tmp_path)
    assert shown.stdout.startswith(f"Run #{summary['run_id']} · game24"), shown.stderr


def test_the_installed_app_opens_the_new_run_page(installed: Path, tmp_path: Path) -> None:
    program = (
        "from pathlib import Path\n"
        "from streamlit.testing.v1 import AppTest\n"
        "import treelight.app\n"
        "main = Path(treelight.app.__file__).parent / 'main.py'\n"
        "at = AppTest.from_file(str(main), default_timeout=60).run()\n"
        "assert not at.exception, at.exception\n"
        "at.switch_page('views/new_run.py').run()\n"
        "assert not at.exception, at.exception\n"
        "print('buttons:', [b.label for b in at.button])\n"
    )
    result = run_outside(installed, [str(installed), "-c", program], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Start" in result.stdout, result.stdout
