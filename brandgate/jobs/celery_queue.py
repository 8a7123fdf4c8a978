"""The production queue front: requests recorded in the database, sent to Redis for Celery workers."""

from __future__ import annotations

import logging

from kombu.exceptions import KombuError
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError
from sqlalchemy import Engine

from brandgate.jobs.celery_app import TASK_NAME, build_celery
from brandgate.jobs.contract import Accepted, QueueUnavailable, Submission
from brandgate.jobs.request_side import QueueFront
from brandgate.settings import Settings

log = logging.getLogger(__name__)

BROKER_ERRORS = (KombuOperationalError, KombuError, RedisError, OSError)


def redact(url: str) -> str:
    """The broker URL without its password, for messages."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return f"{scheme}{sep}{rest}"


class CeleryQueue(QueueFront):
    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        super().__init__(settings, engine)
        self.app = build_celery(settings)

    def _unavailable(self, exc: BaseException) -> QueueUnavailable:
        return QueueUnavailable(
            f"cannot reach the job broker at {redact(self.settings.broker_url)} ({exc}); nothing was queued. "
            "Start Redis or fix BRANDGATE_BROKER_URL, then submit again."
        )

    def check_broker(self) -> None:
        """Fail fast with a clear message before a request is recorded."""
        try:
            with self.app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=3)
        except BROKER_ERRORS as exc:
            raise self._unavailable(exc) from None

    def submit(self, submission: Submission) -> Accepted:
        self.check_broker()
        return super().submit(submission)

    def export(self, image_id: str, requested_by: str, idempotency_key: str | None = None) -> Accepted:
        self.check_broker()
        return super().export(image_id, requested_by, idempotency_key)

    def _send(self, request_id: str, queue: str) -> None:
        # Inside the intake transaction: if this raises, the request row is rolled back.
        try:
            self.app.send_task(TASK_NAME, args=[request_id], queue=queue, task_id=request_id, retry=False)
        except BROKER_ERRORS as exc:
            raise self._unavailable(exc) from None

    def close(self) -> None:
        try:
            self.app.close()
        finally:
            super().close()
