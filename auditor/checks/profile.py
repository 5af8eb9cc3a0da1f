"""data.profile: a per-column summary with a reference-vs-current chart (informational).

Per dataset, whatever the column count: one query counts every numeric column's
values per chart bin and per cell of auditor.quantiles' locating histogram, which
turns them into exact quantiles with one more query (quantile_cont over eight
columns of 10M rows held 0.8 GB); a third counts the low-cardinality columns.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from auditor import quantiles
from auditor.context import CheckContext
from auditor.model import CheckResult, table
from auditor.registry import check
from auditor.roles import infer_categorical
from auditor.sources import Dataset
from auditor.sql import Engine, quote_ident
from auditor.summary import ColumnSummary

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


# Grouping by (chart bin, locating cell) gives both histograms exactly from one small hash table per
# column (histogram() over the same keys was several times slower).
BINS_SQL = """SELECT {index} AS col, chart, cell, count(*) AS n
FROM (SELECT {chart} AS chart, {cell} AS cell FROM {view} WHERE {where}) GROUP BY ALL"""


def numeric_profile_sql(ds: Dataset, edges: dict[str, tuple[float, float, int]]) -> tuple[str, list]:
    """Counts per chart bin (shared, equal-width edges) and per fine locating cell of each numeric column."""
    selects, params = [], []
    for index, (col, (lo, hi, bins)) in enumerate(edges.items()):
        c, duck_type = quote_ident(col), ds.column(col).type
        selects.append(BINS_SQL.format(index=index, chart=quantiles.bin_expr(c), cell=quantiles.bin_expr(c), view=ds.view,
                                       where=quantiles.finite_condition(col, duck_type)))
        cells = quantiles.LOCATE_BINS if hi > lo else 1
        params.extend([*quantiles.bin_params(lo, hi, bins), *quantiles.bin_params(lo, hi, cells)])
    return " UNION ALL ".join(selects), params


def category_profile_sql(ds: Dataset, columns: list[str]) -> str:
    parts = [f"histogram(coalesce({quote_ident(c)}::VARCHAR, NULL))" for c in columns]
    return f"SELECT {', '.join(parts)} FROM {ds.view}"


def _shared_edges(cur: ColumnSummary, ref: ColumnSummary | None, bins: int) -> tuple[float, float, int] | None:
    values = [v for s in (cur, ref) if s is not None for v in (s.min, s.max) if v is not None]
    if not values:
        return None
    lo, hi = float(min(values)), float(max(values))
    if hi == lo:
        return lo, hi, 1
    return lo, hi, bins


def _profiles(engine: Engine, ds: Dataset, numeric: dict, categorical: list[str]) -> tuple[dict, dict, list[str]]:
    exact, histograms, sql = {}, {}, []
    if numeric:
        query, params = numeric_profile_sql(ds, numeric)
        sql.append(query)
        columns = list(numeric)
        histograms = {col: {} for col in columns}
        fine: dict[str, dict[int, int]] = {col: {} for col in columns}
        for index, chart, cell, n in engine.query(query, params):
            col = columns[index]
            histograms[col][chart] = histograms[col].get(chart, 0) + n
            fine[col][cell] = fine[col].get(cell, 0) + n
        exact, more = quantiles.exact_quantiles(engine, ds, numeric, fine, QUANTILES)
        sql.extend(more)
    cats = {}
    if categorical:
        query = category_profile_sql(ds, categorical)
        row = engine.query_one(query)
        sql.append(query)
        for i, col in enumerate(categorical):
            cats[col] = dict(row[i] or {})
    return {"quantiles": exact, "histograms": histograms}, cats, sql


def _proportions(counts: list[int]) -> list[float]:
    total = sum(counts)
    return [c / total if total else 0.0 for c in counts]


@check("data.profile", title="Column profile", defaults={"bins": 20, "top_categories": 10, "max_categories": 1000},
       needs=("current",))
def profile(ctx: CheckContext) -> Iterator[CheckResult]:
    """Per-column type, counts, nulls, distinct values, moments, quantiles and top categories, with a chart."""
    cur_ds = ctx.dataset("current")
    ref_ds = ctx.dataset("reference") if ctx.dataset("reference") and ctx.dataset("reference").rows else None
    cur_sum = ctx.summary("current")
    ref_sum = ctx.summary("reference") if ref_ds else {}
    bins, top, max_cats = ctx.options["bins"], ctx.options["top_categories"], ctx.options["max_categories"]

    numeric, categorical = {}, []
    for col, s in cur_sum.items():
        if ctx.roles.is_categorical(col) or infer_categorical(col, s.type, s):
            if s.distinct <= max_cats and not s.type.upper().startswith(("TIMESTAMP", "DATE", "TIME")):
                categorical.append(col)
        elif s.numeric:
            edges = _shared_edges(s, ref_sum.get(col), bins)
            if edges:
                numeric[col] = edges
    cur_prof, cur_cats, sql = _profiles(ctx.engine, cur_ds, numeric, categorical)
    ref_prof, ref_cats = {"quantiles": {}, "histograms": {}}, {}
    if ref_ds:
        ref_numeric = {c: e for c, e in numeric.items() if ref_ds.column(c)}
        ref_categorical = [c for c in categorical if ref_ds.column(c)]
        ref_prof, ref_cats, ref_sql = _profiles(ctx.engine, ref_ds, ref_numeric, ref_categorical)
        sql += ref_sql

    for col, s in cur_sum.items():
        metrics = {"type": s.type, "rows": s.rows, "nulls": s.nulls, "null_rate": s.null_rate,
                   "distinct_approx": s.distinct}
        charts, tables = [], []
        if col in numeric:
            lo, hi, n = numeric[col]
            metrics.update({"min": s.min, "max": s.max, "mean": s.mean, "std": s.std, "infinite": s.infinite})
            for q, v in zip(QUANTILES, cur_prof["quantiles"].get(col) or [None] * len(QUANTILES), strict=True):
                metrics[f"p{round(q * 100):02d}"] = v
            width = (hi - lo) / n if hi > lo else 0.0
            edges = [lo + i * width for i in range(n)] + [hi]
            series = {}
            if col in ref_prof["histograms"]:
                series["reference"] = _proportions([ref_prof["histograms"][col].get(i, 0) for i in range(n)])
            series["current"] = _proportions([cur_prof["histograms"][col].get(i, 0) for i in range(n)])
            charts.append({"kind": "histogram", "title": f"Distribution of {col}", "edges": edges,
                           "series": series, "x_label": col})
        elif col in cur_cats:
            counts = cur_cats[col]
            ref_counts = ref_cats.get(col, {})
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[:top]
            names = [str(k) for k, _ in ranked]
            cur_total, ref_total = sum(counts.values()), sum(ref_counts.values())
            rows = [[k, n, n / cur_total if cur_total else None,
                     ref_counts.get(k, 0), ref_counts.get(k, 0) / ref_total if ref_total else None] for k, n in ranked]
            tables.append(table(f"Top categories of {col}", ["category", "rows", "share", "reference rows", "reference share"],
                                rows, total_rows=len(counts)))
            series = {}
            if ref_counts:
                series["reference"] = [ref_counts.get(k, 0) / ref_total for k in names]
            series["current"] = [counts[k] / cur_total for k in names]
            charts.append({"kind": "bars", "title": f"Top categories of {col}", "categories": names,
                           "series": series, "y_label": "share of rows"})
            metrics["categories"] = len(counts)
        else:
            metrics.update({"min": s.min, "max": s.max})
        message = _describe(col, s)
        yield ctx.result(subject=col, status="pass", message=message, metrics=metrics,
                         evidence={"tables": tables, "charts": charts, "sql": sql if col == next(iter(cur_sum)) else []})


def _describe(col: str, s: ColumnSummary) -> str:
    text = f"'{col}' ({s.type}): {s.rows - s.nulls:,} values, {s.null_rate:.1%} missing, ~{s.distinct:,} distinct"
    if s.numeric and s.mean is not None and math.isfinite(s.mean):
        text += f", mean {s.mean:.4g}"
    return text + "."
