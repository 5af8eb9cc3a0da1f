"""Run a compiled schema: every rule's violations counted in one statement per table, then the
failing rules' most frequent failure cases, capped."""

from __future__ import annotations

from auditor.engine.base import Engine
from auditor.engine.repeats import find_repeats
from auditor.engine.sources import Dataset
from auditor.engine.sql import quote_ident
from auditor.engine.summary import ColumnSummary
from auditor.schema.plan import Outcome, Rule, SchemaPlan
from auditor.schema.values import known_without_scan


def _unique_sql(rule: Rule, view: str, k: int) -> str:
    """A unique key over several columns, as a scalar subquery of the counts (tuples match nulls, as in pandera)."""
    keys = ", ".join(f"{key} AS k{i}" for i, key in enumerate(rule.key))
    extra = "n" if rule.keep == "all" else "n - 1"
    fields = ", ".join(f"k{i} := k{i}" for i in range(len(rule.key)))
    return (f"(SELECT struct_pack(failures := coalesce(sum({extra}) FILTER (WHERE n > 1), 0), "
            f"sample := arg_max(struct_pack({fields}, n := n), n, {k}) FILTER (WHERE n > 1)) "
            f"FROM (SELECT {keys}, count(*) AS n FROM {view} GROUP BY ALL))")


def failing_rows(rule: Rule, view: str) -> tuple[str, tuple]:
    """SQL true on a row that breaks `rule`, and its parameters (the failing rows export): the rule's
    violation predicate, or for a unique key every row of a repeated key (nulls of a single unique
    column are ignored, as pandera ignores them; a key over several columns matches nulls)."""
    if not rule.key:
        return f"({rule.violation})", tuple(rule.params)
    packed = "struct_pack(" + ", ".join(f"k{i} := {key}" for i, key in enumerate(rule.key)) + ")"
    present = f"{rule.key[0]} IS NOT NULL AND " if _column_unique(rule) else ""
    return f"({present}{packed} IN (SELECT {packed} FROM {view} GROUP BY ALL HAVING count(*) > 1))", ()


def _column_unique(rule: Rule) -> bool:
    """A unique column (not a key over several): answered by auditor.engine.repeats, shared with data.duplicates."""
    return bool(rule.key) and rule.check != "multiple_fields_uniqueness"


def _flag(i: int) -> str:
    return quote_ident(f"__auditor_violation_{i}")


def _flagged(plan: SchemaPlan, dataset: Dataset, indexes: list[int]) -> tuple[str, list]:
    """The table with a flag column per listed rule (TRUE on a violating row), and the flags' parameters."""
    flags = [f"{plan.rules[i].violation} AS {_flag(i)}" for i in indexes]
    params = [p for i in indexes for p in plan.rules[i].params]
    return (f"(SELECT *, {', '.join(flags)} FROM {dataset.view})" if flags else dataset.view), params


def violations_sql(plan: SchemaPlan, dataset: Dataset, *, sample: int,
                   scanned: list[int] | None = None) -> tuple[str, list]:
    """ONE query: the row count, then per row rule (those in `scanned`, default all) its violation count,
    then per multi-column key its failures and sample.

    Counts only: the failure samples (arg_min / approx_top_k FILTER aggregates) cost twice the
    counts themselves at 10M rows, so they come from `samples_sql`, over the failing rows only."""
    k = int(sample)
    row_rules = [i for i, rule in enumerate(plan.rules) if not rule.key and (scanned is None or i in scanned)]
    parts = ["count(*)", *(f"count_if({_flag(i)})" for i in row_rules)]
    parts += [_unique_sql(rule, dataset.view, k) for rule in plan.rules if rule.check == "multiple_fields_uniqueness"]
    source, params = _flagged(plan, dataset, row_rules)
    return f"SELECT {', '.join(parts)} FROM {source}", params


