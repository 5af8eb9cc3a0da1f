"""Deployment: multivariate drift, a change in how the numeric features move together.

Every feature may keep its distribution while their relation changes (NannyML's "butterfly": two
features whose correlation flips). PCA reconstruction error catches it: components fitted on the
reference reconstruct reference-like rows well, and rows whose features relate differently badly.
auditor.stats.reconstruction computes it from SQL aggregates, as NannyML's
DataReconstructionDriftCalculator does (mean imputation, standard scaling, 65% of the variance).

Grading, as NannyML's thresholds: the reference is cut into chunks (equal spans of its timestamp,
else rows spread by a hash of their values, the same on every engine), each chunk's mean error is
computed, and a mean error further than `warn` standard deviations of those chunk means from their
mean warns (`fail`: fails). NannyML compares chunks of equal size; here current and the windows have
their own sizes, so the spread is scaled to the rows compared (a mean over n rows spreads as 1/√n: a
window of a quarter of a chunk's rows may lie twice as far). The value is that distance in standard
deviations, for current and for each window of the prediction log (the latest window with `min_rows`
rows is graded, and the first window past a line is named).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from pydantic import Field

from auditor.audit.context import CheckContext
from auditor.audit.options import NonNegative, Probability, Size
from auditor.audit.registry import check
from auditor.audit.windowed import WindowedOptions, latest, log_windows, query_windows
from auditor.engine import long_form
from auditor.engine.sources import Dataset
from auditor.engine.sql import is_numeric
from auditor.report import CheckResult, Threshold, grade, table
from auditor.stats import reconstruction as rc

TIME_SPAN_SQL = "SELECT epoch_us(min({ts})), epoch_us(max({ts})) FROM {view}"
TIME_CHUNK = "least(CAST(floor((epoch_us({ts}) - $mv_t0) * $mv_chunks / $mv_span) AS INTEGER), $mv_chunks - 1)"
# Without a timestamp, rows are spread over the chunks by a hash of their standardised values, written in
# arithmetic every engine evaluates alike (DuckDB's hash() and Spark's differ, so the chunks, the band and
# the grade did): each value in millionths (clamped, so never infinite), folded modulo a prime. Every step
# is a whole number under 2^53, so exact in doubles (DuckDB) and in longs (Spark's floor is a BIGINT).
SPREAD_PRIME, SPREAD_BASE = 1_000_003, 1_000_033
SPREAD_CHUNK = (f"CAST(abs(list_reduce(list_transform({{row}}, lambda v: floor(least(greatest(v, -1e9), 1e9) * 1e6) "
                f"% {SPREAD_PRIME}), lambda h, t: (h * {SPREAD_BASE} + t) % {SPREAD_PRIME})) % $mv_chunks AS INTEGER)")


class MultivariateDriftOptions(WindowedOptions):
    warn: NonNegative | None = Field(3.0, description="standard deviations of the reference chunks' mean error "
                                                      "from their mean that warn")
    fail: NonNegative | None = Field(6.0, description="standard deviations that fail")
    variance_kept: Probability = Field(0.65, description="share of the reference's variance the kept components explain")
    max_features: Size = Field(50, description="the numeric features with the largest variance that are used (fewer "
                               "when reading them together would not fit the engine's memory limit)")
    chunks: int = Field(10, ge=2, description="reference chunks whose spread grades the error")
    min_rows: Size = Field(500, description="windows with fewer rows are not graded")


@check("deployment.multivariate_drift", title="Multivariate drift", options=MultivariateDriftOptions,
       needs=("reference", "current"))
def multivariate_drift(ctx: CheckContext) -> Iterator[CheckResult]:
    """How numeric features move together: PCA reconstruction error against the reference's chunks (NannyML's method)."""
    reference, current = ctx.dataset("reference"), ctx.dataset("current")
    features = _features(ctx, reference, current)
    if len(features.columns) < 2:
        yield ctx.skip("Skipped: multivariate drift needs at least two numeric features that vary in the reference.")
        return
    opts, k = ctx.options, len(features.columns)
    row, row_params = rc.standardised_row(features)
    cov_sql = rc.covariance_sql(k, row, reference.view)
    fitted = rc.components(list(ctx.engine.query_one(cov_sql, row_params)), k, opts.variance_kept)
    group, group_params, chunking = _chunks(ctx, reference, row)
    ref_sql, ref_params = rc.errors_sql(row, fitted, view=reference.view, group=group)
    chunked = ctx.engine.query(ref_sql, {**row_params, **ref_params, **group_params})
    chunk_errors = [e for _, e, _ in chunked]
    cur_sql, cur_params = rc.errors_sql(row, fitted, view=current.view, group="0")
    _, current_error, current_rows = ctx.engine.query(cur_sql, {**row_params, **cur_params})[0]
    mean = sum(chunk_errors) / len(chunk_errors)
    sd = math.sqrt(sum((e - mean) ** 2 for e in chunk_errors) / (len(chunk_errors) - 1)) if len(chunk_errors) > 1 else 0
    band = Band(mean, sd, sum(n for *_, n in chunked) / len(chunked))
    threshold = ctx.threshold()
    statements = [cov_sql, ref_sql, cur_sql]
    metrics = {"features": k, "components": fitted.kept,
               "explained_variance": float(fitted.explained[: fitted.kept].sum()),
               "reference_error_mean": mean, "reference_error_sd": sd, "reference_chunks": len(chunk_errors),
               "reference_chunk_rows": band.rows, "chunking": chunking, "current_error": current_error,
               "current_rows": current_rows, "upper_threshold": band.line(opts.warn, +1, current_rows),
               "lower_threshold": band.line(opts.warn, -1, current_rows)}
    labels = [f"reference {i + 1}" for i in range(len(chunk_errors))] + ["current"]
    chart = line_chart_of("Reconstruction error: reference chunks, then current", labels,
                          chunk_errors + [current_error], band, opts, band.rows)
    evidence = {"tables": [_feature_table(features, fitted)], "charts": [chart], "sql": statements}
    yield ctx.result(subject="current", value=band.distance(current_error, current_rows), threshold=threshold,
                     metrics=metrics, evidence=evidence, columns=features.columns,
                     message=_message("current", current_error, current_rows, band, k, fitted.kept))
    if "predictions" in ctx.run.datasets:
        yield from _over_time(ctx, features, fitted, row, row_params, band, threshold, statements[:2])


class Band:
    """The reference chunks' mean error and its spread: how far a mean error over n rows is from them."""

    def __init__(self, mean: float, sd: float, rows: float) -> None:
        self.mean, self.sd, self.rows = mean, sd, rows  # rows: of a reference chunk, on average

    def spread(self, rows: float) -> float:
        return self.sd * math.sqrt(self.rows / rows) if rows else math.inf

    def distance(self, error: float | None, rows: float) -> float | None:
        if error is None or not self.sd:
            return None  # no spread to measure against: undefined, not graded
        return abs(error - self.mean) / self.spread(rows)

    def line(self, sigmas: float | None, side: int, rows: float) -> float | None:
        return None if sigmas is None else self.mean + side * sigmas * self.spread(rows)


