"""The governance report as one self-contained HTML page: the figures, and weekly trend charts drawn by matplotlib."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from brandgate.report import Week

# Charts are PNGs inside the page (data: URLs), so the file can be mailed or uploaded to Slack whole.
CHARTS = ("auto_pass_rate", "override_rate", "queue_age", "cost_per_usable")


def _figure_png(draw: Any) -> bytes:
    import matplotlib

    matplotlib.use("Agg")  # no display: the report is made on servers
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.5, 3.2), dpi=100)
    axes = figure.add_subplot()
    draw(axes)
    axes.grid(True, alpha=0.3)
    figure.autofmt_xdate()
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def chart_pngs(weeks: Sequence[Week]) -> dict[str, bytes]:
    """One PNG per trend, keyed by CHARTS; weeks without a figure (no decisions, say) are gaps, not zeros."""
    starts = [w.start for w in weeks]

    def series(axes: Any, values: Sequence[float | None], label: str | None = None) -> None:
        shown = [(s, v) for s, v in zip(starts, values, strict=True) if v is not None]
        axes.plot([s for s, _ in shown], [v for _, v in shown], marker="o", label=label)

    def auto_pass(axes: Any) -> None:
        series(axes, [_percent(w.figures["auto_pass_rate"]) for w in weeks])
        axes.set_title("Auto-pass rate (% of images passed without review)")
        axes.set_ylim(0, 100)

    def override(axes: Any) -> None:
        ids = sorted({c for w in weeks for c in w.figures["checks"]})
        for check_id in ids:
            rates = [w.figures["checks"].get(check_id, {}).get("override_rate") for w in weeks]
            if any(r is not None for r in rates):
                series(axes, [_percent(r) for r in rates], check_id)
        axes.set_title("Override rate per check (% of decided flags approved)")
        axes.set_ylim(0, 100)
        if axes.get_legend_handles_labels()[0]:
            axes.legend(loc="upper left", fontsize="small", ncol=4)

    def queue_age(axes: Any) -> None:
        series(axes, [None if w.queue_age_s is None else w.queue_age_s / 3600 for w in weeks])
        axes.set_title("Queue age at week's end (hours the oldest waiting image had waited)")
        axes.set_ylim(bottom=0)

    def cost(axes: Any) -> None:
        series(axes, [w.figures["cost_per_usable_usd"] for w in weeks])
        axes.set_title("Cost per usable image (USD, GPU + review)")
        axes.set_ylim(bottom=0)

    draws = {"auto_pass_rate": auto_pass, "override_rate": override, "queue_age": queue_age, "cost_per_usable": cost}
    return {name: _figure_png(draws[name]) for name in CHARTS}


def _percent(rate: float | None) -> float | None:
    return None if rate is None else rate * 100


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def report_html(figures: dict[str, Any], weeks: Sequence[Week], scope: str, made_at: datetime) -> str:
    """The page: headline figures, the four trend charts, and the per-check table."""
    charts = chart_pngs(weeks) if weeks else {}
    rows = "".join(
        f"<tr><th>{html.escape(key)}</th><td>{_cell(figures[key])}</td></tr>"
        for key in (
            "images",
            "passed",
            "approved",
            "rejected",
            "waiting",
            "auto_pass_rate",
            "gpu_cost_usd",
            "review_cost_usd",
            "cost_per_usable_usd",
        )
    )
    decided = figures["time_to_decision_s"]
    rows += (
        f"<tr><th>time to decision p50 / p95 (s)</th><td>{_cell(decided['p50'])} / {_cell(decided['p95'])}</td></tr>"
    )
    checks = "".join(
        f"<tr><th>{html.escape(check_id)}</th><td>{c['flagged']}</td><td>{c['approved_after']}</td>"
        f"<td>{c['rejected_after']}</td><td>{_cell(c['override_rate'])}</td></tr>"
        for check_id, c in figures["checks"].items()
    )
    images = "".join(
        f'<figure><img class="chart" id="chart-{name}" alt="{name.replace("_", " ")}" '
        f'src="data:image/png;base64,{base64.b64encode(png).decode()}"></figure>'
        for name, png in charts.items()
    )
    if not images:
        images = "<p>No images in this window, so there are no trends to draw.</p>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>brandgate governance report</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #1d3557; }}
table {{ border-collapse: collapse; margin-bottom: 1.5em; }}
th, td {{ border: 1px solid #ccd; padding: 0.3em 0.8em; text-align: left; }}
figure {{ margin: 0 0 1em 0; }}
</style></head>
<body>
<h1>brandgate governance report</h1>
<p>{html.escape(scope)} · made {made_at.strftime("%Y-%m-%d %H:%M UTC")}</p>
<h2>Figures</h2>
<table>{rows}</table>
<h2>Weekly trends</h2>
{images}
<h2>Checks people overruled</h2>
<table><tr><th>check</th><th>flagged</th><th>approved after</th><th>rejected after</th><th>override rate</th></tr>
{checks}</table>
</body></html>
"""
