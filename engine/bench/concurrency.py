"""Worker throughput against a model server that answers many requests at once.

`treelight worker --concurrency N` works N runs at once, each still one action at
a time under its own lease. A worker mostly waits on its server, so against a
server that takes `delay` seconds per request whatever else it is doing (as a
batching GPU server does, up to its batch size), runs per second should rise
about N-fold. The server here is a stand-in speaking the OpenAI HTTP API with
that fixed delay; the runs are real math searches, every node stored in SQLite.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from treelight.engine.run.creation import create_run
from treelight.engine.run.worker import work_concurrently
from treelight.storage.database import make_engine


@dataclass
class ConcurrencyResult:
    concurrency: int
    runs: int
    model_calls: int
    seconds: float
    runs_per_second: float
    speedup: float  # against the first row (local concurrency 1), in the same sitting
    executor: str = "local"  # local: `worker --concurrency N`; ray: Ray tasks, N at a time


def _handler(delay: float) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the http.server spelling)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            time.sleep(delay)
            # Deterministic in the request: a step, then (by seed and choice) the answer.
            seed, chat = int(body.get("seed") or 0), self.path.endswith("/chat/completions")
            n = int(body.get("n") or 1)  # the k samples of a prompt, in one request
            choices = []
            for i in range(n):
                text = "Answer: 17" if (seed + i) % 3 == 0 else "12 + 5 = 17"
                said = (
                    {"message": {"role": "assistant", "content": text}} if chat else {"text": text}
                )
                choices.append({"index": i, "finish_reason": "stop", **said})
            usage = {"prompt_tokens": 40, "completion_tokens": 5 * n, "total_tokens": 40 + 5 * n}
            payload = json.dumps(
                {
                    "id": "x",
                    "object": "x",
                    "created": 0,
                    "model": body["model"],
                    "choices": choices,
                    "usage": usage,
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return Handler


def measure_one(
    url: str, concurrency: int, runs: int, folder: Path, executor: str = "local"
) -> tuple[int, float]:
    engine = make_engine(f"sqlite:///{folder / f'{executor}-{concurrency}.db'}")
    generator = {"backend": "openai", "model": "stand-in", "base_url": url, "temperature": 0.7}
    for seed in range(runs):
        create_run(
            engine,
            task="math",
            problem="Anna has 12 pencils and gets 5 more. How many?",
            strategy="bfs",
            strategy_params={"beam": 2, "samples": 2},
            generator=generator,
            budget={"max_calls": 12},
            seed=seed,
        )
    started = time.perf_counter()
    if executor == "ray":
        _ray_all(engine, concurrency, runs)
    else:
        work_concurrently(engine, concurrency, poll_seconds=0.05, eval_id=None, until_idle=True)
    seconds = time.perf_counter() - started
    with engine.connect() as connection:
        from sqlalchemy import text

        calls = int(connection.execute(text("SELECT COUNT(*) FROM modelcall")).scalar() or 0)
    return calls, seconds


RAY_CPUS = 8  # the local Ray instance's CPUs: a level N gives each task RAY_CPUS / N


def _ray_all(engine: Any, concurrency: int, runs: int) -> None:
    """Every run as a Ray task (evals/ray_executor.py), `concurrency` at a time."""
    import ray

    from treelight.engine.evals.ray_executor import work_run

    if not ray.is_initialized():
        ray.init(num_cpus=RAY_CPUS, include_dashboard=False, log_to_driver=False)
    url = engine.url.render_as_string(hide_password=False)
    task = ray.remote(work_run).options(num_cpus=RAY_CPUS / concurrency)
    ray.get([task.remote(url, run_id) for run_id in range(1, runs + 1)])


def measure(
    levels: list[int], runs: int, delay: float, executors: tuple[str, ...] = ("local",)
) -> list[ConcurrencyResult]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(delay))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    os.environ.setdefault("OPENAI_API_KEY", "not-needed")
    results: list[ConcurrencyResult] = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            for executor in executors:
                for level in levels:
                    calls, seconds = measure_one(url, level, runs, Path(folder), executor)
                    rate = runs / seconds
                    base = results[0].runs_per_second if results else rate
                    results.append(
                        ConcurrencyResult(
                            level, runs, calls, round(seconds, 2), round(rate, 2),
                            round(rate / base, 2), executor,
                        )
                    )  # fmt: skip
    finally:
        server.shutdown()
    return results


def rows(results: list[ConcurrencyResult]) -> list[dict[str, Any]]:
    return [asdict(r) for r in results]
