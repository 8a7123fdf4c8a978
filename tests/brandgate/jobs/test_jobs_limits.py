"""Quotas and budgets: each refused before anything is queued, with a message that says what to do."""

from __future__ import annotations

import pytest

from brandgate.errors import UserError
from brandgate.jobs.contract import LimitExceeded
from brandgate.jobs.local import LocalQueue
from brandgate.settings import Settings
from tests.brandgate.jobs.support import (
    Records,
    submission,
)


def _queue(settings: Settings, **limits: object) -> LocalQueue:
    return LocalQueue(settings.model_copy(update=limits), start_workers=False)


def _nothing_more_recorded(records: Records, requests: int) -> None:
    assert len(records.requests()) == requests
    assert len(records.events()) == requests  # one request.queued each, nothing for the refusal


def test_concurrent_jobs_per_user(job_settings: Settings, records: Records) -> None:
    queue = _queue(job_settings, max_jobs_per_user=2)
    try:
        queue.submit(submission(user="ana"))
        queue.submit(submission(user="ana"))
        with pytest.raises(LimitExceeded, match=r"2 request\(s\) queued or running; the limit is 2 at a time"):
            queue.submit(submission(user="ana"))
        queue.submit(submission(user="ben"))  # someone else is not held up
    finally:
        queue.close()
    _nothing_more_recorded(records, 3)


def test_daily_images_per_user(job_settings: Settings, records: Records) -> None:
    queue = _queue(job_settings, max_daily_images_per_user=3)
    try:
        queue.submit(submission(user="ana", n=2))
        with pytest.raises(LimitExceeded, match=r"asks for 2 image\(s\) but you have 1 left of your 3 images today"):
            queue.submit(submission(user="ana", n=2))
        queue.submit(submission(user="ana", n=1))
        with pytest.raises(LimitExceeded, match="you have 0 left"):
            queue.submit(submission(user="ana", n=1))
    finally:
        queue.close()
    _nothing_more_recorded(records, 2)


def test_queue_length_cap(job_settings: Settings, records: Records) -> None:
    queue = _queue(job_settings, max_queue_length=2)
    try:
        queue.submit(submission(user="ana"))
        queue.submit(submission(user="ben"))
        with pytest.raises(LimitExceeded, match=r"the preview queue is full \(2 requests waiting, cap 2\)"):
            queue.submit(submission(user="cara"))
        # Exports have their own queue and are not refused because previews pile up.
        assert queue.status(queue.submit(submission(user="dan", profile="export")).request_id).state == "queued"
    finally:
        queue.close()
    _nothing_more_recorded(records, 3)


def test_kit_daily_budget(job_settings: Settings, records: Records) -> None:
    # A budget so small that one real image uses it up.
    queue = LocalQueue(job_settings.model_copy(update={"kit_daily_budget_usd": 1e-9}))
    try:
        first = queue.wait(queue.submit(submission(user="ana")).request_id, timeout=300)
        assert first.state == "done" and first.cost_usd > 0
        with pytest.raises(LimitExceeded, match=r"kit 'acme' has spent \$0\.00\d* of its \$0\.00 daily GPU budget"):
            queue.submit(submission(user="ben"))
    finally:
        queue.close()
    assert len(records.requests()) == 1


def test_unknown_kit_and_profile_are_refused_before_queueing(job_settings: Settings, records: Records) -> None:
    queue = _queue(job_settings)
    try:
        with pytest.raises(UserError, match=r"no kit named 'nosuch'.*available: acme"):
            queue.submit(submission(kit="nosuch"))
        with pytest.raises(UserError, match="no profile named 'previwe'; did you mean 'preview'"):
            queue.submit(submission(profile="previwe"))
        with pytest.raises(UserError, match="no logo variant 'gold'"):
            queue.submit(submission(logo="gold"))
        with pytest.raises(UserError, match="requested_by"):
            queue.submit(submission(user="   "))
        with pytest.raises(UserError, match="idempotency key"):
            queue.submit(submission(key="k" * 201))
    finally:
        queue.close()
    _nothing_more_recorded(records, 0)
