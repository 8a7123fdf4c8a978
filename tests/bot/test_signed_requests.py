"""Requests reach listeners only with Slack's signature; bad ones get 401 or 413 and queue nothing."""

from __future__ import annotations

import time
import urllib.parse

from tests.bot.conftest import MARKETING, SECRET, BotUnderTest
from tests.fake_slack import sign


def test_health_and_metrics_answer(served: BotUnderTest) -> None:
    assert served.bot.http.get("/healthz").json() == {"ok": True}
    served.bot.command("help")
    metrics = served.bot.http.get("/metrics").text
    assert 'brandgate_slack_requests_total{kind="command"} 1.0' in metrics
    assert "brandgate_slack_ack_seconds_count 1.0" in metrics


def _form(text: str) -> bytes:
    return urllib.parse.urlencode(
        {
            "team_id": "T0TESTTEAM",
            "channel_id": MARKETING,
            "user_id": "UMARKETER",
            "command": "/brandgate",
            "text": text,
            "trigger_id": "1.2",
            "response_url": "http://127.0.0.1:9/x",
        }
    ).encode()


def test_a_wrong_signature_is_refused_with_401_and_queues_nothing(served: BotUnderTest) -> None:
    body = _form('"apples" kit=acme')
    headers = sign(SECRET, body)
    # Valid-looking: right shape and length, signed with another secret.
    forged = sign("0" * len(SECRET), body)
    response = served.bot.http.post(
        "/slack/events",
        content=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": headers["X-Slack-Request-Timestamp"],
            "X-Slack-Signature": forged["X-Slack-Signature"],
        },
    )
    assert response.status_code == 401
    time.sleep(0.3)
    assert served.records.submissions == []


def test_a_signed_body_altered_in_transit_is_refused(served: BotUnderTest) -> None:
    headers = sign(SECRET, _form('"apples" kit=acme'))
    response = served.bot.http.post(
        "/slack/events",
        content=_form('"apples" kit=acme n=16'),
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
    )
    assert response.status_code == 401


def test_a_timestamp_older_than_five_minutes_is_refused(served: BotUnderTest) -> None:
    response = served.bot.command('"apples" kit=acme', timestamp=int(time.time()) - 5 * 60 - 10)
    assert response.status_code == 401
    time.sleep(0.3)
    assert served.records.submissions == []


def test_a_missing_signature_is_refused(served: BotUnderTest) -> None:
    response = served.bot.http.post(
        "/slack/events", content=_form("help"), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 401


def test_a_5_mb_body_is_refused_with_413_before_it_is_read(served: BotUnderTest) -> None:
    body = b"payload=" + b"x" * (5 * 1024 * 1024)
    response = served.bot.post(body, "application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert "over" in response.text


def test_a_chunked_body_over_the_limit_is_refused_with_413(served: BotUnderTest) -> None:
    def chunks():  # no Content-Length: the limit is enforced while the body streams in
        for _ in range(80):
            yield b"x" * 65536

    response = served.bot.http.post(
        "/slack/events", content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413


def test_a_body_that_is_not_utf8_is_a_400(served: BotUnderTest) -> None:
    response = served.bot.post(b"text=\xff\xfe", "application/x-www-form-urlencoded")
    assert response.status_code == 400
