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
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from auditor.engine import long_form
from auditor.engine.base import Engine
from auditor.engine.located import (  # noqa: F401  (re-exported: the quantiles' vocabulary)
    LOCATE_BINS,
    CellMap,
    Located,
    bin_expr,
    bin_of,
    bin_params,
    cell_arrays,
    finite_at_most,
    finite_condition,
    located_from_counts,
    located_key,
    value_condition,
)
from auditor.engine.sources import Dataset
from auditor.engine.sql import is_float, quote_ident
from auditor.stats import distances as stats

FETCH_MAX = 100_000  # a cell of at most this many values is fetched whole; a fuller one is ranked alone
SHARED = stats.DECILES  # fetched along with any quantiles asked in a run (see `quantiles`)


def order_positions(n: int, probabilities: Sequence[float]) -> list[tuple[int, int, float]]:
    """For each quantile: the 0-based ranks around numpy's virtual index (n - 1) * q, and the weight between."""
    out = []
    for q in probabilities:
        virtual = (n - 1) * q
        below = min(math.floor(virtual), n - 1)
        out.append((below, min(below + 1, n - 1), virtual - below))
    return out


def _wanted_cells(cells: Mapping[int, int], ranks: set[int]) -> dict[int, tuple[int, int, list[int]]]:
    """cell -> (its count, the values before it, the offsets inside it of the wanted ranks), in value order."""
    wanted: dict[int, tuple[int, int, list[int]]] = {}
    if not ranks:
        return wanted
    keys, counts = cell_arrays(cells)
    ends = np.cumsum(counts)  # the values up to the end of each cell
    for rank in sorted(ranks):
        i = int(np.searchsorted(ends, rank, side="right"))  # the cell whose values hold this rank
        if i < len(keys):
            count, before = int(counts[i]), int(ends[i] - counts[i])
            wanted.setdefault(int(keys[i]), (count, before, []))[2].append(rank - before)
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
# The columns are stacked in long form (auditor.engine.long_form) as (finite value, cell) pairs, and the
# wanted (column, cell) pairs, bound as lists, pick their rows by a join.
CELL_VALUES_SQL = """SELECT {batch} AS batch, s.k, s.b AS cell, min(s.v), max(s.v), list(s.v) FILTER (WHERE w.listed)
FROM {stacked} AS s
JOIN (SELECT unnest(?::VARCHAR[]) AS k, unnest(?::INTEGER[]) AS b, unnest(?::BOOLEAN[]) AS listed) AS w
  ON s.k = w.k AND s.b = w.b
GROUP BY s.k, s.b"""


def stacked_cells(view: str, types: Mapping[str, str], located: Mapping[str, Located], columns: list[str],
                  *, finite: bool) -> tuple[str, list]:
    """The columns stacked as (k, v, b) rows: each value as DOUBLE and its cell on the column's grid. With
    `finite`, only finite values (as the fetch ranks them); otherwise every value but NULL and NaN, ±infinity
    in cells -1 and bins + 1."""
    entries, params = [], []
    for col in columns:
        c, loc = quote_ident(col), located[col]
        # The value alone, or NULL when it takes no part (NULL itself included: UNPIVOT leaves it out). As
        # short as it can be: at 500 columns, planning a statement costs more than its rows, with its text.
        value = f"{c}::DOUBLE"
        if is_float(types[col]):
            value = f"CASE WHEN {'isfinite' if finite else 'NOT isnan'}({c}) THEN {value} END"
        cell = bin_expr(c)
        if not finite and is_float(types[col]):
            cell = INFINITE_CELL.format(c=c, bin=cell)
            params.append(loc.bins)
        entries.append((value, cell))
        params.extend(bin_params(loc.lo, loc.hi, loc.bins))
    return long_form.unpivot(view, entries, names=("v", "b")), params


