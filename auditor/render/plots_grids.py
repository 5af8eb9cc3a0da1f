"""The chart kinds of model quality and of many series at once (auditor.render.charts documents the specs):
curves (ROC, precision-recall), confusion matrices, heatmaps (drift per window, predicted vs actual,
which columns are missing together), and small multiples for a line chart of many series."""

from __future__ import annotations

import math

from auditor.render.plots import (
    CURRENT,
    HEIGHT,
    OTHERS,
    REFERENCE,
    WIDTH,
    Frame,
    SpecError,
    listed,
    nums,
    series_of,
    short,
    thin,
    txt,
    value_ticks,
)
from auditor.render.svgplot import GRID, GUIDE, INK, SPINE, Canvas, Scale, nice_ticks, text_width

MAX_LINES = 6  # a line chart of more series is drawn as small multiples
MAX_ROWS = 30  # heatmap rows drawn; the title counts the rest
# ColorBrewer ramps, light to dark (what matplotlib's YlOrRd, Blues and Greys interpolate).
RAMPS = {
    "YlOrRd": ("#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#bd0026", "#800026"),
    "Blues": ("#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b"),
    "Greys": ("#ffffff", "#f0f0f0", "#d9d9d9", "#bdbdbd", "#969696", "#737373", "#525252", "#252525", "#000000"),
}


def colour(ramp: str, share: float) -> str:
    """The colour at `share` (0..1) along a ramp, interpolated between its stops."""
    stops = RAMPS.get(ramp, RAMPS["YlOrRd"])
    share = min(max(share, 0.0), 1.0) * (len(stops) - 1)
    i = min(int(share), len(stops) - 2)
    a, b = stops[i], stops[i + 1]
    t = share - i
    mixed = [round(int(a[k:k + 2], 16) * (1 - t) + int(b[k:k + 2], 16) * t) for k in (1, 3, 5)]
    return "#" + "".join(f"{v:02x}" for v in mixed)


def dark(ramp: str, share: float) -> bool:
    return share > (0.55 if ramp != "Greys" else 0.45)


def curve(spec: dict) -> Canvas:
    series = spec.get("series")
    if not isinstance(series, dict) or not series:
        raise SpecError("series must map names to {x, y}")
    drawn = []
    for i, (name, points) in enumerate(series.items()):
        if not isinstance(points, dict):
            raise SpecError(f"series[{name!r}] must be {{x, y}}")
        xs = nums(points.get("x"), f"series[{name!r}].x")
        ys = nums(points.get("y"), f"series[{name!r}].y", len(xs))
        drawn.append((txt(name, 30), xs, ys, {"reference": REFERENCE, "current": CURRENT}.get(str(name),
                                                                                           OTHERS[i % 2])))
    unit = [0, 0.25, 0.5, 0.75, 1.0]
    f = Frame(txt(spec.get("title")), height=HEIGHT + 29, legend=[(n, c) for n, _, _, c in drawn],
              y_labels=["0.75"], y_label=txt(spec.get("y_label")), x_label=txt(spec.get("x_label")))
    x, y = f.x(0, 1), f.y(0, 1.02)
    f.y_grid(y, unit, short)
    f.x_grid(x, unit, short)
    if spec.get("diagonal"):
        f.canvas.line(x(0), y(0), x(1), y(1), GUIDE, width=0.8, dash="4 3")
    for _, xs, ys, c in drawn:
        f.canvas.polyline([(x(a), y(b)) if math.isfinite(a) and math.isfinite(b) else None for a, b in zip(xs, ys,
                                                                                                      strict=True)],
                          c, width=1.6, clip=f.plot)
    f.spines()
    return f.canvas


