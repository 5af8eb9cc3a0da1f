"""How each chart kind is drawn (auditor.render.charts documents the specs): the palette, matplotlib's
settings, small helpers, and one function per kind returning a `Figure`."""

from __future__ import annotations

import functools
import logging
import math
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import text_to_path
from matplotlib.ticker import FuncFormatter, PercentFormatter

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

RC = {
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


_FONT = FontProperties(family="DejaVu Sans", size=10)


class SpecError(ValueError):
    """A chart spec that cannot be drawn; turned into a placeholder."""


# --- small helpers -------------------------------------------------------------------


def txt(value: Any, limit: int = 60) -> str:
    """Text for matplotlib: `$` would start mathtext (and can fail to parse)."""
    s = "" if value is None else str(value)
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return s.replace("$", r"\$")


def _legend_label(name: Any) -> str:
    # matplotlib hides legend entries whose label starts with "_".
    s = txt(name, 30)
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
    # No layout engine: `fit` places the axes from measured label widths, so each chart is drawn once
    # (constrained layout drew every figure twice, and measured every text on the way).
    return Figure(figsize=(WIDTH, height), facecolor="white")


@functools.lru_cache(maxsize=2048)
def _char_width(ch: str) -> float:
    """A character's advance in DejaVu Sans at 10 pt, in inches (matplotlib's own font metrics)."""
    return text_to_path.get_text_width_height_descent(ch, _FONT, ismath=False)[0] / 72


def text_width(text: str, size: float = 8.0) -> float:
    """Inches a label takes: summed character advances (no kerning: a little generous, never clipped)."""
    return sum(_char_width(ch) for ch in text) * size / 10


def fit(fig: Figure) -> None:
    """Margins from what the axes carry: tick labels (measured where known), axis labels, the legend's row."""
    width, height = fig.get_size_inches()
    axes = [ax for ax in fig.axes if ax.get_visible()]
    if not axes:
        return
    first = axes[0]
    labels = [t.get_text() for t in first.get_yticklabels() if t.get_text()]
    ticks = max((text_width(t) for t in labels), default=0.42)  # numeric ticks: "25.0%", "1.5k"
    left = 0.1 + ticks + (0.22 if first.get_ylabel() else 0)
    below = getattr(fig, "legend_below", False)
    bottom = (0.32 + (0.2 if any(ax.get_xlabel() for ax in axes) else 0) + (0.28 if below else 0)
              + getattr(fig, "extra_bottom", 0.0))
    top = 0.42
    fig.subplots_adjust(left=min(left / width, 0.5), right=1 - 0.14 / width, bottom=min(bottom / height, 0.45),
                        top=1 - top / height, wspace=0.35, hspace=0.6)


def _thin_ticks(labels: list[str], most: int) -> list[str]:
    """Blank out labels so at most `most` remain, keeping the first and evenly spaced ones."""
    step = max(1, math.ceil(len(labels) / most))
    return [lab if i % step == 0 else "" for i, lab in enumerate(labels)]


def _reference_line(ref: Any) -> tuple[float, str] | None:
    """A reference line given as a number or as {"value", "label"}; None when absent or undefined."""
    value, label = (ref.get("value"), ref.get("label")) if isinstance(ref, dict) else (ref, None)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value), txt(label, 40)


def _title(fig: Figure, text: str) -> None:
    # A figure title, left-aligned, keeps the row below it free for the legend.
    fig.suptitle(text, x=0.01, ha="left", fontsize=10, fontweight="bold")


def _legend(ax: Any, n_series: int) -> None:
    if n_series < 2:
        return
    # Beside the title when both fit on one line (measured from the font), else under the plot.
    fig = ax.figure
    handles, labels = ax.get_legend_handles_labels()
    legend_width = sum(text_width(t) + 0.45 for t in labels)
    title_width = sum(text_width(t.get_text(), 10) * 1.1 for t in fig.texts)  # fig.texts: the title, bold
    figure_width = fig.get_size_inches()[0]
    if legend_width + title_width < 0.95 * figure_width:
        fig.legend(handles, labels, loc="upper right", ncols=n_series, bbox_to_anchor=(0.995, 0.995),
                   borderaxespad=0.2)
    else:
        fig.legend_below = True  # fit() leaves a row for it
        wide = legend_width > 0.95 * figure_width
        fig.legend(handles, labels, loc="lower center", ncols=2 if wide else n_series, bbox_to_anchor=(0.5, 0.0),
                   borderaxespad=0.2)


# --- one function per kind -----------------------------------------------------------


def histogram(spec: dict) -> Figure:
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
    ax.set_xlabel(txt(spec.get("x_label")))
    _title(fig, txt(spec.get("title")))
    _legend(ax, len(series))
    return fig


def bars(spec: dict) -> Figure:
    cats_raw = spec.get("categories")
    if not isinstance(cats_raw, list):
        raise SpecError("categories must be a list")
    cats = [txt(c, 32) for c in cats_raw]
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
    value_label, cat_label = txt(spec.get("y_label")), txt(spec.get("x_label"))
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
    title = txt(spec.get("title"))
    _title(fig, f"{title} (+{hidden} more not shown)" if hidden else title)
    _legend(ax, len(series))
    return fig


def line(spec: dict) -> Figure:
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
    ax.set_xticks(xs, _thin_ticks([txt(v, 16) for v in x_raw], 8))
    if len(x_raw) > 0:
        ax.set_xlim(-0.5, len(x_raw) - 0.5)
    ax.set_xlabel(txt(spec.get("x_label")))
    ax.set_ylabel(txt(spec.get("y_label")))
    _title(fig, txt(spec.get("title")))
    _legend(ax, len(series))
    return fig


def interval(spec: dict) -> Figure:
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
    ax.set_yticks(np.arange(n), [txt(c, 28) for c in cats_raw[:n]])
    ax.set_ylim(n - 0.5, -0.5)
    ax.grid(axis="x", visible=True)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(txt(spec.get("x_label")))
    title = txt(spec.get("title"))
    _title(fig, f"{title} (+{hidden} more not shown)" if hidden else title)
    return fig


def reliability(spec: dict) -> Figure:
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
    _title(fig, txt(spec.get("title")))
    ax.legend(loc="lower right")
    ax.grid(axis="x", visible=True)
    has = ~(np.isnan(predicted) | np.isnan(counts))
    side.bar(predicted[has], counts[has], width=0.8 / max(n, 1), color=REFERENCE)
    side.set_xlim(0, 1)
    side.set_xlabel("mean predicted score")
    side.set_title("rows per bin", fontweight="normal", fontsize=9)
    side.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: _short(v)))
    return fig
