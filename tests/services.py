"""Where the test servers are, and what a test does when one cannot be reached.

On a developer's machine a missing PostgreSQL or Redis skips the tests that need it, with the reason.
Under `CI=true` it fails them: a CI whose database is down, or refuses the login, must not pass by
skipping the tests that exercise the real database and broker.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

PG_HOST = os.environ.get("BRANDGATE_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("BRANDGATE_TEST_PG_PORT", "5432"))
REDIS_HOST = os.environ.get("BRANDGATE_TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("BRANDGATE_TEST_REDIS_PORT", "6379"))


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def unavailable(reason: str) -> NoReturn:
    """Skip the test for want of a server, or fail it under CI, where the server is part of the run."""
    if under_ci():
        pytest.fail(f"{reason} (CI=true: a test server that is missing is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)
