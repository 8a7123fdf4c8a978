"""What brandgate posts to its Slack channels: regression reports and rollback alerts to the report
channel, and the audit chain's daily head (the anchor) to the compliance channel."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from brandgate.errors import BrandgateError, ConfigError
from brandgate.logs import redact_secrets
from brandgate.regress.report import RunView, fmt_family, fmt_num, fmt_pct, fmt_usd
from brandgate.settings import Settings
from brandgate.slack_client import web_client

if TYPE_CHECKING:
    from slack_sdk import WebClient

    from brandgate.regress.gate import Comparison

# Column names of the summary: the nightly run beside the one before it; `regress run --post`
# says "previous run" instead.
NIGHT_NAMES = ("Tonight", "Last night")
RUN_NAMES = ("This run", "Previous run")
_BADGE = {"good": ":large_green_circle:", "warn": ":large_orange_circle:", "bad": ":red_circle:"}


class SlackPostFailed(BrandgateError):
    """Slack refused or could not be reached; the report is still on disk."""

    def __init__(self, message: str) -> None:
        # A proxy's error page may quote the request's headers, bot token included.
        super().__init__(redact_secrets(message))


def _client(settings: Settings, *, compliance: bool = False) -> tuple[WebClient, str]:
    client = web_client(settings, "posting to Slack")
    channel = settings.slack_compliance_channel if compliance else settings.slack_report_channel
    if not channel:
        name = "COMPLIANCE" if compliance else "REPORT"
        raise ConfigError(f"posting to Slack needs BRANDGATE_SLACK_{name}_CHANNEL (a channel ID)")
    return client, channel


def report_blocks(
    tonight: RunView, last: RunView | None, gate: Comparison | None = None, *, names: tuple[str, str] = NIGHT_NAMES
) -> list[dict[str, Any]]:
    """The Block Kit summary: the outcome, then tonight's numbers beside last night's, then the gate.

    Nothing here names a server path: the suite is shown by its file name, the report goes up as a
    file in the message's thread.
    """
    now_name, then_name = names
    title = f"Regression {Path(tonight.suite).name} · {tonight.profile}: {tonight.headline()}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(title, 150), "emoji": True}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"{_BADGE[tonight.outcome().badge]} run `{tonight.run_id[:12]}` · "
                    f"{tonight.seeds} seed(s) · " + (
                        f"{then_name.lower()}: run `{last.run_id[:12]}`" if last is not None
                        else f"no {then_name.lower()} to compare with"
                    ),
                }
            ],
        },
    ]
    rows = _rows(tonight, last)
    head = [{"type": "mrkdwn", "text": f"*{now_name}*"}, {"type": "mrkdwn", "text": f"*{then_name}*"}]
    fields = head + [
        field for label, mine, theirs in rows for field in (
            {"type": "mrkdwn", "text": f"*{label}*: {mine}"},
            {"type": "mrkdwn", "text": f"*{label}*: {theirs}"},
        )
    ]
    for start in range(0, len(fields), 10):  # Slack takes at most 10 fields in one section
        blocks.append({"type": "section", "fields": fields[start : start + 10]})
    if gate is not None:
        lines = [f"{'✅' if c.ok else '❌'} {c.name}: {c.detail}" for c in gate.criteria]
        verdict = "held" if gate.passed else "broken: " + ", ".join(gate.failed)
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _cut(f"*Criteria against run `{gate.baseline.run_id[:12]}`: "
                                                        f"{verdict}*\n" + "\n".join(lines), 3000)},
            }
        )
    return blocks


def report_text(tonight: RunView) -> str:
    """The notification's plain text (what a phone shows); the blocks carry the rest."""
    return _cut(f"Regression {Path(tonight.suite).name} · {tonight.profile}: {tonight.headline()}", 3000)


def _rows(tonight: RunView, last: RunView | None) -> list[tuple[str, str, str]]:
    def cells(view: RunView | None) -> list[str]:
        if view is None:
            return ["n/a"] * 7
        s = view.summary
        families = ", ".join(
            f"{k} {fmt_family(s, 'pass_rate_by_family', k)}" for k in (s.get("pass_rate_by_family") or {})
        )
        return [
            view.outcome().headline.split(":")[0],
            fmt_pct(s.get("pass_rate")),
            fmt_pct(s.get("acceptance_rate")),
            f"{s.get('outputs_measured', 0)}/{s.get('outputs_expected', 0)}",
            fmt_num((s.get("latency_s") or {}).get("p95"), " s"),
            fmt_usd(s.get("cost_per_usable_image_usd")),
            families or "n/a",
        ]

    labels = ["outcome", "pass rate", "acceptance", "outputs", "p95 latency", "cost per usable image", "families"]
    return list(zip(labels, cells(tonight), cells(last), strict=True))


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def post_report(
    settings: Settings,
    tonight: RunView,
    report: Path,
    *,
    last: RunView | None = None,
    gate: Comparison | None = None,
    names: tuple[str, str] = NIGHT_NAMES,
) -> None:
    """The Block Kit summary in the report channel, with the HTML report uploaded in its thread."""
    from slack_sdk.errors import SlackApiError

    client, channel = _client(settings)
    try:
        posted = client.chat_postMessage(
            channel=channel, text=report_text(tonight), blocks=report_blocks(tonight, last, gate, names=names)
        )
        client.files_upload_v2(
            channel=channel,
            file=str(report),
            filename=report.name,
            title=f"brandgate regression {tonight.run_id}",
            thread_ts=posted.get("ts"),
        )
    except SlackApiError as exc:
        reason = exc.response.get("error", exc)
        raise SlackPostFailed(f"Slack refused the report: {reason}; it is at {report}") from None
    except OSError as exc:
        raise SlackPostFailed(f"could not reach Slack ({exc}); the report is at {report}") from None


def post_alert(settings: Settings, text: str, *, compliance: bool = False) -> None:
    """A plain message in the report channel (rollbacks, refused nightly runs), or in the
    compliance channel (the audit chain's daily head)."""
    from slack_sdk.errors import SlackApiError

    client, channel = _client(settings, compliance=compliance)
    try:
        client.chat_postMessage(channel=channel, text=text)
    except SlackApiError as exc:
        raise SlackPostFailed(f"Slack refused the alert: {exc.response.get('error', exc)}") from None
    except OSError as exc:
        raise SlackPostFailed(f"could not reach Slack: {exc}") from None
