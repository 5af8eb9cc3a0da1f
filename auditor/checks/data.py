"""Data quality: nulls and duplicates, from the fused per-table summary scan."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.context import CheckContext
from auditor.model import CheckResult, Threshold, table
from auditor.registry import check
from auditor.sources import Dataset
from auditor.sql import is_integer, quote_ident
from auditor.summary import summary_sql


@check("data.null_rate", title="Null rate",
       defaults={"warn": 0.05, "fail": 0.20, "jump_points": 0.05, "jump_factor": 2.0, "columns": {}},
       needs=("current",))
def null_rate(ctx: CheckContext) -> Iterator[CheckResult]:
    """Share of missing values per column, against thresholds and against the reference."""
    current = ctx.summary("current")
    reference = ctx.summary("reference") if ctx.dataset("reference") and ctx.dataset("reference").rows else {}
    sql = [summary_sql(ctx.dataset("current"))]
    for col, cur in current.items():
        opts = ctx.column_options(col)
        threshold = ctx.threshold(options=opts)
        rate = cur.null_rate
        ref = reference.get(col)
        ref_rate = ref.null_rate if ref else None
        metrics = {"null_rate_current": rate, "null_rate_reference": ref_rate, "nulls_current": cur.nulls,
                   "rows_current": cur.rows}
        status = None
        message = f"{rate:.1%} of '{col}' is missing ({cur.nulls:,} of {cur.rows:,} rows)."
        if ref_rate is not None:
            rise = rate - ref_rate
            metrics["null_rate_change"] = rise
            # A jump is judged against the reference: 2% -> 12% fails even under the absolute line.
            if rise >= opts["jump_points"] - 1e-12 and rate >= opts["jump_factor"] * ref_rate:
                status = "fail"
                message = (f"'{col}' went from {ref_rate:.1%} missing in the reference to {rate:.1%} now "
                           f"(+{rise * 100:.1f} points).")
            else:
                message = message[:-1] + f"; the reference had {ref_rate:.1%}."
        yield ctx.result(subject=col, value=rate, threshold=threshold, metrics=metrics, message=message,
                         status=status, evidence={"sql": sql})


# One grouping by id gives the counts and the sample: extra rows = sum over repeated ids of (rows - 1).
# Only the repeated ids are kept (MATERIALIZED: the grouping runs once, not once per use).
DUPLICATE_IDS_SQL = """WITH repeated AS MATERIALIZED (
  SELECT {id} AS id, count(*) AS n FROM {view} WHERE {id} IS NOT NULL GROUP BY ALL HAVING count(*) > 1)
SELECT (SELECT coalesce(sum(n) - count(*), 0) FROM repeated) AS extra_rows, (SELECT count(*) FROM repeated) AS ids,
  (SELECT list([id::VARCHAR, n::VARCHAR] ORDER BY n DESC, id::VARCHAR) FROM
     (SELECT id, n FROM repeated ORDER BY n DESC, id::VARCHAR LIMIT ?)) AS sample,
  (SELECT CASE WHEN count(*) <= ? THEN list(id) END FROM repeated) AS every_id"""
LISTED_IDS_MAX = 100_000  # repeated ids passed on to the whole-row search as a list, up to this many
# Equal rows hash alike (DuckDB's hash agrees with its equality, -0.0 and NaN included), so grouping
# 8-byte row hashes finds every candidate; DISTINCT over the few candidate rows keeps the count exact.
# Grouping whole rows instead held every distinct row in memory: 1.6 GB at 10M rows, 0.65 GB this way.
DUPLICATE_ROWS_SQL = """WITH repeated AS (SELECT hash({columns}) AS h FROM {rows} GROUP BY ALL HAVING count(*) > 1),
candidates AS (SELECT * FROM {rows} WHERE hash({columns}) IN (SELECT h FROM repeated))
SELECT (SELECT count(*) FROM candidates) - (SELECT count(*) FROM (SELECT DISTINCT * FROM candidates))"""
# Two equal rows have equal ids, so with an id column only the rows of repeated (or missing) ids can be
# copies: the row hashes are grouped over those few rows instead of the whole table.
ROWS_OF_LISTED_IDS = "(SELECT * FROM {view} WHERE {id} IS NULL OR {id} IN (SELECT unnest(?::{type}[])))"


def sides(ctx: CheckContext) -> Iterator[tuple[str, Dataset, str]]:
    """(name, dataset, subject prefix) for current, then reference when it has rows."""
    for name in ("current", "reference"):
        ds = ctx.run.datasets.get(name)
        if ds is not None and ds.rows:
            yield name, ds, "" if name == "current" else "reference: "


@check("data.duplicates", title="Duplicates", defaults={"sample": 20, "rows_warn": 1},
       needs=("current",))
def duplicates(ctx: CheckContext) -> Iterator[CheckResult]:
    """Duplicated ids (any fails) and duplicated whole rows (warn), in the current and reference data."""
    for name, ds, prefix in sides(ctx):
        id_col = ctx.roles.id
        every_id = None
        if id_col and ds.column(id_col):
            ident = quote_ident(id_col)
            query = DUPLICATE_IDS_SQL.format(id=ident, view=ds.view)
            extra, ids, listed, every_id = ctx.engine.query_one(query, [ctx.options["sample"], LISTED_IDS_MAX])
            sample = [(k, int(n)) for k, n in listed or []]
            message = (f"{ids:,} ids of '{id_col}' appear more than once in {name} ({extra:,} extra rows)."
                       if extra else f"Every non-null '{id_col}' in {name} is unique.")
            yield ctx.result(
                subject=f"{prefix}{id_col}", value=extra, threshold=Threshold(warn=None, fail=1),
                message=message, metrics={"dataset": name, "duplicated_ids": ids, "extra_rows": extra, "rows": ds.rows},
                evidence={"tables": [table("Duplicated ids", ["id", "rows"], [list(r) for r in sample], total_rows=ids)]
                          if sample else [], "sql": [query]},
            )
        rows, params = ds.view, []
        id_type = ds.column(id_col).type if id_col and ds.column(id_col) else None
        if id_type and every_id is not None and (is_integer(id_type) or id_type == "VARCHAR"):
            rows = ROWS_OF_LISTED_IDS.format(view=ds.view, id=quote_ident(id_col), type=id_type)
            params = [list(every_id)]
        query = DUPLICATE_ROWS_SQL.format(rows=rows, columns=", ".join(quote_ident(c) for c in ds.column_names))
        extra_rows = ctx.engine.query_one(query, params * 2)[0]
        yield ctx.result(
            subject=f"{prefix}(whole rows)", value=extra_rows,
            threshold=Threshold(warn=ctx.options["rows_warn"], fail=None),
            message=(f"{extra_rows:,} rows of {name} repeat another row exactly." if extra_rows
                     else f"No row of {name} is an exact copy of another."),
            metrics={"dataset": name, "duplicate_rows": extra_rows, "rows": ds.rows}, evidence={"sql": [query]},
        )
