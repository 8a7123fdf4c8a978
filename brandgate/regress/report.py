"""The run report: one self-contained HTML file (charts and every output inlined) and a JSON summary."""

from __future__ import annotations

import base64
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from PIL import Image, UnidentifiedImageError

from brandgate.errors import EXIT_FAILURE, EXIT_FLAG, EXIT_OK, EXIT_REJECT
from brandgate.regress.measures import WATCHDOG_CHECK, Output
from brandgate.requests.decisions import exportable, needs_a_person

if TYPE_CHECKING:
    from brandgate.regress.gate import Comparison

TEMPLATES = Path(__file__).resolve().parent / "templates"
THUMBNAIL_SIDE = 112
# The enlarged view a tile opens: big enough to read a headline, small enough that a suite of a
# hundred renders stays a file one can mail (JPEG, inlined like the thumbnails).
ZOOM_SIDE = 640
PROMPT_CHARS = 160


@dataclass(frozen=True)
class BriefText:
    """What a suite brief asked for, as a reader of the report recognises it."""

    prompt: str
    headline: str | None = None


@dataclass(frozen=True)
class Outcome:
    """How a run reads at a glance: the badge's colour, the words on it, and the exit code it earns."""

    badge: str  # good, warn, bad
    headline: str
    exit_code: int


@dataclass(frozen=True)
class RunView:
    """A regression run as the report shows it: what ran, how it ended, what it measured, every output."""

    run_id: str
    suite: str
    profile: str
    status: str  # running, complete, incomplete, failed
    seeds: int
    concurrency: int
    started_at: datetime | None
    finished_at: datetime | None
    summary: Mapping[str, Any]
    outputs: Sequence[Output]
    # brief ID → its prompt and headline, as the run was started with them
    briefs: Mapping[str, BriefText] = field(default_factory=dict)

    @property
    def is_pass(self) -> bool:
        """Only a complete run with a clean watchdog and something that passed can be read as good news."""
        return self.outcome().badge != "bad"

    def outcome(self) -> Outcome:
        """The badge follows what was measured: a complete run in which nothing passed is a failure.

        Exit codes (docs/cli.md): 1 the run failed or is incomplete, 3 the watchdog flagged it,
        4 nothing in a finished run came out as expected (pass rate 0 %, or no rate at all).
        """
        rate = self.summary.get("pass_rate")
        measured, expected = self.summary.get("outputs_measured", 0), self.summary.get("outputs_expected", 0)
        if self.status == "failed":
            return Outcome("bad", "FAILED: the run made no image at all (see the failure reasons below)", EXIT_FAILURE)
        if self.status not in ("complete", "flagged"):
            return Outcome("bad", f"INCOMPLETE ({self.status}): not a pass", EXIT_FAILURE)
        if rate is None:
            return Outcome("bad", "NOT MEASURED: no output was measured, so nothing passed", EXIT_REJECT)
        if rate <= 0:
            return Outcome(
                "bad", f"NOTHING PASSED: pass rate {fmt_pct(rate)} ({measured} of {expected} outputs)", EXIT_REJECT
            )
        if self.status == "flagged" or not self.summary.get("watchdog_clean"):
            return Outcome("bad", f"FLAGGED: the determinism watchdog tripped (pass rate {fmt_pct(rate)})", EXIT_FLAG)
        if rate < 1:
            return Outcome("warn", f"complete · pass rate {fmt_pct(rate)}: some outputs not as expected", EXIT_OK)
        return Outcome("good", f"complete · pass rate {fmt_pct(rate)}", EXIT_OK)

    def headline(self) -> str:
        return self.outcome().headline


def summary_json(run: RunView, baseline: RunView | None = None) -> dict[str, Any]:
    """The JSON summary written beside the report and printed by `--json`."""
    document: dict[str, Any] = {
        "run_id": run.run_id,
        "suite": run.suite,
        "profile": run.profile,
        "status": run.status,
        "headline": run.headline(),
        "outcome": run.outcome().badge,
        "seeds": run.seeds,
        "concurrency": run.concurrency,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "summary": dict(run.summary),
    }
    if baseline is not None:
        document["baseline"] = {
            "run_id": baseline.run_id,
            "profile": baseline.profile,
            "status": baseline.status,
            "summary": dict(baseline.summary),
        }
    return document


