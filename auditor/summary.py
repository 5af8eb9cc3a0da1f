"""One fused scan per dataset: every column's count, nulls and moments.

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
    c = quote_ident(column)
    if is_float(duck_type):
        finite = f"isfinite({c})"
        return [
            f"count(*) FILTER (WHERE {c} IS NULL OR isnan({c}))",
            f"approx_count_distinct({c})",
            f"count(*) FILTER (WHERE isinf({c}))",
            f"min({c}) FILTER (WHERE {finite})",
            f"max({c}) FILTER (WHERE {finite})",
            f"avg({c}) FILTER (WHERE {finite})",
            f"stddev_pop({c}) FILTER (WHERE {finite})",
        ]
    if is_numeric(duck_type):
        return [
            f"count(*) FILTER (WHERE {c} IS NULL)",
            f"approx_count_distinct({c})",
            "0",
            f"min({c})::DOUBLE",
            f"max({c})::DOUBLE",
            f"avg({c}::DOUBLE)",
            f"stddev_pop({c}::DOUBLE)",
        ]
    if is_temporal(duck_type):
        return [f"count(*) FILTER (WHERE {c} IS NULL)", f"approx_count_distinct({c})", "0",
                f"min({c})::VARCHAR", f"max({c})::VARCHAR", "NULL", "NULL"]
    # Strings, booleans and anything else: compared as text for min/max.
    return [f"count(*) FILTER (WHERE {c} IS NULL)", f"approx_count_distinct({c})", "0",
            f"min({c}::VARCHAR)", f"max({c}::VARCHAR)", "NULL", "NULL"]


def summary_sql(dataset: Dataset) -> str:
    parts = ["count(*)"]
    for col in dataset.columns:
        parts.extend(_column_aggregates(col.name, col.type))
    return f"SELECT {', '.join(parts)} FROM {dataset.view}"


def summarize(engine: Engine, dataset: Dataset) -> dict[str, ColumnSummary]:
    """One scan of the dataset; one ColumnSummary per column."""
    row = engine.query_one(summary_sql(dataset))
    rows = int(row[0])
    out: dict[str, ColumnSummary] = {}
    for i, col in enumerate(dataset.columns):
        nulls, distinct, infinite, lo, hi, mean, std = row[1 + 7 * i: 8 + 7 * i]
        out[col.name] = ColumnSummary(
            name=col.name, type=col.type, rows=rows, nulls=int(nulls), distinct=int(distinct or 0),
            infinite=int(infinite), min=lo, max=hi,
            mean=float(mean) if mean is not None else None, std=float(std) if std is not None else None,
        )
    return out
