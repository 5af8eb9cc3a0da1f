"""How each chart kind is drawn (auditor.render.charts documents the specs): checking a spec, the
frame every chart shares (title, legend, axes, ticks), and one function per kind returning a Canvas.

Kinds of model quality and of many series at once live in auditor.render.plots_grids."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from auditor.render.svgplot import GRID, GUIDE, SPINE, Canvas, Scale, nice_ticks, text_width

# Okabe-Ito: distinguishable under the common colour-vision deficiencies.
REFERENCE = "#0072B2"
CURRENT = "#E69F00"
OTHERS = ("#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#666666", "#000000")

WIDTH, HEIGHT = 396.0, 187.0  # points: 5.5 × 2.6 in
MAX_CATEGORIES = 20
MAX_GROUPS = 30
TITLE_Y = 14.0


class SpecError(ValueError):
    """A chart spec that cannot be drawn; turned into a placeholder."""


# --- checking a spec -------------------------------------------------------------------------------


def txt(value: Any, limit: int = 60) -> str:
    s = "" if value is None else str(value)
    return s[: limit - 1] + "…" if len(s) > limit else s


def listed(spec: dict, key: str) -> list:
    """A spec's list (categories, x labels), or a SpecError naming it."""
    value = spec.get(key)
    if not isinstance(value, list):
        raise SpecError(f"{key} must be a list")
    return value


def nums(values: Any, key: str, n: int | None = None) -> list[float]:
    """A list of numbers (None: undefined, a gap, never a zero); anything else is a SpecError."""
    if not isinstance(values, (list, tuple)):
        raise SpecError(f"{key} must be a list")
    out = []
    for v in values:
        if v is None:
            out.append(math.nan)
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out.append(float(v))
        else:
            raise SpecError(f"{key} holds {type(v).__name__} {v!r:.20}, not a number")
    if n is not None and len(out) != n:
        raise SpecError(f"{key} has {len(out)} values, expected {n}")
    return out


def series_of(spec: dict, n: int) -> list[tuple[str, list[float], str]]:
    """(name, values, colour) per series: reference and current keep their colours in every chart."""
    series = spec.get("series")
    if not isinstance(series, dict) or not series:
        raise SpecError("series must be a non-empty mapping")
    named = {"reference": REFERENCE, "current": CURRENT}
    taken = {named[str(k)] for k in series if str(k) in named}
    others = iter([c for c in (REFERENCE, CURRENT, *OTHERS) if c not in taken] * 4)
    return [(str(name), nums(values, f"series[{name!r}]", n), named.get(str(name)) or next(others))
            for name, values in series.items()]


def short(v: float) -> str:
    """Compact number for tick labels: 3 significant digits, k/M/G suffixes."""
    if not math.isfinite(v):
        return "—"
    a = abs(v)
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= scale:
            return f"{v / scale:.3g}{suffix}"
    return "0" if v == 0 else f"{v:.3g}"


def percent(v: float) -> str:
    return f"{v * 100:.3g}%"


def tick_labels(ticks: list[float], fmt: Callable[[float], str]) -> list[str]:
    """Labels of round ticks; where the compact format would repeat one (1.015 and 1.02 both '1.02'), as
    many decimals as the step needs."""
    labels = [fmt(t) for t in ticks]
    if len(set(labels)) == len(labels) or len(ticks) < 2:
        return labels
    scale, suffix = (100.0, "%") if fmt is percent else (1.0, "")
    for decimals in range(12):  # the fewest decimals that write every tick exactly
        if all(abs(round(t * scale, decimals) - t * scale) < 1e-9 * max(1.0, abs(t * scale)) for t in ticks):
            break
    return [f"{t * scale:.{decimals}f}{suffix}" for t in ticks]


def thin(labels: list[str], most: int) -> list[str]:
    """Blank out labels so at most `most` remain, keeping the first and evenly spaced ones."""
    step = max(1, math.ceil(len(labels) / most))
    return [lab if i % step == 0 else "" for i, lab in enumerate(labels)]