def summary_lines(run: RunView) -> list[str]:
    """A few lines a person reads in a terminal or a Slack message."""
    s = run.summary
    lat = s.get("latency_s") or {}
    lines = [
        f"regression run {run.run_id} · suite {run.suite} · profile {run.profile} · {run.headline()}",
        f"outputs {s.get('outputs_measured', 0)}/{s.get('outputs_expected', 0)} · wall {fmt_num(s.get('wall_s'), 's')}"
        f" · p50/p95/p99 {fmt_num(lat.get('p50'), 's')}/{fmt_num(lat.get('p95'), 's')}/{fmt_num(lat.get('p99'), 's')}"
        f" · {fmt_num(s.get('images_per_s'), ' images/s')}",
        f"acceptance {fmt_pct(s.get('acceptance_rate'))} · pass rate {fmt_pct(s.get('pass_rate'))}"
        f" · cost ${fmt_num(s.get('total_cost_usd'), '', 4)}"
        f" · per usable image {fmt_usd(s.get('cost_per_usable_image_usd'))}"
        f" · peak memory {fmt_bytes(s.get('peak_memory_bytes'))} ({s.get('memory_kind') or 'n/a'})",
        "families: "
        + ", ".join(f"{k} {fmt_family(s, 'pass_rate_by_family', k)}" for k in (s.get("pass_rate_by_family") or {})),
    ]
    for family, why in (s.get("unmeasured_by_family") or {}).items():
        lines.append(f"family {family} {why}")
    for family, why in (s.get("unmeasured_by_check_family") or {}).items():
        lines.append(f"check family {family} {why}")
    if not s.get("watchdog_clean", True):
        lines.append(f"watchdog: {len(s.get('unstable') or [])} render(s) differed from their own seed")
    return lines


def render_html(run: RunView, baseline: RunView | None = None, gate: Comparison | None = None) -> str:
    """The whole report as one HTML string; images are data URIs, so the file travels alone.

    With `gate`, the page opens with the gate's verdict and every criterion, as the CLI printed them.
    """
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = fmt_pct
    env.filters["num"] = fmt_num
    env.filters["usd"] = fmt_usd
    env.filters["bytes"] = fmt_bytes
    thumbs = _Thumbnails()
    names = check_names()
    tiles = [_tile(o, thumbs, run.briefs, names) for o in run.outputs]
    pairs = _pairs(run, baseline, thumbs, names) if baseline is not None else []
    template = env.get_template("report.html.j2")
    return template.render(
        run=run,
        outcome=run.outcome(),
        baseline=baseline,
        gate=gate,
        summary_rows=_summary_rows(run, baseline),
        charts=_charts(run, baseline),
        bar_charts=_bar_charts(run, baseline),
        tiles=tiles,
        pairs=pairs,
        zooms=thumbs.zooms(),
        lines=summary_lines(run),
    )


def write_report(
    run: RunView, out_dir: Path, baseline: RunView | None = None, gate: Comparison | None = None
) -> tuple[Path, Path]:
    """Write the run's own report-<run>.html and summary-<run>.json into `out_dir`; returns both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path = out_dir / f"report-{run.run_id}.html"
    json_path = out_dir / f"summary-{run.run_id}.json"
    html_path.write_text(render_html(run, baseline, gate), encoding="utf-8")
    document = summary_json(run, baseline)
    if gate is not None:
        document["gate"] = {"passed": gate.passed, "failed_criteria": gate.failed,
                            "criteria": [c.to_json() for c in gate.criteria]}
    json_path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    return html_path, json_path


def write_comparison(comparison: Comparison, out_dir: Path) -> tuple[Path, Path]:
    """Write compare-<A>-vs-<B>.html and .json: files of their own, never a run's own report."""
    a, b = comparison.candidate, comparison.baseline
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"compare-{a.run_id}-vs-{b.run_id}"
    html_path, json_path = out_dir / f"{stem}.html", out_dir / f"{stem}.json"
    html_path.write_text(render_html(a, b, gate=comparison), encoding="utf-8")
    document = {**comparison.to_json(), "candidate_summary": summary_json(a), "baseline_summary": summary_json(b)}
    json_path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    return html_path, json_path


