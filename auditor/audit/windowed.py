"""What windowed checks share: the prediction log's time windows (built once per run), a decorator
that hands them to a check or skips it saying why, windowed statements with the range's parameters,
and the line chart over windows.

Windows are built by auditor.engine.windows; this module adds what a check needs around them.
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from pydantic import Field

from auditor.audit.context import CheckContext
from auditor.audit.options import CheckOptions, Size
from auditor.engine.sources import Dataset
from auditor.engine.sql import bind
from auditor.engine.windows import WindowRange, build_range, parse_window
from auditor.report import CheckResult, table


class WindowedOptions(CheckOptions):
    """What every windowed check takes."""

    max_windows: Size = Field(90, description="the most recent windows shown in charts and tables "
                                              "(every window up to the as-of time is analysed)")
# A line chart with more series than this is unreadable: keep the worst ones.
MAX_SERIES = 8


def log_windows(ctx: CheckContext) -> tuple[Dataset, WindowRange] | CheckResult:
    """The log and its windows (one timestamp scan per run, shared by every windowed check), or a skip."""
    log = ctx.dataset("predictions")
    if log is None or not ctx.roles.timestamp:
        return ctx.skip("Skipped: needs a prediction log with columns.timestamp.")
    ts = ctx.run.timestamps.get(log.name)
    if ts is None:
        return ctx.skip(f"Skipped: the '{log.name}' dataset has no timestamp column '{ctx.roles.timestamp}'.")
    window = parse_window(ctx.config.monitoring.window)
    key = ("windows", log.name, str(window), ctx.as_of)
    if key not in ctx.run.cache:
        ctx.run.cache[key] = build_range(ctx.engine, log, ts, window=window, as_of=ctx.as_of)
    found = ctx.run.cache[key]
    if not found.starts:
        return ctx.skip(f"Skipped: the {log.name} data has no row with a timestamp before the as-of time "
                        f"{found.as_of:%Y-%m-%d %H:%M}.")
    return log, found


REFERENCE_END_SQL = "SELECT max({ts}) FROM {view}"


def reference_end(ctx: CheckContext) -> datetime | None:
    """The reference's newest timestamp (None when it has none): windows up to it are the reference's
    period, never the current state."""
    ref, ts = ctx.dataset("reference"), ctx.run.timestamps.get("reference")
    if ref is None or ts is None or not ref.rows:
        return None
    sql = REFERENCE_END_SQL.format(ts=ts.sql, view=ref.view)
    return ctx.engine.query_one(sql, ts.params or None)[0]


def over_windows(fn: Callable[..., Iterator[CheckResult]]) -> Callable[[CheckContext], Iterator[CheckResult]]:
    """Make a windowed check: it is called with the log and its windows, or yields the skip saying why not."""
    @functools.wraps(fn)
    def run(ctx: CheckContext) -> Iterator[CheckResult]:
        found = log_windows(ctx)
        if isinstance(found, CheckResult):
            yield found
        else:
            yield from fn(ctx, *found)

    return run


def query_windows(ctx: CheckContext, wr: WindowRange, sql: str, **extra: Any) -> list[tuple]:
    """Run a windowed statement with the range's named parameters (and any extra ones)."""
    return ctx.engine.query(sql, bind(sql, {**wr.params, **extra}))


# Windows a chart draws one point each, at most: past this (2,160 hourly windows of 90 days), consecutive
# windows are drawn as one point, combined as the check says (the worst for a line to stay under, the mean
# of shares, both extremes of counts). The data, tables and grades stay per window.
DISPLAY_POINTS = 180
COMBINE = {"max": max, "min": min, "mean": statistics.fmean}


def line_chart(title: str, wr: WindowRange, series: dict[str, list], *, shown: int,
               thresholds: list[dict] | None = None, y_label: str | None = None, combine: str = "max") -> dict[str, Any]:
    """A line chart over the newest `shown` windows (a check's max_windows): every window is analysed,
    the chart shows the recent ones. `combine` ("max", "min", "mean" or "extremes": min and max as two
    lines) joins consecutive windows into one point when more than DISPLAY_POINTS are shown."""
    keep = wr.shown(shown)
    x, series = list(wr.labels()[keep]), {k: list(v[keep]) for k, v in series.items()}
    if len(x) > DISPLAY_POINTS:
        size = math.ceil(len(x) / DISPLAY_POINTS)
        starts = range(0, len(x), size)
        ways = {"min": min, "max": max} if combine == "extremes" else {combine: COMBINE[combine]}
        series = {(f"{name} ({way})" if len(ways) > 1 else name): [_joined(values[i:i + size], fn) for i in starts]
                  for name, values in series.items() for way, fn in ways.items()}
        what = "lowest and highest" if combine == "extremes" else {"max": "highest", "min": "lowest", "mean": "mean"}[combine]
        title += f" (each point: the {what} of {size} windows)"
        x = [x[i] for i in starts]
    return {"kind": "line", "title": title, "x": x, "series": series,
            "thresholds": thresholds or [], "y_label": y_label}


def _joined(values: list, fn) -> Any:
    present = [v for v in values if v is not None]
    return fn(present) if present else None


def window_table(name: str, columns: list[str], rows: list[list[Any]], *, shown: int) -> dict[str, Any]:
    """A per-window evidence table, newest window first, trimmed to the newest `shown` windows."""
    return table(name, columns, rows[::-1][:shown], total_rows=len(rows))


def latest(values: list[Any]) -> int | None:
    """The position of the last window with a value (None when every window is empty)."""
    return next((i for i in range(len(values) - 1, -1, -1) if values[i] is not None), None)
