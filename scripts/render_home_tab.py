"""Draw the Home tab's review desk as Slack shows it, for docs/slack.md: Block Kit from bot.home, shot by Chromium.

The view is built by the bot's own `manager_view` from sample waiting images; a small renderer
turns its blocks into HTML that looks like Slack's (sections, context, buttons, thumbnails), and
headless Chromium takes the screenshot. Usage: python scripts/render_home_tab.py [OUT.png]
"""

from __future__ import annotations

import base64
import html
import io
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from bot.home import manager_view
from brandgate.review import CheckToReview, WaitingImage

EMOJI = {":warning:": "⚠️", ":mag:": "⊙", ":white_check_mark:": "✅", ":no_entry_sign:": "🚫"}
PEOPLE = {"UMARK": "mark", "UJO": "jo.designs"}


def thumbnail(colour: tuple[int, int, int], apples: int) -> str:
    """A stand-in picture: a table top with `apples` red circles and a headline bar."""
    picture = Image.new("RGB", (160, 160), colour)
    draw = ImageDraw.Draw(picture)
    draw.rectangle((0, 110, 160, 160), fill=(150, 100, 60))
    for i in range(apples):
        x = 14 + i * 28
        draw.ellipse((x, 84, x + 26, 110), fill=(200, 30, 40))
    draw.rectangle((16, 18, 144, 40), fill=(255, 255, 255))
    out = io.BytesIO()
    picture.save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def mrkdwn(text: str) -> str:
    shown = html.escape(text, quote=False)
    shown = re.sub(
        r"&lt;@(U\w+)&gt;", lambda m: f'<span class="at">@{PEOPLE.get(m.group(1), m.group(1))}</span>', shown
    )
    shown = re.sub(r"`([^`]+)`", r"<code>\1</code>", shown)
    shown = re.sub(r"\*([^*\n]+)\*", r"<b>\1</b>", shown)
    shown = re.sub(r"(?<!\w)_([^_\n]+)_(?!\w)", r"<i>\1</i>", shown)
    for code, char in EMOJI.items():
        shown = shown.replace(code, char)
    return shown.replace("\n", "<br>")


def block_html(block: dict[str, Any], pictures: dict[str, str]) -> str:
    kind = block["type"]
    if kind == "header":
        return f"<h1>{html.escape(block['text']['text'])}</h1>"
    if kind == "divider":
        return "<hr>"
    if kind == "context":
        return f'<div class="context">{" ".join(mrkdwn(e["text"]) for e in block["elements"])}</div>'
    if kind == "actions":
        buttons = "".join(
            f'<span class="button {e.get("style", "")}">{html.escape(e["text"]["text"])}</span>'
            for e in block["elements"]
        )
        return f'<div class="actions">{buttons}</div>'
    accessory = block.get("accessory")
    image = f'<img src="{pictures[accessory["slack_file"]["id"]]}">' if accessory else ""
    return f'<div class="section"><div class="text">{mrkdwn(block["text"]["text"])}</div>{image}</div>'


def page(view: dict[str, Any], pictures: dict[str, str]) -> str:
    body = "\n".join(block_html(b, pictures) for b in view["blocks"])
    return f"""<!doctype html><html><head><meta charset="utf-8"><style>
body {{ font-family: Lato, "Helvetica Neue", Arial, sans-serif; font-size: 15px; color: #1d1c1d; margin: 0;
       background: #fff; }}
.tabs {{ border-bottom: 1px solid #ddd; padding: 14px 24px 0; }}
.tabs b {{ display: inline-block; padding-bottom: 10px; border-bottom: 2px solid #1264a3; margin-right: 18px; }}
.tabs span {{ color: #616061; margin-right: 18px; }}
main {{ padding: 8px 24px 24px; max-width: 760px; }}
h1 {{ font-size: 22px; margin: 14px 0 8px; }}
.section {{ display: flex; justify-content: space-between; gap: 16px; margin: 10px 0 4px; line-height: 1.45; }}
.section img {{ width: 88px; height: 88px; border-radius: 6px; flex: none; }}
.context {{ color: #616061; font-size: 13px; margin: 4px 0; }}
code {{ color: #e01e5a; background: #f6f6f6; border: 1px solid #ddd; border-radius: 3px; padding: 0 3px;
        font-size: 12px; }}
.at {{ color: #1264a3; background: #e8f5fa; border-radius: 3px; padding: 0 2px; }}
.actions {{ margin: 8px 0 12px; }}
.button {{ display: inline-block; border: 1px solid #ccc; border-radius: 4px; padding: 5px 14px; margin-right: 8px;
           font-weight: bold; font-size: 14px; }}
.primary {{ background: #007a5a; color: #fff; border-color: #007a5a; }}
.danger {{ background: #e01e5a; color: #fff; border-color: #e01e5a; }}
hr {{ border: none; border-top: 1px solid #ddd; margin: 8px 0; }}
</style></head><body><div class="tabs"><b>Home</b><span>Messages</span><span>About</span></div>
<main>{body}</main></body></html>"""


def sample() -> tuple[dict[str, Any], dict[str, str]]:
    now = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)

    def waiting(n: int, kit: str, verdict: str, who: str, hours: float, checks: list[CheckToReview]) -> WaitingImage:
        return WaitingImage(f"{n:02d}9f2c41ab77d04e6a8c1b3f5e9d2a7", f"41ab{n:02d}c0ffee5e1d9a0b7c3e2f6d8a1b", kit,
                            verdict, tuple(checks), who, "CMARKETING" if who.startswith("slack") else None,
                            n % 4, 4, "0" * 64, "image/png", now - timedelta(hours=hours))  # fmt: skip

    items = [
        waiting(1, "acme", "flag", "slack:T1:UMARK", 30, [CheckToReview(
            "BG101", "fail", "headline 'Fresh Deals Friday' not found; read 'Fresh Deels Friday'")]),
        waiting(2, "acme", "unverified", "slack:T1:UJO", 7, [CheckToReview(
            "BG401", "unverified", "not checked: object counts (apple), a photograph and no detector is configured")]),
        waiting(3, "nordwind", "flag", "cli:ops", 2.5, [
            CheckToReview("BG202", "fail", "logo is 3.1% of the width; the kit asks for at least 5%"),
            CheckToReview("BG104", "fail", "unexpected text 'SALE 50%' at the lower right")]),
    ]  # fmt: skip
    pictures = {"F01": thumbnail((215, 225, 235), 5), "F02": thumbnail((235, 225, 205), 4)}
    thumbs = {items[0].image_id: "F01", items[1].image_id: "F02"}
    view = manager_view(items, 23, 0, ["acme", "nordwind"], now, thumbs, {i.image_id: True for i in items})
    return view, pictures


def main(out: Path) -> int:
    chromium = shutil.which("chromium")
    if chromium is None:
        print("needs Chromium (/usr/bin/chromium) to take the screenshot", file=sys.stderr)
        return 1
    view, pictures = sample()
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "home.html"
        source.write_text(page(view, pictures), encoding="utf-8")
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={folder}/profile", "--window-size=820,670", f"--screenshot={out.resolve()}",
             source.as_uri()],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/images/slack-home-tab.png")))