def reference_line(ref: Any) -> tuple[float, str] | None:
    """A reference line given as a number or as {"value", "label"}; None when absent or undefined."""
    value, label = (ref.get("value"), ref.get("label")) if isinstance(ref, dict) else (ref, None)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value), txt(label, 40)


def finite(values: list[float]) -> list[float]:
    return [v for v in values if math.isfinite(v)]


# --- the frame every chart shares ------------------------------------------------------------------


class Frame:
    """A canvas with its title, legend and one plot area whose margins fit the labels around it."""

    def __init__(self, title: str, *, height: float = HEIGHT, legend: list[tuple[str, str]] = (),
                 y_labels: list[str] = (), y_label: str = "", x_label: str = "", x_label_room: float = 11.0,
                 right: float = 12.0) -> None:
        self.canvas = c = Canvas(WIDTH, height)
        c.text(6, TITLE_Y, title, size=10, bold=True)
        legend = list(legend) if len(legend) > 1 else []
        legend_width = sum(text_width(name) + 18 for name, _ in legend)
        below = bool(legend) and text_width(title, 10, bold=True) + legend_width + 24 > WIDTH
        self.left = 8 + (12 if y_label else 0) + max([text_width(t) for t in y_labels] or [24.0]) + 5
        self.top = 26.0
        self.right = WIDTH - right
        self.bottom = height - (4 + x_label_room + (13 if x_label else 0) + (15 if below else 0))
        if legend:
            x = (WIDTH - legend_width) / 2 if below else WIDTH - 8 - legend_width
            y = height - 8 if below else TITLE_Y
            for name, colour in legend:
                c.rect(x, y - 7, 8, 8, colour)
                c.text(x + 11, y, name)
                x += text_width(name) + 18
        if y_label:
            c.text(10, (self.top + self.bottom) / 2, y_label, anchor="middle", rotate=-90, middle=True)
        if x_label:
            c.text((self.left + self.right) / 2, self.bottom + x_label_room + 12, x_label, anchor="middle")
        self.plot = c.clip(self.left, self.top - 2, self.right - self.left, self.bottom - self.top + 4)

    def x(self, lo: float, hi: float) -> Scale:
        return Scale(lo, hi, self.left, self.right)

    def y(self, lo: float, hi: float) -> Scale:
        return Scale(lo, hi, self.bottom, self.top)

    def y_grid(self, scale: Scale, ticks: list[float], fmt: Callable[[float], str]) -> None:
        for t, label in zip(ticks, tick_labels(ticks, fmt), strict=True):
            y = scale(t)
            self.canvas.line(self.left, y, self.right, y, GRID, width=0.6)
            self.canvas.text(self.left - 4, y, label, anchor="end", middle=True)

    def x_grid(self, scale: Scale, ticks: list[float], fmt: Callable[[float], str], *, lines: bool = True) -> None:
        for t, label in zip(ticks, tick_labels(ticks, fmt), strict=True):
            x = scale(t)
            if lines:
                self.canvas.line(x, self.top, x, self.bottom, GRID, width=0.6)
            self.canvas.text(x, self.bottom + 11, label, anchor="middle")

    def x_categories(self, positions: list[float], labels: list[str], *, slant: bool = False) -> None:
        edge = -math.inf  # where the last label shown ends: a label that would overlap it is left out
        for x, label in zip(positions, labels, strict=True):
            if not label:
                continue
            if slant:
                self.canvas.text(x, self.bottom + 9, label, anchor="end", rotate=-30)
                continue
            half = text_width(label) / 2
            if x - half < edge + 4:
                continue
            self.canvas.text(x, self.bottom + 11, label, anchor="middle")
            edge = x + half

    def y_categories(self, positions: list[float], labels: list[str]) -> None:
        for y, label in zip(positions, labels, strict=True):
            self.canvas.text(self.left - 4, y, label, anchor="end", middle=True)

    def spines(self) -> None:
        self.canvas.line(self.left, self.top, self.left, self.bottom, SPINE)
        self.canvas.line(self.left, self.bottom, self.right, self.bottom, SPINE)

    def threshold(self, y: float, label: str, *, right: bool = True) -> None:
        self.canvas.line(self.left, y, self.right, y, GUIDE, width=0.9, dash="4 3", clip=self.plot)
        if label:
            self.canvas.text(self.right - 2 if right else self.left + 2, y - 2, label, size=7.5,
                             anchor="end" if right else "start", colour=GUIDE)


