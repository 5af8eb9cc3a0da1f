"""pandera schemas validated on whole tables: built-in checks compiled to one DuckDB query.

A schema is pandera's `DataFrameSchema` (from YAML, or `module:attribute` naming a
schema or a `DataFrameModel`). Every built-in check pandera's pandas backend knows
(dtype, nullable, unique, unique across columns, comparisons, isin/notin, string
checks) becomes a filtered count in ONE query per table, with a capped sample of
failing values. Everything else (custom Python checks, regexes RE2 cannot run the
same way) goes to `auditor.schema_custom`, which streams the table to pandera in
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

import importlib
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor.errors import ConfigError
from auditor.repeats import find_repeats
from auditor.schema_dtypes import dtype_outcome
from auditor.schema_regex import translate
from auditor.schema_values import known_without_scan
from auditor.sources import Dataset
from auditor.sql import Engine, is_float, is_numeric, quote_ident
from auditor.summary import ColumnSummary

COMPARISONS = {
    "equal_to": "=", "not_equal_to": "<>", "greater_than": ">", "greater_than_or_equal_to": ">=",
    "less_than": "<", "less_than_or_equal_to": "<=",
}
STRING_CHECKS = ("str_matches", "str_contains", "str_startswith", "str_endswith", "str_length")
BUILTINS = frozenset({*COMPARISONS, "in_range", "isin", "notin", *STRING_CHECKS})
INTEGER_TARGETS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
MODULE_ATTRIBUTE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


@dataclass(frozen=True)
class Rule:
    """One compiled check: its SQL violation predicate, or the key columns of a uniqueness rule."""

    column: str
    check: str  # pandera's name for the check, as in SchemaErrors.failure_cases["check"]
    violation: str | None = None  # SQL, TRUE on a violating row
    params: tuple = ()
    sample: str | None = None  # SQL of the value shown as a failure case
    key: tuple[str, ...] = ()  # uniqueness: the key expressions
    keep: str = "all"


@dataclass
class Outcome:
    """The verdict of one (column, check) on one table."""

    column: str
    check: str
    failures: int
    rows: int | None
    sample_columns: list[str] = field(default_factory=lambda: ["failure_case"])
    sample: list[list] = field(default_factory=list)
    detail: str | None = None
    engine: str = "duckdb"  # or "pandera" (custom checks on streamed chunks)

    @property
    def rate(self) -> float | None:
        return self.failures / self.rows if self.rows else None


@dataclass
class SchemaPlan:
    rules: list[Rule] = field(default_factory=list)
    decided: list[Outcome] = field(default_factory=list)  # dtype and strictness: known from DESCRIBE
    custom: dict[str, list] = field(default_factory=dict)  # column -> checks pandera must run
    frame_checks: list = field(default_factory=list)  # schema-level custom checks
    expressions: dict[str, str] = field(default_factory=dict)  # column -> SQL (coerced when asked)


def check_name(check: Any) -> str:
    """pandera's identifier for a check in failure_cases: its error text, else its name."""
    return check.error if getattr(check, "error", None) is not None else check.name


def load_schema(spec: str, *, base_dir: Path) -> Any:
    """A pandera DataFrameSchema from a YAML path (relative to base_dir) or `module:attribute`."""
    import pandera.pandas as pa

    path = Path(spec).expanduser()
    path = path if path.is_absolute() else base_dir / path
    if MODULE_ATTRIBUTE.match(spec) and not path.exists():
        module_name, attribute = spec.split(":")
        sys.path.insert(0, str(base_dir))  # a schema module may live beside the config
        try:
            obj: Any = importlib.import_module(module_name)
            for part in attribute.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"schema {spec}: cannot import it ({exc})") from None
        finally:
            sys.path.remove(str(base_dir))
    else:
        if not path.is_file():
            raise ConfigError(f"schema {spec}: file not found ({path})")
        try:
            obj = pa.DataFrameSchema.from_yaml(path)
        except Exception as exc:  # pandera raises yaml, key and type errors alike for a bad file
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"schema {spec}: not a pandera YAML schema ({first})") from None
    if isinstance(obj, type) and issubclass(obj, pa.DataFrameModel):
        obj = obj.to_schema()
    if not isinstance(obj, pa.DataFrameSchema):
        raise ConfigError(f"schema {spec}: expected a pandera DataFrameSchema or DataFrameModel, got {type(obj).__name__}")
    return obj


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


def _unique_sql(rule: Rule, view: str, k: int) -> str:
    """A unique key over several columns, as a scalar subquery of the counts (tuples match nulls, as in pandera)."""
    keys = ", ".join(f"{key} AS k{i}" for i, key in enumerate(rule.key))
    extra = "n" if rule.keep == "all" else "n - 1"
    fields = ", ".join(f"k{i} := k{i}" for i in range(len(rule.key)))
    return (f"(SELECT struct_pack(failures := coalesce(sum({extra}) FILTER (WHERE n > 1), 0), "
            f"sample := arg_max(struct_pack({fields}, n := n), n, {k}) FILTER (WHERE n > 1)) "
            f"FROM (SELECT {keys}, count(*) AS n FROM {view} GROUP BY ALL))")


def _column_unique(rule: Rule) -> bool:
    """A unique column (not a key over several): answered by auditor.repeats, shared with data.duplicates."""
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
    """Run the plan: the unique columns (auditor.repeats), the rules the summaries and value counts
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
