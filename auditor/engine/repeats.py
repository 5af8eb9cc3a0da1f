"""Repeated values of a column: duplicated ids, and pandera's `unique` on one column.

data.duplicates, data.schema (a unique column) and data.leakage all ask the same question
of the id column. Grouping 10M distinct ids costs about 3 CPU seconds and 350 MB per table
and per check; almost always the answer is "no repeats". So an integer column whose range
is known (from the run's summary) is first counted with a bitmap of its range
(`bitstring_agg`, one bit per possible value: 10M ids in 1.2 MB and 0.4 CPU s): when the
bitmap holds as many bits as the column has values, no value repeats and nothing is
grouped. Otherwise, or for other types, one grouping keeps only the repeated values. Both
statements are plain reads with fixed text and parameters, so the engine answers a second
check that asks the same from its per-run cache.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from auditor.engine.base import Engine
from auditor.engine.sources import Dataset
from auditor.engine.sql import is_integer, quote_ident
from auditor.engine.summary import ColumnSummary

BITMAP_MAX_BITS = 1 << 27  # 16 MB per thread's bitmap; a wider range of ids is grouped instead
EXACT_DOUBLE = 1 << 53  # the summary's min and max are DOUBLE: exact integers only below this
LISTED_MAX = 100_000  # the repeated values themselves are returned up to this many

CENSUS_SQL = "SELECT count({c}), bit_count(bitstring_agg({c}, ?, ?)) FROM {view}"
CHUNK_VALUES = 2_000_000  # values grouped at a time: 10M ids in one hash table took 300 MB, in five 85 MB
# One grouping gives the counts, the sample and the list; only repeated values are kept
# (MATERIALIZED: the grouping runs once, not once per use).
REPEATS_SQL = """WITH repeated AS MATERIALIZED ({grouped})
SELECT (SELECT count(*) FROM repeated) AS repeated_values, (SELECT coalesce(sum(n), 0) FROM repeated) AS rows,
  (SELECT list(struct_pack(v := v, text := v::VARCHAR, n := n) ORDER BY n DESC, v::VARCHAR) FROM
     (SELECT v, n FROM repeated ORDER BY n DESC, v::VARCHAR LIMIT ?)) AS sample,
  (SELECT CASE WHEN count(*) <= ? THEN list(v) END FROM repeated) AS every_value"""
GROUPED = "SELECT {key} AS v, count(*) AS n FROM {view} WHERE {where} GROUP BY ALL HAVING count(*) > 1"
# Once the bitmap shows repeats, the values are first grouped 64 consecutive ones to a bucket, and a
# bucket holding more rows than the bits its values set (bit_or of 1 << offset: its distinct values)
# holds a repeat; then only the rows of those buckets are grouped by value. 10M ids with 150 repeated:
# 156k small groups and 150 buckets' rows, 0.65 + 0.39 CPU s, instead of grouping every id (five ranges
# of 2M values, 3 CPU s, 85 MB each). Buckets beyond a range's worth of values fall back to the ranges.
BUCKET_VALUES = 64
BUCKETS_SQL = """SELECT ({c} - ?) // 64 AS bucket FROM {view} WHERE {c} IS NOT NULL GROUP BY ALL
HAVING count(*) > bit_count(bit_or(1::UBIGINT << (({c} - ?) % 64)::INTEGER)) LIMIT ?"""
IN_BUCKETS = "({c} - ?) // 64 IN (SELECT unnest(?::BIGINT[]))"


@dataclass(frozen=True)
class Repeats:
    """The non-null values of a column (or key expression) that occur more than once."""

    values: int  # how many distinct values repeat
    rows: int  # rows holding a repeated value
    sample: list[tuple[Any, str, int]] = field(default_factory=list)  # (value, as text, rows): most rows first
    every_value: list | None = None  # all repeated values, when at most LISTED_MAX (else None)
    sql: list[str] = field(default_factory=list)

    @property
    def extra_rows(self) -> int:
        """Rows beyond the first of each repeated value (pandas' `duplicated()` count)."""
        return self.rows - self.values


def _bitmap_range(ds: Dataset, column: str, summary: ColumnSummary | None) -> tuple[int, int] | None:
    """(lo, hi) for the bitmap census, or None when it cannot be used (type, unknown or wide range)."""
    col = ds.column(column)
    if col is None or not is_integer(col.type) or summary is None or summary.min is None or summary.max is None:
        return None
    lo, hi = summary.min, summary.max
    if not (abs(lo) < EXACT_DOUBLE and abs(hi) < EXACT_DOUBLE and lo == int(lo) and hi == int(hi)):
        return None
    if int(hi) - int(lo) + 1 > BITMAP_MAX_BITS:
        return None
    return int(lo), int(hi)


def find_repeats(engine: Engine, ds: Dataset, column: str, *, sample: int, summary: ColumnSummary | None = None,
                 key: str | None = None) -> Repeats:
    """Repeated non-null values of `column` (or of the SQL `key` computed from it) in `ds`.

    With `summary` (the run's summary of that column) an integer column is first counted in a
    bitmap, and grouped only when some value repeats."""
    key = key or quote_ident(column)
    statements = []
    bounds = _bitmap_range(ds, column, summary) if key == quote_ident(column) and engine.bitmaps else None
    chunks: list[list[int]] = []
    if bounds is not None:
        census = CENSUS_SQL.format(c=key, view=ds.view)
        present, distinct = engine.query_one(census, list(bounds))
        statements.append(census)
        if int(present) == int(distinct or 0):
            return Repeats(values=0, rows=0, sample=[], every_value=[], sql=statements)
        lo, hi = bounds
        most = CHUNK_VALUES // BUCKET_VALUES
        buckets_sql = BUCKETS_SQL.format(c=key, view=ds.view)
        buckets = [bucket for (bucket,) in engine.query(buckets_sql, [lo, lo, most + 1])]
        statements.append(buckets_sql)
        if len(buckets) <= most:
            query = REPEATS_SQL.format(grouped=GROUPED.format(key=key, view=ds.view, where=IN_BUCKETS.format(c=key)))
            values, rows, listed, every = engine.query_one(query, [lo, buckets, int(sample), LISTED_MAX])
            statements.append(query)
            return _repeats(values, rows, listed, every, statements)
        # Grouped a range of values at a time: memory for CHUNK_VALUES groups, not all.
        parts = -(-int(distinct) // CHUNK_VALUES)
        if parts > 1:
            step = -(-(hi - lo + 1) // parts)
            chunks = [[start, min(hi, start + step - 1)] for start in range(lo, hi + 1, step)]
    if not chunks:
        query = REPEATS_SQL.format(grouped=GROUPED.format(key=key, view=ds.view, where=f"{key} IS NOT NULL"))
        values, rows, listed, every = engine.query_one(query, [int(sample), LISTED_MAX])
        statements.append(query)
    else:
        # One statement a range, one after another: a single UNION ALL of every range kept all their hash
        # tables alive together, so its memory grew with the rows (+528 MB at 100M). The text is the same
        # for every range (only the bounds differ), so the evidence shows it once.
        query = REPEATS_SQL.format(grouped=GROUPED.format(key=key, view=ds.view, where=f"{key} BETWEEN ? AND ?"))
        values = rows = 0
        listed, every = [], []
        for bounds_of_chunk in chunks:
            v, r, chunk_listed, chunk_every = engine.query_one(query, [*bounds_of_chunk, int(sample), LISTED_MAX])
            if not int(v):
                continue  # no repeat in this range: its list is NULL, which is not "too many to list"
            values, rows = values + int(v), rows + int(r)
            listed += chunk_listed or []
            every = None if every is None or chunk_every is None else every + list(chunk_every)
        # The same order as the single statement's: most rows first, then by the value's text.
        listed = sorted(listed, key=lambda s: (-int(s["n"]), s["text"]))[:int(sample)]
        if every is not None and len(every) > LISTED_MAX:
            every = None
        statements.append(query)
    return _repeats(values, rows, listed, every, statements)


def _repeats(values: int, rows: int, listed: list | None, every: list | None, statements: list[str]) -> Repeats:
    found = [(s["v"], s["text"], int(s["n"])) for s in listed or []]
    every_value = [] if int(values) == 0 else (list(every) if every is not None else None)
    return Repeats(values=int(values), rows=int(rows), sample=found, every_value=every_value, sql=statements)


SHARED_BITMAP_SQL = ("SELECT bit_count(bitstring_agg({c}, ?, ?) & (SELECT bitstring_agg({c}, ?, ?) FROM {reference})) "
                     "FROM {current}")


def count_shared(engine: Engine, current: Dataset, reference: Dataset, column: str, *,
                 current_summary: ColumnSummary | None, reference_summary: ColumnSummary | None,
                 ) -> tuple[int | None, list[str]]:
    """How many non-null values of an integer column both tables hold, without grouping either: 0 when
    their ranges do not meet, else the AND of two bitmaps over the joint range. None when it cannot
    tell cheaply (other types, a range too wide): then the caller intersects the tables."""
    bounds = [_bitmap_range(current, column, current_summary), _bitmap_range(reference, column, reference_summary)]
    if None in bounds or not engine.bitmaps:
        return None, []
    (lo_c, hi_c), (lo_r, hi_r) = bounds
    if hi_c < lo_r or hi_r < lo_c:
        return 0, []
    lo, hi = min(lo_c, lo_r), max(hi_c, hi_r)
    if hi - lo + 1 > BITMAP_MAX_BITS:
        return None, []
    sql = SHARED_BITMAP_SQL.format(c=quote_ident(column), current=current.view, reference=reference.view)
    (shared,) = engine.query_one(sql, [lo, hi, lo, hi])
    return int(shared or 0), [sql]
