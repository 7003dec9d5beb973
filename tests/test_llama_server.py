"""Treelight's `openai` backend against a real OpenAI-compatible server: llama-cpp-python's
own (`python -m llama_cpp.server`) serving the embedded SmolLM2 GGUF. The fakes
(tests/fake_openai.py) stay for the error shapes a real server will not produce on
demand; here: the model list, a Game of 24 search under the grammar with
log-probabilities on every call and no repeated move in an expansion, and a server
killed mid-run (the run pauses, every node made is kept, and it resumes)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.invariants import check_tree_invariants
from treelight.engine import steering
from treelight.engine.cli import main
from treelight.engine.generators.embedded import default_model_path
from treelight.engine.run.creation import create_run
from treelight.engine.run.loop import Runner
from treelight.storage import queries

pytestmark = pytest.mark.model

ALIAS = "smollm2-135m"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def llama_server(port: int | None = None) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The real server on the embedded GGUF, on one thread per core, until it answers
    /v1/models."""
    port = port or free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(default_model_path())]
    command += ["--model_alias", ALIAS, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--n_ctx", "2048", "--n_threads", str(os.cpu_count() or 2), "--verbose", "False"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if server.poll() is not None:
                    raise AssertionError(server.stderr.read().decode()[-2000:]) from None
                assert time.monotonic() < deadline, "llama_cpp.server did not start"
                time.sleep(0.5)
        yield url, server
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()


def server_run(engine: Engine, url: str, max_calls: int) -> int:
    run = create_run(
        engine,
        task="game24",
        problem="4 9 10 13",
        strategy="bfs",
        strategy_params={"beam": 2},
        generator={"backend": "openai", "model": ALIAS, "base_url": url, "retries": 0},
        budget={"max_calls": max_calls},
        status="running",
    )
    return run.id or 0


def test_a_search_on_the_real_server_is_constrained_distinct_and_has_log_probabilities(
    engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    with llama_server() as (url, _):
        assert main(["models", "--backend", "openai", "--base-url", url, "--json"]) == 0
        assert f'"name": "{ALIAS}"' in capsys.readouterr().out
        run_id = server_run(engine, url, max_calls=10)
        finished = Runner(engine, run_id).run_until_idle().run
    assert finished.status in ("done", "stopped"), finished.status_reason
    check_tree_invariants(engine, run_id)
    with Session(engine) as session:
        calls = queries.run_model_calls(session, run_id)
        nodes = queries.run_nodes(session, run_id)
    assert calls and all(c.error is None and c.backend == "openai" for c in calls)
    assert all(c.logprobs for c in calls), [c.purpose for c in calls if not c.logprobs]
    moves = [c for c in calls if c.purpose == "expand"]
    assert moves and all(c.extra.get("lines") == "one request a line" for c in moves)
    steps = [n for n in nodes if n.parent_id is not None]
    assert steps and not [n.status_reason for n in steps if n.status == "invalid"]
    for call in moves:  # no move twice in one expansion
        texts = [n.text for n in steps if n.model_call_id == call.id]
        assert len(texts) == len(set(texts)) > 1, texts
    # The value judge read its verdict words' probabilities from the server.
    valued = [c for c in calls if c.purpose == "value"]
    assert valued and all("choices" in c.extra for c in valued)


def test_a_server_killed_mid_run_pauses_it_and_resume_finishes_it(
    engine: Engine, tmp_path: Path
) -> None:
    port = free_port()
    with llama_server(port) as (url, server):
        run_id = server_run(engine, url, max_calls=16)
        worker = threading.Thread(target=lambda: Runner(engine, run_id).run_until_idle())
        worker.start()
        deadline = time.monotonic() + 180
        while calls_made(engine, run_id) < 3:
            assert time.monotonic() < deadline and worker.is_alive()
            time.sleep(0.2)
        server.kill()  # as a crash would: no goodbye
        worker.join(timeout=180)
    with Session(engine) as session:
        paused = queries.get_run(session, run_id)
        kept = {n.id for n in queries.run_nodes(session, run_id)}
    assert paused is not None and paused.status == "paused", paused
    assert "No OpenAI-compatible server answers at" in paused.status_reason
    check_tree_invariants(engine, run_id)
    with llama_server(port):  # the server is back: resume finishes the run
        steering.resume(engine, run_id)
        finished = Runner(engine, run_id).run_until_idle().run
    assert finished.status in ("done", "stopped"), finished.status_reason
    with Session(engine) as session:
        after = {n.id for n in queries.run_nodes(session, run_id)}
        calls = queries.run_model_calls(session, run_id)
    assert kept < after  # every node made before the crash is still there, and more
    assert [c for c in calls if c.error] and calls[-1].error is None
    check_tree_invariants(engine, run_id)
    print(json.dumps({"nodes": len(after), "calls": len(calls)}))


def calls_made(engine: Engine, run_id: int) -> int:
    with Session(engine) as session:
        return len(queries.run_model_calls(session, run_id))