def order_statistics_sql(view: str, types: Mapping[str, str], located: Mapping[str, Located],
                         wanted: dict[str, dict[int, tuple[int, int, list[int]]]], *,
                         read: Callable[[str], float] | None = None) -> list[tuple[str, list, list[str]]]:
    """Per stack of columns, one query: per wanted cell, its min, max and (unless crowded) its values; with
    its parameters and its columns. The stacks run one after another (side by side in one statement they
    would read all their columns at once)."""
    out = []
    for batch in long_form.batches(list(wanted), read=read):
        stacked, cell_params = stacked_cells(view, types, located, batch, finite=True)
        pairs = [(str(i), cell, count <= FETCH_MAX) for i, col in enumerate(batch)
                 for cell, (count, _, _) in wanted[col].items()]
        out.append((CELL_VALUES_SQL.format(batch=0, stacked=stacked),
                    [*cell_params, [p[0] for p in pairs], [p[1] for p in pairs], [p[2] for p in pairs]], batch))
    return out


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
    stacks = order_statistics_sql(view, types, located, wanted, read=engine.read_shares(view))
    fetched = [(batch, row) for query, params, batch in stacks for row in engine.query(query, params)]
    query = "\n;\n".join(q for q, _, _ in stacks)
    columns = list(wanted)
    crowded: list[tuple[str, int]] = []  # a cell too full to fetch, with more than one value in it
    for batch, (_, k, cell, low, high, values) in fetched:
        col = batch[long_form.position(k)]
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
# bound needs the finite range, read from the values. A float column's is always read: its statistics
# leave NaN out, so DuckDB takes its max to be NaN (auditor.engine.duckdb_engine, parquet_can_have_nan).
BOUNDS = "min({c})::DOUBLE, max({c})::DOUBLE"
FINITE_BOUNDS = "min(CASE WHEN {where} THEN {c}::DOUBLE END), max(CASE WHEN {where} THEN {c}::DOUBLE END)"
# -1 and bins + 1 are the cells of -inf and +inf, counted apart from the finite grid. Each cell's min and
# max cost little here and spare the fetch of a cell of one value (every cell of a discrete column).
# The columns are stacked in long form: one grouping by (column, cell) for each batch of columns.
CELLS_SQL = "SELECT {batch} AS batch, k, b, count(*) AS n, min(v) AS lo, max(v) AS hi FROM {stacked} GROUP BY k, b"
INFINITE_CELL = "CASE WHEN isinf({c}) THEN CASE WHEN {c} < 0 THEN -1 ELSE ? + 1 END ELSE {bin} END"


def _ranges(engine: Engine, view: str, types: Mapping[str, str], todo: list[str],
            found: dict[str, tuple], statements: list[str]) -> None:
    """Each column's range for its grid, into `found`: from the file's statistics, else its finite values."""
    for bounds in (BOUNDS, FINITE_BOUNDS):
        left = [col for col in todo if col not in found and (bounds == FINITE_BOUNDS or not is_float(types[col]))]
        for batch in long_form.batches(left, read=engine.read_shares(view)):
            parts = [bounds.format(c=quote_ident(col), where=finite_condition(col, types[col])) for col in batch]
            range_sql = RANGE_SQL.format(parts=", ".join(parts), view=view)
            row = engine.query_one(range_sql)
            statements.append(range_sql)
            for i, col in enumerate(batch):
                lo, hi = row[2 * i], row[2 * i + 1]
                if bounds == FINITE_BOUNDS or (lo is not None and math.isfinite(lo) and math.isfinite(hi)):
                    found[col] = (lo, hi)


CELL_GROUPS_MAX = 250_000  # (column, cell) groups of one locating statement at most


def _read_cells(rows: dict, batch: list[str], located: Mapping[str, Located]) -> None:
    """Each column's cells, infinities, counts and extremes from a locating statement's (k, b, n, lo, hi) rows."""
    keys = rows["k"].astype(np.int64)
    order = np.lexsort((rows["b"], keys))
    keys, b = keys[order], rows["b"][order].astype(np.int64)
    n, lo, hi = rows["n"][order].astype(np.int64), rows["lo"][order], rows["hi"][order]
    for i, col in enumerate(batch):
        first, end = np.searchsorted(keys, [i, i + 1])
        loc, cells = located[col], b[first:end]
        finite = (cells >= 0) & (cells < loc.bins)
        loc.negative_infinite = int(n[first:end][cells == -1].sum())
        loc.positive_infinite = int(n[first:end][cells == loc.bins + 1].sum())
        loc.cells = CellMap.of_arrays(cells[finite], n[first:end][finite])
        loc.extremes = CellMap.of_arrays(cells[finite], lows=lo[first:end][finite], highs=hi[first:end][finite])


def locate(engine: Engine, view: str, types: Mapping[str, str], *, cache: dict | None = None,
           ranges: Mapping[str, tuple[float | None, float | None]] | None = None) -> dict[str, Located]:
    """Each column's locating histogram, from the cache or in two statements for all the columns missing
    there (the finite range, unless `ranges` gives it, then the cells)."""
    cache = {} if cache is None else cache
    todo = [col for col in types if located_key(view, col) not in cache]
    if todo:
        found = {col: ranges[col] for col in todo if ranges and col in ranges}
        statements: list[str] = []
        _ranges(engine, view, types, todo, found, statements)
        located = {col: Located(*(found[col] if found[col][0] is not None else (0.0, 0.0)), cells={})
                   for col in todo}
        # One statement per batch of columns, each sized so its groups (cells) fit the memory limit: 1,000
        # columns of 20,000 rows in two batches of ~1M cells ran out of a 488 MiB limit.
        (rows,) = engine.query_one(f"SELECT count(*) FROM {view}")  # the attach's own count, remembered

        def cells(col: str) -> int:
            return min(int(rows), LOCATE_BINS) + 2

        for batch in long_form.batches(todo, weight=cells, budget=CELL_GROUPS_MAX, read=engine.read_shares(view)):
            stacked, cell_params = stacked_cells(view, types, located, batch, finite=False)
            cells_sql = CELLS_SQL.format(batch=0, stacked=stacked)
            statements.append(cells_sql)
            _read_cells(engine.query_arrays(cells_sql, cell_params), batch, located)
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
