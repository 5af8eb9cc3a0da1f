"""pandera schemas validated on whole tables: built-in checks compiled to one DuckDB query.

A schema is pandera's `DataFrameSchema` (from YAML, or `module:attribute` naming a
schema or a `DataFrameModel`). Every built-in check pandera's pandas backend knows
(dtype, nullable, unique, unique across columns, comparisons, isin/notin, string
checks) becomes a filtered count in ONE query per table, with a capped sample of
failing values. Everything else (custom Python checks, regexes RE2 cannot run the
same way) goes to `auditor.schema.custom`, which streams the table to pandera in
bounded chunks. Semantics follow pandera's pandas backend exactly:

- a check skips nulls unless `ignore_na=False`; for floating columns NaN is null;
- with `ignore_na=False` a null fails every check except `not_equal_to` and `notin`
  (pandas: `NaN != v` is True), and passes `isin` when the allowed values hold a null;
- `unique` counts every row whose non-null value repeats (`report_duplicates="all"`),
  or all but one per value (`exclude_first`/`exclude_last`); a schema-level `unique`
  compares whole key tuples, where nulls equal each other;
- `str_matches` is `re.match` (anchored at the start only), `str_contains` is `re.search`.
"""

from __future__ import annotations

import math
import re
from typing import Any

from auditor.engine.sources import Dataset
from auditor.engine.sql import is_float, is_numeric, quote_ident
from auditor.errors import ConfigError
from auditor.schema.dtypes import dtype_outcome
from auditor.schema.plan import (
    BUILTINS,
    COMPARISONS,
    INTEGER_TARGETS,
    STRING_CHECKS,
    Outcome,
    Rule,
    SchemaPlan,
    check_name,
)
from auditor.schema.regex import translate


def _null_sql(expr: str, duck_type: str) -> str:
    return f"({expr} IS NULL OR isnan({expr}))" if is_float(duck_type) else f"{expr} IS NULL"