def line_chart_of(title: str, labels: list[str], values: list[float | None], band: Band, opts, rows: float) -> dict:
    lines = [{"value": band.line(opts.warn, side, rows), "label": f"{'upper' if side > 0 else 'lower'} warn line"}
             for side in (+1, -1) if opts.warn is not None]
    return {"kind": "line", "title": title, "x": labels, "series": {"mean error": values}, "thresholds": lines,
            "y_label": "reconstruction error"}


def _features(ctx: CheckContext, reference: Dataset, current: Dataset) -> rc.Standardised:
    """Numeric features in both datasets that vary in the reference, the `max_features` of largest variance."""
    summary = ctx.summary("reference")
    skip = set(ctx.roles.role_columns.values())
    found = []
    for name in ctx.roles.features:
        s = summary.get(name)
        if name in skip or s is None or not is_numeric(s.type) or current.column(name) is None:
            continue
        valid = s.rows - s.nulls - s.infinite
        if not valid or not s.std or not math.isfinite(s.std):
            continue
        # Imputing the mean adds rows at the mean: the population sd of the imputed column (StandardScaler's).
        found.append((s.std ** 2, name, s.mean, s.std * math.sqrt(valid / s.rows)))
    found.sort(key=lambda f: (-f[0], f[1]))
    # Every statement reads all the features at once: no more than reading them allows (Parquet row groups
    # of many rows hold a few MB a column: auditor.engine.base.READ_SHARE).
    read = ctx.engine.read_shares(reference.view, current.view)
    found = long_form.batches(found, most=ctx.options.max_features, read=lambda f: read(f[1]))[0] if found else []
    return rc.Standardised(columns=tuple(f[1] for f in found), means=tuple(f[2] for f in found),
                           scales=tuple(f[3] for f in found))


