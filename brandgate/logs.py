"""Structured logs: one JSON line per event on stderr, carrying request and image IDs."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

# The request the current thread or task is working for: every log line written meanwhile
# carries it, whether or not the code that logs knows the request (a check, the SDK, the store).
_request_id: ContextVar[str | None] = ContextVar("brandgate_request_id", default=None)
# Marks the handler configure_logging installed, so a second call replaces it and leaves a
# handler someone else installed (a test's log capture) alone.
_OURS = "_brandgate_handler"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Attributes every LogRecord has; anything else came in through `extra=` and is event data.
_RECORD_FIELDS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime", "taskName"}
)


# Slack tokens (bot, user, app-level, refresh) and HTTP credentials, wherever an error or a proxy's
# page quotes them; the password of a URL's user part too.
_SECRETS = re.compile(r"\b(?:xox[a-z]|xapp)-[A-Za-z0-9-]+|(?<=Bearer )[^\s'\",;}]+|(?<=Basic )[A-Za-z0-9+/=]{8,}", re.I)
_URL_PASSWORD = re.compile(r"(?<=://)([^/\s:@]+):[^/\s@]+@")


def redact_secrets(text: str) -> str:
    """`text` with tokens and credentials replaced by `[redacted]`: every line we print or log passes here."""
    return _URL_PASSWORD.sub(r"\1:[redacted]@", _SECRETS.sub("[redacted]", text))


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "event", "message", "request_id", "image_id", ...}` per line."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                document[key] = value
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return redact_secrets(json.dumps(document, default=str, separators=(",", ":")))


class RequestContext(logging.Filter):
    """Adds `request_id` from the context to a record that does not carry one already."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            current = _request_id.get()
            if current is not None:
                record.request_id = current
        return True


class TextFormatter(logging.Formatter):
    """The human format, with `request_id=…` at the end of a line that concerns a request."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = redact_secrets(super().format(record))
        request_id = getattr(record, "request_id", None)
        return f"{line} request_id={request_id}" if request_id else line


@contextmanager
def in_request(request_id: str | None) -> Iterator[None]:
    """Every log line inside the block (this thread or task) carries `request_id`."""
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)


def current_request_id() -> str | None:
    return _request_id.get()


def configure_logging(log_format: str = "json", level: int = logging.INFO) -> None:
    """One stderr handler in the chosen format on the root logger, carrying the request in scope.

    It replaces the handler an earlier call installed and any default handler; a handler someone
    else installed on purpose (a test's log capture) stays.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(RequestContext())
    setattr(handler, _OURS, True)
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, _OURS, False) or type(old) is logging.StreamHandler:
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def configure_command_logging(log_format: str, level: int) -> None:
    """`configure_logging` for a command, unless someone else already handles the root logger
    (a test's log capture): the same courtesy as `logging.basicConfig`."""
    if all(getattr(h, _OURS, False) for h in logging.getLogger().handlers):
        configure_logging(log_format, level)
