"""Exact quantiles of many columns in bounded memory, from a locating histogram.

`quantile_cont` holds every value of a column while it runs (eight columns of 10M rows:
0.8 GB). Instead, the caller counts each column's values in LOCATE_BINS equal-width cells
(one cheap grouping, usually fused with a histogram it needs anyway); the counts say in
which cell each wanted order statistic lies and at which offset. One more query fetches,
per wanted cell, only its min and max (enough when it holds one value) and as many of its
smallest or largest values as the deepest offset needs. A cell too crowded to fetch, with
more than one value in it, falls back to DuckDB's quantile_cont for that column alone.
The result is numpy's linear method, term for term (stats.lerp).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from auditor import stats
from auditor.sources import Dataset
from auditor.sql import Engine, is_float, quote_ident

LOCATE_BINS = 2048  # cells of the locating histogram: each holds ~rows/2048 values of a smooth column
FETCH_MAX = 100_000  # values fetched from one cell at most (DuckDB's min(x, n) also caps n)


def finite_condition(col: str, duck_type: str) -> str:
    """SQL true for a value that takes part: not NULL, and finite for floating columns."""
    c = quote_ident(col)
    return f"{c} IS NOT NULL AND isfinite({c})" if is_float(duck_type) else f"{c} IS NOT NULL"


def bin_expr(c: str) -> str:
    """Bin index on equal-width edges (parameters lo, width, bins), clamped: the top edge is in the last bin."""
    return f"least(greatest(floor(({c}::DOUBLE - ?) / ?), 0), ? - 1)::INTEGER"


def bin_params(lo: float, hi: float, bins: int) -> list:
    return [lo, (hi - lo) / bins if hi > lo else 1.0, bins]


def _order_positions(n: int, probabilities: Sequence[float]) -> list[tuple[int, int, float]]:
    """For each quantile: the 0-based ranks around numpy's virtual index (n - 1) * q, and the weight between."""
    out = []
    for q in probabilities:
        virtual = (n - 1) * q
        below = min(math.floor(virtual), n - 1)
        out.append((below, min(below + 1, n - 1), virtual - below))
    return out


def _wanted_cells(cells: dict[int, int], ranks: set[int]) -> dict[int, tuple[int, list[int]]]:
    """cell -> (its count, the offsets inside it of the wanted ranks), walking the cells in value order."""
    wanted: dict[int, tuple[int, list[int]]] = {}
    before = 0
    for cell in sorted(cells):
        count = cells[cell]
        inside = sorted(r - before for r in ranks if before <= r < before + count)
        if inside:
            wanted[cell] = (count, inside)
        before += count
    return wanted


# Per column, only the rows of its wanted cells (a value-range prefilter, then the exact cell),
# grouped by cell: min and max (enough for a cell of one value) and the smallest and largest values
# as deep as the wanted ranks need. Cells holding more than FETCH_MAX values fetch no list.
CELL_VALUES_SQL = """SELECT {index} AS col, b AS cell, min(v), max(v),
  min(v, {low}) FILTER (WHERE b IN ({listed})), max(v, {high}) FILTER (WHERE b IN ({listed}))
FROM (SELECT {c}::DOUBLE AS v, {bin} AS b FROM {view} WHERE {where} AND ({ranges}))
WHERE b IN ({cells}) GROUP BY b"""


def order_statistics_sql(ds: Dataset, edges: dict[str, tuple[float, float, int]],
                         wanted: dict[str, dict[int, tuple[int, list[int]]]]) -> tuple[str, list]:
    """One query for every column: per wanted cell, its min, max and the values around the wanted ranks."""
    selects, params = [], []
    for index, (col, cells) in enumerate(wanted.items()):
        lo, hi, _ = edges[col]
        c = quote_ident(col)
        cell_params = bin_params(lo, hi, LOCATE_BINS if hi > lo else 1)
        width = cell_params[1]
        listed = [cell for cell, (count, _) in cells.items() if count <= FETCH_MAX] or [-1]
        # Each cell is read from its nearer end: the 95th percentile from the top of its cell.
        ends = [(offsets[-1] + 1, count - offsets[0]) for count, offsets in cells.values() if count <= FETCH_MAX]
        low = max([bottom for bottom, top in ends if bottom <= top] or [1])
        high = max([top for bottom, top in ends if top < bottom] or [1])
        # Slightly wider than each cell, so rounding cannot drop a value; the exact cell test follows.
        ranges = " OR ".join(f"{c}::DOUBLE BETWEEN ? AND ?" for _ in cells)
        range_params = [bound for cell in cells
                        for bound in (lo + (cell - 0.5) * width, lo + (cell + 1.5) * width)]
        marks = ", ".join("?" for _ in cells)
        listed_marks = ", ".join("?" for _ in listed)
        selects.append(CELL_VALUES_SQL.format(
            index=index, low=min(low, FETCH_MAX), high=min(high, FETCH_MAX), listed=listed_marks, c=c,
            bin=bin_expr(c), view=ds.view, where=finite_condition(col, ds.column(col).type), ranges=ranges, cells=marks))
        params.extend([*listed, *listed, *cell_params, *range_params, *cells])
    return " UNION ALL ".join(selects), params