def _chunks(ctx: CheckContext, reference: Dataset, row: str) -> tuple[str, dict, str]:
    """The SQL naming each reference row's chunk: equal spans of the timestamp when it has one, else a hash."""
    n = ctx.options.chunks
    ts = ctx.run.timestamps.get(reference.name)  # the run's one reading of the timestamp (text included)
    if ts is not None:
        sql = TIME_SPAN_SQL.format(ts=ts.sql, view=reference.view)
        t0, t1 = ctx.engine.query_one(sql, ts.params or None)
        if t0 is not None and t1 > t0:
            return (TIME_CHUNK.format(ts=ts.sql), {"mv_t0": t0, "mv_span": t1 - t0 + 1, "mv_chunks": n, **ts.params},
                    f"{n} equal spans of '{ts.column}'")
    return SPREAD_CHUNK.format(row=row), {"mv_chunks": n}, f"{n} chunks of rows spread by a hash of their values"


def _over_time(ctx: CheckContext, features: rc.Standardised, fitted: rc.Components, row: str, row_params: dict,
               band: Band, threshold: Threshold, reference_sql: list[str]) -> Iterator[CheckResult]:
    found = log_windows(ctx)
    if isinstance(found, CheckResult):
        yield found
        return
    log, wr = found
    if any(log.column(c) is None for c in features.columns):
        missing = [c for c in features.columns if log.column(c) is None]
        yield ctx.skip(f"Skipped over time: the {log.name} data lacks {', '.join(missing[:5])}.", subject="over time")
        return
    sql, params = rc.errors_sql(row, fitted, view=log.view, group=wr.position(), where=wr.filter())
    rows = query_windows(ctx, wr, sql, **row_params, **params)
    labels = wr.labels()
    errors: list[float | None] = [None] * len(labels)
    counts = [0] * len(labels)
    for position, error, n in rows:
        errors[position], counts[position] = error, n
    distances = [band.distance(e, counts[i]) for i, e in enumerate(errors)]
    statuses = [grade(distances[i], threshold) if e is not None and counts[i] >= ctx.options.min_rows else None
                for i, e in enumerate(errors)]
    last = latest(statuses)
    first = next((i for i, s in enumerate(statuses) if s in ("warn", "fail")), None)
    typical = sorted(counts)[len(counts) // 2] or band.rows  # the lines drawn for the median window's rows
    chart = line_chart_of(f"Reconstruction error per {wr.window} window", labels, errors, band, ctx.options, typical)
    table_rows = [[labels[i], counts[i], errors[i], distances[i], statuses[i] or "not graded"]
                  for i in range(len(labels))]
    evidence = {"tables": [table("Reconstruction error per window", ["window", "rows", "mean_error", "sd_from_reference",
                                                                     "status"], table_rows)],
                "charts": [chart], "sql": [*wr.sql, *reference_sql, sql]}
    metrics = {"window": str(wr.window), "windows": len(labels), "graded_windows": sum(1 for s in statuses if s),
               "latest_window": labels[last] if last is not None else None,
               "error_latest": errors[last] if last is not None else None,
               "first_crossed_window": labels[first] if first is not None else None,
               "reference_error_mean": band.mean, "reference_error_sd": band.sd}
    if last is None:
        yield ctx.result(subject="over time", status="skip", metrics=metrics, evidence=evidence, columns=features.columns,
                         message=f"No window has {ctx.options.min_rows:,} rows (min_rows), so the multivariate "
                                 "drift over time is not graded.")
        return
    message = _message(f"the window of {labels[last]}", errors[last], counts[last], band, len(features.columns),
                       fitted.kept)
    if first is not None:
        message = message.rstrip(".") + f"; it first crossed a line in the window of {labels[first]}."
    yield ctx.result(subject="over time", value=distances[last], status=statuses[last],
                     threshold=threshold, metrics=metrics, evidence=evidence, columns=features.columns,
                     dataset=log.name, message=message)


def _message(where: str, error: float | None, rows: int, band: Band, k: int, kept: int) -> str:
    base = (f"over {k} numeric features and {kept} component{'s' if kept != 1 else ''} fitted on the reference "
            f"(reference chunks: {band.mean:.4g} ± {band.sd:.2g})")
    if error is None:
        return f"No reconstruction error in {where}, {base}."
    distance = band.distance(error, rows)
    if distance is None:
        return f"The mean reconstruction error in {where} is {error:.4g}, {base}; the chunks do not vary, so it is not graded."
    side = "above" if error >= band.mean else "below"
    return (f"The mean reconstruction error in {where} is {error:.4g}, {distance:.1f} standard deviations {side} the "
            f"reference's, {base}.")


def _feature_table(features: rc.Standardised, fitted: rc.Components) -> dict:
    rows = [[c, m, s, *(float(fitted.vectors[i, j]) for j in range(min(fitted.kept, 3)))]
            for i, (c, m, s) in enumerate(zip(features.columns, features.means, features.scales, strict=True))]
    return table("Features, their imputed mean and scale, and their weight in the first components",
                 ["feature", "mean", "scale", *[f"component_{j + 1}" for j in range(min(fitted.kept, 3))]], rows)
