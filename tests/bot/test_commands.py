"""`/brandgate` through the real app: help, errors in the command text, the quick brief, status, cancel."""

from __future__ import annotations

from tests.bot.conftest import MARK, MARKETING, NORDWIND_CHANNEL, BotUnderTest


def test_help_is_answered_in_the_ack(served: BotUnderTest) -> None:
    response = served.bot.command("help")
    assert response.status_code == 200
    assert "/brandgate" in response.json()["text"]


def test_unbalanced_quotes_get_a_clear_ephemeral_error_and_queue_nothing(served: BotUnderTest) -> None:
    response = served.bot.command('"five red apples kit=acme')
    assert response.status_code == 200
    body = response.json()
    assert "double quote is not closed" in body["text"]
    assert body.get("response_type", "ephemeral") == "ephemeral"
    assert served.records.submissions == []


def test_quick_brief_is_queued_once_and_answered_with_its_place(served: BotUnderTest) -> None:
    response = served.bot.command('"five red apples on a table" kit=acme n=2 headline="Fresh Deals Friday"')
    assert response.status_code == 200
    assert response.content in (b"", b"{}") or response.json().get("text") is None
    ephemeral = served.slack.wait_calls("chat.postEphemeral")[0]
    assert "Queued" in ephemeral.params["text"] and ephemeral.params["user"] == MARK
    [submission] = served.records.submissions
    assert submission.brief.prompt == "five red apples on a table"
    assert submission.brief.headline == "Fresh Deals Friday"
    assert submission.brief.n == 2 and submission.brief.kit == "acme"
    assert submission.requested_by == f"slack:T0TESTTEAM:{MARK}"
    assert submission.source == "slack" and submission.channel == MARKETING
    assert submission.idempotency_key and submission.idempotency_key.startswith("slack:T0TESTTEAM:command:")


def test_unknown_kit_is_refused_with_the_kits_there_are(served: BotUnderTest) -> None:
    served.bot.command('"apples" kit=acmee')
    text = served.slack.wait_calls("chat.postEphemeral")[0].params["text"]
    assert "acmee" in text and "acme" in text
    assert served.records.submissions == []


def test_a_kit_not_allowed_in_the_channel_is_refused(served: BotUnderTest) -> None:
    served.bot.command('"a tent in snow" kit=acme', channel=NORDWIND_CHANNEL)
    text = served.slack.wait_calls("chat.postEphemeral")[0].params["text"]
    assert "not allowed in this channel" in text and "nordwind" in text
    assert served.records.submissions == []


def test_without_a_kit_the_channel_s_only_kit_is_used(served: BotUnderTest) -> None:
    served.bot.command('"a tent in snow"', channel=NORDWIND_CHANNEL)
    served.slack.wait_calls("chat.postEphemeral")
    assert served.records.submissions[0].brief.kit == "nordwind"


def test_without_a_kit_in_a_channel_with_two_the_user_is_asked_to_choose(served: BotUnderTest) -> None:
    served.bot.command('"apples"')
    text = served.slack.wait_calls("chat.postEphemeral")[0].params["text"]
    assert "kit=" in text and "acme" in text and "nordwind" in text


def test_n_over_the_brief_limit_is_refused_with_the_limit(served: BotUnderTest) -> None:
    served.bot.command('"apples" kit=acme n=40')
    text = served.slack.wait_calls("chat.postEphemeral")[0].params["text"]
    assert "n:" in text and "16" in text and "40" in text
    assert served.records.submissions == []


def test_a_queue_limit_is_passed_on_in_its_own_words(served: BotUnderTest) -> None:
    served.bot.runtime.settings.max_jobs_per_user = 1
    served.bot.command('"apples" kit=acme n=3')
    served.slack.wait_calls("chat.postEphemeral")
    served.bot.command('"pears" kit=acme n=3')
    text = served.slack.wait_calls("chat.postEphemeral", 2)[1].params["text"]
    assert "1 at a time per person" in text
    assert [s.brief.prompt for s in served.records.submissions] == ["apples"]


def test_a_retried_delivery_queues_once(served: BotUnderTest) -> None:
    trigger = "13345224609.738474920.8088930838d88f008e0"
    first = served.bot.command('"apples" kit=acme', trigger=trigger)
    retry = served.bot.command(
        '"apples" kit=acme', trigger=trigger, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    )
    assert first.status_code == retry.status_code == 200
    served.slack.wait_calls("chat.postEphemeral")
    assert len(served.records.submissions) == 1
    assert "brandgate_slack_repeats_dropped_total 1.0" in served.bot.http.get("/metrics").text


def test_a_retry_to_a_restarted_bot_still_queues_once(served: BotUnderTest) -> None:
    trigger = "222.333.abc"
    served.bot.command('"apples" kit=acme', trigger=trigger)
    served.slack.wait_calls("chat.postEphemeral")
    served.bot.runtime.deliveries._seen.clear()  # what a restart forgets; the idempotency key remains
    served.bot.command('"apples" kit=acme', trigger=trigger, headers={"X-Slack-Retry-Num": "1"})
    texts = [c.params["text"] for c in served.slack.wait_calls("chat.postEphemeral", 2)]
    assert len(served.records.submissions) == 1
    assert "Already on it" in texts[1]