def samples_sql(plan: SchemaPlan, dataset: Dataset, failing: list[int], *, sample: int) -> tuple[str, list]:
    """The failure cases of the failing row rules, read from their violating rows only."""
    k = int(sample)
    parts = []
    for i in failing:
        rule = plan.rules[i]
        if rule.check == "not_nullable":  # a null has no value: the smallest ids of its rows
            parts.append(f"arg_min({rule.sample}, {rule.sample}, {k}) FILTER (WHERE {_flag(i)})")
        else:  # the most frequent failing values (approximate top-k: bounded memory at any size)
            parts.append(f"approx_top_k({rule.sample}, {k}) FILTER (WHERE {_flag(i)})")
    source, params = _flagged(plan, dataset, failing)
    where = " OR ".join(_flag(i) for i in failing)
    return f"SELECT {', '.join(parts)} FROM {source} WHERE {where}", params


def run_rules(engine: Engine, plan: SchemaPlan, dataset: Dataset, *, sample: int, id_column: str | None = None,
              summaries: dict[str, ColumnSummary] | None = None,
              cache: dict | None = None) -> tuple[list[Outcome], list[str]]:
    """Run the plan: the unique columns (auditor.engine.repeats), the rules the summaries and value counts
    answer, the counts of the others in one scan, then the failing rules' samples. One Outcome per
    rule, and the statements run. `summaries` (the run's, per column) let an integer unique column be
    counted in a bitmap and nulls be read from the summary; with `cache` (the run's) too, the rules
    of low-cardinality columns are counted over the column's value counts."""
    if not plan.rules:
        return [], []
    statements: list[str] = []
    unique: dict[int, Outcome] = {}
    for i, rule in enumerate(plan.rules):
        if _column_unique(rule):
            found = find_repeats(engine, dataset, rule.column, key=rule.key[0], sample=sample,
                                 summary=(summaries or {}).get(rule.column))
            statements.extend(q for q in found.sql if q not in statements)
            # pandera ignores nulls of a unique column; "all" counts every row of a repeated value.
            failures = found.rows if rule.keep == "all" else found.extra_rows
            unique[i] = Outcome(rule.column, rule.check, failures, dataset.rows, sample_columns=[rule.column, "rows"],
                                sample=[[value, n] for value, _, n in found.sample])
    known, more = known_without_scan(engine, plan, dataset, summaries, cache, sample=sample) if summaries else ({}, [])
    statements += more
    scanned = [i for i, rule in enumerate(plan.rules) if not rule.key and i not in known]
    row: tuple = (dataset.rows,)
    if scanned or any(rule.check == "multiple_fields_uniqueness" for rule in plan.rules):
        sql, params = violations_sql(plan, dataset, sample=sample, scanned=scanned)
        row = engine.query_one(sql, params)
        statements.append(sql)
    rows, outcomes = int(row[0]), []
    counted = dict(zip(scanned, (int(n) for n in row[1:1 + len(scanned)]), strict=True))
    keys = iter(row[1 + len(scanned):])
    for i, rule in enumerate(plan.rules):
        if i in unique:
            outcomes.append(unique[i])
        elif rule.key:
            packed = next(keys) or {}
            names = rule.column.split(", ")
            cases = [[s[f"k{j}"] for j in range(len(names))] + [s["n"]] for s in (packed.get("sample") or [])]
            outcomes.append(Outcome(rule.column, rule.check, int(packed.get("failures") or 0), rows,
                                    sample_columns=[*names, "rows"], sample=cases))
        else:
            failures, cases = known.get(i, (counted.get(i, 0), None))
            counted[i] = failures
            columns = [id_column] if rule.check == "not_nullable" and rule.sample else ["failure_case"]
            outcomes.append(Outcome(rule.column, rule.check, failures, rows, sample_columns=columns,
                                    sample=[[v] for v in cases] if cases else []))
    failing = [i for i, n in counted.items() if n and plan.rules[i].sample and known.get(i, (0, None))[1] is None]
    if failing:
        query, params = samples_sql(plan, dataset, failing, sample=sample)
        cases = engine.query_one(query, params)
        statements.append(query)
        by_rule = dict(zip(failing, cases, strict=True))
        for i, outcome in enumerate(outcomes):
            if i in by_rule:
                outcome.sample = [[v] for v in by_rule[i] or []]
    for outcome in unique.values():
        outcome.rows = rows
    return outcomes, statements
