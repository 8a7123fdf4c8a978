"""Job functions the scheduler tests store in the job store: they record that they ran."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

CALLS: list[float] = []
_lock = threading.Lock()


def record() -> None:
    with _lock:
        CALLS.append(time.time())


def guarded() -> None:
    """Like the nightly job: claims the occurrence through the real guard, then records."""
    from brandgate.db.engine import make_engine
    from brandgate.scheduler import NIGHTLY_JOB_ID, run_guarded
    from brandgate.settings import Settings

    settings = Settings(database_url=os.environ["PROBE_DATABASE_URL"])
    engine = make_engine(settings)
    log = Path(os.environ["PROBE_LOG"])

    def work() -> None:
        with _lock, log.open("a") as fh:
            fh.write(f"{os.getpid()} {threading.get_ident()}\n")
        time.sleep(0.5)

    try:
        run_guarded(settings, engine, NIGHTLY_JOB_ID, work)
    finally:
        engine.dispose()
