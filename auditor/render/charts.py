"""Draw chart specs (plain data stored in ``check.evidence["charts"]``) as SVG or PNG.

Checks keep charts as data; only this module draws them, with matplotlib's object
API (``matplotlib.figure.Figure``, never pyplot: no global figure state, no GUI
backend, safe to call from a library). Every spec has ``kind`` and ``title``;
labels marked ? are optional. Numbers may be null (undefined: a gap, never a
zero) anywhere a list of numbers is expected; any other non-number is an error.

histogram
    ``{"kind": "histogram", "title", "edges": [e0..ek], "series": {"reference": [k],
    "current": [k]}, "x_label"?}``: k bins of proportions (drawn as %). The outer
    edges may be null (open-ended, labelled −∞ / +∞). Up to 20 bins are drawn by
    index as side-by-side bars with the edges as tick labels between them (decile
    bins are irregular; a numeric axis would squash most of them). More bins with
    finite edges are drawn on a numeric axis as overlaid steps.
bars
    ``{"kind": "bars", "title", "categories": [str], "series": {name: [values]},
    "x_label"?, "y_label"?, "reference_line"?: number | {"value", "label"}}``: grouped bars,
    with a dashed line at the reference value (e.g. the overall rate). The first 20 categories are drawn and
    the title says "+N more". Horizontal when there are more than 6 categories or
    long names, so labels stay readable.
line
    ``{"kind": "line", "title", "x": [labels], "series": {name: [values|null]},
    "thresholds"?: [{"value", "label"}], "x_label"?, "y_label"?}``: one line per series over
    time windows; nulls are gaps; thresholds are dashed horizontal lines.
interval
    ``{"kind": "interval", "title", "categories": [groups], "values": [..],
    "lower"?: [..], "upper"?: [..], "reference_line"?: {"value", "label"} | null,
    "x_label"?}``: a dot and error bar per group (e.g. Wilson intervals); a null
    value is written "undefined" in its row. At most 30 groups are drawn.
reliability
    ``{"kind": "reliability", "title", "predicted": [..], "observed": [..],
    "counts"?: [..]}``: calibration curve against the diagonal, with the rows per
    bin in a side panel.

Anything else (an unknown kind, a malformed spec, lists of the wrong length)
becomes a small text placeholder saying why: one bad chart never breaks a report.

Output is byte-deterministic: fixed ``svg.hashsalt``, no date metadata, text as
``<text>`` (``svg.fonttype: none``: about half the size of glyph paths, and the
report must stay under 1 MB for 50 columns), coordinates rounded to 0.01 pt.
Ids are prefixed with ``figure_id`` so several inline SVGs on one page don't clash.
"""

from __future__ import annotations

import io
import logging
import math
from typing import Any

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from auditor.render.svg import placeholder_svg, safe_id, tidy_svg

__all__ = ["chart_svg", "chart_png", "CHART_KINDS"]

log = logging.getLogger(__name__)

# Okabe-Ito: distinguishable under the common colour-vision deficiencies.
REFERENCE = "#0072B2"
CURRENT = "#E69F00"
OTHERS = ("#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#666666", "#000000")
INK = "#333333"
GUIDE = "#555555"

WIDTH, HEIGHT = 5.5, 2.6
MAX_CATEGORIES = 20
MAX_GROUPS = 30

_RC = {
    "svg.hashsalt": "auditor", "svg.fonttype": "none", "text.usetex": False,
    # DejaVu Sans ships with matplotlib: text is measured the same on every machine.
    "font.family": "sans-serif", "font.sans-serif": ["DejaVu Sans"], "font.size": 9,
    "text.color": INK, "axes.labelcolor": INK, "xtick.color": INK, "ytick.color": INK,
    "axes.labelsize": 9, "xtick.labelsize": 8, "ytick.labelsize": 8, "legend.fontsize": 8, "legend.frameon": False,
    "axes.edgecolor": "#888888", "axes.spines.top": False, "axes.spines.right": False,
    # No tick marks (grid lines do their job): each one is an SVG element, ~35 KB per 50 charts.
    "xtick.major.size": 0, "ytick.major.size": 0,
    "axes.axisbelow": True, "axes.grid": True, "axes.grid.axis": "y", "grid.color": "#e3e3e3", "grid.linewidth": 0.6,
}


