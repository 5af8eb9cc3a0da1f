"""Deployment: the prediction log by time window: latency, model versions, freshness.

Every windowed check reads the log (`datasets.predictions`, else `current`) through the
same `WindowRange` (auditor/engine/windows.py): every window of `monitoring.window` from the
log's first row to the as-of time is analysed; `max_windows` only limits the windows shown in
charts and tables (the newest). Each check is one GROUP BY over the window position, never
one query per window.

What is graded, and why (the same rule in every windowed check):
- latency, drift and performance grade the *latest* window with data: a nightly run
  reports the state now, and names the first window where the problem began, so an
  old incident that has recovered does not keep failing every night;
- volume (auditor/checks/deployment_volume.py) grades *every* window after its baseline: a gap
  or dip in the log is a hole in what all the other checks could see, however long ago.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from pydantic import Field

from auditor.audit.context import CheckContext
from auditor.audit.options import NonNegative, PositiveNumber, Rate
from auditor.audit.registry import check
from auditor.audit.windowed import (
    MAX_SERIES,
    WindowedOptions,
    latest,
    line_chart,
    over_windows,
    query_windows,
    window_table,
)
from auditor.engine.sources import Dataset
from auditor.engine.sql import is_float, is_numeric, quote_ident
from auditor.engine.windows import WindowRange, window_label, window_quantiles
from auditor.report import CheckResult, Threshold, grade


def valid_number(column: str, duck_type: str) -> str:
    c = quote_ident(column)
    return f"{c} IS NOT NULL AND NOT isnan({c})" if is_float(duck_type) else f"{c} IS NOT NULL"

LATENCY_PROBABILITIES = (0.5, 0.95, 0.99)


class LatencyOptions(WindowedOptions):
    budget_ms: PositiveNumber | None = Field(None, description="p95 budget (default: the card's deployment.latency_budget_ms)")
    warn_fraction: Rate = Field(0.8, description="p95 over this fraction of the budget warns")


@check("deployment.latency", title="Latency over time", options=LatencyOptions, needs=("predictions", "latency"))
@over_windows
def latency(ctx: CheckContext, log: Dataset, wr: WindowRange) -> Iterator[CheckResult]:
    """p50/p95/p99 latency per window against the latency budget: p95 over it fails, over 80% of it warns."""
    col = log.column(ctx.roles.latency)
    deployment = ctx.config.project.deployment
    budget = ctx.options.budget_ms or (deployment.latency_budget_ms if deployment else None)
    if col is None or not is_numeric(col.type):
        yield ctx.skip(f"Skipped: the log has no numeric latency column '{ctx.roles.latency}'.")
        return
    if not budget:
        yield ctx.skip("Skipped: no latency budget (project.deployment.latency_budget_ms or budget_ms).")
        return
    found, sql = window_quantiles(ctx.engine, wr, quote_ident(col.name), valid_number(col.name, col.type),
                                  LATENCY_PROBABILITIES)
    p50, p95, p99, counts = ([None] * len(wr.starts) for _ in range(4))
    for i, n, q in found:
        counts[i], (p50[i], p95[i], p99[i]) = int(n), q
    threshold = Threshold(warn=ctx.options.warn_fraction * budget, fail=float(budget))
    statuses = [grade(v, threshold) if v is not None else None for v in p95]
    labels = wr.labels()
    first_over = next((labels[i] for i, s in enumerate(statuses) if s == "fail"), None)
    first_warn = next((labels[i] for i, s in enumerate(statuses) if s in ("warn", "fail")), None)
    last = latest(p95)
    shown = ctx.options.max_windows
    chart = line_chart(f"{col.name} per window (ms)", wr, {"p50": p50, "p95": p95, "p99": p99}, shown=shown,
                       thresholds=[{"value": float(budget), "label": f"budget {budget:g} ms"},
                                   {"value": threshold.warn, "label": f"{ctx.options.warn_fraction:.0%} of budget"}],
                       y_label="ms")
    rows = [[labels[i], counts[i], p50[i], p95[i], p99[i], statuses[i]] for i in range(len(labels))]
    evidence = {"charts": [chart], "sql": [*wr.sql, sql],
                "tables": [window_table("Latency per window", ["window", "rows", "p50", "p95", "p99", "status"], rows,
                                        shown=shown)]}
    metrics = {"budget_ms": float(budget), "window": str(wr.window), "windows": len(labels),
               "latest_window": labels[last] if last is not None else None,
               "p50_latest": p50[last] if last is not None else None,
               "p99_latest": p99[last] if last is not None else None,
               "first_over_budget_window": first_over, "first_warn_window": first_warn,
               "windows_over_budget": statuses.count("fail"), "p95_max": max((v for v in p95 if v is not None),
                                                                             default=None)}
    if last is None:
        yield ctx.result(status="skip", message=f"No latency was logged in '{col.name}' in the audited windows.",
                         metrics=metrics, evidence=evidence)
        return
    value, status = p95[last], statuses[last]
    message = f"p95 latency was {value:,.0f} ms in the window of {labels[last]}, against a {budget:g} ms budget"
    if first_over:
        since = "since" if all(s == "fail" for s in statuses[labels.index(first_over):last + 1] if s) else "first in"
        first_logged = " (the log's first)" if first_over == labels[next(i for i, v in enumerate(p95) if v is not None)] else ""
        message += f"; it went over the budget {since} the window of {first_over}{first_logged}."
    else:
        message += "; no window went over it."
    yield ctx.result(value=value, status=status, threshold=threshold, message=message, metrics=metrics,
                     evidence=evidence, columns=[col.name])


def _age(hours: float) -> str:
    return f"{hours * 60:.0f} minutes" if hours < 1 else f"{hours:,.1f} hours"


REFERENCE_VERSIONS_SQL = "SELECT DISTINCT coalesce({version}::VARCHAR, '(missing)') FROM {view} ORDER BY 1 LIMIT 1000"


@check("deployment.model_versions", title="Model versions", options=WindowedOptions,
       needs=("predictions", "model_version"))
@over_windows
def model_versions(ctx: CheckContext, log: Dataset, wr: WindowRange) -> Iterator[CheckResult]:
    """The mix of model versions per window; a version the reference never saw warns, naming where it appeared."""
    name = ctx.roles.model_version
    if log.column(name) is None:
        yield ctx.skip(f"Skipped: the log has no model version column '{name}'.")
        return
    sql = wr.rows_sql(name)
    labels = wr.labels()
    per_window: dict[str, list[int]] = {}
    totals = [0] * len(labels)
    for i, version, n in query_windows(ctx, wr, sql):
        per_window.setdefault(version, [0] * len(labels))[i] = int(n)
        totals[i] += int(n)
    statements = [*wr.sql, sql]
    ref = ctx.dataset("reference")
    known: set[str] | None = None
    if ref is not None and ref.column(name) is not None:
        ref_sql = REFERENCE_VERSIONS_SQL.format(version=quote_ident(name), view=ref.view)
        known = {r[0] for r in ctx.engine.query(ref_sql)}
        statements.append(ref_sql)
    shares = {v: [n / t if t else None for n, t in zip(counts, totals, strict=True)] for v, counts in per_window.items()}
    first_seen = {v: next(i for i, n in enumerate(c) if n) for v, c in per_window.items()}
    last = latest([t or None for t in totals])
    ordered = sorted(per_window, key=lambda v: (first_seen[v], v))
    shown = ctx.options.max_windows
    chart = line_chart(f"Share of predictions per model version, per {wr.window}", wr,
                       {v: shares[v] for v in ordered[-MAX_SERIES:]}, y_label="share of rows", shown=shown, combine="mean")
    rows = [[labels[i], *[per_window[v][i] for v in ordered]] for i in range(len(labels))]
    mix = window_table("Rows per window and version", ["window", *ordered], rows, shown=shown)
    for version in ordered:
        new = version not in known if known is not None else first_seen[version] > 0
        share = shares[version][last] if last is not None else None
        since = labels[first_seen[version]]
        if known is not None:
            where = "the reference never saw it" if new else "the reference has it"
        else:
            where = ("the reference has no version column, and it was first seen after the first window" if new
                     else "it was there from the first window")
        served = f"{share:.0%} of predictions" if share is not None else "no predictions"
        message = (f"Version '{version}' {'appeared' if new else 'was present'} in the window of {since} ({where}); "
                   f"it served {served} in the latest window.")
        yield ctx.result(
            subject=version, value=share, status="warn" if new else "pass", message=message,
            columns=[ctx.roles.model_version] if ctx.roles.model_version else [],
            metrics={"first_seen_window": since, "last_seen_window": labels[latest([n or None for n in per_window[version]])],
                     "in_reference": None if known is None else version in known, "new_version": new,
                     "rows": sum(per_window[version]), "latest_window": labels[last] if last is not None else None},
            evidence={"charts": [chart] if version == ordered[-1] else [], "tables": [mix], "sql": statements},
        )


class LogFreshnessOptions(WindowedOptions):
    warn: NonNegative | None = Field(24, description="hours since the newest logged prediction that warn")
    fail: NonNegative | None = Field(72, description="hours since the newest logged prediction that fail")


@check("deployment.freshness", title="Prediction log freshness", options=LogFreshnessOptions,
       needs=("predictions",))
@over_windows
def freshness(ctx: CheckContext, log: Dataset, wr: WindowRange) -> Iterator[CheckResult]:
    """Hours between the newest logged prediction and the as-of time (warn 24 h, fail 72 h)."""
    newest: datetime = wr.newest
    hours = (wr.as_of - newest).total_seconds() / 3600
    threshold = ctx.threshold()
    after = f" {wr.rows_after_as_of:,} rows dated at or after it were left out." if wr.rows_after_as_of else ""
    yield ctx.result(
        value=hours, threshold=threshold,
        message=f"The newest prediction is from {newest:%Y-%m-%d %H:%M}, {_age(hours)} before the as-of "
                f"time {wr.as_of:%Y-%m-%d %H:%M}.{after}{ctx.as_of_hint(newest)}",
        metrics={"newest": newest.isoformat(), "as_of": wr.as_of.isoformat(), "hours": hours,
                 "rows_after_as_of": wr.rows_after_as_of, "newest_window": window_label(newest, wr.window)},
        evidence={"sql": list(wr.sql)},
    )
