"""Does the data arrive: data.freshness (the newest row's age) and data.volume (rows against the reference)."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field, model_validator

from auditor.audit.context import CheckContext
from auditor.audit.options import CheckOptions, Count, Hours, NonNegative
from auditor.audit.registry import check
from auditor.engine.windows import naive_utc
from auditor.report import CheckResult, table, worst

# ---------------------------------------------------------------- data.freshness

FRESHNESS_SQL = "SELECT max({ts}) FROM {view}"


class FreshnessOptions(CheckOptions):
    warn: Hours | None = Field(24, description="hours since the newest row that warn")
    fail: Hours | None = Field(72, description="hours since the newest row that fail")


@check("data.freshness", title="Data freshness", options=FreshnessOptions, needs=("current", "timestamp"))
def freshness(ctx: CheckContext) -> Iterator[CheckResult]:
    """Hours between the newest timestamp in current and the run's as-of time: warn 24, fail 72."""
    ds, ts = ctx.dataset("current"), ctx.run.timestamps.get("current")
    if ts is None:  # a log-only timestamp: deployment.freshness watches the prediction log
        yield ctx.skip(f"Skipped: current has no '{ctx.roles.timestamp}' column.")
        return
    sql = FRESHNESS_SQL.format(ts=ts.sql, view=ds.view)
    (newest,) = ctx.engine.query_one(sql, ts.params or None)
    if newest is None:
        yield ctx.skip(f"Skipped: '{ts.column}' has no values in current.")
        return
    hours = (naive_utc(ctx.as_of) - newest).total_seconds() / 3600
    parsed = f", read as {ts.parsed}" if ts.parsed else ""
    metrics = {"newest": newest.isoformat(sep=" "), "as_of": ctx.as_of.isoformat(), "age_hours": hours}
    if hours < 0:
        yield ctx.result(status="warn", value=hours, metrics=metrics, evidence={"sql": [sql]},
                         message=f"The newest '{ts.column}' ({newest:%Y-%m-%d %H:%M}) is {-hours:,.1f} hours "
                                 f"after the as-of time{parsed}.")
        return
    yield ctx.result(value=hours, threshold=ctx.threshold(), metrics=metrics, evidence={"sql": [sql]},
                     message=f"The newest row of current is {hours:,.1f} hours old ({newest:%Y-%m-%d %H:%M} in "
                             f"'{ts.column}'{parsed}).{ctx.as_of_hint(newest)}")


# ---------------------------------------------------------------- data.volume

RatioRange = tuple[NonNegative, NonNegative]


class VolumeOptions(CheckOptions):
    warn_ratio: RatioRange = Field((0.5, 2.0), description="current rows over the reference's outside [low, high] warn")
    fail_ratio: RatioRange = Field((0.2, 5.0), description="current rows over the reference's outside [low, high] fail")
    min_rows: Count | None = Field(None, description="fewer rows in current fail")

    @model_validator(mode="after")
    def _ranges(self) -> VolumeOptions:
        for name in ("warn_ratio", "fail_ratio"):
            low, high = getattr(self, name)
            if low > high:
                raise ValueError(f"{name}: the low end ({low:g}) is above the high end ({high:g})")
        (warn_low, warn_high), (fail_low, fail_high) = self.warn_ratio, self.fail_ratio
        if fail_low > warn_low or fail_high < warn_high:
            raise ValueError(f"fail_ratio [{fail_low:g}, {fail_high:g}] must contain warn_ratio "
                             f"[{warn_low:g}, {warn_high:g}]: a ratio that fails must also be one that warns")
        return self


@check("data.volume", title="Data volume", options=VolumeOptions, needs=("current",))
def volume(ctx: CheckContext) -> Iterator[CheckResult]:
    """Rows in current against the reference (ratio outside 0.5-2 warns, 0.2-5 fails) and a minimum."""
    cur, ref = ctx.dataset("current"), ctx.dataset("reference")
    opts = ctx.options
    ratio = cur.rows / ref.rows if ref is not None and ref.rows else None
    statuses, reasons = ["pass"], []
    if ratio is not None:
        for status, (low, high) in (("fail", opts.fail_ratio), ("warn", opts.warn_ratio)):
            if not low <= ratio <= high:
                statuses.append(status)
                reasons.append(f"{ratio:.2f}× the reference's {ref.rows:,} rows, outside [{low}, {high}]")
                break
    if opts.min_rows is not None and cur.rows < opts.min_rows:
        statuses.append("fail")
        reasons.append(f"under the minimum of {opts.min_rows:,}")
    status = worst(statuses)
    if reasons:
        message = f"current has {cur.rows:,} rows: " + "; ".join(reasons) + "."
    elif ratio is not None:
        message = f"current has {cur.rows:,} rows, {ratio:.2f}× the reference's {ref.rows:,}."
    else:
        message = f"current has {cur.rows:,} rows (no reference to compare with)."
    rows = [[d.name, d.rows] for d in (ref, cur) if d is not None]
    yield ctx.result(status=status, value=ratio if ratio is not None else cur.rows, message=message,
                     metrics={"rows_current": cur.rows, "rows_reference": ref.rows if ref else None, "ratio": ratio,
                              "min_rows": opts.min_rows},
                     evidence={"tables": [table("Rows per dataset", ["dataset", "rows"], rows)],
                               "sql": [f"SELECT count(*) FROM {d.view}" for d in (ref, cur) if d is not None]})
