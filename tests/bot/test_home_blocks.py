"""The Home tab's Block Kit stays within Slack's limits whatever the queue holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot import home, slash
from brandgate.review import CheckToReview, WaitingImage


def _waiting(n: int, checks: int, message: str) -> WaitingImage:
    return WaitingImage(
        image_id=f"{n:032x}", request_id=f"r{n:031x}", kit="acme", verdict="flag",
        checks=tuple(CheckToReview(f"BG{100 + c}", "fail", message) for c in range(checks)),
        requested_by="slack:T1:UMARK", channel="C1", index=0, n_images=1, sha256="0" * 64,
        media_type="image/png", created_at=datetime(2026, 12, 1, tzinfo=UTC) + timedelta(minutes=n),
    )  # fmt: skip


def test_a_full_page_of_long_findings_stays_within_block_kit_limits() -> None:
    items = [_waiting(n, 12, "x" * 5000) for n in range(home.PAGE_SIZE)]
    now = datetime(2026, 12, 7, tzinfo=UTC)
    view = home.manager_view(items, 500, 40, ["acme"], now, {}, {i.image_id: True for i in items}, notice="n" * 4000)
    assert len(view["blocks"]) <= 100
    texts = [b["text"]["text"] for b in view["blocks"] if b["type"] == "section"]
    assert texts and all(len(t) <= 3000 for t in texts)
    assert "…and 4 more checks" in texts[1]  # eight checks shown, the rest counted
    pages = [e for b in view["blocks"] if b.get("block_id") == "home:pages" for e in b["elements"]]
    assert [(e["text"]["text"], e["value"]) for e in pages] == [("Newer", "20"), ("Show more (440 older)", "60")]


def test_the_requester_view_has_no_decision_buttons() -> None:
    items = [_waiting(n, 1, "headline not found") for n in range(3)]
    view = home.requester_view(items, 3, [], datetime(2026, 12, 7, tzinfo=UTC))
    assert not [b for b in view["blocks"] if b["type"] == "actions"]


def test_slash_review_is_its_own_command() -> None:
    assert isinstance(slash.parse("review"), slash.Review)
    assert not isinstance(slash.parse('"review the apples" kit=acme'), slash.Review)