class SpecError(ValueError):
    """A chart spec that cannot be drawn; turned into a placeholder."""


# --- small helpers -------------------------------------------------------------------


def _txt(value: Any, limit: int = 60) -> str:
    """Text for matplotlib: `$` would start mathtext (and can fail to parse)."""
    s = "" if value is None else str(value)
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return s.replace("$", r"\$")


def _legend_label(name: Any) -> str:
    # matplotlib hides legend entries whose label starts with "_".
    s = _txt(name, 30)
    return " " + s if s.startswith("_") else s


def _nums(values: Any, key: str, n: int | None = None) -> np.ndarray:
    if not isinstance(values, (list, tuple)):
        raise SpecError(f"{key} must be a list")
    out = []
    for v in values:
        if v is None:
            out.append(math.nan)  # undefined: a gap, never a zero
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out.append(float(v))
        else:
            raise SpecError(f"{key} holds {type(v).__name__} {v!r:.20}, not a number")
    if n is not None and len(out) != n:
        raise SpecError(f"{key} has {len(out)} values, expected {n}")
    return np.array(out, dtype=float)


def _short(v: float) -> str:
    """Compact number for tick labels: 3 significant digits, k/M suffixes."""
    if not math.isfinite(v):
        return "—"
    a = abs(v)
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= scale:
            return f"{v / scale:.3g}{suffix}"
    return "0" if v == 0 else f"{v:.3g}"


def _series(spec: dict, n: int) -> list[tuple[str, np.ndarray, str]]:
    series = spec.get("series")
    if not isinstance(series, dict) or not series:
        raise SpecError("series must be a non-empty mapping")
    # reference and current keep their colours in every chart; other series take the
    # palette in order, skipping colours already taken.
    named = {"reference": REFERENCE, "current": CURRENT}
    taken = {named[str(n)] for n in series if str(n) in named}
    others = iter([c for c in (REFERENCE, CURRENT, *OTHERS) if c not in taken] * 4)
    out = []
    for name, values in series.items():
        colour = named.get(str(name)) or next(others)
        out.append((str(name), _nums(values, f"series[{name!r}]", n), colour))
    return out


def _figure(height: float = HEIGHT) -> Figure:
    # Constrained layout fits long category names and the outside legend without clipping.
    return Figure(figsize=(WIDTH, height), layout="constrained", facecolor="white")


def _thin_ticks(labels: list[str], most: int) -> list[str]:
    """Blank out labels so at most `most` remain, keeping the first and evenly spaced ones."""
    step = max(1, math.ceil(len(labels) / most))
    return [lab if i % step == 0 else "" for i, lab in enumerate(labels)]


def _reference_line(ref: Any) -> tuple[float, str] | None:
    """A reference line given as a number or as {"value", "label"}; None when absent or undefined."""
    value, label = (ref.get("value"), ref.get("label")) if isinstance(ref, dict) else (ref, None)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value), _txt(label, 40)


def _title(fig: Figure, text: str) -> None:
    # A figure title, left-aligned, keeps the row below it free for the legend.
    fig.suptitle(text, x=0.01, ha="left", fontsize=10, fontweight="bold")


def _legend(ax: Any, n_series: int) -> None:
    if n_series < 2:
        return
    # Beside the title when both fit on one line (measured, not guessed), else under the plot.
    fig = ax.figure
    legend = fig.legend(loc="outside upper right", ncols=n_series, borderaxespad=0.2)
    renderer = FigureCanvasAgg(fig).get_renderer()
    width = legend.get_window_extent(renderer).width
    used = width + sum(t.get_window_extent(renderer).width for t in fig.texts)  # fig.texts: the title
    if used > 0.97 * fig.bbox.width:
        wide = width > 0.95 * fig.bbox.width
        legend.remove()
        fig.legend(loc="outside lower center", ncols=2 if wide else n_series, borderaxespad=0.2)


