"""Why a request's run stops: a cancel someone asked for, a stage that failed, a database outage.

The reasons they carry are one line a person can act on; an outage is worth a retry, a failed
stage is not.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import InterfaceError as SAInterfaceError
from sqlalchemy.exc import OperationalError as SAOperationalError

from brandgate.errors import BrandgateError
from policies.errors import InvalidInput


class Cancelled(Exception):
    """Someone asked the request to stop; raised at the next denoising step or stage boundary."""

    def __init__(self, by: str) -> None:
        super().__init__(f"cancelled by {by}")
        self.by = by


class StageFailed(BrandgateError):
    """A stage could not do its work; the request fails with this stage and reason."""

    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(f"{stage}: {reason}")
        self.stage = stage
        self.reason = reason


class DatabaseUnavailable(BrandgateError):
    """The database went away mid-job; the queue retries the job per its policy."""


@contextmanager
def stage_errors(stage: str) -> Iterator[None]:
    """A stage's errors become StageFailed with a reason; database outages become retryable."""
    try:
        yield
    except (Cancelled, StageFailed, DatabaseUnavailable):
        raise
    except Exception as exc:
        if is_database_outage(exc):
            raise DatabaseUnavailable(f"database unavailable during {stage}: {first_line(exc)}") from exc
        raise StageFailed(stage, describe(exc)) from exc


def is_database_outage(exc: BaseException) -> bool:
    """Connection-level database errors: worth a retry, unlike a constraint or a bug."""
    if isinstance(exc, SAOperationalError | SAInterfaceError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def describe(exc: BaseException) -> str:
    """A one-line reason a person can act on."""
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    message = first_line(exc)
    # Our own errors already say what to fix; a library's needs its type to be understood.
    ours = isinstance(exc, InvalidInput) or type(exc).__module__.split(".")[0] in ("brandgate", "pipeline", "policies")
    return message if ours else f"{type(exc).__name__}: {message}"