def _is_null(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _compatible(value: Any, duck_type: str) -> bool:
    """Values a column can ever equal: pandas never matches a number with a string."""
    if is_numeric(duck_type):
        return isinstance(value, (int, float)) and not _is_null(value)
    if duck_type.upper() == "VARCHAR":
        return isinstance(value, str)
    return not _is_null(value)


def _require(ok: bool, source: str, column: str, check: str, what: str) -> None:
    if not ok:
        raise ConfigError(f"schema {source}: column '{column}': {check} {what}")


def _predicate(name: str, stats: dict, expr: str, duck_type: str, *, column: str, source: str,
               label: str) -> tuple[str, list, bool] | None:
    """(SQL true when the check passes, params, whether a null passes under ignore_na=False).

    None when the check has no faithful SQL (a regex RE2 reads differently)."""
    text = duck_type.upper() == "VARCHAR"
    if name in STRING_CHECKS:
        _require(text, source, column, label, f"needs a string column, but it is {duck_type}")
    if name in COMPARISONS or name == "in_range":
        values = [stats["min_value"], stats["max_value"]] if name == "in_range" else [next(iter(stats.values()))]
        for v in values:
            ok = (isinstance(v, (int, float)) if is_numeric(duck_type) or duck_type.upper() == "BOOLEAN"
                  else isinstance(v, str) if text else not isinstance(v, (bool, int, float)))
            _require(ok, source, column, label, f"compares a {duck_type} column with {v!r}")
    if name in COMPARISONS:
        op = COMPARISONS[name]
        return f"{expr} {op} ?", [next(iter(stats.values()))], name == "not_equal_to"
    if name == "in_range":
        low = ">=" if stats.get("include_min", True) else ">"
        high = "<=" if stats.get("include_max", True) else "<"
        return f"({expr} {low} ? AND {expr} {high} ?)", [stats["min_value"], stats["max_value"]], False
    if name in ("isin", "notin"):
        listed = list(next(iter(stats.values())))
        has_null = any(_is_null(v) for v in listed)
        values = [v for v in listed if _compatible(v, duck_type)]
        marks = ", ".join("?" * len(values))
        if name == "isin":
            return (f"{expr} IN ({marks})" if values else "FALSE"), values, has_null
        return (f"{expr} NOT IN ({marks})" if values else "TRUE"), values, not has_null
    if name in ("str_matches", "str_contains"):
        pattern = stats["pattern"]
        try:
            re.compile(pattern)
        except (re.error, TypeError) as exc:
            raise ConfigError(f"schema {source}: column '{column}': {label} is not a valid regex ({exc})") from None
        translated = translate(pattern)
        if translated is None:
            return None
        return f"regexp_matches({expr}, ?)", [f"^(?:{translated})" if name == "str_matches" else translated], False
    if name in ("str_startswith", "str_endswith"):
        fn = "starts_with" if name == "str_startswith" else "ends_with"
        return f"{fn}({expr}, ?)", [stats["string"]], False
    if name == "str_length":
        exact, lo, hi = stats.get("exact_value"), stats.get("min_value"), stats.get("max_value")
        if exact is not None:
            return f"length({expr}) = ?", [exact], False
        parts, params = [], []
        if lo is not None:
            parts.append(f"length({expr}) >= ?")
            params.append(lo)
        if hi is not None:
            parts.append(f"length({expr}) <= ?")
            params.append(hi)
        _require(bool(parts), source, column, label, "needs min_value, max_value or exact_value")
        return " AND ".join(parts), params, False
    raise AssertionError(name)


def _row_rule(check: Any, column: str, expr: str, duck_type: str, source: str) -> Rule | None:
    label = check_name(check)
    compiled = _predicate(check.name, dict(check.statistics or {}), expr, duck_type, column=column,
                          source=source, label=label)
    if compiled is None:
        return None
    passes, params, null_passes = compiled
    null = _null_sql(expr, duck_type)
    if check.ignore_na:
        violation = f"NOT ({null}) AND NOT coalesce({passes}, FALSE)"
    else:
        violation = f"CASE WHEN {null} THEN {'FALSE' if null_passes else 'TRUE'} ELSE NOT coalesce({passes}, FALSE) END"
    return Rule(column=column, check=label, violation=violation, params=tuple(params), sample=expr)


def _coercion(ident: str, duck_type: str, target: str, dtype: str) -> tuple[str, str]:
    """(the coerced value, SQL true where pandera's coercion fails)."""
    if is_float(duck_type) and target in INTEGER_TARGETS:
        # DuckDB rounds 2.5 to 3; numpy refuses anything that is not a whole number.
        expr = f"CASE WHEN isfinite({ident}) AND {ident} = trunc({ident}) THEN TRY_CAST({ident} AS {target}) END"
    elif duck_type.upper() == "VARCHAR" and target in INTEGER_TARGETS:
        # pandas parses only plain digits ('2.5', ' 7', '+3' fail); DuckDB would round or trim them.
        expr = f"CASE WHEN regexp_full_match({ident}, '-?[0-9]+') THEN TRY_CAST({ident} AS {target}) END"
    else:
        expr = f"TRY_CAST({ident} AS {target})"
    null = _null_sql(ident, duck_type)
    if re.match(r"^(u?int|bool)", dtype):  # numpy integers and booleans cannot hold a null either
        return expr, f"{null} OR {expr} IS NULL"
    return expr, f"NOT ({null}) AND {expr} IS NULL"


def _compilable(check: Any) -> bool:
    return (check.name in BUILTINS and check.groupby is None and not check.element_wise
            and not getattr(check, "raise_warning", False))


def _schema_columns(schema: Any, dataset: Dataset, source: str) -> list[tuple[str, Any]]:
    """(data column, pandera Column) pairs; regex column names expand to every match."""
    pairs = []
    for name, col in schema.columns.items():
        if col.regex:
            matches = [c for c in dataset.column_names if re.match(str(name), c)]
            if not matches and col.required:
                raise ConfigError(f"schema {source}: no column of dataset '{dataset.name}' matches '{name}'")
            pairs.extend((m, col) for m in matches)
        elif dataset.column(str(name)) is None:
            if col.required:
                raise ConfigError(f"schema {source}: column '{name}' is not in dataset '{dataset.name}'")
        else:
            pairs.append((str(name), col))
    return pairs


def compile_schema(schema: Any, dataset: Dataset, *, source: str, id_column: str | None = None) -> SchemaPlan:
    """The plan for one table: SQL rules, verdicts known from the column types, checks left to pandera."""
    plan = SchemaPlan()
    for column, col in _schema_columns(schema, dataset, source):
        duck_type = dataset.column(column).type
        ident = quote_ident(column)
        outcome, target = dtype_outcome(col, column, duck_type, rows=dataset.rows, source=source)
        expr = ident
        if outcome is not None and outcome.failures and col.coerce and target is not None:
            # pandera coerces first: only values the cast rejects fail, and checks see the cast values.
            expr, violation = _coercion(ident, duck_type, target, str(col.dtype))
            for name in (f"coerce_dtype('{col.dtype}')", f"dtype('{col.dtype}')"):  # pandera reports both
                plan.rules.append(Rule(column=column, check=name, violation=violation, sample=ident))
            duck_type = target
        elif outcome is not None:
            plan.decided.append(outcome)
        plan.expressions[column] = expr
        if not col.nullable:
            # A null has no value to show: show the ids of its rows (unless the id itself is the null).
            sample = quote_ident(id_column) if id_column and id_column != column and dataset.column(id_column) else None
            plan.rules.append(Rule(column=column, check="not_nullable", violation=_null_sql(expr, duck_type),
                                   sample=sample))
        if col.unique:
            key = f"CASE WHEN isnan({expr}) THEN NULL ELSE {expr} END" if is_float(duck_type) else expr
            plan.rules.append(Rule(column=column, check="field_uniqueness", key=(key,),
                                   keep=col.report_duplicates))
        for check in col.checks:
            rule = _row_rule(check, column, expr, duck_type, source) if _compilable(check) else None
            if rule is None:
                plan.custom.setdefault(column, []).append(check)
            else:
                plan.rules.append(rule)
    if schema.unique:
        names = [schema.unique] if isinstance(schema.unique, str) else list(schema.unique)
        for name in names:
            if dataset.column(name) is None:
                raise ConfigError(f"schema {source}: unique column '{name}' is not in dataset '{dataset.name}'")
        keys = tuple(
            f"CASE WHEN isnan({quote_ident(n)}) THEN NULL ELSE {quote_ident(n)} END"
            if is_float(dataset.column(n).type) else quote_ident(n) for n in names)
        plan.rules.append(Rule(column=", ".join(names), check="multiple_fields_uniqueness", key=keys,
                               keep=schema.report_duplicates, sample="nulls-equal"))
    if schema.strict is True:
        known = {c for c, _ in _schema_columns(schema, dataset, source)}
        for extra in (c for c in dataset.column_names if c not in known):
            plan.decided.append(Outcome(column=extra, check="column_in_schema", failures=1, rows=None,
                                        sample=[[extra]], detail="the column is not in the schema (strict=True)"))
    plan.frame_checks = list(schema.checks)
    return plan