FALLBACK_SQL = "SELECT {parts} FROM {view}"


def exact_quantiles(engine: Engine, ds: Dataset, edges: dict[str, tuple], fine: dict[str, dict[int, int]],
                    probabilities: Sequence[float]) -> tuple[dict[str, list[float]], list[str]]:
    """Exact quantiles (numpy's linear method) of each column from its locating histogram (cell -> count
    on `bin_expr` with LOCATE_BINS cells over the column's (lo, hi, ...) edges) and one more query."""
    positions = {col: _order_positions(sum(cells.values()), probabilities) for col, cells in fine.items() if cells}
    wanted = {col: _wanted_cells(fine[col], {r for below, above, _ in pos for r in (below, above)})
              for col, pos in positions.items()}
    if not wanted:
        return {}, []
    query, params = order_statistics_sql(ds, edges, wanted)
    statements = [query]
    columns = list(wanted)
    at: dict[tuple[str, int], float] = {}  # (column, rank) -> value
    crowded: list[str] = []  # a cell too full to fetch, with more than one value in it
    for index, cell, low, high, smallest, largest in engine.query(query, params):
        col = columns[index]
        count, offsets = wanted[col][cell]
        start = _cells_before(fine[col])[cell]
        for offset in offsets:
            if low == high:
                at[(col, start + offset)] = float(low)
            elif smallest is not None and offset < len(smallest):
                at[(col, start + offset)] = float(smallest[offset])
            elif largest is not None and count - 1 - offset < len(largest):
                at[(col, start + offset)] = float(largest[count - 1 - offset])
            elif col not in crowded:
                crowded.append(col)
    out = {col: [stats.lerp(at[(col, below)], at[(col, above)], t) for below, above, t in pos]
           for col, pos in positions.items() if col not in crowded}
    if crowded:
        # Nearly every value in one cell (an extreme outlier stretched the edges): DuckDB's own exact
        # quantile for these columns only; it holds the column in memory, which the cells avoid elsewhere.
        parts = [f"quantile_cont({quote_ident(c)}::DOUBLE, ?::DOUBLE[]) FILTER (WHERE {finite_condition(c, ds.column(c).type)})"
                 for c in crowded]
        query = FALLBACK_SQL.format(parts=", ".join(parts), view=ds.view)
        found = engine.query_one(query, [list(probabilities) for _ in crowded])
        out.update(dict(zip(crowded, (list(v) for v in found), strict=True)))
        statements.append(query)
    return out, statements


def _cells_before(cells: dict[int, int]) -> dict[int, int]:
    out, before = {}, 0
    for cell in sorted(cells):
        out[cell] = before
        before += cells[cell]
    return out


RANGE_SQL = "SELECT {parts} FROM {view}"
CELLS_SQL = """SELECT {index} AS col, {cell} AS cell, count(*) AS n FROM {view} WHERE {where} GROUP BY ALL"""


def exact_quantiles_of(engine: Engine, ds: Dataset, columns: Sequence[str],
                       probabilities: Sequence[float]) -> tuple[dict[str, list[float]], list[str]]:
    """Exact quantiles of the finite values of numeric columns, in three bounded-memory statements: the
    finite range, the locating histogram, the values around the wanted ranks. A column without a
    finite value is left out."""
    if not columns:
        return {}, []
    parts = []
    for col in columns:
        c, where = quote_ident(col), finite_condition(col, ds.column(col).type)
        parts.append(f"min({c}::DOUBLE) FILTER (WHERE {where}), max({c}::DOUBLE) FILTER (WHERE {where})")
    range_sql = RANGE_SQL.format(parts=", ".join(parts), view=ds.view)
    row = engine.query_one(range_sql)
    edges = {col: (row[2 * i], row[2 * i + 1], LOCATE_BINS) for i, col in enumerate(columns) if row[2 * i] is not None}
    if not edges:
        return {}, [range_sql]
    selects, params = [], []
    for index, (col, (lo, hi, _)) in enumerate(edges.items()):
        selects.append(CELLS_SQL.format(index=index, cell=bin_expr(quote_ident(col)), view=ds.view,
                                        where=finite_condition(col, ds.column(col).type)))
        params.extend(bin_params(lo, hi, LOCATE_BINS if hi > lo else 1))
    cells_sql = " UNION ALL ".join(selects)
    names = list(edges)
    fine: dict[str, dict[int, int]] = {col: {} for col in names}
    for index, cell, n in engine.query(cells_sql, params):
        fine[names[index]][cell] = n
    found, more = exact_quantiles(engine, ds, edges, fine, probabilities)
    return found, [range_sql, cells_sql, *more]
