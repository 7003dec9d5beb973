"""Ray as the executor of an eval: `treelight eval --executor ray`.

Every run of the eval (an item under a method) is one Ray task. The task opens the
eval's database (SQLite on one machine; PostgreSQL for a cluster) and works that
run to its end under the run's own lease, exactly as `treelight worker` would: a
task Ray retries after losing its node resumes the run from what is stored (the
lease of a dead owner is taken over), so no node is made twice and the run ends
as it would have alone. Ray brings the rest: a cluster (`--ray-address auto` or
`ray://HEAD:10001`; a local instance when none is given), its dashboard,
resources per task (`--ray-num-cpus`, `--ray-num-gpus` for embedded models on
GPUs) and retries of lost tasks.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from treelight.engine.errors import BadArguments, RunBusy

NEEDS = "The ray executor needs Ray: pip install 'treelight[ray]'."
RETRIES = 3  # attempts Ray makes again after a lost node or worker


@dataclass(frozen=True)
class RaySettings:
    address: str | None = None  # None: a local Ray instance; "auto", "ray://HOST:PORT"
    num_cpus: float = 1.0
    num_gpus: float = 0.0


def work_run(database_url: str, run_id: int, busy_wait: float = 120.0) -> str:
    """A Ray task's body: work one run to its end (or its pause) under its lease; wait
    while a lost attempt's lease is still live. Returns the run's status."""
    from treelight.engine.run.loop import Runner
    from treelight.engine.run.state import new_owner
    from treelight.storage.database import make_engine

    engine = make_engine(database_url)
    owner = new_owner()
    deadline = time.monotonic() + busy_wait
    try:
        while True:
            try:
                return str(Runner(engine, run_id, owner=owner).run_until_idle().run.status)
            except RunBusy:  # a lost attempt's lease, until it expires (or its owner dies)
                if time.monotonic() > deadline:
                    raise
                time.sleep(1.0)
    finally:
        engine.dispose()


def submit_eval(engine: Engine, run_ids: list[int], settings: RaySettings) -> list[Any]:
    """Connect to Ray (or start it here) and submit one task per run; returns the
    tasks' references (the caller follows progress in the database)."""
    try:
        import ray
    except ModuleNotFoundError:
        raise BadArguments(NEEDS) from None
    url = engine.url.render_as_string(hide_password=False)
    if url.startswith("sqlite") and settings.address not in (None, "local"):
        print(
            "Note: the eval's database is a SQLite file; every Ray node must see the same "
            "file (one machine). For a cluster, use PostgreSQL (DATABASE_URL).",
            file=sys.stderr,
        )
    if not ray.is_initialized():
        ray.init(
            address=None if settings.address in (None, "local") else settings.address,
            include_dashboard=False if settings.address in (None, "local") else None,
            log_to_driver=False,
            configure_logging=False,
        )
    task = ray.remote(work_run).options(
        num_cpus=settings.num_cpus,
        num_gpus=settings.num_gpus,
        max_retries=RETRIES,
        name="treelight-run",
    )
    return [task.remote(url, run_id) for run_id in run_ids]


def failed_tasks(refs: list[Any]) -> list[str]:
    """What the finished tasks that failed for good said (after Ray's retries)."""
    import ray

    done, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
    said = []
    for ref in done:
        try:
            ray.get(ref)
        except Exception as error:  # a task's own error, or one Ray gave up retrying
            said.append(f"{type(error).__name__}: {str(error)[:300]}")
    return said
