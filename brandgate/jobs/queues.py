"""`open_queue(settings)`: the job queue the settings name."""

from __future__ import annotations

from brandgate.jobs.contract import JobQueue
from brandgate.settings import Settings


def open_queue(settings: Settings, *, start_workers: bool = True) -> JobQueue:
    """The queue the settings name: `local` (in-process pool, the default) or `celery`."""
    if settings.queue == "celery":
        # Lazy: celery, kombu and redis load only in processes configured for the celery backend.
        from brandgate.jobs.celery_queue import CeleryQueue

        return CeleryQueue(settings)
    # Lazy: the local pool brings the request run and every check with it; a celery front needs neither.
    from brandgate.jobs.local import LocalQueue

    return LocalQueue(settings, start_workers=start_workers)
