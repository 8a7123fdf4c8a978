"""`brandgate report`: figures on a seeded trail equal those worked out by hand; the HTML page renders its charts."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from brandgate.db.engine import make_engine, make_sessionmaker
from brandgate.review import decide
from brandgate.settings import Settings

HOUR = 3600.0


def _seed(settings: Settings, add_image: Any) -> None:
    now = datetime.now(UTC)
    ago = lambda hours: now - timedelta(hours=hours)  # noqa: E731
    engine = make_engine(settings)
    sessions = make_sessionmaker(engine)
    try:
        with sessions.begin() as session:
            add_image(session, verdict="pass", cost_usd=0.01, created_at=ago(50), checks=[("BG101", "pass", "flag")])
            add_image(session, verdict="pass", cost_usd=0.02, created_at=ago(40), checks=[("BG101", "pass", "flag")])
            c = add_image(session, verdict="flag", cost_usd=0.03, created_at=ago(10)).id
            d = add_image(session, verdict="unverified", cost_usd=0.04, created_at=ago(2),
                          checks=[("BG401", "unverified", "flag"), ("BG104", "fail", "flag")]).id  # fmt: skip
            e = add_image(session, verdict="flag", cost_usd=0.05, created_at=ago(30),
                          checks=[("BG101", "fail", "flag"), ("BG104", "fail", "flag")]).id  # fmt: skip
            add_image(session, verdict="flag", cost_usd=0.06, created_at=ago(1))  # waits
            add_image(session, verdict="reject", cost_usd=0.07, created_at=ago(5), checks=[("BG502", "fail", "reject")])
            add_image(session, kit="nordwind", verdict="pass", cost_usd=0.5, created_at=ago(3))
            # made before the window the test asks for, and in an earlier week for the charts
            add_image(session, verdict="flag", cost_usd=0.9, created_at=ago(20 * 24))
            add_image(session, verdict="pass", cost_usd=0.2, created_at=ago(9 * 24))
        decide(sessions, c, "approved", "slack:T1:UANNA", None)
        decide(sessions, d, "rejected", "cli:bob", "counts are off")
        decide(sessions, e, "approved", "cli:anna", "the headline reads fine")
    finally:
        engine.dispose()


def test_report_json_equals_figures_worked_out_by_hand(
    db_settings: Settings, add_image: Any, run_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(db_settings, add_image)
    monkeypatch.setenv("BRANDGATE_REVIEW_COST_USD", "1.5")
    since = (datetime.now(UTC) - timedelta(days=4)).strftime("%Y-%m-%dT%H:%M:%SZ")
    code, out, err = run_cli(db_settings, "report", "--since", since, "--kit", "acme", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert list(report) == [
        "images", "passed", "approved", "rejected", "waiting", "auto_pass_rate", "time_to_decision_s",
        "gpu_cost_usd", "review_cost_usd", "cost_per_usable_usd", "checks",
    ]  # fmt: skip
    # seven acme images in the window: two pass, C and E approved, D rejected, F waits, G rejected by the checks
    assert (report["images"], report["passed"], report["approved"], report["rejected"], report["waiting"]) == (
        7, 2, 2, 1, 1,
    )  # fmt: skip
    assert report["auto_pass_rate"] == pytest.approx(2 / 7, abs=1e-6)
    assert report["gpu_cost_usd"] == pytest.approx(0.01 + 0.02 + 0.03 + 0.04 + 0.05 + 0.06 + 0.07)
    assert report["review_cost_usd"] == pytest.approx(3 * 1.5)
    assert report["cost_per_usable_usd"] == pytest.approx((0.28 + 4.5) / (2 + 2), abs=1e-6)
    # decided just now after waiting 2 h (D), 10 h (C), 30 h (E): the median is 10 h; the 95th
    # percentile lies 0.9 of the way from 10 h to 30 h (rank (3 - 1) x 0.95 = 1.9)
    assert report["time_to_decision_s"]["p50"] == pytest.approx(10 * HOUR, abs=120)
    assert report["time_to_decision_s"]["p95"] == pytest.approx(28 * HOUR, abs=120)
    assert report["checks"] == {
        "BG101": {"flagged": 3, "approved_after": 2, "rejected_after": 0, "override_rate": 1.0},
        "BG104": {"flagged": 2, "approved_after": 1, "rejected_after": 1, "override_rate": 0.5},
        "BG401": {"flagged": 1, "approved_after": 0, "rejected_after": 1, "override_rate": 0.0},
        "BG502": {"flagged": 1, "approved_after": 0, "rejected_after": 0, "override_rate": None},
    }


def test_report_refuses_a_window_that_cannot_match(db_settings: Settings, run_cli: Any) -> None:
    code, out, err = run_cli(db_settings, "report", "--since", "2026-12-01", "--until", "2026-11-01", "--json")
    assert (code, out) == (2, "") and err.startswith("error: --since 2026-12-01 is not before --until")
    code, _, err = run_cli(db_settings, "report", "--since", "last week")
    assert code == 2 and "is not a date" in err


@pytest.mark.skipif(
    shutil.which("chromium") is None, reason="needs Chromium (/usr/bin/chromium) for headless rendering"
)
def test_html_report_renders_its_charts_in_headless_chromium(
    settings: Settings, add_image: Any, run_cli: Any, tmp_path: Path
) -> None:
    from brandgate.db.schema import upgrade

    upgrade(settings)
    _seed(settings, add_image)
    page = tmp_path / "report.html"
    code, out, err = run_cli(settings, "report", "--html", str(page))
    assert code == 0, err
    assert f"report with charts: {page}" in out
    chrome = [
        str(shutil.which("chromium")), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ]  # fmt: skip
    dom = subprocess.run(
        [*chrome, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    charts = re.findall(r'<img class="chart" id="chart-([a-z_]+)"', dom)
    assert charts == ["auto_pass_rate", "override_rate", "queue_age", "cost_per_usable"]
    shot = tmp_path / "shot.png"
    subprocess.run(
        [*chrome, "--window-size=900,2400", f"--screenshot={shot}", page.as_uri()],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    with PILImage.open(shot) as rendered:
        r, g, b = (np.asarray(rendered.convert("RGB")).astype(int)[..., i] for i in range(3))
    # The charts draw lines and markers in matplotlib's colours; a page whose images failed to
    # decode shows only text on white (and a broken-image icon).
    blue = int(((b > 150) & (r < 80) & (g > 80) & (g < 160)).sum())  # C0, every chart's first line
    orange = int(((r > 230) & (g > 100) & (g < 150) & (b < 40)).sum())  # C1, the second check's line
    print(f"chart pixels: blue {blue}, orange {orange}")
    assert blue > 500, f"only {blue} chart-blue pixels: the charts did not render"
    assert orange > 50, f"only {orange} chart-orange pixels: the per-check lines did not render"
