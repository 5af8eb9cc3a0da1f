"""Exact counts of each value of low-cardinality columns, counted once per run and shared.

data.constant_columns needs each feature's most frequent value and data.profile each
categorical column's categories. For a column of a few thousand values an exact count per
value (DuckDB's `histogram`, a small hash table) costs a fifth of `approx_top_k(col, 1)`
(10M rows: 0.1 vs 0.55 CPU s a column), and is exact. The counts are kept in the run's
cache per (view, column), so a second check asking for a column reads no data.

Only integer and VARCHAR columns are counted here: their values print the same in Python
and in DuckDB (`str(7) == 7::VARCHAR`), so a caller may show them as text either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from auditor.engine.duckdb_engine import Engine
from auditor.engine.repeats import EXACT_DOUBLE
from auditor.engine.sources import Dataset
from auditor.engine.sql import is_integer, quote_ident

VALUE_COUNTS_SQL = "SELECT {parts} FROM {view}"
EXACT_VALUES_MAX = 10_000  # columns with about this many distinct values or fewer are counted exactly


def counted_exactly(distinct: int) -> bool:
    """Whether a column of about this many distinct values (the summary's estimate) is cheap to count per value."""
    return distinct <= EXACT_VALUES_MAX


def countable(duck_type: str) -> bool:
    """Whether a column of this type can be counted here (integers and text)."""
    return is_integer(duck_type) or duck_type.upper() == "VARCHAR"


def value_counts(engine: Engine, ds: Dataset, columns: Sequence[str], *,
                 cache: dict | None = None) -> tuple[dict[str, dict[Any, int]], list[str]]:
    """{column: {value: rows}} over the non-null values of each column, and the statements they came
    from. One statement for every column not counted yet in this run (`cache`: ctx.run.cache)."""
    for col in columns:
        assert countable(ds.column(col).type), f"{col} is {ds.column(col).type}"
    return value_counts_of_view(engine, ds.view, columns, cache=cache)


def value_counts_of_view(engine: Engine, view: str, columns: Sequence[str], *,
                         cache: dict | None = None) -> tuple[dict[str, dict[Any, int]], list[str]]:
    """`value_counts` of columns of a view (a quoted name) the caller knows to be countable."""
    cache = {} if cache is None else cache
    todo = [col for col in columns if ("value_counts", view, col) not in cache]
    if todo:
        sql = VALUE_COUNTS_SQL.format(parts=", ".join(f"histogram({quote_ident(c)})" for c in todo), view=view)
        row = engine.query_one(sql)
        for col, counts in zip(todo, row, strict=True):
            cache[("value_counts", view, col)] = (dict(counts or {}), sql)
    found = {col: cache[("value_counts", view, col)] for col in columns}
    statements = list(dict.fromkeys(sql for _, sql in found.values()))
    return {col: counts for col, (counts, _) in found.items()}, statements


def spans_few(low: float | None, high: float | None, span: int) -> bool:
    """Whether an integer column's min and max (as the summary or Parquet's statistics give them) span
    fewer than `span` values, exactly as doubles: then its value counts are a small histogram."""
    return (low is not None and high is not None and abs(low) < EXACT_DOUBLE and abs(high) < EXACT_DOUBLE
            and high - low < span)


# Unfiltered, DuckDB answers min and max from Parquet's statistics without reading the columns.
RANGES_SQL = "SELECT {side} AS side, {parts} FROM {view}"


def few_valued_integers(engine: Engine, views: Sequence[str], columns: Sequence[str],
                        span: int) -> tuple[list[str], list[str]]:
    """The columns that hold integers spanning fewer than `span` values (max - min < span, exact as
    doubles) in every view, so their value counts are small; and the statement that told. A column
    with no value in some view, or of a type DuckDB does not return as a Python int, is not one."""
    if not columns or not views:
        return [], []
    parts = ", ".join(f"min({quote_ident(c)}), max({quote_ident(c)})" for c in columns)
    sql = "\nUNION ALL ".join(RANGES_SQL.format(side=i, parts=parts, view=view) for i, view in enumerate(views))
    few = set(columns)
    for _, *bounds in engine.query(sql):
        for col, low, high in zip(columns, bounds[::2], bounds[1::2], strict=True):
            integers = all(isinstance(b, int) and not isinstance(b, bool) for b in (low, high))
            if not (integers and spans_few(low, high, span)):
                few.discard(col)
    return [c for c in columns if c in few], [sql]