def check_names() -> dict[str, str]:
    """Check ID → its name (BG101 → headline-text), so a reader sees what failed, not a code."""
    from policies.checks import builtin_specs  # the check modules load only when a report is drawn

    return {spec.id: spec.name for spec in builtin_specs()} | {WATCHDOG_CHECK: "same seed, same pixels"}


# --- pieces of the page ---------------------------------------------------------------------------


class _Thumbnails:
    """Small inline JPEGs of artifacts, and the enlarged view each opens, made once per file."""

    def __init__(self) -> None:
        self._cache: dict[str, str | None] = {}
        self._zooms: dict[str, dict[str, str]] = {}

    def uri(self, path: str | None) -> str | None:
        if not path:
            return None
        if path not in self._cache:
            self._cache[path] = _thumbnail(Path(path), THUMBNAIL_SIDE)
        return self._cache[path]

    def zoom(self, path: str | None, caption: str) -> str | None:
        """The anchor of the enlarged view of `path` (a CSS :target overlay, no script), or None."""
        if not path or self.uri(path) is None:
            return None
        if path not in self._zooms:
            big = _thumbnail(Path(path), ZOOM_SIDE)
            if big is None:
                return None
            self._zooms[path] = {"id": f"zoom-{len(self._zooms) + 1}", "uri": big, "caption": caption}
        return self._zooms[path]["id"]

    def zooms(self) -> list[dict[str, str]]:
        return list(self._zooms.values())


def _thumbnail(path: Path, side: int) -> str | None:
    try:
        with Image.open(path) as img:
            img.thumbnail((side, side))
            buffer = io.BytesIO()
            img.convert("RGB").save(buffer, format="JPEG", quality=85)
    except (OSError, UnidentifiedImageError):
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _tile(
    output: Output, thumbs: _Thumbnails, briefs: Mapping[str, BriefText], names: Mapping[str, str]
) -> dict[str, Any]:
    verdict = output.final_verdict or ("screened" if output.screened_out else output.state)
    text = briefs.get(output.brief_id)
    prompt = text.prompt if text is not None else None
    caption = f"{output.brief_id} · seed #{output.seed_index}"
    if output.repeat:
        caption += " · watchdog re-render"
    failed = [f"{check} {names[check]}" if check in names else check for check in output.failed_check_ids]
    return {
        "uri": thumbs.uri(output.artifact_path),
        "zoom": thumbs.zoom(
            output.artifact_path,
            " · ".join(part for part in (caption, prompt, f"“{text.headline}”" if text and text.headline else None,
                                         verdict) if part),
        ),
        "caption": caption,
        "prompt": _shorten(prompt, PROMPT_CHARS) if prompt else None,
        "prompt_full": prompt,
        "headline": text.headline if text is not None else None,
        "seed": output.seed,
        "family": output.family,
        "verdict": verdict,
        "badge": _badge(verdict),
        "failed": failed,
        "note": output.failure_reason if output.image_id is None else None,
    }


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _badge(verdict: str) -> str:
    if exportable(verdict):
        return "ok"
    if needs_a_person(verdict):
        return "warn"
    if verdict in ("screened",):
        return "info"
    return "bad"


def _pairs(run: RunView, baseline: RunView, thumbs: _Thumbnails, names: Mapping[str, str]) -> list[dict[str, Any]]:
    theirs = {(o.brief_id, o.seed_index): o for o in baseline.outputs if o.repeat == 0}
    briefs = {**baseline.briefs, **run.briefs}
    pairs = []
    for o in run.outputs:
        if o.repeat:
            continue
        other = theirs.get((o.brief_id, o.seed_index))
        pairs.append(
            {
                "brief_id": o.brief_id,
                "seed_index": o.seed_index,
                "candidate": _tile(o, thumbs, briefs, names),
                "baseline": _tile(other, thumbs, briefs, names) if other is not None else None,
            }
        )
    return pairs


