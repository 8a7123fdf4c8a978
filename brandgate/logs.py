"""Structured logs: one JSON line per event on stderr, carrying request and image IDs."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

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


class _Redacting(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact_secrets(super().format(record))


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


def configure_logging(log_format: str = "json", level: int = logging.INFO) -> None:
    """Replace the root handlers with one stderr handler in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(text_formatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def text_formatter() -> logging.Formatter:
    """The text log line, with secrets redacted."""
    return _Redacting("%(asctime)s %(levelname)s %(name)s: %(message)s")