def grouped_bars(f: Frame, series: list[tuple[str, list[float], str]], x: Scale, y: Scale, *,
                 horizontal: bool = False) -> None:
    """Side-by-side bars: category i at position i (its series within ±0.4), values from 0."""
    width = 0.8 / len(series)
    for j, (_, vals, colour) in enumerate(series):
        for i, v in enumerate(vals):
            if not math.isfinite(v):
                continue
            lo = i - 0.4 + width * j
            if horizontal:
                f.canvas.rect(x(0), y(lo), x(v) - x(0), y(lo + width) - y(lo), colour)
            else:
                f.canvas.rect(x(lo), y(v), x(lo + width) - x(lo), y(0) - y(v), colour)


def value_ticks(values: list[float], *, zero: bool = True, most: int = 5) -> list[float]:
    vals = finite(values)
    lo = min([*vals, 0.0] if zero else vals or [0.0])
    hi = max([*vals, 0.0] if zero else vals or [1.0])
    return nice_ticks(lo, hi if hi > lo else lo + 1, most)


# --- one function per kind -------------------------------------------------------------------------


def histogram(spec: dict) -> Canvas:
    edges_raw = spec.get("edges")
    if not isinstance(edges_raw, list) or len(edges_raw) < 2:
        raise SpecError("edges must list at least two edges")
    k = len(edges_raw) - 1
    series = series_of(spec, k)
    edges = nums(edges_raw, "edges")
    ticks = value_ticks([v for _, vals, _ in series for v in vals])
    f = Frame(txt(spec.get("title")), legend=[(txt(n, 30), c) for n, _, c in series],
              y_labels=[percent(t) for t in ticks], y_label="share of rows", x_label=txt(spec.get("x_label")))
    y = f.y(ticks[0], ticks[-1])
    f.y_grid(y, ticks, percent)
    if k > MAX_CATEGORIES and all(math.isfinite(e) for e in edges):
        # Many finite bins: steps on a numeric axis read better than 40 tick labels.
        x = f.x(edges[0], edges[-1])
        f.x_grid(x, nice_ticks(edges[0], edges[-1], 6), short, lines=False)
        for j, (_, vals, colour) in enumerate(series):
            points = []
            for i, v in enumerate(vals):
                v = v if math.isfinite(v) else 0.0
                points += [(x(edges[i]), y(v)), (x(edges[i + 1]), y(v))]
                if j == 0:
                    f.canvas.rect(x(edges[i]), y(v), x(edges[i + 1]) - x(edges[i]), y(0) - y(v), colour, opacity=0.35)
            f.canvas.polyline(points, colour, width=1.4, clip=f.plot)
    else:
        x = f.x(-0.6, k - 0.4)
        grouped_bars(f, series, x, y)
        labels = [short(e) for e in edges]
        if math.isnan(edges[0]):
            labels[0] = "−∞"
        if math.isnan(edges[-1]):
            labels[-1] = "+∞"
        f.x_categories([x(i - 0.5) for i in range(k + 1)], thin(labels, 12))
    f.spines()
    return f.canvas


