"""One column's values as relations, for the drift statistics: what is missing, value counts, raw values,
order statistics from value counts (the reference deciles of a subquery with parameters), a small sample.

Relations are SQL text with their bound parameters, so a view, a time window of a log or a
kept temporary table all serve; identifiers are quoted and values bound, never formatted in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from auditor.engine.base import Engine
from auditor.engine.quantiles import LOCATE_BINS, Located
from auditor.engine.sql import is_float, is_integer, quote_ident
from auditor.engine.value_counts import few_valued_integers, value_counts_of_view
from auditor.stats import distances as stats

Kind = Literal["numeric", "categorical"]


@dataclass(frozen=True)
class Relation:
    """Rows to compare: a view name or a parenthesised subquery, with its bound parameters."""

    sql: str
    params: tuple = ()
    unit: bool = False  # a (v, n) relation whose every n is 1 (raw values, not value counts)


@dataclass(frozen=True)
class DriftColumn:
    name: str
    type: str  # DuckDB type
    kind: Kind


def missing_condition(column: DriftColumn) -> str:
    """SQL true for a value left out of the tests: NULL, and NaN for floating columns."""
    c = quote_ident(column.name)
    return f"({c} IS NULL OR isnan({c}))" if is_float(column.type) else f"({c} IS NULL)"


def valid_condition(column: DriftColumn) -> str:
    """SQL true for a value the tests take: the negation of missing_condition."""
    return f"NOT {missing_condition(column)}"


VALUE_COUNTS_SQL = "SELECT {col}::DOUBLE AS v, count(*) AS n FROM {rel} WHERE {valid} GROUP BY 1"


def value_counts(column: DriftColumn, rel: Relation) -> Relation:
    """The column's distinct non-missing values with their counts (v, n), as a relation."""
    sql = VALUE_COUNTS_SQL.format(col=quote_ident(column.name), rel=rel.sql, valid=valid_condition(column))
    return Relation(f"({sql})", rel.params)


@dataclass(frozen=True)
class Counted:
    """Few-valued integer columns' exact value counts on both sides, and the statements they took."""

    reference: dict[str, dict[int, int]]
    current: dict[str, dict[int, int]]
    sql: list[str]  # the range statement that chose the columns
    reference_sql: list[str]
    current_sql: list[str]


def counted_sides(engine: Engine, reference: Relation, current: Relation, columns: list[DriftColumn],
                  *, cache: dict | None = None) -> Counted:
    """The value counts of the numeric integer columns spanning fewer values than the locating grid has cells
    on both sides (two views), from the run's shared counts (auditor.engine.value_counts): small histograms that
    locate the reference (every cell holds one value) and feed the sorted KS with no grouping scan of its own.
    Parquet statistics (one statement) tell which columns qualify; none for a relation with parameters."""
    candidates = [c.name for c in columns if c.kind == "numeric" and is_integer(c.type)]
    if reference.params or current.params or not candidates:
        return Counted({}, {}, [], [], [])
    few, sql = few_valued_integers(engine, [reference.sql, current.sql], candidates, LOCATE_BINS)
    if not few:
        return Counted({}, {}, sql, [], [])
    types = {c.name: c.type for c in columns if c.name in few}
    ref, ref_sql = value_counts_of_view(engine, reference.sql, types, cache=cache)
    cur, cur_sql = value_counts_of_view(engine, current.sql, types, cache=cache)
    return Counted(ref, cur, sql, ref_sql, cur_sql)


def located_values(loc: Located) -> dict[float, int] | None:
    """The column's value counts when each cell of its locating histogram holds a single value (min = max), as
    a few-valued column's do; otherwise None. ±infinity count as values, as in the tests."""
    if len(loc.extremes) != len(loc.cells) or any(low != high for low, high in loc.extremes.values()):
        return None
    counts = {float(loc.extremes[cell][0]): n for cell, n in loc.cells.items()}
    for value, n in ((-math.inf, loc.negative_infinite), (math.inf, loc.positive_infinite)):
        if n:
            counts[value] = n
    return counts


def counted_values(counts: dict[int, int] | dict[float, int]) -> Relation:
    """Known value counts as a (v, n) relation, bound as two lists: no data read."""
    values = sorted(counts)
    return Relation("(SELECT unnest(?::DOUBLE[]) AS v, unnest(?::BIGINT[]) AS n)",
                    ([float(v) for v in values], [int(counts[v]) for v in values]))


ORDER_STATISTICS_SQL = """WITH value_counts AS (SELECT v, n FROM {counts}),
ranked AS (SELECT v, (sum(n) OVER (ORDER BY v ROWS UNBOUNDED PRECEDING))::BIGINT AS cum FROM value_counts)
SELECT {picks} FROM ranked"""


def order_statistics_sql(counts: Relation, positions: list[int]) -> tuple[str, list]:
    """The values at 0-based positions of the sorted values, from value counts (v, n).

    DuckDB's quantile_cont would hold every value in memory at once, per column; a
    hash aggregate and a window spill to disk, so memory stays bounded as rows grow.
    """
    picks = ", ".join("min(v) FILTER (WHERE cum > ?)" for _ in positions)
    return ORDER_STATISTICS_SQL.format(counts=counts.sql, picks=picks), [*counts.params, *positions]


def reference_deciles(engine: Engine, column: DriftColumn, rel: Relation, n: int,
                      *, counts: Relation | None = None) -> tuple[list[float], str]:
    """np.quantile(values, [0.1, ..., 0.9]) (linear method) of the n non-missing values, exactly."""
    plan = stats.decile_positions(n)
    positions = sorted({p for lo, hi, _ in plan for p in (lo, hi)})
    query, params = order_statistics_sql(counts or value_counts(column, rel), positions)
    at = dict(zip(positions, engine.query_one(query, params), strict=True))
    return [stats.lerp(at[lo], at[hi], t) for lo, hi, t in plan], query


VALUES_SQL = "SELECT {col}::DOUBLE FROM {rel} WHERE {valid} LIMIT ?"


def fetch_values(engine: Engine, column: DriftColumn, rel: Relation, limit: int) -> np.ndarray:
    """At most `limit` values (only used when a side has at most KS_EXACT_MAX_N of them)."""
    sql = VALUES_SQL.format(col=quote_ident(column.name), rel=rel.sql, valid=valid_condition(column))
    rows = engine.query(sql, [*rel.params, limit])
    return np.array([r[0] for r in rows], dtype=np.float64)


def raw_values(column: DriftColumn, rel: Relation) -> Relation:
    """The column's non-missing values as (v, n = 1) pairs."""
    c = quote_ident(column.name)
    return Relation(f"(SELECT {c}::DOUBLE AS v, 1::BIGINT AS n FROM {rel.sql} WHERE {valid_condition(column)})", rel.params,
                    unit=True)