# --- one function per kind -----------------------------------------------------------


def _histogram(spec: dict) -> Figure:
    edges_raw = spec.get("edges")
    if not isinstance(edges_raw, list) or len(edges_raw) < 2:
        raise SpecError("edges must list at least two edges")
    k = len(edges_raw) - 1
    series = _series(spec, k)
    edges = _nums(edges_raw, "edges")
    fig = _figure()
    ax = fig.add_subplot()
    if k > MAX_CATEGORIES and np.isfinite(edges).all():
        # Many finite bins: a true numeric axis reads better than 40 tick labels.
        for j, (name, vals, colour) in enumerate(series):
            ax.stairs(np.nan_to_num(vals), edges, fill=j == 0, alpha=0.35 if j == 0 else 1,
                      color=colour, linewidth=1.4, label=_legend_label(name))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: _short(v)))
    else:
        x = np.arange(k)
        width = 0.8 / len(series)
        for j, (name, vals, colour) in enumerate(series):
            ax.bar(x - 0.4 + width * (j + 0.5), vals, width, color=colour, label=_legend_label(name))
        labels = [_short(e) for e in edges]
        if math.isnan(edges[0]):
            labels[0] = "−∞"
        if math.isnan(edges[-1]):
            labels[-1] = "+∞"
        ax.set_xticks(np.arange(k + 1) - 0.5, _thin_ticks(labels, 12))
        ax.tick_params(axis="x", length=3)  # the edges sit between bars: mark them
        ax.set_xlim(-0.6, k - 0.4)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel("share of rows")
    ax.set_xlabel(_txt(spec.get("x_label")))
    _title(fig, _txt(spec.get("title")))
    _legend(ax, len(series))
    return fig


def _bars(spec: dict) -> Figure:
    cats_raw = spec.get("categories")
    if not isinstance(cats_raw, list):
        raise SpecError("categories must be a list")
    cats = [_txt(c, 32) for c in cats_raw]
    series = _series(spec, len(cats))
    hidden = max(0, len(cats) - MAX_CATEGORIES)
    cats = cats[:MAX_CATEGORIES]
    series = [(n, v[:MAX_CATEGORIES], c) for n, v, c in series]
    horizontal = len(cats) > 6 or any(len(c) > 10 for c in cats)
    # Horizontal bars need a readable row per category: the figure grows, up to 6 inches.
    height = max(HEIGHT, 0.9 + len(cats) * (0.12 + 0.1 * len(series))) if horizontal else HEIGHT
    fig = _figure(min(height, 6.0))
    ax = fig.add_subplot()
    pos = np.arange(len(cats))
    width = 0.8 / len(series)
    for j, (name, vals, colour) in enumerate(series):
        offs = pos - 0.4 + width * (j + 0.5)
        if horizontal:
            ax.barh(offs, vals, width, color=colour, label=_legend_label(name))
        else:
            ax.bar(offs, vals, width, color=colour, label=_legend_label(name))
    value_label, cat_label = _txt(spec.get("y_label")), _txt(spec.get("x_label"))
    ref = _reference_line(spec.get("reference_line"))
    if ref:  # e.g. the overall rate the groups are compared with
        (ax.axvline if horizontal else ax.axhline)(ref[0], color=GUIDE, linestyle="--", linewidth=1)
        if ref[1]:
            if horizontal:
                ax.annotate(ref[1], xy=(ref[0], 1), xycoords=("data", "axes fraction"), xytext=(3, 0),
                            textcoords="offset points", ha="left", va="top", fontsize=7.5, color=GUIDE)
            else:
                ax.annotate(ref[1], xy=(1, ref[0]), xycoords=("axes fraction", "data"), ha="right",
                            va="bottom", fontsize=7.5, color=GUIDE)
    if horizontal:
        ax.set_yticks(pos, cats)
        ax.set_ylim(len(cats) - 0.5, -0.5)  # first category on top
        ax.grid(axis="x", visible=True)
        ax.grid(axis="y", visible=False)
        ax.set_xlabel(value_label)
        ax.set_ylabel(cat_label)
    else:
        ax.set_xticks(pos, cats)
        ax.set_xlabel(cat_label)
        ax.set_ylabel(value_label)
    title = _txt(spec.get("title"))
    _title(fig, f"{title} (+{hidden} more not shown)" if hidden else title)
    _legend(ax, len(series))
    return fig