def test_status_and_cancel_of_ones_own_request(served: BotUnderTest) -> None:
    served.bot.command('"apples" kit=acme')
    served.slack.wait_calls("chat.postEphemeral")
    request_id = served.newest_request()
    served.bot.command("status")
    text = served.slack.wait_calls("chat.postEphemeral", 2)[1].params["text"]
    assert request_id in text and "queued" in text
    served.bot.command(f"cancel {request_id}", user="USOMEONEELSE")
    refused = served.slack.wait_calls("chat.postEphemeral", 3)[2].params["text"]
    assert "only the person who asked" in refused
    served.bot.command(f"cancel {request_id}")
    done = served.slack.wait_calls("chat.postEphemeral", 4)[3].params["text"]
    assert "cancelled" in done
    [cancelled] = served.records.requests()
    assert cancelled.state == "cancelled"
    [event] = served.records.events("request.cancelled")
    assert event.actor == f"slack:T0TESTTEAM:{MARK}" and event.subject_id == request_id


def test_cancel_of_an_unknown_request_says_so(served: BotUnderTest) -> None:
    served.bot.command("cancel nosuchrequest")
    assert "no request" in served.slack.wait_calls("chat.postEphemeral")[0].params["text"]


def test_a_command_from_another_workspace_is_refused(served: BotUnderTest) -> None:
    response = served.bot.command('"apples" kit=acme', team="TOTHERTEAM")
    assert response.status_code == 200 and "another workspace" in response.text
    assert served.records.submissions == []


def test_mistyped_subcommands_spend_nothing_and_name_the_nearest_one(served: BotUnderTest) -> None:
    phrasings = {
        "stauts kit=acme n=1": "did you mean status?",
        "pending": "did you mean status?",
        "queue": "did you mean status?",
        "STATSU": "did you mean status?",
        "cancle 4f2a9c": "did you mean cancel?",
        "audti kit=acme": "did you mean audit?",
        "verfiy": "did you mean verify?",
        "five red apples kit=acme n=2": "put the prompt in double quotes",
        "apples": "put the prompt in double quotes",
    }
    for text, hint in phrasings.items():
        response = served.bot.command(text)
        assert response.status_code == 200
        body = response.json()
        word = text.split()[0]
        assert body["text"].startswith(f":warning: unknown subcommand '{word}'"), body
        assert hint in body["text"] and "Nothing was queued" in body["text"]
    # Nothing recorded, nothing queued, no thread started: the answer was the ack alone.
    assert served.records.requests() == []
    assert served.records.events() == []
    assert served.slack.calls_to("chat.postMessage") == []
    assert served.slack.calls_to("chat.postEphemeral") == []


def test_a_prompt_is_taken_only_when_quoted_or_after_an_option(served: BotUnderTest) -> None:
    served.bot.command("kit=acme n=1 status report on a desk")
    served.bot.command('"stauts" kit=acme n=1')
    served.slack.wait_calls("chat.postEphemeral", 2)
    assert sorted(s.brief.prompt for s in served.records.submissions) == ["status report on a desk", "stauts"]


def test_a_banned_word_is_refused_before_queueing_as_its_own_outcome(served: BotUnderTest) -> None:
    served.bot.command('"a miracle cure in a bottle" kit=acme n=2')
    served.bot.command('"red apples" kit=acme headline="Cheapest Apples Ever"')
    texts = [c.params["text"] for c in served.slack.wait_calls("chat.postEphemeral", 2)]
    assert all(t.startswith(":no_entry: Refused by the brand policy, nothing was queued: BG501") for t in texts)
    assert any("'miracle' in the prompt" in t for t in texts) and any("'cheapest' in the headline" in t for t in texts)
    assert not any("failed" in t for t in texts)
    assert served.records.requests() == [] and served.records.events() == []
    assert served.slack.calls_to("chat.postMessage") == []  # no thread for what was never queued
    assert 'brandgate_slack_jobs_submitted_total{kind="command"} 1.0' not in served.bot.http.get("/metrics").text


def test_an_unknown_kit_is_named_without_a_server_path(served: BotUnderTest) -> None:
    served.bot.command('"apples" kit=acm')
    text = served.slack.wait_calls("chat.postEphemeral")[0].params["text"]
    assert text == ":warning: no kit named 'acm'; did you mean kit=acme? kits for this channel: acme, nordwind"
    assert "/" not in text and str(served.bot.runtime.settings.kits_dir) not in text


def test_text_the_kits_font_cannot_draw_is_refused_before_queueing(served: BotUnderTest) -> None:
    served.bot.command('"red apples" kit=acme headline="Fresh \u0e01 Deals"')
    text = served.slack.wait_calls("chat.postEphemeral")[0].params["text"]
    assert text.startswith(":warning: ") and "U+0E01" in text
    assert served.records.requests() == [] and served.slack.calls_to("chat.postMessage") == []
