"""One statement per dataset: every column's count, nulls and moments.

Null rate, constant columns, profiles, category inference and data
availability all read this one result, so a table is scanned once for them.
For floating columns NaN counts as missing (as pandas treats it) and infinities
are counted apart and left out of the moments.

Columns are stacked in long form (auditor.engine.long_form) by family: numbers as DOUBLE, text
(and anything compared as text, like booleans) as VARCHAR, each temporal type as itself; a family
of more than MAX_COLUMNS columns is split. Each stack is one GROUP BY k, and the stacks are one
statement per stack (a few statements per 500 columns, whatever the column count).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

from auditor.engine import long_form
from auditor.engine.base import Engine
from auditor.engine.sources import Column, Dataset
from auditor.engine.sql import is_numeric, is_temporal, quote_ident


@dataclass(frozen=True)
class ColumnSummary:
    name: str
    type: str
    rows: int
    nulls: int  # NULL, plus NaN for floating columns
    distinct: int  # approximate (HyperLogLog) beyond a few thousand values, never above rows - nulls
    infinite: int = 0
    min: float | str | None = None
    max: float | str | None = None
    mean: float | None = None
    std: float | None = None  # population (ddof=0)
    sql: str = field(default="", compare=False, repr=False)  # the statement that summarizes this column

    @property
    def null_rate(self) -> float | None:
        return self.nulls / self.rows if self.rows else None

    @property
    def numeric(self) -> bool:
        return is_numeric(self.type)


# Per family: how a column is stacked, and the aggregates of its stacked values v (k, non-missing values,
# NaN, infinite, distinct, numeric min and max, text min and max, mean, std). Each numeric type is stacked
# as itself, so the distinct count hashes the values a per-column count would (an integer's hash is not
# its DOUBLE's); min, max and the moments are DOUBLE, as before. The finite values are one expression the
# aggregates share. Text min and max are left out where the file's statistics give them (`bounds`).
FINITE = "CASE WHEN isfinite(v::DOUBLE) THEN v::DOUBLE END"
NUMBER_AGGREGATES = (f"count(v), count(CASE WHEN isnan(v::DOUBLE) THEN 1 END), count(CASE WHEN isinf(v::DOUBLE) THEN 1 END), "
                     f"approx_count_distinct(v), min({FINITE}), max({FINITE}), NULL::VARCHAR, NULL::VARCHAR, "
                     f"avg({FINITE}), stddev_pop({FINITE})")
TEXT_AGGREGATES = ("count(v), 0, 0, approx_count_distinct(v), NULL::DOUBLE, NULL::DOUBLE, {low}, {high}, "
                   "NULL::DOUBLE, NULL::DOUBLE")
BRANCH_SQL = "SELECT {batch} AS batch, k, {aggregates} FROM {stacked} GROUP BY k"


def family(column: Column, metadata_bounds: Collection[str] = ()) -> tuple[str, str, bool]:
    """(the SQL type a column is stacked as, its expression, whether its min and max are read from the values)."""
    c = quote_ident(column.name)
    if is_numeric(column.type):
        return f"NUMBER {column.type.upper()}", c, True
    if is_temporal(column.type):  # compared in their own type, shown as text
        return column.type.upper(), c, column.name not in metadata_bounds
    return "VARCHAR", f"{c}::VARCHAR", column.name not in metadata_bounds


def summary_plan(dataset: Dataset, columns: list[Column] | None = None, *, metadata_bounds: Collection[str] = (),
                 read: Callable[[str], float] | None = None) -> tuple[str, list[list[Column]]]:
    """The summary statement of some (default all) columns of a dataset, and the columns of each of its
    branches, in order: a branch's k-th row is its k-th column. `read`: each column's read share
    (`Engine.read_shares`), so no branch reads more than a statement may hold."""
    columns = list(dataset.columns if columns is None else columns)
    families: dict[tuple[str, bool], list[Column]] = {}
    exprs: dict[str, str] = {}
    for col in columns:
        kind, expr, read_bounds = family(col, metadata_bounds)
        families.setdefault((kind, read_bounds), []).append(col)
        exprs[col.name] = expr
    branches, plan = [], []
    for (kind, read_bounds), members in families.items():
        if kind.startswith("NUMBER"):
            aggregates = NUMBER_AGGREGATES
        else:
            low, high = ("min(v)::VARCHAR", "max(v)::VARCHAR") if read_bounds else ("NULL::VARCHAR", "NULL::VARCHAR")
            aggregates = TEXT_AGGREGATES.format(low=low, high=high)
        for batch in long_form.batches(members, read=read and (lambda c: read(c.name))):
            stacked = long_form.unpivot(dataset.view, [exprs[c.name] for c in batch])
            branches.append(BRANCH_SQL.format(batch=len(plan), aggregates=aggregates, stacked=stacked))
            plan.append(batch)
    return "\nUNION ALL ".join(branches), plan


# DuckDB answers an unfiltered min and max from Parquet's statistics without reading the column. Text min
# and max cost more than the distinct count beside them (10M rows: model_version 0.32 -> 0.09 CPU s, the
# summary of a table ~0.8 s less), so where the source keeps such statistics for a text or temporal
# column, its bounds come from one statement of min and max alone (`bounds_from_metadata`).
BOUNDS_SQL = "SELECT {parts} FROM {view}"


def bounds_sql(view: str, columns: list[Column]) -> str:
    """min and max of each column, as text: answered from the statistics, or read, as one statement."""
    parts = ", ".join(f"min({quote_ident(c.name)})::VARCHAR, max({quote_ident(c.name)})::VARCHAR" for c in columns)
    return BOUNDS_SQL.format(parts=parts, view=view)


def _bounded(column: Column) -> bool:
    """Whether a column's min and max could come from a file's statistics: text and temporal columns
    compared in their own type (booleans are compared as text, an order the statistics do not keep)."""
    return column.type.upper() == "VARCHAR" or is_temporal(column.type)


def bounds_from_metadata(engine: Engine, dataset: Dataset) -> set[str]:
    """The text and temporal columns whose min and max DuckDB answers without reading them (from a Parquet
    file's statistics): its plan for them has no aggregate. Columns of CSV files, tables or views that
    filter are read, their min and max with their other aggregates. One plan for every such column;
    when some column has to be read, one plan per type (whether statistics answer goes by type)."""
    candidates = [c for c in dataset.columns if _bounded(c)]

    def answered(names: list[Column]) -> bool:
        return engine.reads_from_metadata(bounds_sql(dataset.view, names))  # DuckDB: EXPLAIN; Spark: never

    if not candidates or answered(candidates):
        return {c.name for c in candidates}
    by_type: dict[str, list[Column]] = {}
    for c in candidates:
        by_type.setdefault(c.type.upper(), []).append(c)
    return {c.name for members in by_type.values() if answered(members) for c in members}


def statements(summaries: Mapping[str, ColumnSummary]) -> list[str]:
    """The statement a dataset's summaries came from (for a check's evidence), or none."""
    return list(dict.fromkeys(s.sql for s in summaries.values() if s.sql))[:1]


def summarize(engine: Engine, dataset: Dataset) -> dict[str, ColumnSummary]:
    """One statement over the dataset (and a plan and the file statistics, for the bounds of text and
    temporal columns); one ColumnSummary per column, whose `sql` is the statement of that column alone."""
    bounded = bounds_from_metadata(engine, dataset)
    read = engine.read_shares(dataset.view)
    found: dict[str, tuple] = {}
    if dataset.columns:
        # A statement per stack, one after another: stacks in one UNION ALL run at once, and 2,000 columns'
        # five stacks ran out of a 488 MiB memory_limit together.
        _, plan = summary_plan(dataset, metadata_bounds=bounded, read=read)
        for columns in plan:
            sql, (same,) = summary_plan(dataset, columns, metadata_bounds=bounded)
            for _, k, *values in engine.query(sql):
                found[same[long_form.position(k)].name] = tuple(values)
    bounds: dict[str, tuple] = {}
    listed = [c for c in dataset.columns if c.name in bounded]
    for batch in long_form.batches(listed, read=lambda c: read(c.name)):
        row = engine.query_one(bounds_sql(dataset.view, batch))
        bounds.update({c.name: (row[2 * i], row[2 * i + 1]) for i, c in enumerate(batch)})
    out: dict[str, ColumnSummary] = {}
    for col in dataset.columns:
        # A column with no value has no stacked row: every value of it is missing.
        present, nan, infinite, distinct, num_min, num_max, text_min, text_max, mean, std = found.get(
            col.name, (0, 0, 0, 0, None, None, None, None, None, None))
        if col.name in bounds:
            text_min, text_max = bounds[col.name]
        numeric = is_numeric(col.type)
        out[col.name] = ColumnSummary(
            name=col.name, type=col.type, rows=dataset.rows, nulls=dataset.rows - int(present) + int(nan),
            # HyperLogLog may estimate a few more values than there are rows: never more than the values.
            distinct=min(int(distinct or 0), int(present)), infinite=int(infinite), min=num_min if numeric else text_min,
            max=num_max if numeric else text_max, mean=float(mean) if mean is not None else None,
            std=float(std) if std is not None else None,
            sql=summary_plan(dataset, [col], metadata_bounds=bounded)[0],
        )
    return out
