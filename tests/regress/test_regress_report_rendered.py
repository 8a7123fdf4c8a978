"""The regression report as Chromium lays it out: badges, zero bars, tiles, the enlarged image, the gate."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from brandgate.regress.gate import evaluate
from brandgate.regress.measures import CheckOutcome, Output, summarise
from brandgate.regress.report import BriefText, RunView, write_comparison, write_report
from brandgate.settings import Settings
from tests.regress.chromium import CHROMIUM, Browser

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs chromium for headless rendering")

SEED = 8_446_744_073_709_551_615  # a 19-digit seed: the report must not make a reader parse it
PROMPT = "three ripe tomatoes on a wooden table, soft morning light"
HEADLINE = "Fresh Deals Friday"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with Browser() as b:
        yield b


def _png(path: Path, value: int, side: int = 256) -> str:
    pixels = np.full((side, side, 3), value, dtype=np.uint8)
    pixels[: side // 2, : side // 2] = 255 - value  # not one flat colour: a JPEG of it stays a picture
    Image.fromarray(pixels).save(path)
    return str(path)


def _view(tmp_path: Path, profile: str, *, typography_passes: bool, status: str = "complete") -> RunView:
    """Typography passes or fails as asked; counting fails every render (its bar is 0 %)."""
    text_pass, text_fail = (CheckOutcome("BG101", "text", "pass"),), (CheckOutcome("BG101", "text", "fail"),)
    count_fail = (CheckOutcome("BG401", "counts", "fail"),)
    outputs = [
        Output(
            "tomatoes", "typography", "pass", k, 0, "done", seed=SEED - k, image_id=f"{profile}-t{k}",
            verdict="pass" if typography_passes else "flag",
            artifact_path=_png(tmp_path / f"{profile}-t{k}.png", 40 + k),
            latency_s=0.5, cost_usd=0.01, checks=text_pass if typography_passes else text_fail,
        )
        for k in range(2)
    ] + [
        Output(
            "apples", "counting", "pass", k, 0, "done", seed=SEED - 10 - k, image_id=f"{profile}-a{k}",
            verdict="flag", artifact_path=_png(tmp_path / f"{profile}-a{k}.png", 150 + k),
            latency_s=0.6, cost_usd=0.01, checks=count_fail,
        )
        for k in range(2)
    ]
    summary = summarise(outputs, outputs_expected=4, wall_s=2.0).to_json()
    briefs = {"tomatoes": BriefText(PROMPT, HEADLINE), "apples": BriefText("five green apples", None)}
    return RunView(f"run-{profile}", "/srv/suites/core.yaml", profile, status, 2, 2, None, None, summary, outputs,
                   briefs)


def _open(browser: Browser, path: Path, fragment: str = "") -> None:
    browser.open(path.resolve().as_uri() + fragment)


def test_a_complete_run_in_which_nothing_passed_wears_a_red_badge(tmp_path: Path, browser: Browser) -> None:
    nothing = _view(tmp_path, "blank", typography_passes=False)
    some = _view(tmp_path, "base", typography_passes=True)
    assert nothing.summary["pass_rate"] == 0.0 and some.summary["pass_rate"] == 0.5

    colours = {}
    for view in (nothing, some):
        html, _ = write_report(view, tmp_path / view.profile)
        _open(browser, html)
        colours[view.profile] = browser.eval(
            "(() => { const b = document.getElementById('outcome');"
            " return [b.innerText, getComputedStyle(b).backgroundColor]; })()"
        )
    text, colour = colours["blank"]
    assert text.startswith("NOTHING PASSED: pass rate 0.0%") and "complete" not in text.lower().split(":")[0]
    assert colour == "rgb(255, 204, 213)"  # the red of a failure
    text, colour = colours["base"]
    assert text.startswith("complete · pass rate 50.0%")
    assert colour == "rgb(255, 232, 204)"  # amber: complete, but not everything passed


def test_a_zero_bar_is_drawn_as_a_mark_with_its_number(tmp_path: Path, browser: Browser) -> None:
    html, _ = write_report(_view(tmp_path, "base", typography_passes=True), tmp_path / "out")
    _open(browser, html)
    bars = browser.eval(
        """(() => Object.fromEntries([...document.querySelectorAll('#pass_rate_by_family .bar-row')].map(row => {
            const bar = row.querySelector('.bar'), track = row.querySelector('.track');
            const label = row.querySelector('.bar-value');
            const box = bar.getBoundingClientRect(), trackBox = track.getBoundingClientRect();
            return [row.dataset.family, {
                width: box.width, height: box.height, trackWidth: trackBox.width,
                colour: getComputedStyle(bar).backgroundColor,
                axis: parseFloat(getComputedStyle(track).borderLeftWidth),
                label: label.innerText, labelWidth: label.getBoundingClientRect().width}];
        })))()"""
    )
    zero, full = bars["counting"], bars["typography"]
    assert zero["label"] == "0.0%" and zero["labelWidth"] > 0
    assert 2 <= zero["width"] <= 4 and zero["height"] > 0  # a visible mark on the axis, not nothing
    assert zero["colour"] != "rgba(0, 0, 0, 0)" and zero["axis"] >= 1
    assert full["label"] == "100.0%" and full["width"] == pytest.approx(full["trackWidth"] - zero["axis"], abs=1)


def test_tiles_show_prompt_headline_and_check_names_not_a_long_seed(tmp_path: Path, browser: Browser) -> None:
    html, _ = write_report(_view(tmp_path, "blank", typography_passes=False), tmp_path / "out")
    _open(browser, html)
    tiles = browser.eval("[...document.querySelectorAll('#contact-sheet .tile')].map(t => t.innerText)")
    assert len(tiles) == 4
    assert PROMPT in tiles[0] and f"“{HEADLINE}”" in tiles[0]
    assert "BG101 headline-text" in tiles[0] and "BG401 object-counts" in tiles[2]
    sheet = browser.eval("document.getElementById('contact-sheet').innerText")
    assert str(SEED) not in sheet and "seed #0" in sheet


def test_a_tile_opens_its_image_enlarged_without_script(tmp_path: Path, browser: Browser) -> None:
    html, _ = write_report(_view(tmp_path, "base", typography_passes=True), tmp_path / "out")
    assert "<script" not in html.read_text()
    _open(browser, html)
    target = browser.eval("document.querySelector('#contact-sheet a.enlarge').getAttribute('href')")
    hidden = browser.eval(f"getComputedStyle(document.querySelector('{target}')).display")
    assert hidden == "none"
    browser.eval("document.querySelector('#contact-sheet a.enlarge').click()")
    shown = browser.eval(
        f"""(() => {{ const z = document.querySelector('{target}'), img = z.querySelector('img');
            const box = img.getBoundingClientRect();
            return {{display: getComputedStyle(z).display, natural: img.naturalWidth, shown: box.width,
                     thumb: document.querySelector('#contact-sheet img').naturalWidth}}; }})()"""
    )
    assert shown["display"] == "flex"
    assert shown["natural"] == 256 and shown["thumb"] == 112  # the full picture, not the thumbnail blown up
    assert shown["shown"] >= 256
    # what a person sees: the dark overlay fills the window around the picture
    with Image.open(io.BytesIO(browser.screenshot())) as shot:
        corner = shot.convert("RGB").getpixel((5, 5))
    assert isinstance(corner, tuple) and max(corner) < 60


def test_the_gate_verdict_and_every_criterion_are_on_the_comparison_page(
    tmp_path: Path, browser: Browser, settings: Settings
) -> None:
    cand = _view(tmp_path, "blank", typography_passes=False)
    base = _view(tmp_path, "base", typography_passes=True)
    comparison = evaluate(cand, base, settings)
    assert not comparison.passed
    html, summary = write_comparison(comparison, tmp_path / "out")
    assert html.name == "compare-run-blank-vs-run-base.html" and summary.is_file()
    _open(browser, html)
    gate = browser.eval("document.getElementById('gate').innerText")
    assert gate.startswith("Gate: REFUSED: ") and "brief family pass rates" in gate
    assert gate.count("\n") >= len(comparison.criteria)
    for criterion in comparison.criteria:
        assert f"{'ok' if criterion.ok else 'FAIL'} · {criterion.name}: {criterion.detail}" in gate
