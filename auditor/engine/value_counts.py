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

from collections.abc import Mapping, Sequence
from typing import Any

from auditor.engine import long_form
from auditor.engine.base import Engine
from auditor.engine.repeats import EXACT_DOUBLE
from auditor.engine.sources import Dataset
from auditor.engine.sql import is_integer, quote_ident

# A `histogram` per column holds about 4.5 MB however few its values (100 text columns of 5 to 25
# values each ran out of a 488 MiB memory_limit at 20k rows). So a few columns are counted by one
# histogram each, and more are stacked in long form (auditor.engine.long_form), each type apart so
# values keep it, and grouped by (column, value): one hash table that spills. Stacking costs more
# CPU per value (10M rows, four text columns: 1.36 CPU s against 0.19 for four histograms).
HISTOGRAMS_MAX = long_form.NARROW_MAX
HISTOGRAMS_SQL = "SELECT {parts} FROM {view}"
VALUE_COUNTS_SQL = "SELECT {batch} AS batch, k, v, count(*) AS n FROM {stacked} GROUP BY k, v"
EXACT_VALUES_MAX = 10_000  # columns with about this many distinct values or fewer are counted exactly
GROUPS_MAX = 1_000_000  # (column, value) groups of one statement at most, as the caller's sizes estimate them


def counted_exactly(distinct: int) -> bool:
    """Whether a column of about this many distinct values (the summary's estimate) is cheap to count per value."""
    return distinct <= EXACT_VALUES_MAX


def countable(duck_type: str) -> bool:
    """Whether a column of this type can be counted here (integers and text)."""
    return is_integer(duck_type) or duck_type.upper() == "VARCHAR"


def value_counts(engine: Engine, ds: Dataset, columns: Sequence[str], *, cache: dict | None = None,
                 sizes: Mapping[str, int] | None = None) -> tuple[dict[str, dict[Any, int]], list[str]]:
    """{column: {value: rows}} over the non-null values of each column, and the statements they came
    from. One statement for every column not counted yet in this run (`cache`: ctx.run.cache), or more
    when their `sizes` (approximate distinct values) add up to more than GROUPS_MAX."""
    for col in columns:
        assert countable(ds.column(col).type), f"{col} is {ds.column(col).type}"
    return value_counts_of_view(engine, ds.view, {col: ds.column(col).type for col in columns}, cache=cache,
                                sizes=sizes)


def value_counts_of_view(engine: Engine, view: str, types: Mapping[str, str], *, cache: dict | None = None,
                         sizes: Mapping[str, int] | None = None) -> tuple[dict[str, dict[Any, int]], list[str]]:
    """`value_counts` of columns (name -> DuckDB type) of a view (a quoted name) the caller knows to be countable."""
    cache = {} if cache is None else cache
    todo = [col for col in types if ("value_counts", view, col) not in cache]
    if 0 < len(todo) <= HISTOGRAMS_MAX:
        sql = HISTOGRAMS_SQL.format(parts=", ".join(f"histogram({quote_ident(c)})" for c in todo), view=view)
        for col, counts in zip(todo, engine.query_one(sql), strict=True):
            cache[("value_counts", view, col)] = (dict(counts or {}), sql)
        todo = []
    def groups(col: str) -> int:  # the column's estimated values, and its NULL
        return min((sizes or {}).get(col, EXACT_VALUES_MAX), EXACT_VALUES_MAX) + 1

    for batch in long_form.batches(todo, weight=groups, budget=GROUPS_MAX, read=engine.read_shares(view)):
        families: dict[str, list[str]] = {}
        for col in batch:
            families.setdefault(types[col].upper(), []).append(col)
        plan = list(families.values())
        sql = "\nUNION ALL ".join(
            VALUE_COUNTS_SQL.format(batch=i, stacked=long_form.unpivot(view, [quote_ident(c) for c in members]))
            for i, members in enumerate(plan))
        counted: dict[str, dict[Any, int]] = {col: {} for col in batch}
        for i, k, value, n in engine.query(sql):
            counted[plan[i][long_form.position(k)]][value] = int(n)
        for col in batch:
            cache[("value_counts", view, col)] = (counted[col], sql)
    found = {col: cache[("value_counts", view, col)] for col in types}
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
