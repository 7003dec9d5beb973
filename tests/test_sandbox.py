"""Model-written code in the sandbox: every escape attempt is stopped or refused."""

from __future__ import annotations

import pytest

from treelight.engine.judges.sandbox import Limits, bubblewrap, run_python

FAST = Limits(wall_seconds=5, cpu_seconds=3, memory_bytes=256 * 2**20, file_bytes=2**20)
isolated = pytest.mark.skipif(bubblewrap() is None, reason="Debian's bubblewrap is missing")


def test_ordinary_code_runs_and_its_output_comes_back() -> None:
    result = run_python("print(sum(range(10)))", FAST)
    assert (result.exit_code, result.stdout.strip(), result.reason) == (0, "45", "finished")


@pytest.mark.slow
def test_an_infinite_loop_is_stopped() -> None:
    result = run_python("while True:\n    pass\n", FAST)
    assert result.exit_code != 0
    assert result.reason.startswith("stopped")
    assert result.seconds < 8


def test_a_sleeping_process_hits_the_wall_clock() -> None:
    result = run_python("import time\ntime.sleep(60)\n", Limits(wall_seconds=1.5))
    assert result.exit_code is None and "wall-clock" in result.reason


@pytest.mark.slow
def test_a_fork_bomb_is_contained() -> None:
    code = (
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    )
    result = run_python(code, FAST)
    assert result.exit_code != 0 and result.reason.startswith("stopped")
    # Bounded by the process count (a pids cgroup, which binds root too) and the
    # wall clock, plus teardown.
    assert result.seconds < 60


def test_the_process_count_is_capped_even_for_root() -> None:
    import os

    from treelight.engine.judges.sandbox import _pids_cgroup, _release

    probe = _pids_cgroup(8)
    if probe is None and os.geteuid() == 0:
        pytest.skip("no writable pids cgroup: as root, only the wall clock stops a fork bomb")
    if probe is not None:
        _release(probe)
    code = (
        "import os, time\nmade = 0\nfor _ in range(500):\n    try:\n        pid = os.fork()\n"
        "    except OSError:\n        break\n    if pid == 0:\n        time.sleep(2)\n"
        "        os._exit(0)\n    made += 1\nprint(made)\n"
    )
    result = run_python(code, Limits(wall_seconds=10, processes=16))
    assert result.exit_code == 0, result.stderr
    assert int(result.stdout) < 16  # bubblewrap's own processes count too


def test_a_memory_hog_is_stopped() -> None:
    result = run_python("x = bytearray(2 * 1024**3)\n", FAST)
    assert result.exit_code != 0 and "memory" in result.reason


def test_huge_output_is_cut() -> None:
    result = run_python("print('x' * 10_000_000)\n", FAST)
    assert "[output cut at 64,000" in result.stdout and len(result.stdout) < 70_000


def test_a_big_file_is_refused() -> None:
    result = run_python("open('big', 'wb').write(b'0' * 10_000_000)\n", FAST)
    assert result.exit_code != 0


def test_the_environment_is_empty() -> None:
    result = run_python("import os\nprint(sorted(os.environ))\n", FAST)
    # Only what Python or bubblewrap set themselves: nothing of ours is inherited.
    assert set(eval(result.stdout)) <= {"LC_CTYPE", "PWD"}  # noqa: S307 (our own output)


@isolated
def test_writing_outside_its_directory_is_refused() -> None:
    result = run_python("open('/etc/treelight-was-here', 'w').write('x')\n", FAST)
    assert result.exit_code != 0 and "Read-only file system" in result.stderr


@isolated
def test_the_users_files_are_not_visible(tmp_path: object) -> None:
    import os
    from pathlib import Path

    secret = Path(os.path.expanduser("~")) / ".treelight-sandbox-secret"
    secret.write_text("do not read")
    try:
        result = run_python(f"print(open({str(secret)!r}).read())\n", FAST)
    finally:
        secret.unlink()
    assert result.exit_code != 0 and "No such file" in result.stderr
    assert result.isolation == "bubblewrap"


@isolated
def test_the_network_is_unreachable() -> None:
    code = "import socket\ns = socket.socket()\ns.settimeout(2)\ns.connect(('127.0.0.1', 9))\n"
    result = run_python(code, FAST)
    assert result.exit_code != 0
    assert "Network is unreachable" in result.stderr or "refused" in result.stderr
