"""Exact quantiles of many columns in bounded memory, from a locating histogram; shared in a run.

`quantile_cont` holds every value of a column while it runs (eight columns of 10M rows:
0.8 GB), and a window over a column's value counts runs single-threaded (4 s for one
column of 10M distinct values). Instead each column's finite values are counted in
LOCATE_BINS equal-width cells, ±infinity apart (one grouping for all the columns); the
counts say in which cell each wanted order statistic lies and at which offset. One more
query fetches, per wanted cell, only its min and max (enough when it holds one value) and
its values (a few thousand, sorted in Python). A cell too crowded to fetch, with more than
one value in it, is ranked alone (its value counts, in order).
The result is numpy's linear method, term for term (stats.lerp).

`quantiles()` keeps each column's locating histogram and the order statistics fetched so
far in the run's cache, keyed by (view, column): the reference deciles that data.profile,
modeling.slices and the drift checks need are computed once per run, and a second set of
probabilities of a column costs at most one query over the few cells it needs.

Missing values (NULL, NaN) never take part. ±infinity take part only with `infinite=True`
(as the drift statistics rank them, below and above every finite value); otherwise the
quantiles are of the finite values. A column without a value is left out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from auditor.engine.duckdb_engine import Engine
from auditor.engine.sources import Dataset
from auditor.engine.sql import is_float, quote_ident
from auditor.stats import distances as stats

LOCATE_BINS = 2048  # cells of the locating histogram: each holds ~rows/2048 values of a smooth column
FETCH_MAX = 100_000  # a cell of at most this many values is fetched whole; a fuller one is ranked alone
SHARED = stats.DECILES  # fetched along with any quantiles asked in a run (see `quantiles`)


def finite_condition(col: str, duck_type: str) -> str:
    """SQL true for a value that takes part: not NULL, and finite for floating columns."""
    c = quote_ident(col)
    return f"{c} IS NOT NULL AND isfinite({c})" if is_float(duck_type) else f"{c} IS NOT NULL"


def value_condition(col: str, duck_type: str) -> str:
    """SQL true for a value that is not missing: not NULL, and not NaN for floating columns (±inf kept)."""
    c = quote_ident(col)
    return f"{c} IS NOT NULL AND NOT isnan({c})" if is_float(duck_type) else f"{c} IS NOT NULL"


def bin_expr(c: str) -> str:
    """Bin index on equal-width edges (parameters lo, width, bins), clamped: the top edge is in the last bin."""
    return f"least(greatest(floor(({c}::DOUBLE - ?) / ?), 0), ? - 1)::INTEGER"


def bin_params(lo: float, hi: float, bins: int) -> list:
    return [lo, (hi - lo) / bins if hi > lo else 1.0, bins]


def bin_of(value: float, lo: float, hi: float, bins: int) -> int:
    """`bin_expr` in Python, operation for operation in doubles, so a value lands in the same bin."""
    _, width, _ = bin_params(lo, hi, bins)
    return int(min(max(math.floor((float(value) - lo) / width), 0), bins - 1))


@dataclass
class Located:
    """One column's locating histogram (finite values per cell of an equal-width grid over [lo, hi]),
    its infinite values, and the order statistics of the finite values fetched so far."""

    lo: float
    hi: float
    cells: dict[int, int]
    negative_infinite: int = 0
    positive_infinite: int = 0
    extremes: dict[int, tuple[float, float]] = field(default_factory=dict)  # cell -> its min and max, if counted
    known: dict[int, float] = field(default_factory=dict)  # rank among the finite values -> value
    whole: dict[int, list[float]] = field(default_factory=dict)  # cell -> its values ascending, when asked whole
    sql: list[str] = field(default_factory=list)  # the statements that located and fetched them

    @property
    def bins(self) -> int:
        return LOCATE_BINS if self.hi > self.lo else 1

    @property
    def finite(self) -> int:
        return sum(self.cells.values())

    def values(self, infinite: bool) -> int:
        return self.finite + (self.negative_infinite + self.positive_infinite if infinite else 0)

    def finite_rank(self, rank: int, infinite: bool) -> int | float:
        """The rank among the finite values of a rank among all the values, or the infinity it is."""
        if not infinite:
            return rank
        if rank < self.negative_infinite:
            return -math.inf
        if rank >= self.negative_infinite + self.finite:
            return math.inf
        return rank - self.negative_infinite

    def value(self, rank: int, infinite: bool) -> float:
        at = self.finite_rank(rank, infinite)
        return at if isinstance(at, float) else self.known[at]


def finite_at_most(loc: Located, value: float) -> int | None:
    """How many finite values are at most `value`, from the cells' min and max and the order statistics
    fetched so far; None when that does not tell (no min and max, or a tie run the fetches did not reach).

    Cells hold disjoint, ordered value ranges: every cell lies wholly at or below the value but the one
    cell, at most, whose min is at or below it and whose max above; in that cell, two fetched neighbours
    x[r] <= value < x[r + 1] say that r + 1 values are at most the value."""
    if len(loc.extremes) != len(loc.cells):
        return None
    below = sum(loc.cells[cell] for cell, (_, high) in loc.extremes.items() if high <= value)
    if not any(low <= value < high for low, high in loc.extremes.values()):
        return below
    at_most = max((rank for rank, v in loc.known.items() if v <= value), default=None)
    if at_most is not None and loc.known.get(at_most + 1, -math.inf) > value:
        return at_most + 1
    return None


def order_positions(n: int, probabilities: Sequence[float]) -> list[tuple[int, int, float]]:
    """For each quantile: the 0-based ranks around numpy's virtual index (n - 1) * q, and the weight between."""
    out = []
    for q in probabilities:
        virtual = (n - 1) * q
        below = min(math.floor(virtual), n - 1)
        out.append((below, min(below + 1, n - 1), virtual - below))
    return out


