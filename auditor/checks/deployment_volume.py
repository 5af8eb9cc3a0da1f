"""deployment.volume: rows per window of the prediction log against a typical window.

The typical window is a baseline that the windows being judged never take part in (a lasting
halving would otherwise pull the median down to itself and pass as "typical"):
- the log's windows inside the reference's period, when the reference has timestamps and the
  log reaches back into it (at least `min_windows` full ones);
- otherwise the earliest full windows of the log (`baseline_windows`; by default a quarter of
  them, at least `min_windows`).
Every later window is judged against the baseline's median: empty windows and dips under 0.2x
fail, under 0.5x warn, spikes over 3x warn. A gap fails wherever it is, baseline included: it
hides data from every other check. The log's first window may have begun part-way and is not
graded; the last window, cut by the as-of time, is compared with the typical rows scaled to its length.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterator

from pydantic import Field, model_validator

from auditor.audit.context import CheckContext
from auditor.audit.options import Factor, Rate, Size, ordered
from auditor.audit.registry import check
from auditor.audit.windowed import WindowedOptions, line_chart, over_windows, query_windows, reference_end, window_table
from auditor.audit.wording import some
from auditor.engine.sources import Dataset
from auditor.engine.windows import WindowRange
from auditor.report import CheckResult, Status, Threshold, worst


class VolumeOptions(WindowedOptions):
    warn_below: Rate | None = Field(0.5, description="a window under this many times the typical one warns")
    fail_below: Rate | None = Field(0.2, description="a window under this many times the typical one fails")
    warn_above: Factor | None = Field(3.0, description="a window over this many times the typical one warns")
    fail_above: Factor | None = Field(None, description="a window over this many times the typical one fails")
    min_windows: Size = Field(3, description="fewer complete baseline windows are not enough to grade")
    baseline_windows: Size | None = Field(
        None, description="the earliest full windows the typical volume comes from when the log does not reach "
                          "into the reference's period (default: a quarter of them, at least min_windows)")

    @model_validator(mode="after")
    def _lines_in_order(self) -> VolumeOptions:
        ordered(self.warn_below, self.fail_below, "below", names=("warn_below", "fail_below"))
        ordered(self.warn_above, self.fail_above, "above", names=("warn_above", "fail_above"))
        return self


def volume_status(ratio: float | None, *, rows: int, options: VolumeOptions) -> Status | None:
    """A window's verdict from its rows against the typical window (None when it is not graded)."""
    if rows == 0:
        return "fail"  # a gap, whatever the typical window (even an empty one)
    if ratio is None:
        return None
    if ratio < options.fail_below:
        return "fail"
    if options.fail_above is not None and ratio > options.fail_above:
        return "fail"
    if ratio < options.warn_below or (options.warn_above is not None and ratio > options.warn_above):
        return "warn"
    return "pass"


