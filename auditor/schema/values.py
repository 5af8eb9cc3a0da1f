"""Schema rules of low-cardinality columns, answered from the column's value counts instead of a scan.

A rule's violation predicate depends only on the column's value, so over a table of (value,
rows) pairs, the NULL row included, `sum(rows) FILTER (WHERE violation)` is exactly the
count a scan would give, and the failing values ranked by rows are the exact most frequent
failure cases. The value counts are the run's (auditor.engine.value_counts, already read by
data.constant_columns and data.profile): an `isin` over a text column costs 0.35 CPU s at
10M rows as a scan and nothing here. Used only where the rule reads the column as it is
(no coercion) and the column is an integer or text column of few values.
"""

from __future__ import annotations

from typing import Any

from auditor.engine.base import Engine
from auditor.engine.sources import Dataset
from auditor.engine.sql import quote_ident
from auditor.engine.summary import ColumnSummary, statements
from auditor.engine.value_counts import countable, value_counts

VALUES_MAX = 10_000  # columns of about this many distinct values or fewer

# One column's value table, the NULL row included; the rules' predicates read it under the column's name.
VALUE_TABLE = "(SELECT unnest(?::{type}[]) AS {c}, unnest(?::BIGINT[]) AS __auditor_rows)"
RULE_PARTS = ("coalesce(sum(__auditor_rows) FILTER (WHERE {violation}), 0), "
              "list({c} ORDER BY __auditor_rows DESC, {c}) FILTER (WHERE {violation} AND {c} IS NOT NULL)")


def value_columns(plan: Any, dataset: Dataset, summaries: dict[str, ColumnSummary]) -> set[str]:
    """The plan's columns whose row rules can be answered from value counts."""
    out = set()
    for column in {rule.column for rule in plan.rules if not rule.key}:
        col, summary = dataset.column(column), summaries.get(column)
        if (col is not None and summary is not None and countable(col.type) and summary.distinct <= VALUES_MAX
                and plan.expressions.get(column) == quote_ident(column)):
            out.add(column)
    return out


def count_by_values(engine: Engine, plan: Any, dataset: Dataset, indexes: list[int], *, sample: int,
                    summaries: dict[str, ColumnSummary], cache: dict) -> tuple[dict[int, tuple[int, list]], list[str]]:
    """{rule index: (failures, the most frequent failing values)} for the listed row rules, in one
    statement over their columns' value tables; and the statements (value counts, then this one)."""
    if not indexes:
        return {}, []
    columns = list(dict.fromkeys(plan.rules[i].column for i in indexes))
    counted, statements = value_counts(engine, dataset, columns, cache=cache)
    selects, params = [], []
    for column in columns:
        c, nulls = quote_ident(column), summaries[column].nulls
        values = list(counted[column]) + ([None] if nulls else [])
        rows = list(counted[column].values()) + ([nulls] if nulls else [])
        mine = [i for i in indexes if plan.rules[i].column == column]
        parts = ", ".join(RULE_PARTS.format(violation=plan.rules[i].violation, c=c) for i in mine)
        selects.append(f"(SELECT {parts} FROM {VALUE_TABLE.format(type=dataset.column(column).type, c=c)})")
        # Parameters in text order: each rule's predicate twice, then the value table's two lists.
        params.extend([*(p for i in mine for p in (*plan.rules[i].params, *plan.rules[i].params)), values, rows])
    sql = "SELECT * FROM " + ", ".join(selects)
    row = engine.query_one(sql, params)
    order = [i for column in columns for i in indexes if plan.rules[i].column == column]
    out = {i: (int(row[2 * k]), list(row[2 * k + 1] or [])[:int(sample)]) for k, i in enumerate(order)}
    return out, [*statements, sql]


def known_without_scan(engine: Engine, plan: Any, dataset: Dataset, summaries: dict[str, ColumnSummary],
                       cache: dict | None, *, sample: int) -> tuple[dict[int, tuple[int, list | None]], list[str]]:
    """Row rules answered without scanning: a column's nulls from the run's summary, the rules of a
    low-cardinality column from its value counts (auditor.schema.values). {rule index: (failures, sample
    or None when the sample still needs the rows)}, and the statements they came from."""
    known: dict[int, tuple[int, list | None]] = {}
    plain = {c for c in plan.expressions if plan.expressions[c] == quote_ident(c) and c in summaries}
    for i, rule in enumerate(plan.rules):
        if rule.check == "not_nullable" and rule.column in plain:
            known[i] = (summaries[rule.column].nulls, None)  # NULL, and NaN for floats: as the summary counts
    sql = statements(summaries) if known else []
    if cache is not None:
        by_values = value_columns(plan, dataset, summaries)
        todo = [i for i, rule in enumerate(plan.rules) if not rule.key and i not in known and rule.column in by_values]
        found, more = count_by_values(engine, plan, dataset, todo, sample=sample, summaries=summaries, cache=cache)
        known.update({i: (n, cases) for i, (n, cases) in found.items()})
        sql += more
    return known, sql
