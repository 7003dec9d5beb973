"""The worker: runs searches in the background, one at a time.

`treelight worker` runs it in its own process; the app runs it in a thread.
A run left `running` by a dead process is claimed again (its lease expired or
its owner is gone) and resumes without losing or duplicating nodes. One run at
a time on purpose: two llama.cpp searches on two cores slow each other down
far more than they gain.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.engine import Engine
from sqlmodel import Session

from treelight.engine.errors import RunBusy, TreelightError
from treelight.engine.plugins import MissingPlugin
from treelight.engine.runner import Runner, new_owner
from treelight.storage import queries
from treelight.storage.vocabulary import RunStatus

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, engine: Engine, poll_seconds: float = 0.5) -> None:
        self.engine = engine
        self.poll_seconds = poll_seconds
        self.owner = new_owner()
        self.stopping = threading.Event()

    def work_once(self) -> int | None:
        """Run the first claimable run until it is idle; return its id (None: nothing to do)."""
        with Session(self.engine) as session:
            candidates = [r.id for r in queries.claimable_runs(session)]
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
                from treelight.engine import commands

                commands.pause(self.engine, run_id, str(error), actor="engine")
                return run_id
            log.info("run #%s is %s: %s", run_id, outcome.run.status, outcome.run.status_reason)
            return run_id
        return None

    def work_forever(self) -> None:
        while not self.stopping.is_set():
            if self.work_once() is None:
                self.stopping.wait(self.poll_seconds)

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.work_forever, name="treelight-worker", daemon=True)
        thread.start()
        return thread


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