def _line(spec: dict) -> Figure:
    x_raw = spec.get("x")
    if not isinstance(x_raw, list):
        raise SpecError("x must be a list")
    series = _series(spec, len(x_raw))
    fig = _figure()
    ax = fig.add_subplot()
    xs = np.arange(len(x_raw))
    for name, vals, colour in series:
        # NaN breaks the line: a window without data is a gap, not a zero. Markers on every
        # point of a long series are noise (and bytes); a point between two gaps needs one.
        ok = ~np.isnan(vals)
        alone = ok & ~np.concatenate([[False], ok[:-1]]) & ~np.concatenate([ok[1:], [False]])
        marks = list(range(len(vals))) if len(vals) <= 12 else [int(i) for i in np.flatnonzero(alone)]
        ax.plot(xs, vals, color=colour, linewidth=1.5, marker="o", markersize=3, markevery=marks,
                label=_legend_label(name))
    lines = sorted(filter(None, (_reference_line(t) for t in spec.get("thresholds") or [])))
    for i, (value, label) in enumerate(lines):
        ax.axhline(value, color=GUIDE, linestyle="--", linewidth=0.9)
        # Labels alternate right and left: two close thresholds must not print over each other.
        ax.annotate(label, xy=(1 - i % 2, value), xycoords=("axes fraction", "data"),
                    ha="left" if i % 2 else "right", va="bottom", fontsize=7.5, color=GUIDE)
    ax.set_xticks(xs, _thin_ticks([_txt(v, 16) for v in x_raw], 8))
    if len(x_raw) > 0:
        ax.set_xlim(-0.5, len(x_raw) - 0.5)
    ax.set_xlabel(_txt(spec.get("x_label")))
    ax.set_ylabel(_txt(spec.get("y_label")))
    _title(fig, _txt(spec.get("title")))
    _legend(ax, len(series))
    return fig


def _interval(spec: dict) -> Figure:
    cats_raw = spec.get("categories")
    if not isinstance(cats_raw, list):
        raise SpecError("categories must be a list")
    n = len(cats_raw)
    values = _nums(spec.get("values"), "values", n)
    lower = _nums(spec.get("lower") or [None] * n, "lower", n)
    upper = _nums(spec.get("upper") or [None] * n, "upper", n)
    hidden = max(0, n - MAX_GROUPS)
    n = min(n, MAX_GROUPS)
    fig = _figure(min(max(1.9, 0.9 + 0.2 * n), 7.0))
    ax = fig.add_subplot()
    undefined_at = ax.get_yaxis_transform()  # x in axes fraction, y in data
    for i in range(n):
        v = values[i]
        if math.isnan(v):
            ax.text(0.01, i, "undefined", transform=undefined_at, va="center", fontsize=8,
                    color=GUIDE, style="italic")
            continue
        lo, hi = lower[i], upper[i]
        xerr = None
        if math.isfinite(lo) and math.isfinite(hi):
            xerr = [[max(v - lo, 0.0)], [max(hi - v, 0.0)]]
        ax.errorbar([v], [i], xerr=xerr, fmt="o", color=REFERENCE, markersize=4, capsize=2.5,
                    elinewidth=1.2)
    ref = _reference_line(spec.get("reference_line"))
    if ref:
        ax.axvline(ref[0], color=CURRENT, linestyle="--", linewidth=1.1)
        ax.annotate(ref[1], xy=(ref[0], 1), xycoords=("data", "axes fraction"), xytext=(3, 0),
                    textcoords="offset points", ha="left", va="top", fontsize=7.5, color=INK)
    ax.set_yticks(np.arange(n), [_txt(c, 28) for c in cats_raw[:n]])
    ax.set_ylim(n - 0.5, -0.5)
    ax.grid(axis="x", visible=True)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(_txt(spec.get("x_label")))
    title = _txt(spec.get("title"))
    _title(fig, f"{title} (+{hidden} more not shown)" if hidden else title)
    return fig


