"""The worker: runs searches in the background.

`treelight worker` runs it in its own process; the app runs it in a thread.
A run left `running` by a dead process is claimed again (its lease expired or
its owner is gone) and resumes without losing or duplicating nodes.

One worker works one run at a time. `--concurrency N` starts N of them in one
process (threads, each with its own lease owner), for model servers that answer
many requests at once: a worker mostly waits on its server. Not for the
embedded model: its one llama.cpp instance answers one call at a time anyway.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.engine import Engine
from sqlmodel import Session

from treelight.engine.errors import RunBusy, TreelightError
from treelight.engine.plugins import MissingPlugin
from treelight.engine.run.loop import Runner
from treelight.engine.run.state import new_owner
from treelight.storage import leases, queries
from treelight.storage.vocabulary import RunStatus

log = logging.getLogger(__name__)


class Worker:
    def __init__(
        self,
        engine: Engine,
        poll_seconds: float = 0.5,
        eval_id: int | None = None,
        until_idle: bool = False,
    ) -> None:
        self.engine = engine
        self.poll_seconds = poll_seconds
        self.eval_id = eval_id  # only this eval's runs
        # Stop once nothing is left to claim (an eval's workers; benchmarks). Runs a
        # peer holds count as left: if the peer dies, this worker takes them over.
        self.until_idle = until_idle or eval_id is not None
        self.owner = new_owner()
        self.stopping = threading.Event()

    def work_once(self) -> int | None:
        """Run the first claimable run until it is idle; return its id (None: nothing to do)."""
        with Session(self.engine) as session:
            candidates = [r.id for r in leases.claimable_runs(session, self.eval_id)]
        for run_id in candidates:
            assert run_id is not None
            try:
                outcome = Runner(self.engine, run_id, owner=self.owner).run_until_idle()
            except RunBusy:
                continue
            except MissingPlugin as missing:  # the runner paused it, saying what to install
                log.warning("run #%s cannot start: %s", run_id, missing)
                return run_id
            except TreelightError as error:  # e.g. the model cannot be loaded
                log.warning("run #%s cannot start: %s", run_id, error)
                from treelight.engine.steering import control

                control.pause(self.engine, run_id, str(error), actor="engine")
                return run_id
            log.info("run #%s is %s: %s", run_id, outcome.run.status, outcome.run.status_reason)
            return run_id
        return None

    def work_forever(self) -> None:
        while not self.stopping.is_set():
            if self.work_once() is None:
                if self.until_idle and not self._work_left():
                    return
                self.stopping.wait(self.poll_seconds)

    def _work_left(self) -> bool:
        with Session(self.engine) as session:
            return bool(leases.claimable_runs(session, self.eval_id))

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.work_forever, name="treelight-worker", daemon=True)
        thread.start()
        return thread


def work_concurrently(
    engine: Engine,
    concurrency: int,
    poll_seconds: float = 0.5,
    eval_id: int | None = None,
    until_idle: bool = False,
) -> None:
    """`concurrency` workers in this process until they run out of work (with an eval
    or `until_idle`) or the process is interrupted."""
    workers = [Worker(engine, poll_seconds, eval_id, until_idle) for _ in range(concurrency)]
    threads = [w.start_thread() for w in workers]
    try:
        while any(t.is_alive() for t in threads):
            for thread in threads:
                thread.join(timeout=0.2)
    finally:
        for worker in workers:
            worker.stopping.set()


def wait_until_idle(engine: Engine, run_id: int, timeout: float = 60.0) -> None:
    """For scripts and tests: block until the run is not queued or running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with Session(engine) as session:
            run = queries.get_run(session, run_id)
        if run is not None and run.status not in (RunStatus.QUEUED, RunStatus.RUNNING):
            return
        time.sleep(0.1)
    raise TimeoutError(f"run #{run_id} still busy after {timeout} s")