def _wanted_cells(cells: dict[int, int], ranks: set[int]) -> dict[int, tuple[int, int, list[int]]]:
    """cell -> (its count, the values before it, the offsets inside it of the wanted ranks), in value order."""
    wanted: dict[int, tuple[int, int, list[int]]] = {}
    before = 0
    for cell in sorted(cells):
        count = cells[cell]
        inside = sorted(r - before for r in ranks if before <= r < before + count)
        if inside:
            wanted[cell] = (count, before, inside)
        before += count
    return wanted


def _cell_bounds(loc: Located, cell: int) -> tuple[float, float]:
    """A value range holding every value of a cell: slightly wider, so rounding cannot drop a value (the
    exact cell test follows), and open at the outer cells, where values beyond [lo, hi] are clamped."""
    width = bin_params(loc.lo, loc.hi, loc.bins)[1]
    low = -math.inf if cell == 0 else loc.lo + (cell - 0.5) * width
    high = math.inf if cell == loc.bins - 1 else loc.lo + (cell + 1.5) * width
    return low, high


# Per column, only the rows of its wanted cells, grouped by cell: min and max (enough for a cell of one
# value) and the cell's values, sorted in Python (cells of more than FETCH_MAX values fetch no list).
# A whole cell as an unordered list costs less than its smallest and largest values as top-n aggregates
# (min(v, n), max(v, n)): income's 13 cells of ~30k values at 10M rows, 1.29 -> 0.80 CPU s; and a tie
# run at a cut point then always ends inside the fetch or at the cell's max, which `finite_at_most` reads.
# The cell of every row is computed and tested: a prefilter of value ranges (an OR of a BETWEEN per
# wanted cell) cost twice as much as the cell itself (10M rows, 13 cells: 0.95 -> 0.47 CPU s a column).
CELL_VALUES_SQL = """SELECT {index} AS col, b AS cell, min(v), max(v), list(v) FILTER (WHERE b IN ({listed}))
FROM (SELECT {c}::DOUBLE AS v, {bin} AS b FROM {view} WHERE {where})
WHERE b IN ({cells}) GROUP BY b"""