def _bar_charts(run: RunView, baseline: RunView | None) -> list[dict[str, Any]]:
    """Pass rates as HTML bars: a 0 % bar is drawn as a mark on the axis with its number, never as
    nothing, and a family that was not measured says so instead of drawing a bar."""
    charts = []
    for key, title in (
        ("pass_rate_by_family", "Pass rate by brief family"),
        ("pass_rate_by_check_family", "Pass rate by check family"),
    ):
        views = [(run, "run")] + ([(baseline, "baseline")] if baseline is not None else [])
        families = sorted({f for view, _ in views for f in (view.summary.get(key) or {})})
        rows = []
        for family in families:
            bars = []
            for view, role in views:
                value = (view.summary.get(key) or {}).get(family)
                bars.append(
                    {
                        "role": role,
                        "profile": view.profile,
                        "value": value,
                        "width": 0.0 if value is None else round(100 * float(value), 1),
                        "label": fmt_family(view.summary, key, family),
                        "zero": value is not None and float(value) <= 0,
                        "measured": value is not None,
                    }
                )
            rows.append({"family": family, "bars": bars})
        charts.append({"key": key, "title": title, "rows": rows})
    return charts


def _summary_rows(run: RunView, baseline: RunView | None) -> list[tuple[str, str, str | None, str | None]]:
    """(metric, this run, baseline, ratio) rows of the summary table."""

    def lat(view: RunView, key: str) -> Any:
        return (view.summary.get("latency_s") or {}).get(key)

    rows: list[tuple[str, Any, Any, str]] = [
        ("outputs measured / expected", None, None, "outputs"),
        ("wall time", run.summary.get("wall_s"), baseline.summary.get("wall_s") if baseline else None, "s"),
        ("latency p50", lat(run, "p50"), lat(baseline, "p50") if baseline else None, "s"),
        ("latency p95", lat(run, "p95"), lat(baseline, "p95") if baseline else None, "s"),
        ("latency p99", lat(run, "p99"), lat(baseline, "p99") if baseline else None, "s"),
        ("images/s", run.summary.get("images_per_s"), _get(baseline, "images_per_s"), "rate"),
        ("peak memory", run.summary.get("peak_memory_bytes"), _get(baseline, "peak_memory_bytes"), "bytes"),
        ("pass rate", run.summary.get("pass_rate"), _get(baseline, "pass_rate"), "pct"),
        ("acceptance rate", run.summary.get("acceptance_rate"), _get(baseline, "acceptance_rate"), "pct"),
        ("total cost", run.summary.get("total_cost_usd"), _get(baseline, "total_cost_usd"), "usd"),
        (
            "cost per usable image",
            run.summary.get("cost_per_usable_image_usd"),
            _get(baseline, "cost_per_usable_image_usd"),
            "usd",
        ),
        ("watchdog", run.summary.get("watchdog_clean"), _get(baseline, "watchdog_clean"), "clean"),
        ("drift mean SSIM", (run.summary.get("drift") or {}).get("mean_ssim"), None, "num"),
        ("drift mean abs diff", (run.summary.get("drift") or {}).get("mean_abs_diff"), None, "num"),
    ]
    shown: list[tuple[str, str, str | None, str | None]] = []
    for label, mine, theirs, kind in rows:
        if kind == "outputs":
            mine_text = f"{run.summary.get('outputs_measured', 0)} / {run.summary.get('outputs_expected', 0)}"
            theirs_text = (
                f"{baseline.summary.get('outputs_measured', 0)} / {baseline.summary.get('outputs_expected', 0)}"
                if baseline
                else None
            )
            shown.append((label, mine_text, theirs_text, None))
            continue
        ratio = None
        numbers = isinstance(mine, int | float) and isinstance(theirs, int | float) and not isinstance(mine, bool)
        if baseline is not None and numbers and theirs:
            ratio = f"{mine / theirs:.2f}×"
        shown.append((label, _format(mine, kind), _format(theirs, kind) if baseline else None, ratio))
    return shown


def _get(view: RunView | None, key: str) -> Any:
    return view.summary.get(key) if view is not None else None