def bars(spec: dict) -> Canvas:
    cats_raw = listed(spec, "categories")
    cats = [txt(c, 32) for c in cats_raw]
    series = series_of(spec, len(cats))
    hidden = max(0, len(cats) - MAX_CATEGORIES)
    cats = cats[:MAX_CATEGORIES]
    series = [(n, v[:MAX_CATEGORIES], c) for n, v, c in series]
    horizontal = len(cats) > 6 or any(len(c) > 10 for c in cats)
    title = txt(spec.get("title")) + (f" (+{hidden} more not shown)" if hidden else "")
    ticks = value_ticks([v for _, vals, _ in series for v in vals]
                        + ([ref[0]] if (ref := reference_line(spec.get("reference_line"))) else []))
    fmt = short
    legend = [(txt(n, 30), c) for n, _, c in series]
    value_label, cat_label = txt(spec.get("y_label")), txt(spec.get("x_label"))
    if horizontal:
        height = min(max(HEIGHT, 60 + len(cats) * (9 + 7 * len(series))), 432.0)
        f = Frame(title, height=height, legend=legend, y_labels=cats, y_label=cat_label, x_label=value_label)
        x, y = f.x(ticks[0], ticks[-1]), Scale(-0.5, len(cats) - 0.5, f.top, f.bottom)
        f.x_grid(x, ticks, fmt)
        grouped_bars(f, series, x, y, horizontal=True)
        f.y_categories([y(i) for i in range(len(cats))], cats)
        if ref:
            f.canvas.line(x(ref[0]), f.top, x(ref[0]), f.bottom, GUIDE, width=1, dash="4 3")
            if ref[1]:
                f.canvas.text(x(ref[0]) + 3, f.top + 7, ref[1], size=7.5, colour=GUIDE)
    else:
        f = Frame(title, legend=legend, y_labels=[fmt(t) for t in ticks], y_label=value_label, x_label=cat_label)
        x, y = Scale(-0.5, len(cats) - 0.5, f.left, f.right), f.y(ticks[0], ticks[-1])
        f.y_grid(y, ticks, fmt)
        grouped_bars(f, series, x, y)
        f.x_categories([x(i) for i in range(len(cats))], cats)
        if ref:
            f.threshold(y(ref[0]), ref[1])
    f.spines()
    return f.canvas


def line(spec: dict) -> Canvas:
    x_raw = listed(spec, "x")
    series = series_of(spec, len(x_raw))
    lines = sorted(filter(None, (reference_line(t) for t in spec.get("thresholds") or [])))
    ticks = value_ticks([v for _, vals, _ in series for v in vals] + [v for v, _ in lines], zero=False)
    f = Frame(txt(spec.get("title")), legend=[(txt(n, 30), c) for n, _, c in series],
              y_labels=tick_labels(ticks, short), y_label=txt(spec.get("y_label")), x_label=txt(spec.get("x_label")))
    x, y = Scale(-0.5, max(len(x_raw), 1) - 0.5, f.left, f.right), f.y(ticks[0], ticks[-1])
    f.y_grid(y, ticks, short)
    for i, (value, label) in enumerate(lines):
        f.threshold(y(value), label, right=i % 2 == 0)  # close lines: labels on alternate sides
    for _, vals, colour in series:
        f.canvas.polyline([(x(i), y(v)) if math.isfinite(v) else None for i, v in enumerate(vals)], colour,
                          clip=f.plot)
        for i, v in enumerate(vals):  # a dot on every point of a short series, and on a point between gaps
            alone = (i == 0 or not math.isfinite(vals[i - 1])) and (i == len(vals) - 1 or not math.isfinite(vals[i + 1]))
            if math.isfinite(v) and (len(vals) <= 12 or alone):
                f.canvas.circle(x(i), y(v), 2.2, colour, clip=f.plot)
    f.x_categories([x(i) for i in range(len(x_raw))], thin([txt(v, 16) for v in x_raw], 8))
    f.spines()
    return f.canvas