def _reliability(spec: dict) -> Figure:
    predicted = _nums(spec.get("predicted"), "predicted")
    n = len(predicted)
    observed = _nums(spec.get("observed"), "observed", n)
    counts = _nums(spec.get("counts") or [None] * n, "counts", n)
    fig = _figure()
    ax, side = fig.subplots(1, 2, width_ratios=[3, 2])
    ax.plot([0, 1], [0, 1], color=GUIDE, linestyle="--", linewidth=0.9, label="perfectly calibrated")
    ok = ~(np.isnan(predicted) | np.isnan(observed))
    ax.plot(predicted[ok], observed[ok], color=CURRENT, marker="o", markersize=3.5, linewidth=1.5,
            label="model")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("mean predicted score")
    ax.set_ylabel("observed rate")
    _title(fig, _txt(spec.get("title")))
    ax.legend(loc="lower right")
    ax.grid(axis="x", visible=True)
    has = ~(np.isnan(predicted) | np.isnan(counts))
    side.bar(predicted[has], counts[has], width=0.8 / max(n, 1), color=REFERENCE)
    side.set_xlim(0, 1)
    side.set_xlabel("mean predicted score")
    side.set_title("rows per bin", fontweight="normal", fontsize=9)
    side.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: _short(v)))
    return fig


_DRAW = {"histogram": _histogram, "bars": _bars, "line": _line, "interval": _interval, "reliability": _reliability}
CHART_KINDS: tuple[str, ...] = tuple(_DRAW)


def _draw(spec: Any) -> Figure:
    if not isinstance(spec, dict):
        raise SpecError("a chart spec must be a mapping")
    kind = spec.get("kind")
    if kind not in _DRAW:
        raise SpecError(f"chart kind {kind!r} is not supported")
    return _DRAW[kind](spec)


def chart_svg(spec: dict, *, figure_id: str) -> str:
    """One chart spec as an inline-able ``<svg>`` element (no XML declaration).

    Ids inside are prefixed with `figure_id` (reduced to [A-Za-z0-9_-]); callers
    give each figure on a page a different one. Never raises on a bad spec.
    """
    fid = safe_id(figure_id)
    try:
        with matplotlib.rc_context(_RC):
            fig = _draw(spec)
            buf = io.StringIO()
            fig.savefig(buf, format="svg", metadata={"Date": None})
        return tidy_svg(buf.getvalue(), fid, str(spec.get("title") or spec.get("kind") or "chart"))
    except SpecError as exc:
        return placeholder_svg(f"Chart not drawn: {exc}")
    except Exception as exc:  # a report must survive one undrawable chart
        log.warning("chart %s could not be drawn: %r", fid, exc)
        return placeholder_svg(f"Chart not drawn: {type(exc).__name__}")


def chart_png(spec: dict, *, dpi: int = 100) -> bytes:
    """One chart spec as PNG bytes (for email, where inline SVG is not supported)."""
    with matplotlib.rc_context(_RC):
        try:
            fig = _draw(spec)
        except Exception as exc:  # same contract as chart_svg: a placeholder, not a crash
            if not isinstance(exc, SpecError):
                log.warning("chart could not be drawn: %r", exc)
            fig = Figure(figsize=(WIDTH, 0.45), facecolor="#f6f6f6")
            fig.text(0.02, 0.5, _txt(f"Chart not drawn: {exc}", 110), va="center", fontsize=8, color=GUIDE)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()