def baseline(ctx: CheckContext, wr: WindowRange, counts: list[int]) -> tuple[list[int], str]:
    """The positions of the baseline windows and where they come from, in words (see the module docstring)."""
    first = 1 if len(counts) > 1 else 0  # the log's first window may have begun part-way
    full = [i for i in range(first, len(counts)) if wr.coverage(i) == 1.0]
    end = reference_end(ctx)
    newer = wr.since(end)
    during = [i for i in full if i < newer]
    if end is not None and len(during) >= ctx.options.min_windows and newer < len(counts):
        return during, f"the median of the {len(during)} windows of the reference's period (up to {end:%Y-%m-%d})"
    wanted = ctx.options.baseline_windows or max(ctx.options.min_windows, len(full) // 4)
    earliest = full[:wanted]
    labels = wr.labels()
    span = f", {labels[earliest[0]]} to {labels[earliest[-1]]}" if earliest else ""
    return earliest, f"the median of the earliest {len(earliest)} full windows{span}"


@check("deployment.volume", title="Prediction volume", options=VolumeOptions, needs=("predictions",))
@over_windows
def volume(ctx: CheckContext, log: Dataset, wr: WindowRange) -> Iterator[CheckResult]:
    """Rows per window against a baseline the judged windows take no part in: gaps and dips under 0.5x/0.2x, spikes over 3x."""
    counts = [0] * len(wr.starts)  # a window without a row is a gap: 0, not left out
    version = ctx.roles.model_version
    # model_versions' rows per (window, version) add up to the rows per window: the engine runs that
    # statement once for both checks, a scan of the log less.
    sql = wr.rows_sql(version if version and log.column(version) is not None else None)
    for row in query_windows(ctx, wr, sql):
        counts[row[0]] += int(row[-1])
    base, source = baseline(ctx, wr, counts)
    judged = list(range(base[-1] + 1, len(counts))) if base else []
    if len(base) < ctx.options.min_windows or not judged:
        yield ctx.skip(f"Skipped: {len(base)} full baseline windows of {wr.window} and {len(judged)} after them; "
                       f"a typical volume needs at least {ctx.options.min_windows} (min_windows) and a window to judge.")
        return
    typical = float(statistics.median(counts[i] for i in base))
    labels = wr.labels()
    ratios: list[float | None] = [None] * len(counts)
    statuses: list[Status | None] = [None] * len(counts)
    for i in judged:
        expected = typical * wr.coverage(i)
        ratios[i] = counts[i] / expected if expected else None
        statuses[i] = volume_status(ratios[i], rows=counts[i], options=ctx.options)
    for i in range(1 if len(counts) > 1 else 0, judged[0]):  # a gap fails in the baseline too
        if counts[i] == 0:
            statuses[i], ratios[i] = "fail", 0.0 if typical else None
    flagged = [i for i, s in enumerate(statuses) if s in ("warn", "fail")]
    status = worst([s for s in statuses if s])
    graded = [i for i in range(len(counts)) if statuses[i] is not None]
    worst_at = min(graded, key=lambda i: (-_severity(statuses[i]), -abs(_log_ratio(ratios[i] or 0.0))), default=None)
    gaps = [labels[i] for i in range(len(counts)) if statuses[i] == "fail" and counts[i] == 0]

    def describe(i: int) -> str:
        kind = "no rows" if counts[i] == 0 else f"{counts[i]:,} rows, {ratios[i]:.2f}x typical"
        return f"{labels[i]} ({kind})"

    judged_counts = [counts[i] for i in judged]
    if flagged:
        message = (f"{len(flagged)} of {len(judged) + len(base)} windows had unusual volume against a typical {typical:,.0f} rows "
                   f"per {wr.window} ({source}): {some([describe(i) for i in flagged])}.")
    else:
        message = (f"Every one of {len(judged)} windows had between {min(judged_counts):,} and {max(judged_counts):,} "
                   f"rows against a typical {typical:,.0f} ({source}).")
    if gaps:
        message += ctx.as_of_hint(wr.newest)
    lines = [("warn_below", "warn"), ("fail_below", "fail"), ("warn_above", "warn"), ("fail_above", "fail")]
    shown = ctx.options.max_windows
    chart = line_chart(f"Rows per {wr.window} window", wr, {"rows": counts}, y_label="rows", shown=shown,
                       thresholds=[{"value": typical, "label": "typical (baseline median)"}] +
                                  [{"value": typical * getattr(ctx.options, k), "label": f"{what} {getattr(ctx.options, k):g}x"}
                                   for k, what in lines if getattr(ctx.options, k) is not None], combine="extremes")
    in_base = set(base)
    rows = [[labels[i], counts[i], ratios[i], statuses[i] or ("baseline" if i in in_base else "not graded")]
            for i in range(len(counts))]
    yield ctx.result(
        value=ratios[worst_at] if worst_at is not None else None, status=status, message=message,
        threshold=Threshold(warn=ctx.options.warn_below, fail=ctx.options.fail_below, direction="below"),
        metrics={"window": str(wr.window), "windows": len(counts), "windows_judged": len(judged),
                 "typical_rows": typical, "baseline": source, "baseline_windows": len(base),
                 "latest_rows": counts[-1], "latest_ratio": ratios[-1],
                 "worst_window": labels[worst_at] if worst_at is not None else None,
                 "first_flagged_window": labels[flagged[0]] if flagged else None, "flagged_windows": len(flagged),
                 "gaps": len(gaps), "gap_windows": some(gaps) if gaps else None,
                 "dips": sum(1 for i in flagged if ratios[i] is not None and ratios[i] < 1),
                 "spikes": sum(1 for i in flagged if ratios[i] is not None and ratios[i] > 1),
                 "rows_after_as_of": wr.rows_after_as_of, "rows_without_timestamp": wr.rows_without_timestamp},
        evidence={"charts": [chart], "sql": [*wr.sql, sql],
                  "tables": [window_table("Rows per window", ["window", "rows", "ratio_to_typical", "status"], rows,
                                          shown=shown)]},
    )


def _severity(status: Status | None) -> int:
    return {"fail": 2, "warn": 1}.get(status or "", 0)


def _log_ratio(ratio: float) -> float:
    return math.inf if ratio <= 0 else math.log(ratio)
