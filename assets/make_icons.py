"""Draw the bcdesktop icon and write it in every format the builds need.

Run from anywhere: ``python assets/make_icons.py``. Writes, beside this script,

- ``bcdesktop-{16,24,32,48,64,128,256,512}.png`` (Linux, the Tk window icon),
- ``bcdesktop.ico`` (Windows: 16-256 px in one file),
- ``bcdesktop.icns`` (macOS).

The picture is a calm, clinical motif drawn here from primitives (no external image):
a rounded slate-teal tile with a microscope's bright field holding three pale cells,
each with its nucleus. It is rendered once at 1024 px and scaled down with a
Lanczos filter, so every size is the same drawing. Needs Pillow only; the output is
deterministic for a given Pillow version.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
NAME = "bcdesktop"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICNS_SIZES = (16, 32, 64, 128, 256, 512, 1024)
MASTER = 1024

TILE_TOP = (46, 110, 122)      # slate teal
TILE_BOTTOM = (28, 74, 92)     # deeper at the bottom: a quiet vertical gradient
FIELD = (226, 238, 240)        # the microscope's bright field
CELL = (250, 252, 252)
CELL_RIM = (150, 190, 198)
NUCLEUS = (84, 128, 160)       # muted blue, not alarming

# (centre x, centre y, radius, tilt, nucleus offset x, y, nucleus radius) on a 1024 grid
CELLS = (
    (430, 430, 205, 0.4, -20, 10, 82),
    (640, 600, 175, 1.9, 15, -10, 70),
    (395, 690, 120, 3.1, 5, 5, 48),
)


def _blob(cx: float, cy: float, r: float, tilt: float, s: float, points: int = 96):
    """A gently irregular closed outline: a circle whose radius wobbles by a few percent."""
    import math

    out = []
    for k in range(points):
        a = 2 * math.pi * k / points
        rr = r * (1 + 0.06 * math.sin(2 * a + tilt) + 0.03 * math.sin(3 * a + 2 * tilt))
        out.append(((cx + rr * math.cos(a)) * s, (cy + rr * math.sin(a)) * s))
    return out


def draw_master(size: int = MASTER) -> Image.Image:
    """The icon at ``size`` x ``size`` pixels, RGBA with a transparent margin."""
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    s = size / 1024.0

    # The tile: a vertical gradient clipped to a rounded square.
    gradient = Image.new("RGBA", (size, size))
    gd = ImageDraw.Draw(gradient)
    for y in range(size):
        t = y / (size - 1)
        colour = tuple(round(a + (b - a) * t) for a, b in zip(TILE_TOP, TILE_BOTTOM))
        gd.line([(0, y), (size, y)], fill=colour + (255,))
    mask = Image.new("L", (size, size), 0)
    margin = 40 * s
    ImageDraw.Draw(mask).rounded_rectangle(
        [margin, margin, size - margin, size - margin], radius=200 * s, fill=255)
    img.paste(gradient, (0, 0), mask)

    d = ImageDraw.Draw(img)
    # The round bright field of a microscope, and in it a small group of cells,
    # each with its nucleus: the thing the nine cytology scores describe.
    d.ellipse([152 * s, 152 * s, 872 * s, 872 * s], fill=FIELD)
    for cx, cy, r, tilt, nx, ny, nr in CELLS:
        d.polygon(_blob(cx, cy, r, tilt, s), fill=CELL, outline=CELL_RIM, width=max(1, round(14 * s)))
        d.polygon(_blob(cx + nx, cy + ny, nr, tilt + 1.0, s), fill=NUCLEUS)
    return img


def render(sizes, master: Image.Image) -> dict[int, Image.Image]:
    """``master`` scaled to each size."""
    return {n: master.resize((n, n), Image.Resampling.LANCZOS) for n in sizes}


def main() -> list[Path]:
    """Write every icon file beside this script; returns their paths."""
    master = draw_master()
    written = []
    for n, im in render(PNG_SIZES, master).items():
        path = HERE / f"{NAME}-{n}.png"
        im.save(path, optimize=True)
        written.append(path)
    ico = HERE / f"{NAME}.ico"
    master.save(ico, sizes=[(n, n) for n in ICO_SIZES])
    written.append(ico)
    icns = HERE / f"{NAME}.icns"
    master.save(icns, sizes=[(n, n) for n in ICNS_SIZES])
    written.append(icns)
    return written


if __name__ == "__main__":
    for p in main():
        print(p.relative_to(HERE.parent))