def confusion(spec: dict) -> Canvas:
    panels = spec.get("panels")
    if not isinstance(panels, list) or not panels:
        raise SpecError("panels must be a non-empty list")
    labels = [txt(v, 14) for v in (spec.get("labels") or ["negative", "positive"])]
    matrices = []
    for panel in panels[:3]:
        rows = panel.get("matrix") if isinstance(panel, dict) else None
        if not isinstance(rows, list) or len(rows) != 2:
            raise SpecError("each matrix must be 2×2")
        matrices.append((txt(panel.get("name"), 40), [nums(r, "matrix", 2) for r in rows]))
    c = Canvas(WIDTH, HEIGHT + 22)
    c.text(6, 14, txt(spec.get("title")), size=10, bold=True)
    label_room = max(text_width(t) for t in labels) + 8
    gap = 14.0
    panel_w = (WIDTH - 16 - label_room - gap * (len(matrices) - 1)) / len(matrices)
    cell = min(panel_w / 2, 60.0)
    top = 48.0
    for p, (name, m) in enumerate(matrices):
        left = 8 + label_room + p * (panel_w + gap)
        total = sum(v for row in m for v in row if math.isfinite(v)) or 1.0
        c.text(left + cell, top - 16, name, size=8.5, anchor="middle", bold=True)
        for r in range(2):
            for k in range(2):
                v = m[r][k]
                share = v / total if math.isfinite(v) else 0.0
                c.rect(left + k * cell, top + r * cell, cell, cell, colour("Blues", share), stroke="#ffffff")
                ink = "#ffffff" if dark("Blues", share) else INK
                c.text(left + (k + 0.5) * cell, top + (r + 0.45) * cell, short(v), anchor="middle", colour=ink,
                       size=9, bold=True)
                c.text(left + (k + 0.5) * cell, top + (r + 0.45) * cell + 11, f"{share:.0%}", anchor="middle",
                       colour=ink, size=7.5)
        for k in range(2):
            c.text(left + (k + 0.5) * cell, top + 2 * cell + 11, labels[k], anchor="middle")
        c.text(left + cell, top + 2 * cell + 23, "predicted", anchor="middle", colour=GUIDE)
        if p == 0:
            for r in range(2):
                c.text(left - 4, top + (r + 0.5) * cell, labels[r], anchor="end", middle=True)
            c.text(left - label_room + 2, top - 4, "actual", colour=GUIDE)
    return c


