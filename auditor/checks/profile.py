"""data.profile: a per-column summary with a reference-vs-current chart (informational).

Per dataset, whatever the column count: the numeric columns' charts come from
auditor.engine.quantiles' locating cells (one query, shared with the drift checks) and the exact
quantiles from one more (quantile_cont over eight columns of 10M rows held 0.8 GB); the
low-cardinality columns' counts come from auditor.engine.value_counts, shared with
data.constant_columns.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
from pydantic import Field

from auditor.audit.context import CheckContext
from auditor.audit.options import CheckOptions, Size
from auditor.audit.registry import check
from auditor.audit.roles import infer_categorical
from auditor.engine import quantiles
from auditor.engine.base import Engine
from auditor.engine.sources import Dataset
from auditor.engine.sql import is_float, is_integer, quote_ident
from auditor.engine.summary import ColumnSummary, summarize
from auditor.engine.top_values import frequent_texts
from auditor.engine.value_counts import countable, spans_few, value_counts
from auditor.report import CheckResult, table

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


# The fallback of `_chart_from_cells` (a straddling cell too full to fetch, or cells without their min and
# max): one grouping per numeric column gives both histograms, the chart's bins (on the edges both sides
# share; finite values only) and auditor.engine.quantiles' locating cells (on the column's own finite range, so one
# outlying side does not crowd the other's values into a few cells; ±inf in cells -1 and bins + 1, with
# each cell's min and max), handed to the run's quantile cache if no check located the column before.
FUSED_SQL = """SELECT {index} AS col, {chart} AS chart, {cell} AS cell, count(*) AS n, min({c}::DOUBLE), max({c}::DOUBLE)
FROM {view} WHERE {where} GROUP BY ALL"""


def numeric_profile_sql(ds: Dataset, edges: dict[str, tuple[float, float, int]],
                        grids: dict[str, quantiles.Located]) -> tuple[str, list]:
    """Counts per (chart bin, locating cell) of each numeric column, with each group's min and max."""
    selects, params = [], []
    for index, (col, (lo, hi, bins)) in enumerate(edges.items()):
        c, duck_type, grid = quote_ident(col), ds.column(col).type, grids[col]
        chart, cell = quantiles.bin_expr(c), quantiles.bin_expr(c)
        chart_params, cell_params = quantiles.bin_params(lo, hi, bins), quantiles.bin_params(grid.lo, grid.hi, grid.bins)
        if is_float(duck_type):
            chart = f"CASE WHEN isfinite({c}) THEN {chart} END"
            cell = quantiles.INFINITE_CELL.format(c=c, bin=cell)
            cell_params = [grid.bins, *cell_params]
        selects.append(FUSED_SQL.format(index=index, chart=chart, cell=cell, c=c, view=ds.view,
                                        where=quantiles.value_condition(col, duck_type)))
        params.extend([*chart_params, *cell_params])
    return " UNION ALL ".join(selects), params


def _locate_with_chart(engine: Engine, ds: Dataset, edges: dict[str, tuple[float, float, int]],
                       finite: dict[str, tuple[float | None, float | None]],
                       cache: dict) -> tuple[dict[str, dict[int, int]], str]:
    """Chart counts per column, and each column's locating histogram put in the run's quantile cache."""
    grids = {col: quantiles.Located(*(finite[col] if finite[col][0] is not None else (0.0, 0.0)), cells={})
             for col in edges}
    query, params = numeric_profile_sql(ds, edges, grids)
    columns = list(edges)
    charts: dict[str, dict[int, int]] = {col: {} for col in columns}
    for index, chart, cell, n, low, high in engine.query(query, params):
        col, grid = columns[index], grids[columns[index]]
        if chart is not None:
            charts[col][chart] = charts[col].get(chart, 0) + n
        if cell == -1:
            grid.negative_infinite += n
        elif cell == grid.bins + 1:
            grid.positive_infinite += n
        else:
            grid.cells[cell] = grid.cells.get(cell, 0) + n
            before = grid.extremes.get(cell, (low, high))
            grid.extremes[cell] = (min(before[0], low), max(before[1], high))
    for col, grid in grids.items():
        grid.sql.append(query)
        # A column located already, by an earlier check, is kept as it is.
        cache.setdefault(quantiles.located_key(ds.view, col), grid)
    return charts, query


