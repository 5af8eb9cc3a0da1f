"""Data quality: nulls and duplicates, from the fused per-table summary scan."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from auditor.audit.context import CheckContext
from auditor.audit.failures import ExportOptions
from auditor.audit.options import Count, Factor, Rate, Size, Strict
from auditor.audit.registry import check
from auditor.engine.duplicate_rows import duplicate_rows
from auditor.engine.missing import MAX_COLUMNS, missing_condition, missing_patterns
from auditor.engine.repeats import find_repeats
from auditor.engine.sql import is_integer, quote_ident
from auditor.engine.summary import statements
from auditor.report import CheckResult, Threshold, table


class NullRateLines(Strict):
    """The null-rate options one column may override."""

    warn: Rate | None = Field(None, description="null rate that warns")
    fail: Rate | None = Field(None, description="null rate that fails")
    jump_points: Rate | None = Field(None, description="a rise over the reference of at least this much...")
    jump_factor: Factor | None = Field(None, description="...and to at least this many times the reference rate fails")


class NullRateOptions(ExportOptions):
    warn: Rate | None = Field(0.05, description="null rate that warns")
    fail: Rate | None = Field(0.20, description="null rate that fails")
    jump_points: Rate = Field(0.05, description="a rise over the reference of at least this much...")
    jump_factor: Factor = Field(2.0, description="...and to at least this many times the reference rate fails")
    columns: dict[str, NullRateLines] = Field(default_factory=dict, description="per-column overrides, by column name")


@check("data.null_rate", title="Null rate", options=NullRateOptions, needs=("current",))
def null_rate(ctx: CheckContext) -> Iterator[CheckResult]:
    """Share of missing values per column, against thresholds and against the reference."""
    current = ctx.summary("current")
    reference = ctx.summary("reference") if ctx.dataset("reference") and ctx.dataset("reference").rows else {}
    sql = statements(current)
    pattern = _pattern_chart(ctx, current)
    worst = pattern[1] if pattern else None
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
            if rise >= opts.jump_points - 1e-12 and rate >= opts.jump_factor * ref_rate:
                status = "fail"
                message = (f"'{col}' went from {ref_rate:.1%} missing in the reference to {rate:.1%} now "
                           f"(+{rise * 100:.1f} points).")
            else:
                message = message[:-1] + f"; the reference had {ref_rate:.1%}."
        evidence = {"sql": sql}
        if col == worst:  # which columns are missing together: shown once, with the most often missing column
            evidence = {"charts": [pattern[0]["chart"]], "tables": [pattern[0]["table"]], "sql": [*sql, pattern[0]["sql"]]}
        result = ctx.result(subject=col, value=rate, threshold=threshold, metrics=metrics, message=message,
                            status=status, evidence=evidence)
        if result.status in ("warn", "fail"):
            ctx.export_rows(col, f"{col} is missing", missing_condition(col, cur.type))
        yield result


def _pattern_chart(ctx: CheckContext, current: dict) -> tuple[dict, str] | None:
    """The most frequent patterns of missing values over the columns that have any, as a chart and a table."""
    missing = sorted((c for c in current.values() if c.nulls), key=lambda c: (-c.nulls, c.name))[:MAX_COLUMNS]
    if not missing:
        return None
    ds = ctx.dataset("current")
    patterns, sql = missing_patterns(ctx.engine, ds.view, [(c.name, c.type) for c in missing])
    names = [c.name for c in missing]
    labels = [f"{n:,} rows ({n / ds.rows:.1%})" for _, n in patterns]
    chart = {"kind": "heatmap", "title": "Missing together (dark: missing)",
             "x": names, "y": labels, "values": [[1.0 if f else 0.0 for f in flags] for flags, _ in patterns],
             "cmap": "Greys", "colorbar": False, "x_label": "column", "y_label": "rows with the pattern"}
    rows = [[n, n / ds.rows, ", ".join(m for m, f in zip(names, flags, strict=True) if f) or "(none missing)"]
            for flags, n in patterns]
    found = table("Missing together", ["rows", "pattern_rate", "missing columns"], rows)
    return {"chart": chart, "table": found, "sql": sql}, missing[0].name


# The rows that have an exact copy (failing rows export): grouped by every column over the few rows whose
# hash repeats, as auditor.engine.duplicate_rows finds them; NULLs and NaNs group together, as DISTINCT treats them.
COPIES_SQL = ("hash({columns}) IN (SELECT hash({columns}) FROM {view} WHERE hash({columns}) IN "
              "(SELECT hash({columns}) FROM {view} GROUP BY ALL HAVING count(*) > 1) GROUP BY {columns} HAVING count(*) > 1)")
# Two equal rows have equal ids, so with an id column only the rows of repeated (or missing) ids can be copies.
ROWS_OF_LISTED_IDS = "{id} IS NULL OR {id} IN (SELECT unnest(?::{type}[]))"


class DuplicatesOptions(ExportOptions):
    sample: Count = Field(20, description="duplicated ids shown in the evidence")
    rows_warn: Size | None = Field(1, description="duplicated whole rows that warn (none: never)")


@check("data.duplicates", title="Duplicates", options=DuplicatesOptions, needs=("current",))
def duplicates(ctx: CheckContext) -> Iterator[CheckResult]:
    """Duplicated ids (any fails) and duplicated whole rows (warn), in the current and reference data."""
    for name, ds, prefix in ctx.sides():
        id_col = ctx.roles.id
        every_id = None
        if id_col and ds.column(id_col):
            # The same statements as data.schema's unique id: the engine runs them once per run.
            found = find_repeats(ctx.engine, ds, id_col, sample=ctx.options.sample,
                                 summary=ctx.summary(name).get(id_col))
            extra, ids, every_id = found.extra_rows, found.values, found.every_value
            sample = [(text, n) for _, text, n in found.sample]
            message = (f"{ids:,} ids of '{id_col}' appear more than once in {name} ({extra:,} extra rows)."
                       if extra else f"Every non-null '{id_col}' in {name} is unique.")
            if extra and name == "current":
                ident = quote_ident(id_col)
                ctx.export_rows(f"{prefix}{id_col}", f"{id_col} repeats",
                                f"{ident} IN (SELECT {ident} FROM {ds.view} GROUP BY ALL HAVING count(*) > 1)")
            yield ctx.result(
                subject=f"{prefix}{id_col}", value=extra, threshold=Threshold(warn=None, fail=1),
                message=message, metrics={"dataset": name, "duplicated_ids": ids, "extra_rows": extra,
                                          "rows_with_repeated_id": found.rows, "rows": ds.rows},
                evidence={"tables": [table("Duplicated ids", ["id", "rows"], [list(r) for r in sample], total_rows=ids)]
                          if sample else [], "sql": found.sql},
            )
        id_type = ds.column(id_col).type if id_col and ds.column(id_col) else None
        id_nulls = ctx.summary(name)[id_col].nulls if id_type else None
        if every_id == [] and id_nulls == 0:
            # Every row has an id of its own, so no two rows are equal: nothing more to read.
            extra_rows, query = 0, found.sql
        elif id_type and every_id is not None and (is_integer(id_type) or id_type == "VARCHAR"):
            where = ROWS_OF_LISTED_IDS.format(id=quote_ident(id_col), type=id_type)
            extra_rows, query = duplicate_rows(ctx.engine, ds, where=where, params=[list(every_id)],
                                               candidates=found.rows + id_nulls)
        else:
            extra_rows, query = duplicate_rows(ctx.engine, ds)
        rows_warn = ctx.options.rows_warn
        if name == "current" and extra_rows and rows_warn is not None and extra_rows >= rows_warn:
            every = ", ".join(quote_ident(c) for c in ds.column_names)
            ctx.export_rows(f"{prefix}(whole rows)", "row repeats another exactly",
                            COPIES_SQL.format(columns=every, view=ds.view))
        yield ctx.result(
            subject=f"{prefix}(whole rows)", value=extra_rows,
            threshold=Threshold(warn=ctx.options.rows_warn, fail=None),
            message=(f"{extra_rows:,} rows of {name} repeat another row exactly." if extra_rows
                     else f"No row of {name} is an exact copy of another."),
            metrics={"dataset": name, "duplicate_rows": extra_rows, "rows": ds.rows}, evidence={"sql": query},
        )
