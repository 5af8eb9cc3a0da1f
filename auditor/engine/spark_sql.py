"""DuckDB's SQL as Spark SQL: sqlglot's translation, plus the rewrites it does not do right.

SQL is written once, in DuckDB's dialect, where it is read and tuned; the Spark engine translates
each statement here. sqlglot translates most of it. What it drops or cannot say is rewritten on
its syntax tree (each rewrite has a parity test in tests/test_spark_parity.py):

- parameters (`?`, `$name`, `?::BIGINT[]`, which sqlglot cannot parse) become literals of the
  values bound, typed as Spark reads them (a float is a DOUBLE, not a DECIMAL);
- `list(x ORDER BY ...)`, `first(x ORDER BY ...)`, `arg_max(x, n, k)` / `arg_min`: an ordered collect
  (sqlglot drops the ORDER BY and the k; Spark's first takes none); `list(x)` keeps NULLs as DuckDB's does;
- `histogram(x)`: a GROUP BY of its own, as a scalar subquery over the same rows (Spark has no
  exact value-count aggregate);
- `fsum(x)`: a compensated sum of the values in ascending order: the same whatever order the
  partitions arrive in (Spark's sum is not), within an ulp of DuckDB's exactly rounded sum;
- `epoch` keeps the fraction of seconds, `epoch_us` is `unix_micros`, `timezone('UTC', x)` a cast;
- `isfinite` / `isinf`, `approx_top_k` (Spark's gives structs), `approx_quantile`'s probabilities,
  DuckDB's list functions (`list_sum`, `list_reduce`, `list_zip`, `list_inner_product`, a 1-based index),
  `strptime` (Spark's datetime patterns), `date_diff` by boundaries, `regexp_replace(..., 'g')`,
  `regexp_matches` / `regexp_full_match` (RE2 patterns written for Java's regexes),
  several `unnest` in one SELECT (one `inline(arrays_zip(...))`), `MATERIALIZED`,
  `CREATE TEMP TABLE ... AS` (a cached view).

Functions with no Spark form and no rewrite (bitstring_agg, EXPLAIN, ATTACH) are never sent
here: the callers ask the engine (`Engine.bitmaps`, `reads_from_metadata`, `view_of_table`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.spark import Spark
from sqlglot.tokens import TokenType

from auditor.engine.spark_patterns import (
    INF,
    compensated_sum,
    java_regex,
    literal_of,
    ordered_collect,
    spark_datetime_pattern,
)

MARK = "\x00p{}\x00"  # where a bound value goes in the translated text
REGEX_MARK = "\x00r{}\x00"  # a bound value that is a regex (written for Java)
DATETIME_MARK = "\x00d{}\x00"  # a bound value that is a strptime format (written as Spark's pattern)
APPROX_DISTINCT_RSD = 0.05  # Spark's default; a finer one costs 10x (HLL++ buffers of 16k registers at 1%)


class Raw(exp.Expression):
    """Spark SQL text kept as it is."""

    arg_types = {"this": True}


class AuditorSpark(Spark):
    class Generator(Spark.Generator):
        TRANSFORMS = {**Spark.Generator.TRANSFORMS, Raw: lambda self, e: e.this}


def sql(node: exp.Expression) -> str:
    return node.sql(dialect=AuditorSpark)


@dataclass(frozen=True)
class Template:
    """A statement translated once, its parameters still to bind: names in order of the marks."""

    text: str
    names: tuple[str, ...]  # each mark's parameter: "p0", "p1"... for `?`, the name for `$name`
    regexes: frozenset[str]  # parameters bound as regexes, and as strptime formats ("d" + name)


def translate(duck_sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> str:
    """Spark SQL for a DuckDB statement with its parameters bound."""
    template = template_of(duck_sql)
    values = dict(params) if isinstance(params, Mapping) else {f"p{i}": v for i, v in enumerate(params or [])}
    text = template.text
    for name in dict.fromkeys(template.names):
        if name not in values:
            raise KeyError(f"no value bound for parameter {name}")
        literal = literal_of(values[name])
        text = text.replace(MARK.format(name), literal)
        if name in template.regexes:
            text = text.replace(REGEX_MARK.format(name), literal_of(java_regex(values[name])))
        if "d" + name in template.regexes:
            text = text.replace(DATETIME_MARK.format(name), literal_of(spark_datetime_pattern(values[name])))
    return text


@lru_cache(maxsize=512)
def template_of(duck_sql: str) -> Template:
    text = _name_positional(duck_sql)
    create = re.match(r"\s*CREATE\s+(?:OR\s+REPLACE\s+)?TEMP(?:ORARY)?\s+TABLE\s+(\S+)\s+AS\s+(.*)$", text, re.S | re.I)
    prefix = ""
    if create:  # a table kept for the run: Spark caches a view of the query
        prefix, text = f"CACHE TABLE {create.group(1).replace(chr(34), '`')} AS ", create.group(2)
    text = re.sub(r"\bAS\s+MATERIALIZED\s*\(", "AS (", text, flags=re.I)
    tree = sqlglot.parse_one(text, read="duckdb")
    regexes: set[str] = set()
    for node in list(tree.find_all(exp.Placeholder)):  # first: rewrites copy text holding them
        node.replace(Raw(this=MARK.format(node.name)))
    tree = _rewrite(tree, regexes)
    out = prefix + sql(tree)
    names = re.findall("\x00[prd](.*?)\x00", out)
    return Template(text=out, names=tuple(names), regexes=frozenset(regexes))


def _name_positional(duck_sql: str) -> str:
    """`?` -> `$0`, `$1`... in order of appearance (sqlglot parses `$0::T[]`, not `?::T[]`)."""
    tokens = sqlglot.Dialect.get_or_raise("duckdb").tokenize(duck_sql)
    out, last, index = [], 0, 0
    for token in tokens:
        # `?::` is one token (sqlglot reads it as an operator): its `?` is a parameter all the same.
        if (token.token_type, token.text) in ((TokenType.PLACEHOLDER, "?"), (TokenType.QDCOLON, "?::")):
            out += [duck_sql[last:token.start], f"$p{index}"]
            last, index = token.start + 1, index + 1
    return "".join(out) + duck_sql[last:] if index else duck_sql


# --- rewrites ------------------------------------------------------------------------------------
def _fn(node: exp.Expression) -> str:
    """The lower-case name of a function call node."""
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower()
    return node.sql_name().lower() if isinstance(node, exp.Func) else ""


def _histogram(select: exp.Select, value: str, condition: str | None) -> str:
    """histogram(value) over the select's rows: a scalar subquery grouping them by value."""
    where = [f"({value}) IS NOT NULL"]
    if select.args.get("where") is not None:
        where.insert(0, f"({sql(select.args['where'].this)})")
    if condition:
        where.append(f"({condition})")
    source = sql(select.args["from_"]) if select.args.get("from_") is not None else ""
    joins = " ".join(sql(j) for j in select.args.get("joins") or [])
    # Inside first(): the SELECT stays an aggregate of one row, as with DuckDB's histogram (the subquery runs once).
    return (f"first((SELECT CASE WHEN count(*) > 0 THEN map_from_entries(collect_list(struct(k, n))) END FROM "
            f"(SELECT {value} AS k, count(*) AS n {source} {joins} WHERE {' AND '.join(where)} GROUP BY 1)))")


