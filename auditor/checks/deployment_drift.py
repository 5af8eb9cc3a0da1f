"""Deployment: drift of each feature and of the score, window by window, against the reference.

Bounded scans whatever the number of windows: the reference's PSI cut points (deciles, ±inf
ranked as values, as auditor.stats.column_drift ranks them) come from auditor.engine.quantiles, located once per
run for every numeric column and shared with the other checks that need reference quantiles.
The reference's rows per PSI bin are read off those located cells and fetched values, its
categories off the run's exact value counts (one scan counts any others, and any bin the cells
cannot tell), then ONE query
over the log counts, for every window at once, the rows per PSI bin (or category) of every
column (GROUPING SETS of (window, column's bin)).
PSI and Jensen-Shannon per (window, column) are computed in Python by auditor.stats.distances on
those small tables.

Grading: a numeric column on PSI (warn 0.1, fail 0.25), a categorical one on the worse
of PSI and JS distance (warn 0.1, fail 0.2). A window is graded only with at least
`min_rows` values: PSI of a few hundred rows is mostly noise (its expectation under no
drift is about (bins - 1) / rows). Each column's result takes the latest graded window
(see auditor/checks/deployment.py for why the latest), and names the first window that
crossed a line.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import Field

from auditor.audit.context import CheckContext
from auditor.audit.options import Lines, Probability, Size
from auditor.audit.registry import check
from auditor.audit.windowed import WindowedOptions, over_windows, query_windows, reference_end, window_table
from auditor.audit.wording import some
from auditor.engine import quantiles
from auditor.engine.binning import bin_search
from auditor.engine.sources import Dataset
from auditor.engine.sql import is_numeric, is_temporal, quote_ident
from auditor.engine.value_counts import countable, value_counts
from auditor.engine.windows import WindowRange
from auditor.report import SEVERITY, CheckResult, Status, Threshold, grade, worst
from auditor.stats import distances as stats
from auditor.stats.column_drift import DriftColumn, Kind, missing_condition

# GROUPING SETS ((window, k0), (window, k1), ...): one scan, one small group per (window, column, bin).
# Measured on 10M rows x 9 columns, about twice as fast as one histogram() per column.
WINDOW_COUNTS_SQL = """SELECT window_index, GROUPING_ID({keys}) AS grouping_set, {keys}, count(*) AS n
FROM (SELECT {position} AS window_index, {key_exprs} FROM {view} WHERE {in_range})
GROUP BY GROUPING SETS ({sets})"""
REFERENCE_COUNTS_SQL = """SELECT NULL AS window_index, GROUPING_ID({keys}) AS grouping_set, {keys}, count(*) AS n
FROM (SELECT {key_exprs} FROM {view})
GROUP BY GROUPING SETS ({sets})"""


def counts_sql(template: str, columns: list[DriftColumn], cuts: dict[str, list[float]], *, windowed: bool,
               **fmt: str) -> tuple[str, dict[str, Any]]:
    """A statement counting rows per PSI bin (numeric) or category of every column; a missing value is NULL."""
    exprs, params = [], {}
    for i, col in enumerate(columns):
        c = quote_ident(col.name)
        if col.kind == "numeric":
            names = [f"cut_{i}_{j}" for j in range(len(cuts[col.name]))]
            params.update(zip(names, cuts[col.name], strict=True))
            binned = bin_search(f"{c}::DOUBLE", names)
        else:
            binned = f"{c}::VARCHAR"  # categories compared as text, as auditor.stats.column_drift does
        exprs.append(f"CASE WHEN {missing_condition(col)} THEN NULL ELSE {binned} END AS k{i}")
    keys = ", ".join(f"k{i}" for i in range(len(columns)))
    sets = ", ".join(f"(window_index, k{i})" if windowed else f"(k{i})" for i in range(len(columns)))
    return template.format(keys=keys, key_exprs=", ".join(exprs), sets=sets, **fmt), params


def read_counts(rows: list[tuple], columns: list[DriftColumn]) -> dict[tuple[Any, str], dict]:
    """(window, column) -> {bin or category: rows}, from the grouping-set rows; missing values left out."""
    out: dict[tuple[Any, str], dict] = {}
    n = len(columns)
    for row in rows:
        window, grouping_set, keys, count = row[0], row[1], row[2:2 + n], row[2 + n]
        j = format(grouping_set, f"0{n}b").index("0")  # the one key this grouping set groups by
        if keys[j] is not None:
            out.setdefault((window, columns[j].name), {})[keys[j]] = int(count)
    return out


def reference_bins(ctx: CheckContext, view: str, columns: list[DriftColumn], cuts: dict[str, list[float]]
                   ) -> tuple[dict[str, dict], list[str]]:
    """The reference's counts per bin or category of each column, cached in the run: the categories of
    integer and text columns from the run's exact value counts (auditor.engine.value_counts; data.profile has
    usually counted them already), the rest from one scan."""
    reference = ctx.dataset("reference")
    columns = [DriftColumn(c.name, reference.column(c.name).type, c.kind) for c in columns]  # its own NaN test
    key = ("deployment.reference_bins", view, tuple(columns))
    if key not in ctx.run.cache:
        # Categories compared as text, as the log's are: str(v) is v::VARCHAR for integers and text.
        counted = [c for c in columns if c.kind == "categorical" and countable(c.type)]
        found, statements = value_counts(ctx.engine, reference, [c.name for c in counted], cache=ctx.run.cache)
        bins = {name: {str(v): n for v, n in counts.items()} for name, counts in found.items()}
        scanned = [c for c in columns if c not in counted]
        if scanned:
            sql, params = counts_sql(REFERENCE_COUNTS_SQL, scanned, cuts, windowed=False, view=view)
            rows = read_counts(ctx.engine.query(sql, params), scanned)
            bins.update({col.name: rows.get((None, col.name), {}) for col in scanned})
            statements.append(sql)
        ctx.run.cache[key] = (bins, statements)
    return ctx.run.cache[key]


def located_bins(located: quantiles.Located, cuts: list[float]) -> dict[int, int] | None:
    """The reference's rows per PSI bin of a numeric column, read off its located cells and fetched deciles
    (±inf in the open outer bins) without another scan; None when a cut falls inside a tie run not fetched."""
    at_most = [quantiles.finite_at_most(located, cut) for cut in cuts]
    if any(n is None for n in at_most):
        return None
    cumulative = [0, *(located.negative_infinite + n for n in at_most), located.values(infinite=True)]
    return {j: high - low for j, (low, high) in enumerate(itertools.pairwise(cumulative)) if high > low}


def drift_columns(ctx: CheckContext, log, reference) -> tuple[list[DriftColumn], list[CheckResult]]:
    """The features and the score that both the log and the reference have; skips for the others (a column
    missing on a side, a category column with more values than deployment.feature_drift compares)."""
    skip_roles = {ctx.roles.id, ctx.roles.timestamp} - {None}
    names = [f for f in ctx.roles.features if f not in skip_roles]
    if ctx.roles.score and ctx.roles.score not in names:
        names.append(ctx.roles.score)
    columns, skipped = [], []
    for name in names:
        col, ref_col = log.column(name), reference.column(name)
        if col is None or ref_col is None:
            where = "log" if col is None else "reference"
            skipped.append(ctx.skip(f"'{name}' is not in the {where} data, so its drift over time cannot be measured.",
                                    subject=name))
            continue
        if is_temporal(col.type):
            continue
        numeric = is_numeric(col.type) and is_numeric(ref_col.type)
        kind: Kind = "categorical" if ctx.roles.is_categorical(name) or not numeric else "numeric"
        if name == ctx.roles.score and numeric:
            kind = "numeric"
        columns.append(DriftColumn(name, col.type, kind))  # the log's type: NaN is missing where the log has floats
    categorical = [c.name for c in columns if c.kind == "categorical"]
    if categorical:
        # Decided on reference and current as deployment.feature_drift decides (the same statement, run once).
        limit = ctx.options.max_categories
        found = ctx.distinct_values(["reference", "current"], categorical)
        many = {n for n in categorical if any(side.get(n, 0) > limit for side in found.values())}
        skipped += [ctx.skip(f"'{n}' has more than {limit:,} distinct values (max_categories); category drift is not "
                             "meaningful there.", subject=n) for n in categorical if n in many]
        columns = [c for c in columns if c.name not in many]
    return columns, skipped


def window_drift(kind: Kind, reference_bins: dict, window_bins: dict, n_bins: int
                 ) -> tuple[float | None, float | None, float | None]:
    """PSI, JS distance and the chi-square p-value of one window against the reference, on the reference's
    bins or the union of categories."""
    keys = list(range(n_bins)) if kind == "numeric" else sorted(set(reference_bins) | set(window_bins))
    ref = [int(reference_bins.get(k, 0)) for k in keys]
    cur = [int(window_bins.get(k, 0)) for k in keys]
    present = [(r, c) for r, c in zip(ref, cur, strict=True) if r or c]  # a bin empty on both sides tests nothing
    chi = stats.chi_square([r for r, _ in present], [c for _, c in present])
    return stats.psi(ref, cur), stats.js_distance(ref, cur), chi[1] if chi else None


def lines(ctx: CheckContext, method: str) -> Threshold:
    given = getattr(ctx.options, method)
    return Threshold(warn=given.warn, fail=given.fail)


# min_rows: auto takes half the median window's values, within these bounds: under 200 values the PSI of
# ten bins is mostly noise (about (bins - 1) / rows under no drift: 0.045 at 200 rows, half the warn line).
AUTO_MIN_ROWS = (200, 500)


def auto_min_rows(values: list[int]) -> int:
    present = [v for v in values if v]
    half = statistics.median(present) / 2 if present else AUTO_MIN_ROWS[1]
    return int(min(AUTO_MIN_ROWS[1], max(AUTO_MIN_ROWS[0], half)))


class DriftOverTimeOptions(WindowedOptions):
    psi: Lines = Field(Lines(warn=0.1, fail=0.25), description="PSI lines of a window against the reference")
    js: Lines = Field(Lines(warn=0.1, fail=0.2), description="Jensen-Shannon distance lines (categorical columns)")
    min_rows: Literal["auto"] | Size = Field(
        "auto", description="a window with fewer values of a column is not graded on its own (a newer one still "
                            "warns when its drift is past a line and significant); auto: half the median window's "
                            "values, between 200 and 500")
    alpha: Probability = Field(0.05, description="a window under min_rows warns when its drift is past a line and the "
                                                 "chi-square test against the reference is significant at this level")
    max_categories: Size = Field(1000, description="categorical columns with more distinct values are skipped")


@check("deployment.drift_over_time", title="Drift over time", options=DriftOverTimeOptions,
       needs=("predictions", "reference"))
@over_windows
def drift_over_time(ctx: CheckContext, log: Dataset, wr: WindowRange) -> Iterator[CheckResult]:
    """PSI (and JS for categoricals) of each feature and the score per window against the reference; the first window past the line."""
    reference = ctx.dataset("reference")
    columns, skipped = drift_columns(ctx, log, reference)
    yield from skipped
    if not columns:
        return
    types = {c.name: reference.column(c.name).type for c in columns if c.kind == "numeric"}
    deciles, deciles_sql = quantiles.quantiles(ctx.engine, reference.view, types, stats.DECILES,
                                               cache=ctx.run.cache, infinite=True)
    cuts = {name: stats.cut_points(deciles.get(name)) for name in types}
    # Numeric columns' reference bins come from the located cells; the rest (categories, and a cut inside
    # an unfetched tie run) from one scan of the reference.
    located = quantiles.locate(ctx.engine, reference.view, types, cache=ctx.run.cache)  # cached: no query
    from_cells = {name: found for name in types if (found := located_bins(located[name], cuts[name])) is not None}
    scanned = [c for c in columns if c.name not in from_cells]
    ref_bins, ref_sql = reference_bins(ctx, reference.view, scanned, cuts) if scanned else ({}, [])
    ref_bins = {**ref_bins, **from_cells}
    sql, cut_params = counts_sql(WINDOW_COUNTS_SQL, columns, cuts, windowed=True, position=wr.position(),
                                 view=log.view, in_range=wr.filter())
    counted = read_counts(query_windows(ctx, wr, sql, **cut_params), columns)
    bins = {c.name: [counted.get((i, c.name), {}) for i in range(len(wr.starts))] for c in columns}
    statements = [*wr.sql, *deciles_sql, *ref_sql, sql]
    newer = wr.since(reference_end(ctx))
    measured = [_measure(ctx, col, ref_bins[col.name], bins[col.name], len(cuts.get(col.name, [])) + 1)
                for col in columns]
    yield from _results(ctx, wr, newer, measured, statements)


def _measure(ctx: CheckContext, col: DriftColumn, ref_counts: dict, windows: list[dict], n_bins: int) -> dict[str, Any]:
    """One column's values, PSI, JS, chi-square p-value and status per window (status only where graded)."""
    values = [sum(b.values()) for b in windows]
    min_rows = auto_min_rows(values) if ctx.options.min_rows == "auto" else ctx.options.min_rows
    n = len(windows)
    psi, js, p, status, crossed = [None] * n, [None] * n, [None] * n, [None] * n, [None] * n
    psi_lines, js_lines = lines(ctx, "psi"), lines(ctx, "js")
    for i in range(n):
        if values[i] == 0 or not ref_counts:
            continue
        psi[i], js[i], p[i] = window_drift(col.kind, ref_counts, windows[i], n_bins)
        crossed[i] = worst([grade(psi[i], psi_lines)] + ([grade(js[i], js_lines)] if col.kind == "categorical" else []))
        if values[i] >= min_rows:
            status[i] = crossed[i]
    return {"col": col, "values": values, "psi": psi, "js": js, "p": p, "status": status, "crossed": crossed,
            "min_rows": min_rows}