def order_statistics_sql(view: str, types: Mapping[str, str], located: Mapping[str, Located],
                         wanted: dict[str, dict[int, tuple[int, int, list[int]]]]) -> tuple[str, list]:
    """One query for every column: per wanted cell, its min, max and (unless crowded) its values."""
    selects, params = [], []
    for index, (col, cells) in enumerate(wanted.items()):
        loc, c = located[col], quote_ident(col)
        listed = [cell for cell, (count, _, _) in cells.items() if count <= FETCH_MAX] or [-1]
        marks, listed_marks = ", ".join("?" for _ in cells), ", ".join("?" for _ in listed)
        selects.append(CELL_VALUES_SQL.format(index=index, listed=listed_marks, c=c, bin=bin_expr(c), view=view,
                                              where=finite_condition(col, types[col]), cells=marks))
        params.extend([*listed, *bin_params(loc.lo, loc.hi, loc.bins), *cells])
    return " UNION ALL ".join(selects), params


# A crowded cell of many values: its value counts summed in value order (a hash aggregate and a window
# over one cell's rows, which spill, so memory stays bounded).
CROWDED_CELL_SQL = """WITH counted AS (SELECT v, count(*) AS n
  FROM (SELECT {c}::DOUBLE AS v, {bin} AS b FROM {view} WHERE {where} AND {c}::DOUBLE BETWEEN ? AND ?)
  WHERE b = ? GROUP BY v),
ranked AS (SELECT v, (sum(n) OVER (ORDER BY v ROWS UNBOUNDED PRECEDING))::BIGINT AS cum FROM counted)
SELECT {picks} FROM ranked"""


def _fetch(engine: Engine, view: str, types: Mapping[str, str], located: Mapping[str, Located],
           ranks: Mapping[str, set[int]], whole: Mapping[str, set[int]] | None = None) -> None:
    """Fetch the finite order statistics not known yet into each column's `known`, and the values of the
    `whole` cells (at most FETCH_MAX values each) into its `whole`, in the same statement."""
    wanted = {}
    whole = whole or {}
    for col in dict.fromkeys([*ranks, *whole]):
        loc = located[col]
        cells = _wanted_cells(loc.cells, {r for r in ranks.get(col, ()) if r not in loc.known})
        asked = {cell for cell in whole.get(col, ()) if cell not in loc.whole and loc.cells.get(cell, 0)}
        assert all(loc.cells[cell] <= FETCH_MAX for cell in asked), "a whole cell is fetched as one list"
        for cell, (count, before, offsets) in list(cells.items()):
            if cell in loc.extremes and cell not in asked:  # one value (a discrete column), or a rank at an end
                low, high = loc.extremes[cell]
                ends = {0: low, count - 1: high} | ({o: low for o in offsets} if low == high else {})
                loc.known.update({before + o: float(ends[o]) for o in offsets if o in ends})
                if all(o in ends for o in offsets):
                    del cells[cell]
        cells.update({cell: (loc.cells[cell], 0, []) for cell in asked if cell not in cells})
        if cells:
            wanted[col] = cells
    if not wanted:
        return
    query, params = order_statistics_sql(view, types, located, wanted)
    columns = list(wanted)
    crowded: list[tuple[str, int]] = []  # a cell too full to fetch, with more than one value in it
    for index, cell, low, high, values in engine.query(query, params):
        col = columns[index]
        count, before, offsets = wanted[col][cell]
        known = located[col].known
        if cell in whole.get(col, ()) and values is not None:
            located[col].whole[cell] = sorted(values)
        if low == high:
            known.update({before + offset: float(low) for offset in offsets})
        elif values is not None:
            ascending = sorted(values)
            for offset in offsets:
                known.update(_with_run_end(ascending, offset, before))
        else:
            crowded.append((col, cell))
    for col in columns:
        located[col].sql.append(query)
    for col, cell in crowded:
        # Nearly every value in one cell (an extreme outlier stretched the grid): rank that cell alone.
        loc, c = located[col], quote_ident(col)
        _, before, offsets = wanted[col][cell]
        sql = CROWDED_CELL_SQL.format(c=c, bin=bin_expr(c), view=view, where=finite_condition(col, types[col]),
                                      picks=", ".join("min(v) FILTER (WHERE cum > ?)" for _ in offsets))
        row = engine.query_one(sql, [*bin_params(loc.lo, loc.hi, loc.bins), *_cell_bounds(loc, cell), cell, *offsets])
        loc.known.update({before + offset: float(v) for offset, v in zip(offsets, row, strict=True)})
        loc.sql.append(sql)