def _regex_mark(node: exp.Expression, regexes: set[str], datetime: bool = False) -> str:
    """A regex (or strptime format) argument, converted now if a literal, when bound if a parameter."""
    bound = re.fullmatch("\x00p(.*?)\x00", node.this) if isinstance(node, Raw) else None
    if bound:
        regexes.add(("d" if datetime else "") + bound.group(1))
        return (DATETIME_MARK if datetime else REGEX_MARK).format(bound.group(1))
    if isinstance(node, exp.Literal) and node.is_string:
        return literal_of(spark_datetime_pattern(node.this) if datetime else java_regex(node.this))
    raise NotImplementedError(f"a regex that is not a literal or a parameter: {node.sql('duckdb')}")


def _rewrite(tree: exp.Expression, regexes: set[str]) -> exp.Expression:
    """Every rewrite, children before parents (a rewritten child is Spark text its parent embeds); the
    unnests zipped first, since a histogram copies the FROM it reads as text."""
    _zip_unnests(tree)
    for node in list(tree.walk(bfs=False))[::-1]:
        if node is not tree and node.parent is None:
            continue  # replaced along with an ancestor already
        new = _rewrite_node(node, regexes)
        if new is not None:
            if node is tree:
                tree = new
            else:
                node.replace(new)
    return tree


def _filter_of(node: exp.Expression) -> tuple[exp.Expression, str | None]:
    """(the node a FILTER clause applies to, its condition) for an aggregate inside a Filter."""
    parent = node.parent
    if isinstance(parent, exp.Filter) and parent.this is node:
        return parent, sql(parent.expression.this)
    return node, None