def interval(spec: dict) -> Canvas:
    cats_raw = listed(spec, "categories")
    n = len(cats_raw)
    values = nums(spec.get("values"), "values", n)
    lower = nums(spec.get("lower") or [None] * n, "lower", n)
    upper = nums(spec.get("upper") or [None] * n, "upper", n)
    hidden = max(0, n - MAX_GROUPS)
    n = min(n, MAX_GROUPS)
    cats = [txt(c, 28) for c in cats_raw[:n]]
    ref = reference_line(spec.get("reference_line"))
    ticks = value_ticks(values[:n] + lower[:n] + upper[:n] + ([ref[0]] if ref else []), zero=False)
    title = txt(spec.get("title")) + (f" (+{hidden} more not shown)" if hidden else "")
    f = Frame(title, height=min(max(137.0, 70 + 15 * n), 504.0), y_labels=cats, x_label=txt(spec.get("x_label")))
    x, y = f.x(ticks[0], ticks[-1]), Scale(-0.5, max(n, 1) - 0.5, f.top, f.bottom)
    f.x_grid(x, ticks, short)
    if ref:
        f.canvas.line(x(ref[0]), f.top, x(ref[0]), f.bottom, CURRENT, width=1.1, dash="4 3")
        f.canvas.text(x(ref[0]) + 3, f.top + 7, ref[1], size=7.5)
    for i in range(n):
        v, lo, hi = values[i], lower[i], upper[i]
        if not math.isfinite(v):
            f.canvas.text(f.left + 4, y(i), "undefined", colour=GUIDE, middle=True)
            continue
        if math.isfinite(lo) and math.isfinite(hi):
            f.canvas.line(x(lo), y(i), x(hi), y(i), REFERENCE, width=1.2)
            for end in (lo, hi):
                f.canvas.line(x(end), y(i) - 2.5, x(end), y(i) + 2.5, REFERENCE, width=1.2)
        f.canvas.circle(x(v), y(i), 2.8, REFERENCE)
    f.y_categories([y(i) for i in range(n)], cats)
    f.spines()
    return f.canvas


def reliability(spec: dict) -> Canvas:
    predicted = nums(spec.get("predicted"), "predicted")
    n = len(predicted)
    observed = nums(spec.get("observed"), "observed", n)
    counts = nums(spec.get("counts") or [None] * n, "counts", n)
    f = Frame(txt(spec.get("title")), legend=[("perfectly calibrated", GUIDE), ("model", CURRENT)],
              y_labels=["100%"], y_label="observed rate", x_label="mean predicted score", right=164)
    unit = [0, 0.25, 0.5, 0.75, 1.0]
    x, y = f.x(0, 1), f.y(0, 1)
    f.y_grid(y, unit, percent)
    f.x_grid(x, unit, short)
    f.canvas.line(x(0), y(0), x(1), y(1), GUIDE, width=0.9, dash="4 3")
    pairs = [(x(p), y(o)) if math.isfinite(p) and math.isfinite(o) else None for p, o in zip(predicted, observed,
                                                                                                strict=True)]
    f.canvas.polyline(pairs, CURRENT, clip=f.plot)
    for p in pairs:
        if p:
            f.canvas.circle(*p, 2.6, CURRENT)
    f.spines()
    # rows per bin, in a side panel
    left, right = WIDTH - 128, WIDTH - 10
    top_count = max(finite(counts) or [1.0]) or 1.0
    side_y = Scale(0, top_count, f.bottom, f.top)
    f.canvas.text((left + right) / 2, f.bottom + 24, "rows per bin", anchor="middle")
    f.canvas.line(left, f.bottom, right, f.bottom, SPINE)
    for p, c in zip(predicted, counts, strict=True):
        if math.isfinite(p) and math.isfinite(c):
            cx = left + p * (right - left)
            f.canvas.rect(cx - 4, side_y(c), 8, side_y(0) - side_y(c), REFERENCE)
    f.canvas.text(left, f.bottom + 11, "0", anchor="middle")
    f.canvas.text(right, f.bottom + 11, "1", anchor="middle")
    f.canvas.text(left - 3, f.top + 4, short(top_count), size=7, anchor="end", colour=GUIDE)
    return f.canvas
