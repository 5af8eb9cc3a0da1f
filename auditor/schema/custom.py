"""Checks only pandera can run (custom Python checks, regexes RE2 reads differently).

The table is streamed from the engine as Arrow record batches of `chunk_rows` rows; each
batch becomes a small pandas frame (indexed by its global row number) that pandera
validates lazily. Counts add up across batches and at most `sample` failure cases
are kept per check, so memory is bounded by one batch whatever the table size.
A check that looks at a whole column at once (a mean, a set of values) sees one
batch at a time: such checks belong in SQL, not here.
"""

from __future__ import annotations

from typing import Any

from auditor.engine.base import Engine
from auditor.engine.sources import Dataset
from auditor.engine.sql import quote_ident
from auditor.errors import ConfigError
from auditor.schema.plan import Outcome, SchemaPlan, check_name

FRAME = "(dataframe)"  # the column label of a schema-level check's failure


def custom_sql(plan: SchemaPlan, dataset: Dataset) -> str:
    """The streaming query: the columns the custom checks read (all of them for frame-level checks)."""
    if plan.frame_checks:
        names = dataset.column_names
    else:
        names = list(plan.custom)
    select = ", ".join(f"{plan.expressions.get(n, quote_ident(n))} AS {quote_ident(n)}" for n in names)
    return f"SELECT {select} FROM {dataset.view}"


def _sub_schema(plan: SchemaPlan) -> Any:
    import pandera.pandas as pa

    columns = {name: pa.Column(checks=checks, nullable=True, name=name) for name, checks in plan.custom.items()}
    return pa.DataFrameSchema(columns=columns, checks=plan.frame_checks)


def run_custom(engine: Engine, plan: SchemaPlan, dataset: Dataset, *, sample: int,
               chunk_rows: int) -> tuple[list[Outcome], str | None]:
    """Stream the table through pandera; one Outcome per custom (column, check)."""
    import pandas as pd
    import pandera.errors

    if not plan.custom and not plan.frame_checks:
        return [], None
    if engine.kind == "spark":  # the first Spark version streams nothing into Python
        names = [f"{column}: {check_name(c)}" for column, checks in plan.custom.items() for c in checks]
        names += [f"(dataframe): {check_name(c)}" for c in plan.frame_checks]
        raise ConfigError(f"schema: {', '.join(names[:3])}{' ...' if len(names) > 3 else ''}: custom pandera checks "
                          "(and regexes RE2 cannot run) need engine.kind: duckdb; remove them or use kind: duckdb")
    schema = _sub_schema(plan)
    outcomes: dict[tuple[str, str], Outcome] = {}
    for name, checks in plan.custom.items():
        for check in checks:
            outcomes[(name, check_name(check))] = Outcome(name, check_name(check), 0, dataset.rows,
                                                          sample_columns=["row", "failure_case"], engine="pandera")
    for check in plan.frame_checks:
        outcomes[(FRAME, check_name(check))] = Outcome(FRAME, check_name(check), 0, dataset.rows,
                                                       sample_columns=["row", "column", "failure_case"],
                                                       engine="pandera")
    sql = custom_sql(plan, dataset)
    reader = engine.logged_stream(sql, int(chunk_rows))
    offset = 0
    for batch in reader:
        frame = batch.to_pandas()
        frame.index = pd.RangeIndex(offset, offset + len(frame))
        offset += len(frame)
        try:
            schema.validate(frame, lazy=True)
        except pandera.errors.SchemaErrors as exc:
            _collect(exc.failure_cases, outcomes, sample=sample)
    return list(outcomes.values()), sql


def _collect(cases: Any, outcomes: dict[tuple[str, str], Outcome], *, sample: int) -> None:
    """Add one batch's failure cases. Counts are rows: a schema-level check lists a failing row once
    per column, so its rows are counted distinct (a row never spans batches). A failure with no row
    (a check that raised, or returned one boolean) counts once however many batches repeat it."""
    frame = cases["schema_context"] == "DataFrameSchema"
    cases = cases.assign(frame=frame, subject=cases["column"].astype(object).where(~frame, FRAME))
    for (frame_level, subject, check), group in cases.groupby(["frame", "subject", "check"], dropna=False, sort=False):
        key = (str(subject), str(check))
        outcome = outcomes.get(key)
        if outcome is None:  # a failure pandera reports under another name
            outcome = outcomes[key] = Outcome(key[0], str(check), 0, None, sample_columns=["row", "failure_case"],
                                              engine="pandera")
        rows = group["index"].dropna()
        if rows.empty:  # no failing rows to count: say what pandera said (e.g. the exception)
            outcome.failures = max(outcome.failures, 1)
            outcome.detail = outcome.detail or f"pandera reports {group['failure_case'].iloc[0]}"
        else:
            outcome.failures += rows.nunique() if frame_level else len(group)
        for record in group.head(max(sample - len(outcome.sample), 0)).to_dict("records"):
            row, value = record.get("index"), record.get("failure_case")
            outcome.sample.append([row, record.get("column"), value] if frame_level else [row, value])