def _with_run_end(values: Sequence[float], offset: int, start: int) -> dict[int, float]:
    """The order statistic at `offset` of a fetched sorted run (ranks from `start`), with the last rank of
    its tie run and the next value when fetched too: `finite_at_most` then counts through ties."""
    end = offset
    while end + 1 < len(values) and values[end + 1] == values[offset]:
        end += 1
    out = {start + offset: float(values[offset]), start + end: float(values[end])}
    if end + 1 < len(values):
        out[start + end + 1] = float(values[end + 1])
    return out


RANGE_SQL = "SELECT {parts} FROM {view}"
# Unfiltered, DuckDB answers min and max from Parquet's statistics without reading the column. Any range
# will do for the grid (values outside it are clamped into the outer cells); only an infinite or NaN
# bound needs the finite range, read from the values.
BOUNDS = "min({c})::DOUBLE, max({c})::DOUBLE"
FINITE_BOUNDS = "min({c}::DOUBLE) FILTER (WHERE {where}), max({c}::DOUBLE) FILTER (WHERE {where})"
# -1 and bins + 1 are the cells of -inf and +inf, counted apart from the finite grid. Each cell's min and
# max cost little here and spare the fetch of a cell of one value (every cell of a discrete column).
CELLS_SQL = """SELECT {index} AS col, {cell} AS cell, count(*) AS n, min({c}::DOUBLE), max({c}::DOUBLE)
FROM {view} WHERE {where} GROUP BY ALL"""
INFINITE_CELL = "CASE WHEN isinf({c}) THEN CASE WHEN {c} < 0 THEN -1 ELSE ? + 1 END ELSE {bin} END"


def located_from_counts(counts: Mapping[float, int], lo: float, hi: float) -> Located:
    """The locating histogram of a column whose value counts are known (finite values -> rows), on the
    grid over [lo, hi] that `locate` would use: the same cells, counts and extremes, read from no data."""
    loc = Located(lo, hi, cells={})
    for value, n in ((float(v), n) for v, n in counts.items()):
        cell = bin_of(value, lo, hi, loc.bins)
        low, high = loc.extremes.get(cell, (value, value))
        loc.cells[cell] = loc.cells.get(cell, 0) + n
        loc.extremes[cell] = (min(low, value), max(high, value))
    return loc


def located_key(view: str, column: str) -> tuple[str, str, str]:
    """The run-cache key of a column's locating histogram: a check that counted the cells itself
    (data.profile) stores them here, and every later quantile of that column starts from them."""
    return ("quantiles.located", view, column)


def locate(engine: Engine, view: str, types: Mapping[str, str], *, cache: dict | None = None,
           ranges: Mapping[str, tuple[float | None, float | None]] | None = None) -> dict[str, Located]:
    """Each column's locating histogram, from the cache or in two statements for all the columns missing
    there (the finite range, unless `ranges` gives it, then the cells)."""
    cache = {} if cache is None else cache
    todo = [col for col in types if located_key(view, col) not in cache]
    if todo:
        found = {col: ranges[col] for col in todo if ranges and col in ranges}
        statements = []
        for bounds in (BOUNDS, FINITE_BOUNDS):
            need = [col for col in todo if col not in found]
            if not need:
                break
            parts = [bounds.format(c=quote_ident(col), where=finite_condition(col, types[col])) for col in need]
            range_sql = RANGE_SQL.format(parts=", ".join(parts), view=view)
            row = engine.query_one(range_sql)
            statements.append(range_sql)
            for i, col in enumerate(need):
                lo, hi = row[2 * i], row[2 * i + 1]
                if bounds == FINITE_BOUNDS or (lo is not None and math.isfinite(lo) and math.isfinite(hi)):
                    found[col] = (lo, hi)
        located = {col: Located(*(found[col] if found[col][0] is not None else (0.0, 0.0)), cells={})
                   for col in todo}
        selects, params = [], []
        for index, col in enumerate(todo):
            c, loc = quote_ident(col), located[col]
            cell = bin_expr(c)
            if is_float(types[col]):
                cell = INFINITE_CELL.format(c=c, bin=cell)
                params.append(loc.bins)
            selects.append(CELLS_SQL.format(index=index, cell=cell, c=c, view=view,
                                            where=value_condition(col, types[col])))
            params.extend(bin_params(loc.lo, loc.hi, loc.bins))
        cells_sql = " UNION ALL ".join(selects)
        statements.append(cells_sql)
        for index, cell, n, low, high in engine.query(cells_sql, params):
            loc = located[todo[index]]
            if cell == -1:
                loc.negative_infinite = n
            elif cell == loc.bins + 1:
                loc.positive_infinite = n
            else:
                loc.cells[cell], loc.extremes[cell] = n, (low, high)
        for col, loc in located.items():
            loc.sql.extend(statements)
            cache[located_key(view, col)] = loc
    return {col: cache[located_key(view, col)] for col in types}


