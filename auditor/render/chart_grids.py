"""The chart kinds of model quality and of many series at once (auditor.render.charts documents the specs):
curves (ROC, precision-recall), confusion matrices, heatmaps (predicted vs actual, drift per window,
which columns are missing together), and small multiples for a line chart of many series."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from auditor.render.chart_kinds import (
    CURRENT,
    GUIDE,
    HEIGHT,
    INK,
    REFERENCE,
    WIDTH,
    SpecError,
    _figure,
    _legend,
    _legend_label,
    _nums,
    _short,
    _thin_ticks,
    _title,
    text_width,
    txt,
)

MAX_LINES = 6  # a line chart of more series is drawn as small multiples
MAX_ROWS = 30  # heatmap rows drawn; the title counts the rest
PANEL_COLOURS = {"reference": REFERENCE, "current": CURRENT}


def curve(spec: dict) -> Figure:
    series = spec.get("series")
    if not isinstance(series, dict) or not series:
        raise SpecError("series must map names to {x, y}")
    fig = _figure(HEIGHT + 0.4)
    ax = fig.add_subplot()
    if spec.get("diagonal"):
        ax.plot([0, 1], [0, 1], color=GUIDE, linestyle="--", linewidth=0.8)
    for i, (name, points) in enumerate(series.items()):
        if not isinstance(points, dict):
            raise SpecError(f"series[{name!r}] must be {{x, y}}")
        x = _nums(points.get("x"), f"series[{name!r}].x")
        y = _nums(points.get("y"), f"series[{name!r}].y", len(x))
        colour = PANEL_COLOURS.get(str(name), ("#009E73", "#CC79A7")[i % 2])
        ax.plot(x, y, color=colour, linewidth=1.6, label=_legend_label(name), drawstyle=spec.get("drawstyle", "default"))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(axis="x", visible=True)
    ax.set_xlabel(txt(spec.get("x_label")))
    ax.set_ylabel(txt(spec.get("y_label")))
    _title(fig, txt(spec.get("title")))
    _legend(ax, len(series))
    return fig


def confusion(spec: dict) -> Figure:
    panels = spec.get("panels")
    if not isinstance(panels, list) or not panels:
        raise SpecError("panels must be a non-empty list")
    labels = [txt(v, 16) for v in (spec.get("labels") or ["negative", "positive"])]
    fig = _figure(HEIGHT + 0.3)
    axes = fig.subplots(1, len(panels[:3]), squeeze=False)[0]
    for ax, panel in zip(axes, panels[:3], strict=False):
        m = np.array([_nums(row, "matrix", 2) for row in (panel.get("matrix") or [])], dtype=float)
        if m.shape != (2, 2):
            raise SpecError("each matrix must be 2×2")
        total = np.nansum(m) or 1.0
        ax.imshow(m / total, cmap="Blues", vmin=0, vmax=1, aspect="auto")
        for (r, c), v in np.ndenumerate(m):
            share = v / total
            ax.text(c, r, f"{_short(v)}\n{share:.0%}", ha="center", va="center", fontsize=8,
                    color="white" if share > 0.5 else INK)
        ax.set_xticks([0, 1], labels)
        ax.set_yticks([0, 1], labels)
        ax.grid(False)
        ax.set_xlabel("predicted")
        ax.set_title(txt(panel.get("name"), 40), fontsize=9)
    axes[0].set_ylabel("actual")
    _title(fig, txt(spec.get("title")))
    return fig


def heatmap(spec: dict) -> Figure:
    x_raw, y_raw = spec.get("x"), spec.get("y")
    if not isinstance(x_raw, list) or not isinstance(y_raw, list):
        raise SpecError("x and y must be lists")
    rows = spec.get("values")
    if not isinstance(rows, list) or len(rows) != len(y_raw):
        raise SpecError("values must have a row per y label")
    hidden = max(0, len(y_raw) - MAX_ROWS)
    values = np.array([_nums(r, "values", len(x_raw)) for r in rows[:MAX_ROWS]], dtype=float).reshape(-1, len(x_raw))
    n_rows = values.shape[0]
    fig = _figure(min(max(HEIGHT, 1.2 + 0.22 * n_rows), 7.0))
    ax = fig.add_subplot()
    finite = values[np.isfinite(values)]
    top = float(finite.max()) if finite.size else 1.0
    lines = sorted((float(t["value"]), txt(t.get("label"), 12)) for t in spec.get("thresholds") or []
                   if isinstance(t, dict) and isinstance(t.get("value"), (int, float)) and math.isfinite(t["value"]))
    vmax = max(top, lines[-1][0] * 1.5 if lines else 0.0) or 1.0
    image = ax.imshow(np.ma.masked_invalid(values), cmap=spec.get("cmap") or "YlOrRd", vmin=0, vmax=vmax,
                      aspect="auto", interpolation="nearest")
    if spec.get("diagonal") and len(x_raw) == n_rows:
        ax.plot([-0.5, len(x_raw) - 0.5], [n_rows - 0.5, -0.5], color=GUIDE, linestyle="--", linewidth=0.8)
    names = [txt(v, 16) for v in x_raw]
    if len(x_raw) > 4:  # slanted labels need the room of their height
        fig.extra_bottom = 0.5 * max((text_width(n) for n in names), default=0)
    ax.set_xticks(np.arange(len(x_raw)), names if len(x_raw) <= 12 else _thin_ticks(names, 8),
                  rotation=30 if len(x_raw) > 4 else 0, ha="right" if len(x_raw) > 4 else "center")
    ax.set_yticks(np.arange(n_rows), [txt(v, 28) for v in y_raw[:MAX_ROWS]])
    ax.grid(False)
    bar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02) if spec.get("colorbar", True) else None
    if bar is not None:
        bar.ax.tick_params(labelsize=7)
    if lines and bar is not None:  # the lines marked on the colour bar: a cell past "warn" is as dark as that mark or darker
        for value, _label in lines:
            bar.ax.axhline(value, color=INK, linewidth=1.2)
        bar.set_ticks([v for v, _ in lines], labels=[f"{label} {v:g}" for v, label in lines])
    ax.set_xlabel(txt(spec.get("x_label")))
    ax.set_ylabel(txt(spec.get("y_label")))
    title = txt(spec.get("title"))
    _title(fig, f"{title} (+{hidden} more rows not shown)" if hidden else title)
    return fig


def small_multiples(spec: dict, series: list[tuple[str, np.ndarray, str]]) -> Figure:
    """One small panel per series (shared axes), for a line chart of more than MAX_LINES series."""
    x_raw = spec["x"]
    cols = 3
    rows = math.ceil(len(series) / cols)
    fig = Figure(figsize=(WIDTH, 0.6 + 1.1 * rows), facecolor="white")
    axes = fig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False).ravel()
    xs = np.arange(len(x_raw))
    lines = [t for t in spec.get("thresholds") or [] if isinstance(t, dict) and isinstance(t.get("value"), (int, float))]
    for ax, (name, vals, _colour) in zip(axes, series, strict=False):
        ax.plot(xs, vals, color=REFERENCE, linewidth=1.2)
        for t in lines:
            ax.axhline(t["value"], color=GUIDE, linestyle="--", linewidth=0.7)
        ax.set_title(txt(name, 28), fontsize=8, loc="left")
    for ax in axes[len(series):]:
        ax.set_visible(False)
    ticks = [0, len(x_raw) - 1] if len(x_raw) > 1 else [0]
    axes[0].set_xticks(ticks, [txt(x_raw[i], 12) for i in ticks] if x_raw else [])
    fig.subplots_adjust(hspace=0.7)
    _title(fig, txt(spec.get("title")))
    return fig
