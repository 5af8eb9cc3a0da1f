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

Output is byte-deterministic: fixed ``svg.hashsalt``, no date metadata, text as
``<text>`` (``svg.fonttype: none``: about half the size of glyph paths, and the
report must stay under 1 MB for 50 columns), coordinates rounded to 0.01 pt.
Ids are prefixed with ``figure_id`` so several inline SVGs on one page don't clash.
"""

from __future__ import annotations

import io
import logging
import multiprocessing
import os
import warnings
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import matplotlib
from matplotlib.figure import Figure

from auditor.render.chart_grids import MAX_LINES, confusion, curve, heatmap, small_multiples
from auditor.render.chart_kinds import (
    GUIDE,
    RC,
    WIDTH,
    SpecError,
    _series,
    bars,
    fit,
    histogram,
    interval,
    line,
    reliability,
    txt,
)
from auditor.render.svg import placeholder_svg, safe_id, tidy_svg

__all__ = ["chart_svg", "chart_png", "drawn_svg", "draw_all", "CHART_KINDS"]

log = logging.getLogger(__name__)

_DRAW = {"histogram": histogram, "bars": bars, "line": line, "interval": interval, "reliability": reliability,
         "curve": curve, "confusion": confusion, "heatmap": heatmap}
CHART_KINDS: tuple[str, ...] = tuple(_DRAW)


def _draw(spec: Any) -> Figure:
    if not isinstance(spec, dict):
        raise SpecError("a chart spec must be a mapping")
    kind = spec.get("kind")
    if kind not in _DRAW:
        raise SpecError(f"chart kind {kind!r} is not supported")
    if kind == "line" and isinstance(spec.get("series"), dict) and len(spec["series"]) > MAX_LINES:
        if not isinstance(spec.get("x"), list):
            raise SpecError("x must be a list")
        return small_multiples(spec, _series(spec, len(spec["x"])))  # never a tangle of more than 6 lines
    fig = _DRAW[kind](spec)
    fit(fig)
    return fig


def drawn_svg(spec: Any) -> tuple[str, str | None]:
    """One chart spec drawn as matplotlib's SVG document, or ("", placeholder) when it cannot be.

    The part `chart_svg` pays for; a page that shows one chart twice (a finding's chart in the
    overview and beside its check) draws it once and tidies it under two figure ids."""
    try:
        with matplotlib.rc_context(RC):
            fig = _draw(spec)
            buf = io.StringIO()
            fig.savefig(buf, format="svg", metadata={"Date": None})
        return buf.getvalue(), None
    except SpecError as exc:
        return "", placeholder_svg(f"Chart not drawn: {exc}")
    except Exception as exc:  # a report must survive one undrawable chart
        log.warning("chart could not be drawn: %r", exc)
        return "", placeholder_svg(f"Chart not drawn: {type(exc).__name__}")


# Below this many charts a pool costs more than it saves (forking, pickling the SVG text back).
PARALLEL_MIN = 12


def draw_all(specs: list[Any]) -> list[tuple[str, str | None]]:
    """`drawn_svg` of every spec, in order; independent charts are drawn in parallel by forked workers
    (matplotlib holds the GIL, so threads would not help) when there are many and the platform forks.
    The output is the same bytes either way. AUDITOR_RENDER_WORKERS=1 draws them here, one by one."""
    workers = min(os.cpu_count() or 1, int(os.environ.get("AUDITOR_RENDER_WORKERS") or 4))
    if len(specs) < PARALLEL_MIN or workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return [drawn_svg(spec) for spec in specs]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # 3.12 warns when a threaded process forks
            with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
                return list(pool.map(drawn_svg, specs, chunksize=max(1, len(specs) // (workers * 4))))
    except (OSError, BrokenProcessPool):  # no processes to be had (a sandbox, a limit): draw them here
        return [drawn_svg(spec) for spec in specs]


def chart_svg(spec: dict, *, figure_id: str, drawn: tuple[str, str | None] | None = None) -> str:
    """One chart spec as an inline-able ``<svg>`` element (no XML declaration).

    Ids inside are prefixed with `figure_id` (reduced to [A-Za-z0-9_-]); callers
    give each figure on a page a different one. Never raises on a bad spec.
    `drawn`: what `drawn_svg(spec)` returned, when the caller has it already.
    """
    svg, placeholder = drawn if drawn is not None else drawn_svg(spec)
    if placeholder is not None:
        return placeholder
    return tidy_svg(svg, safe_id(figure_id), str(spec.get("title") or spec.get("kind") or "chart"))


def chart_png(spec: dict, *, dpi: int = 100) -> bytes:
    """One chart spec as PNG bytes (for email, where inline SVG is not supported)."""
    with matplotlib.rc_context(RC):
        try:
            fig = _draw(spec)
        except Exception as exc:  # same contract as chart_svg: a placeholder, not a crash
            if not isinstance(exc, SpecError):
                log.warning("chart could not be drawn: %r", exc)
            fig = Figure(figsize=(WIDTH, 0.45), facecolor="#f6f6f6")
            fig.text(0.02, 0.5, txt(f"Chart not drawn: {exc}", 110), va="center", fontsize=8, color=GUIDE)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()