def quantiles(engine: Engine, view: str, types: Mapping[str, str], probabilities: Sequence[float], *,
              cache: dict | None = None, infinite: bool = False,
              ranges: Mapping[str, tuple[float | None, float | None]] | None = None,
              whole: Mapping[str, set[int]] | None = None) -> tuple[dict[str, list[float]], list[str]]:
    """Exact quantiles (numpy's linear method) of each column (name -> DuckDB type) of a view, and the
    statements they came from. With a cache (ctx.run.cache), what an earlier call located or fetched
    is reused; otherwise at most three statements, plus one per crowded cell. `whole` names cells (of at
    most FETCH_MAX values) whose values the same fetch puts in the column's `Located.whole`."""
    located = locate(engine, view, types, cache=cache, ranges=ranges)
    plans = {col: order_positions(loc.values(infinite), probabilities)
             for col, loc in located.items() if loc.values(infinite)}
    # In a run, the deciles ride along: the drift checks' PSI cut points, and slices' quintiles among them.
    fetched = {col: plan + (order_positions(located[col].values(infinite), SHARED) if cache is not None else [])
               for col, plan in plans.items()}
    ranks: dict[str, set[int]] = {}
    for col, plan in fetched.items():
        at = (located[col].finite_rank(rank, infinite) for below, above, _ in plan for rank in (below, above))
        ranks[col] = {r for r in at if isinstance(r, int)}  # an infinity needs no fetch
    _fetch(engine, view, types, located, ranks, whole)
    out = {col: [stats.lerp(located[col].value(below, infinite), located[col].value(above, infinite), t)
                 for below, above, t in plan] for col, plan in plans.items()}
    statements = list(dict.fromkeys(q for col in plans for q in located[col].sql))
    return out, statements


def exact_quantiles(engine: Engine, ds: Dataset, edges: dict[str, tuple], fine: dict[str, dict[int, int]],
                    probabilities: Sequence[float]) -> tuple[dict[str, list[float]], list[str]]:
    """Exact quantiles of the finite values of each column from a locating histogram the caller counted
    (cell -> count on `bin_expr` with LOCATE_BINS cells over the column's (lo, hi, ...) edges), in one
    more query."""
    located = {col: Located(edges[col][0], edges[col][1], cells) for col, cells in fine.items()}
    types = {col: ds.column(col).type for col in located}
    cache = {located_key(ds.view, col): loc for col, loc in located.items()}
    return quantiles(engine, ds.view, types, probabilities, cache=cache)


def exact_quantiles_of(engine: Engine, ds: Dataset, columns: Sequence[str], probabilities: Sequence[float],
                       *, cache: dict | None = None) -> tuple[dict[str, list[float]], list[str]]:
    """Exact quantiles of the finite values of numeric columns of a dataset (see `quantiles`)."""
    if not columns:
        return {}, []
    return quantiles(engine, ds.view, {col: ds.column(col).type for col in columns}, probabilities, cache=cache)
