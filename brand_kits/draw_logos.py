"""Draws the shipped kits' logos (primary and one-colour variants); re-run to regenerate them.

    python brand_kits/draw_logos.py

Deterministic: the same fonts give byte-identical PNGs. Logos carry letterforms and
corners on purpose, so feature matching (BG201) has something to hold on to.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
DEJAVU_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
LIBERATION_SERIF_BOLD = "/usr/share/fonts/truetype/liberation2/LiberationSerif-Bold.ttf"
RGB = tuple[int, int, int]


def _hex(value: str) -> RGB:
    return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)


def acme(primary: bool) -> Image.Image:
    """A red badge with a white apple and leaf, then the word ACME; mono is all navy."""
    red, navy, orange = _hex("#D62828"), _hex("#1D3557"), _hex("#F77F00")
    badge = red if primary else navy
    word = navy if primary else navy
    leaf = orange if primary else navy
    img = Image.new("RGBA", (520, 200), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((8, 8, 192, 192), radius=36, fill=badge + (255,))
    d.ellipse((48, 62, 152, 166), fill=(255, 255, 255, 255))
    d.polygon([(100, 64), (92, 30), (108, 30)], fill=(255, 255, 255, 255))
    d.ellipse((108, 28, 150, 52), fill=leaf + (255,) if primary else (255, 255, 255, 255))
    d.rectangle((96, 100, 104, 140), fill=badge + (255,))
    font = ImageFont.truetype(DEJAVU_BOLD, 104)
    d.text((212, 42), "ACME", font=font, fill=word + (255,))
    d.rectangle((214, 160, 500, 172), fill=(orange if primary else navy) + (255,))
    return img


def nordwind(primary: bool) -> Image.Image:
    """Two peaks over three wind strokes, then NORDWIND in a serif; mono is all deep blue."""
    deep, teal, gold = _hex("#0B3C5D"), _hex("#328CC1"), _hex("#D9B310")
    peak_a = deep
    peak_b = teal if primary else deep
    sun = gold if primary else deep
    img = Image.new("RGBA", (720, 200), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.ellipse((120, 14, 176, 70), fill=sun + (255,))
    d.polygon([(10, 140), (80, 30), (150, 140)], fill=peak_a + (255,))
    d.polygon([(90, 140), (150, 60), (210, 140)], fill=peak_b + (255,))
    for i, y in enumerate((156, 172, 188)):
        d.rectangle((10 + 20 * i, y, 210 - 10 * i, y + 7), fill=(peak_b if i % 2 else peak_a) + (255,))
    font = ImageFont.truetype(LIBERATION_SERIF_BOLD, 84)
    d.text((228, 50), "NORDWIND", font=font, fill=deep + (255,))
    d.polygon([(228, 150), (700, 150), (690, 160), (238, 160)], fill=(gold if primary else deep) + (255,))
    return img


def main() -> None:
    for kit, draw in (("acme", acme), ("nordwind", nordwind)):
        logos = HERE / kit / "logos"
        logos.mkdir(parents=True, exist_ok=True)
        for variant, primary in (("primary", True), ("mono", False)):
            path = logos / f"{kit}-{variant}.png"
            draw(primary).save(path, optimize=False)
            print(path.relative_to(HERE.parent))


if __name__ == "__main__":
    main()