def heatmap(spec: dict) -> Canvas:
    x_raw, y_raw = listed(spec, "x"), listed(spec, "y")
    rows = spec.get("values")
    if not isinstance(rows, list) or len(rows) != len(y_raw):
        raise SpecError("values must have a row per y label")
    hidden = max(0, len(y_raw) - MAX_ROWS)
    values = [nums(r, "values", len(x_raw)) for r in rows[:MAX_ROWS]]
    ylabels = [txt(v, 28) for v in y_raw[:MAX_ROWS]]
    names = [txt(v, 16) for v in x_raw]
    slant = len(names) > 4 and len(names) <= 12
    shown = names if len(names) <= 12 else thin(names, 8)
    lines = sorted((float(t["value"]), txt(t.get("label"), 12)) for t in spec.get("thresholds") or []
                   if isinstance(t, dict) and isinstance(t.get("value"), (int, float)) and math.isfinite(t["value"]))
    ramp = spec.get("cmap") or "YlOrRd"
    top_value = max([v for row in values for v in row if math.isfinite(v)] or [1.0])
    vmax = max(top_value, lines[-1][0] * 1.5 if lines else 0.0) or 1.0
    bar = spec.get("colorbar", True)
    room = (max(text_width(n) for n in names) * 0.55 + 8) if slant else 11.0
    title = txt(spec.get("title")) + (f" (+{hidden} more rows not shown)" if hidden else "")
    f = Frame(title, height=min(max(HEIGHT, 70 + room + 15 * len(values)), 504.0), y_labels=ylabels,
              y_label=txt(spec.get("y_label")), x_label=txt(spec.get("x_label")), x_label_room=room,
              right=70 if bar else 12)
    n_x, n_y = max(len(x_raw), 1), max(len(values), 1)
    x, y = Scale(0, n_x, f.left, f.right), Scale(0, n_y, f.top, f.bottom)
    for r, row in enumerate(values):
        for k, v in enumerate(row):
            fill = colour(ramp, v / vmax) if math.isfinite(v) else "#f2f2f2"
            f.canvas.rect(x(k), y(r), x(k + 1) - x(k) + 0.3, y(r + 1) - y(r) + 0.3, fill)
    if spec.get("diagonal") and len(x_raw) == len(values):
        f.canvas.line(x(0), y(n_y), x(n_x), y(0), GUIDE, width=0.8, dash="4 3")
    f.x_categories([x(k + 0.5) for k in range(len(names))], shown, slant=slant)
    f.y_categories([y(r + 0.5) for r in range(len(values))], ylabels)
    f.canvas.line(f.left, f.bottom, f.right, f.bottom, SPINE)
    if bar:  # the colour scale, with the lines marked: a cell past "warn" is as dark as its mark or darker
        left, width = f.right + 10, 9.0
        steps = 24
        scale = Scale(0, vmax, f.bottom, f.top)
        for s in range(steps):
            lo, hi = vmax * s / steps, vmax * (s + 1) / steps
            f.canvas.rect(left, scale(hi), width, scale(lo) - scale(hi) + 0.3, colour(ramp, (s + 0.5) / steps))
        marks = [(v, f"{label} {v:g}") for v, label in lines] or [(t, short(t)) for t in nice_ticks(0, vmax, 4)]
        for v, label in marks:
            f.canvas.line(left - 2, scale(v), left + width + 2, scale(v), INK, width=1.0 if lines else 0.6)
            f.canvas.text(left + width + 4, scale(v), label, size=7, middle=True)
    return f.canvas


def small_multiples(spec: dict) -> Canvas:
    """One small panel per series (shared scales), for a line chart of more than MAX_LINES series."""
    x_raw = listed(spec, "x")
    series = series_of(spec, len(x_raw))
    cols = 3
    rows = math.ceil(len(series) / cols)
    panel_h, top = 62.0, 26.0
    c = Canvas(WIDTH, top + rows * (panel_h + 16) + 6)
    c.text(6, 14, txt(spec.get("title")), size=10, bold=True)
    lines = [float(t["value"]) for t in spec.get("thresholds") or [] if isinstance(t, dict)
             and isinstance(t.get("value"), (int, float))]
    ticks = value_ticks([v for _, vals, _ in series for v in vals] + lines, zero=False, most=3)
    width = (WIDTH - 40) / cols
    for i, (name, vals, _) in enumerate(series):
        left = 34 + (i % cols) * width
        y0 = top + (i // cols) * (panel_h + 16) + 12
        x = Scale(-0.5, max(len(x_raw), 1) - 0.5, left, left + width - 12)
        y = Scale(ticks[0], ticks[-1], y0 + panel_h - 12, y0)
        c.text(left, y0 - 3, txt(name, 28), size=8)
        for t in (ticks[0], ticks[-1]):
            c.line(left, y(t), left + width - 12, y(t), GRID, width=0.6)
            if i % cols == 0:
                c.text(left - 3, y(t), short(t), size=7, anchor="end", middle=True)
        for t in lines:
            c.line(left, y(t), left + width - 12, y(t), GUIDE, width=0.7, dash="3 2")
        c.polyline([(x(k), y(v)) if math.isfinite(v) else None for k, v in enumerate(vals)], REFERENCE, width=1.2)
        c.line(left, y(ticks[0]), left + width - 12, y(ticks[0]), SPINE)
        if x_raw and i >= len(series) - cols:
            c.text(left, y(ticks[0]) + 9, txt(x_raw[0], 12), size=7)
            c.text(left + width - 12, y(ticks[0]) + 9, txt(x_raw[-1], 12), size=7, anchor="end")
    return c
