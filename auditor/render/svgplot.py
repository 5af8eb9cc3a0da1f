"""A small plotting canvas: shapes and text placed in points, written as inline SVG, or as PNG through
matplotlib for email (which shows no SVG).

Why not matplotlib for the SVG too: it costs 0.65 s to import and 25-130 ms a figure (its layout
engine measured every text, its SVG backend walks hundreds of artist objects), which made the HTML
report cost more than the audit. The charts here are rectangles, lines, dots and labels: each is
laid out once, from the font's advance widths (`font_widths`, generated from matplotlib's own
metrics), and written as text. PNG replays the same shapes onto a matplotlib figure, so each chart
kind is drawn by one function for both outputs.

Coordinates are points (1/72 in), origin at the top left, y downwards, rounded to 0.01 in the SVG.
"""

from __future__ import annotations

import io
import math
from html import escape
from typing import Any

from auditor.render.font_widths import BOLD, DEFAULT, REGULAR
from auditor.render.svg import FONT_STACK

__all__ = ["Canvas", "Scale", "text_width", "nice_ticks", "INK", "GUIDE", "GRID", "SPINE"]

INK = "#333333"
GUIDE = "#555555"
GRID = "#e3e3e3"
SPINE = "#888888"
ANCHORS = {"start": "left", "middle": "center", "end": "right"}


def text_width(text: str, size: float = 8.0, *, bold: bool = False) -> float:
    """Points a label takes in DejaVu Sans: the sum of its characters' advances (no kerning)."""
    table = BOLD if bold else REGULAR
    return sum(table.get(ch, DEFAULT) for ch in text) * size / 1000