def _rewrite_node(node: exp.Expression, regexes: set[str]) -> exp.Expression | None:  # noqa: C901
    name = _fn(node)
    first = isinstance(node, exp.First) and isinstance(node.this, exp.Order)  # first(x ORDER BY k): the head
    if isinstance(node, exp.ArrayAgg) or name in ("list", "array_agg") or first:
        target, condition = _filter_of(node)
        inner = node.this
        keys: list[tuple[str, bool]] = []
        if isinstance(inner, exp.Order):
            keys = [(sql(o.this), bool(o.args.get("desc"))) for o in inner.expressions]
            inner = inner.this
        if isinstance(inner, exp.Distinct):  # list(DISTINCT x ORDER BY x): sorted, NULL last
            value = sql(inner.expressions[0])
            return _replace(target, Raw(this=f"CASE WHEN count(*) > 0 THEN array_sort(array_distinct("
                                             f"transform(collect_list(named_struct('x', {value})), e -> e.x))) END"))
        collected = ordered_collect(sql(inner), keys, condition, limit="1" if first else None)
        return _replace(target, Raw(this=f"element_at({collected}, 1)" if first else collected))
    if isinstance(node, (exp.ArgMax, exp.ArgMin)) and node.args.get("count") is not None:
        target, condition = _filter_of(node)
        desc = isinstance(node, exp.ArgMax)
        return _replace(target, Raw(this=ordered_collect(sql(node.this), [(sql(node.expression), desc)], condition,
                                                          limit=sql(node.args["count"]))))
    if name == "fsum":
        target, condition = _filter_of(node)
        value = sql(node.expressions[0])
        return _replace(target, Raw(this=compensated_sum(f"CASE WHEN {condition} THEN {value} END" if condition
                                                          else value)))
    if name == "histogram":
        target, condition = _filter_of(node)
        select = target.find_ancestor(exp.Select)
        if select is None or select.args.get("group") is not None:
            raise NotImplementedError("histogram() outside a plain aggregate SELECT")
        return _replace(target, Raw(this=_histogram(select, sql(node.expressions[0]), condition)))
    if isinstance(node, exp.TimeToUnix) or name == "epoch":  # seconds, with their fraction
        return Raw(this=f"(unix_micros(CAST({sql(node.this)} AS TIMESTAMP)) / 1000000D)")
    if name == "epoch_us":
        return Raw(this=f"unix_micros(CAST({sql(node.expressions[0])} AS TIMESTAMP))")
    if name == "timezone" and len(node.expressions) == 2:  # timezone('UTC', x): the session's zone is UTC
        return Raw(this=f"CAST({sql(node.expressions[1])} AS TIMESTAMP_NTZ)")
    if name == "isfinite":
        x = sql(node.expressions[0])
        return Raw(this=f"(NOT isnan({x}) AND abs({x}) < {INF})")
    if isinstance(node, exp.IsInf) or name == "isinf":
        return Raw(this=f"(abs({sql(node.this)}) = {INF})")
    if isinstance(node, exp.Trunc) and not node.args.get("unit") and len(node.args) <= 2:
        x = sql(node.this)
        return Raw(this=f"(CASE WHEN {x} >= 0 THEN floor({x}) ELSE ceil({x}) END)")
    if isinstance(node, (exp.Min, exp.Max)) and node.args.get("count") is not None:  # min(x, n): n smallest
        target, condition = _filter_of(node)
        x = sql(node.this)
        present = f"{x} IS NOT NULL" + (f" AND ({condition})" if condition else "")
        return _replace(target, Raw(this=ordered_collect(x, [(x, isinstance(node, exp.Max))], present,
                                                          limit=sql(node.args["count"]))))
    if (isinstance(node, exp.Grouping) or name == "grouping_id") and len(node.expressions) > 1:
        # Spark's grouping_id takes every grouping column, in order: the bits, one grouping() each
        bits = len(node.expressions) - 1
        return Raw(this="(" + " + ".join(f"grouping({sql(e)}) * {1 << (bits - i)}"
                                         for i, e in enumerate(node.expressions)) + ")")
    if isinstance(node, exp.Window) and isinstance(node.this, (exp.Lead, exp.Lag)):
        if node.args.get("alias"):
            return _unframed(node)
        node.set("spec", None)  # an inline frame, which DuckDB ignores for lead and Spark refuses
        return None
    if isinstance(node, exp.ApproxTopK) or name == "approx_top_k":
        target, condition = _filter_of(node)
        x, k = ((sql(node.this), sql(node.expression)) if isinstance(node, exp.ApproxTopK)
                else (sql(a) for a in node.expressions[:2]))
        value = f"CASE WHEN {condition} THEN {x} END" if condition else x
        return _replace(target, Raw(this=f"transform(approx_top_k({value}, {k}), e -> e.item)"))
    if isinstance(node, exp.ApproxQuantile) and node.args.get("quantile") is not None:
        # Spark's percentile_approx takes DOUBLE probabilities only (DuckDB's FLOAT[] is refused)
        probabilities = node.args["quantile"]
        value = probabilities.this if isinstance(probabilities, exp.Cast) else probabilities
        is_list = isinstance(probabilities, exp.Cast) and probabilities.to.is_type(exp.DataType.Type.ARRAY)
        return Raw(this=f"percentile_approx({sql(node.this)}, CAST({sql(value)} AS "
                        f"{'ARRAY<DOUBLE>' if is_list else 'DOUBLE'}))")
    if isinstance(node, exp.ApproxDistinct) and node.args.get("accuracy") is None:
        return Raw(this=f"approx_count_distinct({sql(node.this)}, {APPROX_DISTINCT_RSD})")
    if isinstance(node, exp.RegexpLike) or name in ("regexp_matches", "regexp_full_match"):
        subject, pattern = ((node.this, node.expression) if node.args.get("expression") is not None
                            else node.expressions[:2])
        mark = _regex_mark(pattern, regexes)
        if name == "regexp_full_match":
            return Raw(this=f"({sql(subject)} RLIKE concat('^(?:', {mark}, ')\\\\z'))")
        return Raw(this=f"({sql(subject)} RLIKE {mark})")
    if isinstance(node, exp.StrToTime) or name in ("strptime", "try_strptime"):  # Spark's pattern, naive UTC
        subject, fmt = ((node.this, node.args["format"]) if isinstance(node, exp.StrToTime)
                        else node.expressions[:2])
        function = "try_to_timestamp" if name == "try_strptime" or node.args.get("safe") else "to_timestamp"
        formats = fmt.expressions if isinstance(fmt, exp.Array) else [fmt]  # DuckDB tries a list in order
        parsed = [f"{function}({sql(subject)}, {_regex_mark(f, regexes, datetime=True)})" for f in formats]
        return Raw(this=f"CAST({parsed[0] if len(parsed) == 1 else 'coalesce(' + ', '.join(parsed) + ')'} "
                        "AS TIMESTAMP_NTZ)")
    if isinstance(node, exp.RegexpReplace):  # DuckDB replaces the first match unless 'g'; Spark every match
        if node.args.get("modifiers") is None or "g" not in node.args["modifiers"].name:
            raise NotImplementedError("regexp_replace without 'g' (the first match only) has no Spark form")
        pattern = _regex_mark(node.expression, regexes)
        return Raw(this=f"regexp_replace({sql(node.this)}, {pattern}, {sql(node.args['replacement'])})")
    if isinstance(node, exp.DateDiff) and node.args.get("unit") is not None:
        # DuckDB's date_diff counts the boundaries crossed (2000-12-31 to 2001-01-01 is a year); Spark's whole units
        start, end, unit = sql(node.expression), sql(node.this), node.args["unit"].name.lower()
        if unit == "year":
            return Raw(this=f"(year({end}) - year({start}))")
        if unit == "month":
            return Raw(this=f"((year({end}) * 12 + month({end})) - (year({start}) * 12 + month({start})))")
        if unit == "day":
            return Raw(this=f"datediff(CAST({end} AS DATE), CAST({start} AS DATE))")
        raise NotImplementedError(f"date_diff('{unit}') has no Spark translation yet")
    if name == "list_sum":
        return Raw(this=f"aggregate({sql(node.expressions[0])}, CAST(0 AS BIGINT), (acc, y) -> acc + coalesce(y, 0))")
    if isinstance(node, exp.Pivot) and node.args.get("unpivot") and node.args.get("into") is not None:
        # DuckDB's UNPIVOT (q) ON COLUMNS(*) INTO NAME n VALUE v; both leave NULL values out
        inner, into = node.this, node.args["into"]
        listed = node.expressions
        if len(listed) == 1 and "COLUMNS" in sql(listed[0]).upper():  # ON COLUMNS(*): every column of the query
            names = ", ".join(sql(exp.to_identifier(e.alias_or_name, quoted=True)) for e in inner.this.expressions)
        else:  # ON a, b or ON (a0, a1) AS "0", ...: the same list in Spark's words
            names = ", ".join(sql(e) for e in listed)
        values = [e.name for e in into.expressions]
        value = values[0] if len(values) == 1 else "(" + ", ".join(values) + ")"
        # DuckDB leaves out a row whose first value is NULL; Spark, by default, one whose values are all NULL
        return Raw(this=f"(SELECT * FROM {sql(inner)} UNPIVOT INCLUDE NULLS ({value} FOR {into.this.name} "
                        f"IN ({names})) WHERE {values[0]} IS NOT NULL)")
    if isinstance(node, exp.In) and isinstance(node.this, exp.Struct) and node.args.get("query") is not None:
        # Spark reads a struct built on the left of IN as a list of values to compare: coalesce keeps it one value
        node.set("this", Raw(this=f"coalesce({sql(node.this)})"))
        return None
    if isinstance(node, exp.Split) and isinstance(node.expression, exp.Literal) and node.expression.this == "":
        # string_split(s, ''): its characters; Spark's split on an empty pattern adds an empty string at the end
        return Raw(this=f"filter(split({sql(node.this)}, ''), c -> c <> '')")
    if name == "list_zip" and len(node.expressions) == 2:  # pairs indexable as p[1], p[2] (sqlglot makes them 0, 1)
        a, b = (sql(e) for e in node.expressions)
        return Raw(this=f"zip_with({a}, {b}, (x, y) -> array(x, y))")
    if name == "list_inner_product":
        a, b = (sql(e) for e in node.expressions)
        return Raw(this=f"aggregate(zip_with({a}, {b}, (x, y) -> x * y), 0D, (acc, v) -> acc + v)")
    if name == "list_reduce":  # DuckDB starts from the first element
        items, merge = sql(node.expressions[0]), sql(node.expressions[1])
        return Raw(this=f"aggregate(slice({items}, 2, greatest(size({items}) - 1, 0)), element_at({items}, 1), {merge})")
    if isinstance(node, exp.Lambda) and isinstance(node.parent, exp.Transform) and len(node.expressions) == 2:
        # list_transform's index counts from 1 in DuckDB, from 0 in Spark's transform
        index = node.expressions[1].name
        for ident in list(node.this.find_all(exp.Identifier)):
            if ident.name == index and not isinstance(ident.parent, exp.Lambda):
                target = ident.parent if isinstance(ident.parent, exp.Column) else ident
                target.replace(Raw(this=f"({index} + 1)"))
        return None
    if name in ("bitstring_agg", "bit_count"):
        raise NotImplementedError(f"{name or node.sql_name()}() has no Spark translation: the caller asks the engine")
    return None


