"""The HTML report and JSON summary, built from outputs with real image files."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from brandgate.regress.measures import CheckOutcome, Output, summarise
from brandgate.regress.report import RunView, render_html, summary_lines, write_report


class _Sheet(HTMLParser):
    """Counts tiles inside the contact sheet and collects every image source."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.in_sheet = False
        self.tiles: list[dict[str, str]] = []
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if tag == "img":
            self.sources.append(attributes.get("src", ""))
        if tag != "div":
            return
        if attributes.get("id") == "contact-sheet":
            self.in_sheet, self.depth = True, 0
        elif self.in_sheet:
            self.depth += 1
            if attributes.get("class") == "tile":
                self.tiles.append(attributes)

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self.in_sheet:
            if self.depth == 0:
                self.in_sheet = False
            else:
                self.depth -= 1


def _png(path: Path, value: int) -> str:
    Image.fromarray(np.full((64, 64, 3), value, dtype=np.uint8)).save(path)
    return str(path)


def _outputs(tmp_path: Path, profile: str) -> list[Output]:
    fail = (CheckOutcome("BG101", "text", "fail"),)
    return [
        Output(
            "a",
            "typography",
            "pass",
            0,
            0,
            "done",
            seed=1,
            image_id=f"{profile}1",
            verdict="pass",
            artifact_path=_png(tmp_path / f"{profile}1.png", 10),
            latency_s=0.5,
            cost_usd=0.01,
        ),
        Output(
            "a",
            "typography",
            "pass",
            1,
            0,
            "done",
            seed=2,
            image_id=f"{profile}2",
            verdict="flag",
            artifact_path=_png(tmp_path / f"{profile}2.png", 200),
            latency_s=0.7,
            cost_usd=0.01,
            checks=fail,
        ),
        Output(
            "a",
            "typography",
            "pass",
            0,
            1,
            "done",
            seed=1,
            image_id=f"{profile}3",
            verdict="pass",
            artifact_path=_png(tmp_path / f"{profile}3.png", 10),
            latency_s=0.5,
            cost_usd=0.01,
        ),
        Output("b", "counting", "pass", 0, 0, "failed", seed=5, failure_reason="generation: out of memory"),
        Output("e", "edge-cases", "reject", 0, 0, "done", seed=9, checks=(CheckOutcome("BG501", "safety", "fail"),)),
        Output("c", "counting", "pass", 0, 0, "missing", seed=7),
    ]


def _view(tmp_path: Path, profile: str, status: str = "incomplete") -> RunView:
    outputs = _outputs(tmp_path, profile)
    summary = summarise(outputs, outputs_expected=5, wall_s=3.0, psd_by_brief={"a": 12.0})
    return RunView(f"run-{profile}", "mini", profile, status, 2, 2, None, None, summary.to_json(), outputs)


def test_contact_sheet_has_exactly_one_tile_per_output_in_order(tmp_path: Path) -> None:
    run = _view(tmp_path, "cand")
    parser = _Sheet()
    parser.feed(render_html(run))
    assert len(parser.tiles) == len(run.outputs)
    assert [t["data-verdict"] for t in parser.tiles] == ["pass", "flag", "pass", "failed", "screened", "missing"]
    # self-contained: every picture is inlined
    assert parser.sources and all(src.startswith("data:image/") for src in parser.sources)


def test_failed_check_ids_and_incomplete_banner_are_shown(tmp_path: Path) -> None:
    html = render_html(_view(tmp_path, "cand"))
    assert "BG101" in html
    assert "INCOMPLETE (incomplete): not a pass" in html
    assert "generation: out of memory" in html


def test_ab_report_pairs_candidate_and_baseline_per_brief(tmp_path: Path) -> None:
    run, base = _view(tmp_path, "cand", "complete"), _view(tmp_path, "base", "complete")
    html = render_html(run, base)
    first_renders = [o for o in run.outputs if o.repeat == 0]
    assert html.count("<td>a · #") == 2 and html.count("<td>b · #0") == 1
    table = html.split('id="side-by-side"')[1]
    assert table.count("<tr>") == 1 + len(first_renders)
    assert "(baseline)" in html


def test_write_report_and_json_summary(tmp_path: Path) -> None:
    run = _view(tmp_path, "cand")
    html_path, json_path = write_report(run, tmp_path / "out")
    assert html_path.read_text().startswith("<!doctype html>")
    data = json.loads(json_path.read_text())
    assert data["status"] == "incomplete" and data["summary"]["complete"] is False
    assert data["summary"]["cost_per_usable_image_usd"] is not None
    assert any("acceptance" in line for line in summary_lines(run))


def test_no_usable_image_shows_infinite_cost_not_zero(tmp_path: Path) -> None:
    outputs = [Output("b", "counting", "pass", 0, 0, "failed", seed=5, cost_usd=0.2)]
    summary = summarise(outputs, outputs_expected=1, wall_s=1.0).to_json()
    run = RunView("r", "mini", "p", "complete", 1, 1, None, None, summary, outputs)
    assert summary["cost_per_usable_image_usd"] is None
    assert "∞" in render_html(run)


@pytest.mark.parametrize(
    ("status", "rate", "clean", "badge", "code", "words"),
    [
        ("complete", 1.0, True, "good", 0, "complete · pass rate 100.0%"),
        ("complete", 0.5, True, "warn", 0, "complete · pass rate 50.0%"),
        ("complete", 0.0, True, "bad", 4, "NOTHING PASSED"),
        ("complete", None, True, "bad", 4, "NOT MEASURED"),
        ("flagged", 0.5, False, "bad", 3, "FLAGGED"),
        ("flagged", 0.0, False, "bad", 4, "NOTHING PASSED"),
        ("failed", 0.0, True, "bad", 1, "FAILED"),
        ("incomplete", 1.0, True, "bad", 1, "INCOMPLETE"),
    ],
)
def test_the_badge_and_exit_code_follow_the_outcome(
    status: str, rate: float | None, clean: bool, badge: str, code: int, words: str
) -> None:
    summary = {"pass_rate": rate, "watchdog_clean": clean, "outputs_measured": 2, "outputs_expected": 2}
    outcome = RunView("r", "mini", "p", status, 1, 1, None, None, summary, []).outcome()
    assert (outcome.badge, outcome.exit_code) == (badge, code)
    assert outcome.headline.startswith(words)