# The chart from the located cells: a cell's min and max give its chart bin (the bin grows with the
# value), so the grouping needs no chart key (10M rows, four columns: 2.5 -> 1.6 CPU s). A cell is at
# least 100 times narrower than a chart bin (2048 cells on the column's own range, 20 bins on both
# sides'), so only the few cells that straddle a chart edge (at most one per edge) are split: their
# values come whole with the quantiles' fetch and are binned in numpy, operation for operation as in SQL.
def _chart_from_cells(loc: quantiles.Located, lo: float, hi: float, bins: int
                      ) -> tuple[dict[int, int], set[int]] | None:
    """The chart counts of the cells lying in one chart bin, and the cells straddling an edge (left out);
    None when the cells cannot tell: a cell without its min and max, or a straddling cell too full to fetch."""
    cells, counts = quantiles.cell_arrays(loc.cells)
    known, lows, highs = quantiles.cell_arrays(loc.extremes) if loc.extremes else (np.zeros(0, np.int64),) * 3
    at = np.searchsorted(known, cells)
    if len(cells) and (at[-1] >= len(known) or not np.array_equal(known[at], cells)):
        return None  # some cell without its min and max
    # quantiles.bin_of, vectorised: the same operations in doubles, so a value lands in the same bin.
    _, width, _ = quantiles.bin_params(lo, hi, bins)
    first = np.clip(np.floor((lows[at] - lo) / width), 0, bins - 1).astype(np.int64)
    last = np.clip(np.floor((highs[at] - lo) / width), 0, bins - 1).astype(np.int64)
    inside = first == last
    if (counts[~inside] > quantiles.FETCH_MAX).any():
        return None
    totals = np.bincount(first[inside], weights=counts[inside], minlength=bins)
    chart = {int(b): int(totals[b]) for b in np.flatnonzero(totals)}
    return chart, set(cells[~inside].tolist())


def _add_straddling(chart: dict[int, int], loc: quantiles.Located, cells: set[int], lo: float, hi: float,
                    bins: int) -> None:
    """Bin the fetched values of the straddling cells into `chart` (`quantiles.bin_of`, vectorised), and
    drop them from the run's cache."""
    _, width, _ = quantiles.bin_params(lo, hi, bins)
    for cell in cells:
        values = np.asarray(loc.whole.pop(cell), dtype=np.float64)
        at = np.clip(np.floor((values - lo) / width), 0, bins - 1)
        for b, n in zip(*np.unique(at.astype(np.int64), return_counts=True), strict=True):
            chart[int(b)] = chart.get(int(b), 0) + int(n)


def _few_integers(duck_type: str, summary: ColumnSummary) -> bool:
    """An integer column spanning fewer values than the locating grid has cells: every cell holds at most
    one value, so its value counts (a small `histogram`) give the chart, the cells and every quantile."""
    return is_integer(duck_type) and spans_few(summary.min, summary.max, quantiles.LOCATE_BINS)


def _charts_from_counts(engine: Engine, ds: Dataset, edges: dict[str, tuple[float, float, int]],
                        finite: dict[str, tuple[float | None, float | None]], cache: dict,
                        sizes: dict[str, int] | None = None) -> tuple[dict[str, dict[int, int]], list[str]]:
    """`_locate_with_chart` for few-valued integer columns, from the run's shared value counts (often
    counted already by data.constant_columns): 10M rows, 0.45 CPU s a column for the grouping, 0.1 for
    a histogram, none when counted already."""
    counted, sql = value_counts(engine, ds, list(edges), cache=cache, sizes=sizes)
    charts: dict[str, dict[int, int]] = {}
    for col, (lo, hi, bins) in edges.items():
        chart: dict[int, int] = {}
        for value, n in counted[col].items():
            at = quantiles.bin_of(value, lo, hi, bins)
            chart[at] = chart.get(at, 0) + n
        charts[col] = chart
        grid = quantiles.located_from_counts(counted[col], *finite[col])
        grid.sql.extend(sql)
        cache.setdefault(quantiles.located_key(ds.view, col), grid)
    return charts, sql


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


def _profiles(engine: Engine, ds: Dataset, numeric: dict, categorical: list[str], *,
              cache: dict | None = None, summaries: dict[str, ColumnSummary] | None = None,
              ) -> tuple[dict, dict, list[str]]:
    """The numeric columns' chart counts and exact quantiles, and the categorical columns' counts.
    `summaries` (the run's, of this dataset) give each column's finite range for its locating grid."""
    summaries = summarize(engine, ds) if summaries is None else summaries
    exact, histograms, sql = {}, {}, []
    cache = {} if cache is None else cache
    if numeric:
        finite = {col: (summaries[col].min, summaries[col].max) for col in numeric}
        counted = [col for col in numeric if _few_integers(ds.column(col).type, summaries[col])]
        if counted:
            histograms, more = _charts_from_counts(engine, ds, {col: numeric[col] for col in counted}, finite, cache,
                                                   {col: summaries[col].distinct for col in counted})
            sql.extend(more)
        scanned = {col: edges for col, edges in numeric.items() if col not in counted}
        located = quantiles.locate(engine, ds.view, {col: ds.column(col).type for col in scanned}, cache=cache,
                                   ranges={col: finite[col] for col in scanned})
        split = {col: _chart_from_cells(located[col], *edges) for col, edges in scanned.items()}
        exact, more = quantiles.quantiles(engine, ds.view, {col: ds.column(col).type for col in numeric}, QUANTILES,
                                          cache=cache, whole={col: s[1] for col, s in split.items() if s and s[1]})
        for col, found in split.items():
            if found:
                _add_straddling(found[0], located[col], found[1], *scanned[col])
                histograms[col] = found[0]
        unsplit = {col: scanned[col] for col, found in split.items() if found is None}
        if unsplit:  # rare: a crowded cell across a chart edge; the grouping with the chart key then
            charts, query = _locate_with_chart(engine, ds, unsplit, finite, cache)
            histograms.update(charts)
            more.append(query)
        sql = list(dict.fromkeys([*sql, *more]))
    cats = {}
    # Integer and text categories are the run's shared value counts (data.constant_columns reads them
    # too); their values print alike in Python and DuckDB. Others are counted here, as text.
    counted = [col for col in categorical if countable(ds.column(col).type)]
    if counted:
        found, more = value_counts(engine, ds, counted, cache=cache,
                                   sizes={c: summaries[c].distinct for c in counted})
        sql.extend(more)
        cats.update({col: {str(v): n for v, n in found[col].items()} for col in counted})
    as_text = [col for col in categorical if col not in cats]
    if as_text:
        query = category_profile_sql(ds, as_text)
        row = engine.query_one(query)
        sql.append(query)
        for i, col in enumerate(as_text):
            cats[col] = dict(row[i] or {})
    cats = {col: cats[col] for col in categorical}
    return {"quantiles": exact, "histograms": histograms}, cats, sql