def _unframed(node: exp.Window) -> exp.Expression | None:
    """lead/lag over a named window with a frame (DuckDB ignores it, Spark refuses it): the window inline,
    without the frame."""
    select = node.find_ancestor(exp.Select)
    named = next((w for w in (select.args.get("windows") or []) if w.this.name == node.alias), None) if select else None
    if named is None:
        return None
    parts = []
    if named.args.get("partition_by"):
        parts.append("PARTITION BY " + ", ".join(sql(p) for p in named.args["partition_by"]))
    if named.args.get("order") is not None:
        parts.append(sql(named.args["order"]).strip())
    return Raw(this=f"{sql(node.this)} OVER ({' '.join(parts)})")


def _replace(target: exp.Expression, new: exp.Expression) -> exp.Expression | None:
    """`new` for the aggregate itself, or None once the FILTER clause holding it is replaced by `new`."""
    if isinstance(target, exp.Filter):
        target.replace(new)
        return None
    return new


def _zip_unnests(tree: exp.Expression) -> None:
    """SELECT unnest(a) AS x, unnest(b) AS y (DuckDB zips them) -> SELECT inline(arrays_zip(a, b)) AS (x, y)."""
    for select in list(tree.find_all(exp.Select)):
        items = select.expressions
        found = [list(e.find_all(exp.Explode, exp.Unnest)) for e in items]
        if len(items) < 2 or any(len(f) != 1 or not isinstance(e, exp.Alias) for e, f in zip(items, found, strict=True)):
            continue
        arrays = ", ".join(sql(f[0].this if isinstance(f[0], exp.Explode) else f[0].expressions[0]) for f in found)
        names = [f"__unnest_{i}" for i in range(len(items))]
        zipped = f"inline(arrays_zip({arrays})) AS ({', '.join(names)})"
        if all(e.this is f[0] for e, f in zip(items, found, strict=True)) and select.args.get("from_") is None:
            aliases = ", ".join(sql(exp.to_identifier(e.alias, quoted=True)) for e in items)
            select.set("expressions", [Raw(this=zipped.replace(", ".join(names), aliases))])
        elif select.args.get("from_") is None:  # trim(unnest(x)) AS v: computed over the zipped rows
            for f, column in zip(found, names, strict=True):
                f[0].replace(exp.column(column))
            select.set("from_", exp.From(this=Raw(this=f"(SELECT {zipped})")))
