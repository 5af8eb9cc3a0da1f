"""data.schema: the config's pandera schema, validated on every row of current (and reference)."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from auditor.audit.context import CheckContext
from auditor.audit.failures import ExportOptions
from auditor.audit.options import Count, Size
from auditor.audit.registry import check
from auditor.report import CheckResult, Threshold, table
from auditor.schema.compiler import compile_schema
from auditor.schema.custom import run_custom
from auditor.schema.loading import load_schema
from auditor.schema.plan import Outcome
from auditor.schema.scan import failing_rows, run_rules


def _shown(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _sample_text(outcome: Outcome, limit: int = 5) -> str:
    """A few failure cases, as a person reads them: values, or key tuples for uniqueness."""
    if outcome.check.endswith("uniqueness"):
        keys = [row[:-1] for row in outcome.sample[:limit]]
        values = [_shown(k[0]) if len(k) == 1 else "(" + ", ".join(map(_shown, k)) + ")" for k in keys]
    else:
        values = [_shown(row[-1]) for row in outcome.sample[:limit]]
        if outcome.sample_columns[-1] != "failure_case":  # nulls have no value to show: their ids
            values[:1] = [f"{outcome.sample_columns[-1]} {values[0]}"] if values else []
    return f" e.g. {', '.join(values)}" if values else ""


def _message(outcome: Outcome, dataset: str) -> str:
    if outcome.detail:
        return f"'{outcome.column}' fails {outcome.check} in {dataset}: {outcome.detail}."
    rate = f" ({outcome.rate:.2%} of {outcome.rows:,})" if outcome.rate is not None else ""
    noun = "row" if outcome.failures == 1 else "rows"
    verb = "fails" if outcome.failures == 1 else "fail"
    return (f"{outcome.failures:,} {noun} of '{outcome.column}' {verb} {outcome.check} in {dataset}{rate};"
            f"{_sample_text(outcome)}.").replace(";.", ".")


class SchemaOptions(ExportOptions):
    sample: Count = Field(20, description="failure cases kept per (column, check), the most frequent first")
    chunk_rows: Size = Field(100_000, description="rows per chunk streamed to pandera for custom checks")


@check("data.schema", title="Schema (pandera)", options=SchemaOptions, needs=("current",))
def schema(ctx: CheckContext) -> Iterator[CheckResult]:
    """Every row against the pandera schema: dtypes, nulls, uniqueness, ranges, categories, patterns."""
    spec = ctx.config.schema_
    if not spec:
        yield ctx.skip("Skipped: no schema; set `schema:` in the config to a pandera YAML file or module:attribute.")
        return
    pandera_schema = load_schema(spec, base_dir=ctx.config.base_dir)
    sample, chunk_rows = ctx.options.sample, ctx.options.chunk_rows
    for name, ds, prefix in ctx.sides():
        id_column = ctx.roles.id
        plan = compile_schema(pandera_schema, ds, source=spec, id_column=id_column)
        built_in, rules_sql = run_rules(ctx.engine, plan, ds, sample=sample, id_column=id_column,
                                        summaries=ctx.summary(name), cache=ctx.run.cache)
        custom, custom_sql = run_custom(ctx.engine, plan, ds, sample=sample, chunk_rows=chunk_rows)
        outcomes = plan.decided + built_in + custom
        sql = [*rules_sql, *([custom_sql] if custom_sql else [])]
        failed = [o for o in outcomes if o.failures > 0]
        names = set(ds.column_names)
        # Built-in rules select their failing rows in SQL; dtype, strictness and custom checks are not exported.
        rows_of = {id(o): failing_rows(rule, ds.view) for rule, o in zip(plan.rules, built_in, strict=True)}
        for o in failed:
            if name == "current" and id(o) in rows_of:
                ctx.export_rows(f"{prefix}{o.column}: {o.check}", f"{o.column}: {o.check}", *rows_of[id(o)])
            yield ctx.result(
                subject=f"{prefix}{o.column}: {o.check}", value=o.failures, threshold=Threshold(fail=1),
                columns=[o.column] if o.column in names else [],
                message=_message(o, name),
                metrics={"dataset": name, "column": o.column, "check": o.check, "failures": o.failures,
                         "failure_rate": o.rate, "rows": o.rows, "engine": o.engine},
                evidence={"tables": [table(f"Failure cases of {o.check} on '{o.column}'", o.sample_columns,
                                           o.sample, total_rows=o.failures)] if o.sample else [],
                          "sql": sql},
            )
        summary = [[o.column, o.check, o.failures, o.rate, o.engine] for o in outcomes]
        passed = len(outcomes) - len(failed)
        failing = {o.column for o in failed}
        yield ctx.result(
            subject=f"{prefix}(all checks)", status="pass", value=passed, dataset=name,
            columns=[c for c in dict.fromkeys(o.column for o in outcomes) if c in names and c not in failing],
            message=(f"All {len(outcomes)} schema checks pass on {name} ({ds.rows:,} rows)." if not failed else
                     f"The other {passed} of {len(outcomes)} schema checks pass on {name} "
                     f"({len(failed)} failing, reported separately)."),
            metrics={"dataset": name, "schema": spec, "checks": len(outcomes), "passed": passed,
                     "failed": len(failed), "rows": ds.rows, "queries": len(sql),
                     # pandera ran these on streamed batches of this many rows (None: everything ran in SQL).
                     "chunk_rows": chunk_rows if custom_sql else None},
            evidence={"tables": [table("Schema checks", ["column", "check", "failures", "failure rate", "engine"],
                                       summary)], "sql": sql},
        )