def _proportions(counts: list[int]) -> list[float]:
    total = sum(counts)
    return [c / total if total else 0.0 for c in counts]


class ProfileOptions(CheckOptions):
    bins: Size = Field(20, description="histogram bins of a numeric column's chart")
    top_categories: Size = Field(10, description="categories shown per categorical column")
    max_categories: Size = Field(1000, description="columns with more distinct values are profiled without counts per value")


@check("data.profile", title="Column profile", options=ProfileOptions, needs=("current",))
def profile(ctx: CheckContext) -> Iterator[CheckResult]:
    """Per-column type, counts, nulls, distinct values, moments, quantiles and top categories, with a chart."""
    cur_ds = ctx.dataset("current")
    ref_ds = ctx.dataset("reference") if ctx.dataset("reference") and ctx.dataset("reference").rows else None
    cur_sum = ctx.summary("current")
    ref_sum = ctx.summary("reference") if ref_ds else {}
    bins, top, max_cats = ctx.options.bins, ctx.options.top_categories, ctx.options.max_categories

    numeric, categorical = {}, []
    for col, s in cur_sum.items():
        if ctx.roles.is_categorical(col) or infer_categorical(col, s.type, s):
            if s.distinct <= max_cats and not s.type.upper().startswith(("TIMESTAMP", "DATE", "TIME")):
                categorical.append(col)
        elif s.numeric:
            edges = _shared_edges(s, ref_sum.get(col), bins)
            if edges:
                numeric[col] = edges
    cur_prof, cur_cats, sql = _profiles(ctx.engine, cur_ds, numeric, categorical, cache=ctx.run.cache,
                                        summaries=cur_sum)
    ref_prof, ref_cats = {"quantiles": {}, "histograms": {}}, {}
    if ref_ds:
        ref_numeric = {c: e for c, e in numeric.items() if ref_ds.column(c)}
        ref_categorical = [c for c in categorical if ref_ds.column(c)]
        ref_prof, ref_cats, ref_sql = _profiles(ctx.engine, ref_ds, ref_numeric, ref_categorical,
                                                 cache=ctx.run.cache, summaries=ref_sum)
        sql += ref_sql

    # Text of more values than max_categories (free text, ids): the most frequent values and the lengths,
    # never a count per value.
    texts = [col for col, s in cur_sum.items() if col not in numeric and col not in categorical
             and s.type.upper() == "VARCHAR" and s.nulls < s.rows]
    frequent, more = frequent_texts(ctx.engine, cur_ds.view, texts, top) if texts else ({}, [])
    sql += more
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
            if col in frequent:
                found, present = frequent[col], s.rows - s.nulls
                metrics.update({k: found[k] for k in ("length_min", "length_mean", "length_max")})
                rows = [[v, n, n / present] for v, n in found["top"]]
                tables.append(table(f"Most frequent values of {col} (approximate top {top}, exact rows)",
                                    ["value", "rows", "share"], rows, total_rows=s.distinct))
                charts.append({"kind": "bars", "title": f"Most frequent values of {col}", "categories": [r[0] for r in rows],
                               "series": {"current": [r[2] for r in rows]}, "y_label": "share of rows"})
        message = _describe(col, s)
        yield ctx.result(subject=col, status="pass", message=message, metrics=metrics,
                         evidence={"tables": tables, "charts": charts, "sql": sql if col == next(iter(cur_sum)) else []})


def _describe(col: str, s: ColumnSummary) -> str:
    text = f"'{col}' ({s.type}): {s.rows - s.nulls:,} values, {s.null_rate:.1%} missing, ~{s.distinct:,} distinct"
    if s.numeric and s.mean is not None and math.isfinite(s.mean):
        text += f", mean {s.mean:.4g}"
    return text + "."
