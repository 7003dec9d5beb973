"""A served Treelight app and Debian's headless Chromium, for the browser tests
and `treelight bench ui`. Playwright drives /usr/bin/chromium; it never
downloads a browser of its own."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from treelight.engine.cli.app_script import SERVER_FLAGS, app_script

APP_SCRIPT = app_script()
# In a checkout, the repository's root (screenshots go to its test-artifacts/).
ROOT = Path(__file__).resolve().parent.parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = ROOT / "test-artifacts"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SERVERS: dict[str, int] = {}  # a served app's URL -> its server's process id


@contextmanager
def served_app(home: Path, worker: bool = True) -> Iterator[str]:
    """Start `streamlit run app/main.py` on a free port; yield its URL."""
    port = free_port()
    env = {**os.environ, "TREELIGHT_HOME": str(home), "TREELIGHT_WORKER": "on" if worker else "off"}
    env.pop("DATABASE_URL", None)
    log = open(home / "app.log", "w")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(APP_SCRIPT),
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            *SERVER_FLAGS,
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=home,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError((home / "app.log").read_text()) from None
                time.sleep(0.3)
        SERVERS[url] = process.pid
        yield url
    finally:
        SERVERS.pop(url, None)
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


NODE_POSITION_JS = """
(el, id) => {
  const tree = el.__treelight;
  tree.touched = true;  // keep the view still while we click
  const ids = tree.nodes.getIds().filter((i) => typeof i === "number");  // not a fold
  const target = id === null ? ids[ids.length - 1] : id;
  tree.network.focus(target, {scale: 1.0});
  const p = tree.network.canvasToDOM(tree.network.getPosition(target));
  const box = el.getBoundingClientRect();
  return {id: target, x: box.left + p.x, y: box.top + p.y};
}
"""