def _n(v: float) -> str:
    s = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def nice_ticks(lo: float, hi: float, most: int = 5) -> list[float]:
    """Round tick values covering [lo, hi], at most about `most` of them (1, 2, 2.5, 5 × 10^k steps)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = 0.0, 1.0
    if hi <= lo:
        lo, hi = (lo - 0.5, hi + 0.5) if lo == 0 else (lo - abs(lo) * 0.1, hi + abs(hi) * 0.1)
    raw = (hi - lo) / most
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if (hi - lo) / (m * magnitude) <= most)
    first = math.floor(lo / step + 1e-9) * step
    ticks = []
    k = 0
    while first + k * step <= hi + step * (1 - 1e-9) and k < 50:
        ticks.append(round(first + k * step, 12))
        if ticks[-1] >= hi - 1e-12 * max(1.0, abs(hi)):
            break
        k += 1
    return ticks


class Scale:
    """A linear map from data values to points."""

    def __init__(self, lo: float, hi: float, start: float, end: float) -> None:
        self.lo, self.hi, self.start, self.end = lo, hi, start, end

    def __call__(self, v: float) -> float:
        span = self.hi - self.lo or 1.0
        return self.start + (v - self.lo) / span * (self.end - self.start)


class Canvas:
    """Shapes in drawing order; `svg()` and `png()` write them."""

    def __init__(self, width: float, height: float) -> None:
        self.width, self.height = width, height
        self.items: list[tuple[str, dict[str, Any]]] = []
        self.clips: list[tuple[float, float, float, float]] = []

    # --- shapes -------------------------------------------------------------------------------------
    def clip(self, x: float, y: float, w: float, h: float) -> int:
        """A clipping rectangle (a plot area) that shapes may name; returns its number."""
        self.clips.append((x, y, w, h))
        return len(self.clips) - 1

    def rect(self, x: float, y: float, w: float, h: float, fill: str, *, stroke: str | None = None,
             opacity: float | None = None, clip: int | None = None) -> None:
        if w < 0:
            x, w = x + w, -w
        if h < 0:
            y, h = y + h, -h
        self.items.append(("rect", {"x": x, "y": y, "w": w, "h": h, "fill": fill, "stroke": stroke,
                                    "opacity": opacity, "clip": clip}))

    def line(self, x1: float, y1: float, x2: float, y2: float, stroke: str, *, width: float = 0.8,
             dash: str | None = None, clip: int | None = None) -> None:
        self.polyline([(x1, y1), (x2, y2)], stroke, width=width, dash=dash, clip=clip)

    def polyline(self, points: list[tuple[float, float] | None], stroke: str, *, width: float = 1.5,
                 dash: str | None = None, clip: int | None = None) -> None:
        """A line through the points; None breaks it (a gap, never a zero)."""
        segment: list[tuple[float, float]] = []
        for p in [*points, None]:
            if p is not None and all(math.isfinite(c) for c in p):
                segment.append(p)
                continue
            if len(segment) > 1:
                self.items.append(("line", {"points": segment, "stroke": stroke, "width": width, "dash": dash,
                                            "clip": clip}))
            segment = []

    def circle(self, cx: float, cy: float, r: float, fill: str, *, clip: int | None = None) -> None:
        if math.isfinite(cx) and math.isfinite(cy):
            self.items.append(("circle", {"cx": cx, "cy": cy, "r": r, "fill": fill, "clip": clip}))

    def text(self, x: float, y: float, text: str, *, size: float = 8.0, anchor: str = "start",
             colour: str = INK, bold: bool = False, rotate: float | None = None, middle: bool = False) -> None:
        """Text whose baseline is at y (with `middle`, whose middle is: y is moved down by a third of the size)."""
        if middle:
            y += size * 0.35
        self.items.append(("text", {"x": x, "y": y, "text": str(text), "size": size, "anchor": anchor,
                                    "colour": colour, "bold": bold, "rotate": rotate}))

    # --- output -------------------------------------------------------------------------------------
    def svg(self, figure_id: str, label: str) -> str:
        out = [f'<svg class="chart" role="img" aria-label="{escape(label)}" font-family="{escape(FONT_STACK)}" '
               f'width="{_n(self.width)}pt" height="{_n(self.height)}pt" viewBox="0 0 {_n(self.width)} '
               f'{_n(self.height)}" xmlns="http://www.w3.org/2000/svg">']
        out.append("<defs>" + "".join(
            f'<clipPath id="{figure_id}-c{i}"><rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}"/>'
            "</clipPath>" for i, (x, y, w, h) in enumerate(self.clips or [(0, 0, self.width, self.height)])) + "</defs>")
        out.append(f'<rect width="{_n(self.width)}" height="{_n(self.height)}" fill="#ffffff"/>')
        for kind, a in self.items:
            clip = f' clip-path="url(#{figure_id}-c{a["clip"]})"' if a.get("clip") is not None else ""
            if kind == "rect":
                extra = (f' stroke="{a["stroke"]}" stroke-width="0.8"' if a["stroke"] else "") + (
                    f' fill-opacity="{_n(a["opacity"])}"' if a["opacity"] is not None else "")
                out.append(f'<rect x="{_n(a["x"])}" y="{_n(a["y"])}" width="{_n(a["w"])}" height="{_n(a["h"])}" '
                           f'fill="{a["fill"]}"{extra}{clip}/>')
            elif kind == "line":
                pts = " ".join(f"{_n(x)},{_n(y)}" for x, y in a["points"])
                dash = f' stroke-dasharray="{a["dash"]}"' if a["dash"] else ""
                out.append(f'<polyline points="{pts}" fill="none" stroke="{a["stroke"]}" '
                           f'stroke-width="{_n(a["width"])}"{dash}{clip}/>')
            elif kind == "circle":
                out.append(f'<circle cx="{_n(a["cx"])}" cy="{_n(a["cy"])}" r="{_n(a["r"])}" fill="{a["fill"]}"{clip}/>')
            else:
                rotate = f' transform="rotate({_n(a["rotate"])} {_n(a["x"])} {_n(a["y"])})"' if a["rotate"] else ""
                weight = ' font-weight="bold"' if a["bold"] else ""
                fill = f' fill="{a["colour"]}"' if a["colour"] != INK else ""
                out.append(f'<text x="{_n(a["x"])}" y="{_n(a["y"])}" font-size="{_n(a["size"])}" '
                           f'text-anchor="{a["anchor"]}"{weight}{fill}{rotate}>{escape(a["text"], quote=False)}</text>')
        out.append("</svg>\n")
        return "\n".join(out)

    def png(self, dpi: int = 100) -> bytes:
        """The same shapes drawn by matplotlib's Agg renderer (imported only here)."""
        from matplotlib.figure import Figure
        from matplotlib.lines import Line2D
        from matplotlib.patches import Circle, Rectangle
        from matplotlib.transforms import Affine2D

        fig = Figure(figsize=(self.width / 72, self.height / 72), dpi=dpi, facecolor="white")
        to_pixels = Affine2D().scale(1, -1).translate(0, self.height).scale(dpi / 72)
        for kind, a in self.items:
            if kind == "rect":
                fig.add_artist(Rectangle((a["x"], a["y"]), a["w"], a["h"], facecolor=a["fill"],
                                         edgecolor=a["stroke"] or "none", linewidth=0.8 if a["stroke"] else 0,
                                         alpha=a["opacity"], transform=to_pixels))
            elif kind == "line":
                xs, ys = zip(*a["points"], strict=True)
                dash = (0, [float(v) for v in a["dash"].split()]) if a["dash"] else "solid"
                fig.add_artist(Line2D(xs, ys, color=a["stroke"], linewidth=a["width"], linestyle=dash,
                                      transform=to_pixels))
            elif kind == "circle":
                fig.add_artist(Circle((a["cx"], a["cy"]), a["r"], color=a["fill"], transform=to_pixels))
            else:
                fig.text(a["x"], a["y"], a["text"], transform=to_pixels, fontsize=a["size"], color=a["colour"],
                         ha=ANCHORS[a["anchor"]], va="baseline", rotation=-(a["rotate"] or 0),
                         rotation_mode="anchor", fontweight="bold" if a["bold"] else "normal",
                         fontfamily="DejaVu Sans", parse_math=False)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
        return buf.getvalue()
