"""Draw chart specs (plain data stored in ``check.evidence["charts"]``) as SVG or PNG.

Checks keep charts as data; only this module draws them: each kind lays its shapes out once on a
`svgplot.Canvas` (auditor.render.plots, plots_grids), written as inline SVG for HTML, or replayed onto
a matplotlib figure for the email's PNG. Every spec has ``kind`` and ``title``;
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
curve
    ``{"kind": "curve", "title", "series": {name: {"x": [..], "y": [..]}}, "x_label"?, "y_label"?,
    "diagonal"?: bool, "drawstyle"?}``: ROC or precision-recall curves on [0, 1] axes, reference
    and current in their colours, with the chance diagonal when asked.
confusion
    ``{"kind": "confusion", "title", "labels"?: [negative, positive], "panels": [{"name", "matrix":
    [[tn, fp], [fn, tp]]}]}``: up to three 2×2 matrices side by side (overall, the worst group),
    each cell its count and share.
heatmap
    ``{"kind": "heatmap", "title", "x": [labels], "y": [labels], "values": [[..] per y], "x_label"?,
    "y_label"?, "thresholds"?: [{"value", "label"}], "diagonal"?: bool, "cmap"?}``: one coloured cell
    per (y, x) (PSI per feature and window; rows per predicted × actual cell; missing together), a
    colour bar beside; at most 30 rows are drawn and the title counts the rest.

A ``line`` of more than six series is drawn as small multiples (a panel per series), never a tangle.

Anything else (an unknown kind, a malformed spec, lists of the wrong length)
becomes a small text placeholder saying why: one bad chart never breaks a report.

Output is byte-deterministic: shapes in drawing order, text as ``<text>``, coordinates
rounded to 0.01 pt. Ids (the plot area's clip path) are prefixed with ``figure_id`` so several
inline SVGs on one page don't clash.
"""

from __future__ import annotations

import logging
from typing import Any

from auditor.render.plots import SpecError, bars, histogram, interval, line, reliability, txt
from auditor.render.plots_grids import MAX_LINES, confusion, curve, heatmap, small_multiples
from auditor.render.svg import placeholder_svg, safe_id
from auditor.render.svgplot import GUIDE, Canvas

__all__ = ["chart_svg", "chart_png", "drawn_svg", "draw_all", "CHART_KINDS"]

log = logging.getLogger(__name__)

_DRAW = {"histogram": histogram, "bars": bars, "line": line, "interval": interval, "reliability": reliability,
         "curve": curve, "confusion": confusion, "heatmap": heatmap}
CHART_KINDS: tuple[str, ...] = tuple(_DRAW)


def _draw(spec: Any) -> Canvas:
    if not isinstance(spec, dict):
        raise SpecError("a chart spec must be a mapping")
    kind = spec.get("kind")
    if kind not in _DRAW:
        raise SpecError(f"chart kind {kind!r} is not supported")
    if kind == "line" and isinstance(spec.get("series"), dict) and len(spec["series"]) > MAX_LINES:
        return small_multiples(spec)  # never a tangle of more than 6 lines
    return _DRAW[kind](spec)


def drawn_svg(spec: Any) -> tuple[Canvas | None, str | None]:
    """One chart spec laid out, or (None, why not) when it cannot be drawn.

    A page that shows one chart twice (a finding's chart in the overview and beside its check) lays
    it out once and writes it under two figure ids."""
    try:
        return _draw(spec), None
    except SpecError as exc:
        return None, f"Chart not drawn: {exc}"
    except Exception as exc:  # a report must survive one undrawable chart
        log.warning("chart could not be drawn: %r", exc)
        return None, f"Chart not drawn: {type(exc).__name__}"


def draw_all(specs: list[Any]) -> list[tuple[Canvas | None, str | None]]:
    """`drawn_svg` of every spec, in order (about a millisecond each: no pool needed)."""
    return [drawn_svg(spec) for spec in specs]


def chart_svg(spec: dict, *, figure_id: str, drawn: tuple[Canvas | None, str | None] | None = None) -> str:
    """One chart spec as an inline-able ``<svg>`` element (no XML declaration).

    Ids inside are prefixed with `figure_id` (reduced to [A-Za-z0-9_-]); callers
    give each figure on a page a different one. Never raises on a bad spec.
    `drawn`: what `drawn_svg(spec)` returned, when the caller has it already.
    """
    canvas, why = drawn if drawn is not None else drawn_svg(spec)
    if canvas is None:
        return placeholder_svg(why or "Chart not drawn")
    return canvas.svg(safe_id(figure_id), str(spec.get("title") or spec.get("kind") or "chart"))


def chart_png(spec: dict, *, dpi: int = 100) -> bytes:
    """One chart spec as PNG bytes (for email, where inline SVG is not supported)."""
    canvas, why = drawn_svg(spec)
    if canvas is None:  # same contract as chart_svg: a placeholder, not a crash
        canvas = Canvas(396, 30)
        canvas.rect(0.5, 0.5, 395, 29, "#f6f6f6", stroke="#cccccc")
        canvas.text(10, 19, txt(why, 110), size=9, colour=GUIDE)
    return canvas.png(dpi)
