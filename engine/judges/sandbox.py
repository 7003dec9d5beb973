"""Running model-written code: a separate process, with limits, and — where
Debian's `bubblewrap` is installed — inside a throwaway namespace.

What it does:
- a fresh temporary directory as the working directory, removed afterwards;
- an empty environment, no inherited file descriptors, a new session;
- limits: wall clock (the whole process group is killed), CPU seconds, address
  space (memory), file size, number of processes, open files; output is read
  up to a cap and the rest is dropped;
- with bubblewrap (`isolation == "bubblewrap"`): every namespace unshared (no
  network at all), the root file system read-only, the home directories,
  /tmp and the project hidden behind empty tmpfs mounts, only the work
  directory writable.

The process count is also capped by a pids cgroup of its own where the cgroup
file system is writable (as root on most machines): the kernel does not apply
the process-count rlimit to root, the cgroup it does.

What it does not protect against: kernel exploits; side channels; a fork bomb
run by root where no pids cgroup can be made (then only the wall clock stops
it, and tearing down thousands of processes takes seconds); a machine
without bubblewrap gets the limits only (`isolation == "limits-only"`, which a
verdict reports as weaker): then the code can read any file the user can and
open network connections. Do not run untrusted code on a machine holding
secrets without bubblewrap.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

MAX_OUTPUT_BYTES = 64_000


@dataclass(frozen=True)
class Limits:
    wall_seconds: float = 10.0
    cpu_seconds: int = 10
    memory_bytes: int = 512 * 1024 * 1024
    file_bytes: int = 8 * 1024 * 1024
    processes: int = 64
    open_files: int = 64


@dataclass(frozen=True)
class SandboxResult:
    exit_code: int | None  # None: killed on the wall-clock limit
    stdout: str
    stderr: str
    seconds: float
    isolation: str  # "bubblewrap" or "limits-only"
    reason: str  # why it ended, in words


def bubblewrap() -> str | None:
    return shutil.which("bwrap")


# A process-count limit that also binds root (the kernel exempts root from
# RLIMIT_NPROC): a pids cgroup per run, where the cgroup file system is writable.
CGROUP_PIDS_ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))


def _pids_cgroup(limit: int) -> Path | None:
    """A fresh cgroup allowing at most `limit` processes, or None where there is none
    to be had (then only RLIMIT_NPROC applies, which root ignores)."""
    for root in CGROUP_PIDS_ROOTS:
        if not (root / "cgroup.procs").exists():
            continue
        if root.name != "pids":  # cgroup v2: only where the pids controller is on
            try:
                enabled = (root / "cgroup.subtree_control").read_text().split()
            except OSError:
                continue
            if "pids" not in enabled:
                continue
        group = root / f"treelight-sandbox-{os.getpid()}-{time.monotonic_ns()}"
        try:
            group.mkdir()
            (group / "pids.max").write_text(str(limit))
        except OSError:
            if group.exists():
                group.rmdir()
            continue
        return group
    return None


def _release(group: Path) -> None:
    """Kill whatever is left in the cgroup, then remove it."""
    for _ in range(100):
        try:
            pids = [int(p) for p in (group / "cgroup.procs").read_text().split()]
        except OSError:
            return
        if not pids:
            try:
                group.rmdir()
            except OSError:
                pass
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)


def _limit(limits: Limits, group: Path | None) -> None:  # runs in the child, before exec
    if group is not None:  # join before anything else can fork
        try:
            (group / "cgroup.procs").write_text(str(os.getpid()))
        except OSError:
            pass  # the rlimits below still apply
    os.setsid()
    for which, value in (
        (resource.RLIMIT_CPU, limits.cpu_seconds),
        (resource.RLIMIT_AS, limits.memory_bytes),
        (resource.RLIMIT_FSIZE, limits.file_bytes),
        (resource.RLIMIT_NPROC, limits.processes),
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(which, (value, value))


def _command(work: Path, script: str, isolate: bool) -> list[str]:
    # The real interpreter (not a virtualenv's link to it), isolated (-I) and without
    # site-packages (-S): model code gets the standard library only.
    python = [os.path.realpath(sys.executable), "-I", "-S", "-B", script]
    wrapper = bubblewrap() if isolate else None
    if wrapper is None:
        return python
    prefix = Path(sys.base_prefix).resolve()
    hidden = [
        p for p in ("/home", "/root", "/tmp", "/work", "/srv", "/mnt", "/media") if Path(p).exists()
    ]
    command = [
        wrapper,
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
    ]
    for path in hidden:
        command += ["--tmpfs", path]
    # The interpreter may live under a hidden directory (e.g. ~/.pyenv): show it again.
    command += ["--ro-bind", str(prefix), str(prefix)]
    command += ["--bind", str(work), str(work), "--chdir", str(work), "--"]
    return command + python


def run_python(
    code: str, limits: Limits | None = None, isolate: bool = True, stdin: str = ""
) -> SandboxResult:
    """Run `code` as a Python script in the sandbox and report how it ended.
    `stdin` is what the script reads from its standard input."""
    limits = limits or Limits()
    isolation = "bubblewrap" if isolate and bubblewrap() else "limits-only"
    group = _pids_cgroup(limits.processes)
    with tempfile.TemporaryDirectory(prefix="treelight-sandbox-") as tmp:
        work = Path(tmp)
        (work / "main.py").write_text(code, encoding="utf-8")
        started = time.monotonic()
        process = subprocess.Popen(
            _command(work, str(work / "main.py"), isolate),
            cwd=work,
            env={},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            close_fds=True,
            preexec_fn=lambda: _limit(limits, group),  # noqa: PLW1509
        )
        try:
            out, err = process.communicate(stdin.encode(), timeout=limits.wall_seconds)
            code_ = process.returncode
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            out, err = process.communicate()
            code_ = None
        finally:
            if group is not None:
                _release(group)
        seconds = time.monotonic() - started
    stdout = _clip(out)
    stderr = _clip(err)
    return SandboxResult(
        code_, stdout, stderr, round(seconds, 3), isolation, _reason(code_, stderr, limits)
    )


def _clip(data: bytes) -> str:
    text = data[:MAX_OUTPUT_BYTES].decode("utf-8", "replace")
    if len(data) > MAX_OUTPUT_BYTES:
        text += f"\n… [output cut at {MAX_OUTPUT_BYTES:,} of {len(data):,} bytes]"
    return text


def _reason(exit_code: int | None, stderr: str, limits: Limits) -> str:
    if exit_code is None:
        return f"stopped: still running after the {limits.wall_seconds:g} s wall-clock limit"
    if exit_code == 0:
        return "finished"
    killed_by = -exit_code if exit_code < 0 else exit_code - 128 if exit_code > 128 else 0
    if killed_by in (signal.SIGXCPU, signal.SIGKILL):
        return (
            f"stopped: killed at its limits (CPU {limits.cpu_seconds} s, memory "
            f"{limits.memory_bytes // 2**20} MiB)"
        )
    last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    if "MemoryError" in last:
        return f"stopped: needed more than {limits.memory_bytes // 2**20} MiB of memory"
    if exit_code == -signal.SIGXFSZ or "File too large" in stderr:
        return f"stopped: wrote a file bigger than {limits.file_bytes // 2**20} MiB"
    return f"failed (exit {exit_code}): {last[:300]}" if last else f"failed (exit {exit_code})"