def _format(value: Any, kind: str) -> str:
    if kind == "s":
        return fmt_num(value, " s")
    if kind == "rate":
        return fmt_num(value)
    if kind == "bytes":
        return fmt_bytes(value)
    if kind == "pct":
        return fmt_pct(value)
    if kind == "usd":
        return fmt_usd(value)
    if kind == "clean":
        return "n/a" if value is None else ("clean" if value else "TRIPPED")
    return fmt_num(value, "", 4)


def _charts(run: RunView, baseline: RunView | None) -> dict[str, str]:
    from matplotlib.figure import Figure  # heavy import, only when a report is drawn

    charts: dict[str, str] = {}

    def save(fig: Figure) -> str:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
        return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")

    fig = Figure(figsize=(5.5, 3))
    ax = fig.subplots()
    for view, colour in ((run, "#1d3557"), (baseline, "#e76f51")):
        if view is None:
            continue
        latencies = [o.latency_s for o in view.outputs if o.repeat == 0 and o.latency_s is not None]
        if latencies:
            ax.hist(latencies, bins=min(30, max(5, len(latencies) // 4)), alpha=0.6, color=colour, label=view.profile)
    ax.set_xlabel("latency per request (s)")
    ax.set_ylabel("requests")
    ax.set_title("Latency")
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    charts["latency"] = save(fig)

    fig = Figure(figsize=(5.5, 3))
    ax = fig.subplots()
    spreads = [v for v in (run.summary.get("psd_by_brief") or {}).values() if v is not None]
    if spreads:
        ax.hist(spreads, bins=min(30, max(5, len(spreads) // 4)), color="#2a9d8f")
    else:  # an empty frame would read as "all zero"
        ax.text(0.5, 0.5, "not measured: no brief has two renders of one size", ha="center", va="center",
                transform=ax.transAxes, fontsize=9, color="#c1121f")
    ax.set_xlabel("per-pixel std across seeds (0-255 levels)")
    ax.set_ylabel("briefs")
    ax.set_title("PSD distribution")
    charts["psd"] = save(fig)

    fig = Figure(figsize=(5.5, 3))
    ax = fig.subplots()
    labels, totals, per_usable = [], [], []
    for view in (run, baseline):
        if view is None:
            continue
        labels.append(view.profile)
        totals.append(float(view.summary.get("total_cost_usd") or 0.0))
        per_usable.append(view.summary.get("cost_per_usable_image_usd"))
    xs = list(range(len(labels)))
    total_bars = ax.bar([x - 0.2 for x in xs], totals, 0.4, color="#264653", label="total")
    usable_bars = ax.bar(
        [x + 0.2 for x in xs],
        [p if p is not None else 0.0 for p in per_usable],
        0.4,
        color="#f4a261",
        label="per usable image",
    )
    # Every bar carries its number and the axis is drawn, so $0 reads as zero, not as no data.
    ax.axhline(0, color="#333333", linewidth=1)
    ax.bar_label(total_bars, labels=[fmt_usd(t) for t in totals], fontsize=7)
    ax.bar_label(usable_bars, labels=["∞ (none usable)" if p is None else fmt_usd(p) for p in per_usable], fontsize=7)
    ax.set_xticks(xs, labels)
    ax.set_ylabel("USD")
    ax.set_title("Cost")
    ax.legend()
    charts["cost"] = save(fig)
    return charts


# --- number formatting shared by the page, the terminal and Slack ----------------------------------


def fmt_num(value: Any, unit: str = "", digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value}{unit}"
    return f"{float(value):.{digits}f}{unit}"


def fmt_pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * float(value):.1f}%"


def fmt_family(summary: Mapping[str, Any], key: str, family: str) -> str:
    """A family's pass rate, "not measured" when its defining check could not decide, "n/a" when absent."""
    value = (summary.get(key) or {}).get(family)
    if value is not None:
        return fmt_pct(value)
    unmeasured_key = "unmeasured_by_family" if key == "pass_rate_by_family" else "unmeasured_by_check_family"
    return "not measured" if family in (summary.get(unmeasured_key) or {}) else "n/a"


def fmt_usd(value: Any) -> str:
    return "∞ (nothing usable)" if value is None else f"${float(value):.5f}"


def fmt_bytes(value: Any) -> str:
    if value is None:
        return "n/a"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"
