"""One statement per dataset: every column's count, nulls and moments.

Null rate, constant columns, profiles, category inference and data
availability all read this one result, so a table is scanned once for them.
For floating columns NaN counts as missing (as pandas treats it) and infinities
are counted apart and left out of the moments.
"""

from __future__ import annotations

from dataclasses import dataclass

from auditor.sources import Dataset
from auditor.sql import Engine, is_float, is_numeric, is_temporal, quote_ident


@dataclass(frozen=True)
class ColumnSummary:
    name: str
    type: str
    rows: int
    nulls: int  # NULL, plus NaN for floating columns
    distinct: int  # approximate (HyperLogLog) beyond a few thousand values
    infinite: int = 0
    min: float | str | None = None
    max: float | str | None = None
    mean: float | None = None
    std: float | None = None  # population (ddof=0)

    @property
    def null_rate(self) -> float | None:
        return self.nulls / self.rows if self.rows else None

    @property
    def numeric(self) -> bool:
        return is_numeric(self.type)


def _column_aggregates(column: str, duck_type: str) -> list[str]:
    """nulls, distinct, infinite, numeric min and max, text min and max, mean, std: one column's aggregates."""
    c = quote_ident(column)
    if is_float(duck_type):
        # The finite values as one expression the aggregates share (DuckDB computes it once), rather than
        # four FILTER clauses each testing isfinite: 10M rows, 0.63 -> 0.52 CPU s a column.
        finite = f"CASE WHEN isfinite({c}) THEN {c} END"
        return [
            f"count(*) FILTER (WHERE {c} IS NULL OR isnan({c}))",
            f"approx_count_distinct({c})",
            f"count(*) FILTER (WHERE isinf({c}))",
            f"min({finite})",
            f"max({finite})",
            "NULL", "NULL",
            f"avg({finite})",
            f"stddev_pop({finite})",
        ]
    if is_numeric(duck_type):
        return [
            f"count(*) FILTER (WHERE {c} IS NULL)",
            f"approx_count_distinct({c})",
            "0",
            f"min({c})::DOUBLE",
            f"max({c})::DOUBLE",
            "NULL", "NULL",
            f"avg({c}::DOUBLE)",
            f"stddev_pop({c}::DOUBLE)",
        ]
    if is_temporal(duck_type):
        return [f"count(*) FILTER (WHERE {c} IS NULL)", f"approx_count_distinct({c})", "0", "NULL", "NULL",
                f"min({c})::VARCHAR", f"max({c})::VARCHAR", "NULL", "NULL"]
    # Strings, booleans and anything else: compared as text for min/max.
    return [f"count(*) FILTER (WHERE {c} IS NULL)", f"approx_count_distinct({c})", "0", "NULL", "NULL",
            f"min({c}::VARCHAR)", f"max({c}::VARCHAR)", "NULL", "NULL"]


COLUMN_SQL = ("SELECT {index} AS i, count(*), {nulls}::BIGINT, {distinct}::BIGINT, {infinite}::BIGINT, {num_min}::DOUBLE, "
              "{num_max}::DOUBLE, {text_min}::VARCHAR, {text_max}::VARCHAR, {mean}::DOUBLE, {std}::DOUBLE FROM {view}")


def summary_sql(dataset: Dataset) -> str:
    """One narrow aggregate per column, as one statement. DuckDB reads each branch's column alone, and
    this costs less than half the CPU of one wide aggregate over every column (13 s -> 6 s at 10M rows)."""
    names = ("nulls", "distinct", "infinite", "num_min", "num_max", "text_min", "text_max", "mean", "std")
    branches = [COLUMN_SQL.format(index=i, view=dataset.view, **dict(zip(names, _column_aggregates(c.name, c.type),
                                                                           strict=True)))
                for i, c in enumerate(dataset.columns)]
    if not branches:
        return f"SELECT NULL AS i, count(*) FROM {dataset.view}"
    return "\nUNION ALL ".join(branches)


def summarize(engine: Engine, dataset: Dataset) -> dict[str, ColumnSummary]:
    """One statement over the dataset; one ColumnSummary per column."""
    rows = {row[0]: row for row in engine.query(summary_sql(dataset))}
    out: dict[str, ColumnSummary] = {}
    for i, col in enumerate(dataset.columns):
        _, count, nulls, distinct, infinite, num_min, num_max, text_min, text_max, mean, std = rows[i]
        numeric = is_numeric(col.type)
        out[col.name] = ColumnSummary(
            name=col.name, type=col.type, rows=int(count), nulls=int(nulls), distinct=int(distinct or 0),
            infinite=int(infinite), min=num_min if numeric else text_min, max=num_max if numeric else text_max,
            mean=float(mean) if mean is not None else None, std=float(std) if std is not None else None,
        )
    return out