def _results(ctx: CheckContext, wr: WindowRange, newer: int, measured: list[dict],
             statements: list[str]) -> Iterator[CheckResult]:
    labels, shown = wr.labels(), ctx.options.max_windows
    psi_lines = lines(ctx, "psi")
    results, series = [], {}
    for m in measured:
        col, values, psi, status, min_rows = m["col"], m["values"], m["psi"], m["status"], m["min_rows"]
        judged = [i for i in range(newer, len(labels)) if values[i]]
        graded = [i for i in judged if status[i]]
        last = graded[-1] if graded else None
        small = [i for i in judged if (last is None or i > last) and values[i] < min_rows]
        drifted = [i for i in small if m["crossed"][i] in ("warn", "fail") and m["p"][i] is not None
                   and m["p"][i] < ctx.options.alpha]
        first = next((i for i in graded if status[i] in ("warn", "fail")), None)
        first_fail = next((i for i in graded if status[i] == "fail"), None)
        series[col.name] = [psi[i] if status[i] or i in drifted else None for i in range(len(labels))]
        rows = [[labels[i], values[i], psi[i], m["js"][i],
                 status[i] if i >= newer and status[i] else "drifted (too few values to grade alone)" if i in drifted
                 else "reference period" if i < newer and values[i] else "not graded" if values[i] else "no values"]
                for i in range(len(labels))]
        metrics = {"kind": col.kind, "window": str(wr.window), "windows": len(labels), "min_rows": min_rows,
                   "graded_windows": len(graded), "reference_period_windows": newer,
                   "latest_window": labels[last] if last is not None else None,
                   "psi_latest": psi[last] if last is not None else None,
                   "js_distance_latest": m["js"][last] if last is not None else None,
                   "psi_max": max((psi[i] for i in graded), default=None),
                   "first_crossed_window": labels[first] if first is not None else None,
                   "first_fail_window": labels[first_fail] if first_fail is not None else None,
                   "windows_crossed": sum(1 for i in graded if status[i] in ("warn", "fail")),
                   "small_windows_drifted": len(drifted)}
        evidence = {"tables": [window_table(f"Drift of '{col.name}' per window",
                                            ["window", "values", "psi", "js_distance", "status"], rows, shown=shown)],
                    "charts": [], "sql": statements}
        said = {i: f"{labels[i]} ({values[i]:,} values, PSI {psi[i]:.3f})" for i in small}  # newest first below
        describe = [said[i] for i in reversed(small)]
        if last is None and not drifted:
            where = "after the reference's period " if newer else ""
            why = (f"no window {where}has {min_rows:,} values of '{col.name}' (min_rows)" if judged else
                   f"every window with values of '{col.name}' is in the reference's period")
            tail = f": the newest are {some(describe)}, none drifted significantly" if describe else ""
            results.append(ctx.skip(f"Not graded: {why}{tail}.", subject=col.name))
            continue
        value, verdict = (psi[last], status[last]) if last is not None else (max(psi[i] for i in drifted), "pass")
        message = _message(col.name, verdict, labels, last, first, psi, m["js"], col.kind) if last is not None else \
            f"'{col.name}' has no window after the reference's period with {min_rows:,} values to grade."
        if drifted:
            verdict = worst([verdict, "warn"])
            message += (f" Newer windows too small to grade alone (under {min_rows:,} values) drifted significantly: "
                        f"{some([said[i] for i in reversed(drifted)])}.")
        elif small:
            message += f" Newer windows under {min_rows:,} values, within the lines: {some(describe)}."
        results.append(ctx.result(subject=col.name, value=value, status=verdict, threshold=psi_lines,
                                  metrics=metrics, evidence=evidence, message=message))
    # A heatmap (a row per column, worst first) of the windows shown: any number of columns stays readable.
    keep = wr.shown(shown)
    ranked = sorted(series, key=lambda n: -max((v for v in series[n] if v is not None), default=-1.0))
    chart = {"kind": "heatmap", "title": f"PSI per {wr.window} window against the reference", "x": labels[keep],
             "y": ranked, "values": [series[n][keep] for n in ranked], "x_label": "window",
             "thresholds": [{"value": psi_lines.warn, "label": "warn"}, {"value": psi_lines.fail, "label": "fail"}]}
    # The overview chart goes with the worst result, so the report shows it once, where it matters.
    graded_results = [i for i, r in enumerate(results) if r.status != "skip"]
    if graded_results:
        top = min(graded_results, key=lambda i: (-SEVERITY[results[i].status], i))
        results[top].evidence["charts"].append(chart)
    yield from results


def _message(name: str, status: Status, labels: list[str], last: int, first: int | None, psi: list,
             js: list, kind: Kind) -> str:
    measured = f"PSI {psi[last]:.3f}" + (f", JS distance {js[last]:.3f}" if kind == "categorical" and js[last] is not None
                                         else "")
    if status in ("warn", "fail"):
        since = f" since the window of {labels[first]}" if first is not None else ""
        return f"'{name}' has drifted{since}: {measured} in the window of {labels[last]}."
    if first is not None:
        return (f"'{name}' is back within the lines in the window of {labels[last]} ({measured}); it first crossed "
                f"one in the window of {labels[first]}.")
    return f"'{name}' has not drifted in any graded window: {measured} in the window of {labels[last]}."
