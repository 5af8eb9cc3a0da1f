"""Values as Spark reads them: bound parameters as Spark SQL literals, RE2 regexes (as auditor.schema.regex
writes them for DuckDB) in java.util.regex's syntax, and strptime formats as Spark's datetime patterns; and
the Spark SQL of DuckDB's ordered aggregates (an ordered collect, a compensated sum in value order)."""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
from typing import Any

from sqlglot import exp

from auditor.errors import ConfigError

INF = "CAST('Infinity' AS DOUBLE)"


def literal_of(value: Any) -> str:
    """A value as a Spark SQL literal of the type DuckDB would bind it as."""
    if hasattr(value, "item") and not isinstance(value, (list, tuple)):  # numpy scalars
        value = value.item()
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value) if -2**31 <= value < 2**31 else f"{value}L"
    if isinstance(value, float):
        if math.isnan(value):
            return "CAST('NaN' AS DOUBLE)"
        if math.isinf(value):
            return INF if value > 0 else f"-{INF}"
        text = repr(value)
        return f"{text}D" if text[0] != "-" else f"({text}D)"
    if isinstance(value, decimal.Decimal):
        return f"{value}BD"
    if isinstance(value, str):
        return exp.Literal.string(value).sql(dialect="spark")
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return f"TIMESTAMP_NTZ '{value.isoformat(sep=' ', timespec='microseconds')}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, dt.timedelta):
        micros = value // dt.timedelta(microseconds=1)
        return f"make_dt_interval(0, 0, 0, {decimal.Decimal(micros) / 1_000_000:f})"
    if isinstance(value, (list, tuple)) or (hasattr(value, "tolist") and not isinstance(value, str)):
        items = value.tolist() if hasattr(value, "tolist") else value
        return "array(" + ", ".join(literal_of(v) for v in items) + ")"
    raise TypeError(f"cannot bind a {type(value).__name__} for Spark")




def java_regex(pattern: str) -> str:
    """An RE2 pattern (as auditor.schema.regex writes them) in Java's syntax, with the same matches:
    in a class, Java reads `[` as a nested class and `&&` as an intersection; named groups lose the P."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if in_class:
            if ch == "]" and not (out and out[-1] in ("[", "[^")):
                in_class = False
            elif ch == "[" or (ch == "&" and pattern.startswith("&&", i)):
                out.append("\\" + ch)
                i += 1
                continue
        elif ch == "[":
            in_class = True
            start = "[^" if pattern.startswith("[^", i) else "["
            out.append(start)
            i += len(start)
            continue
        elif pattern.startswith("(?P<", i):
            out.append("(?<")
            i += 4
            continue
        out.append(ch)
        i += 1
    return "".join(out)


STRPTIME_TO_SPARK = {
    "%Y": "yyyy", "%m": "MM", "%d": "dd", "%H": "HH", "%M": "mm", "%S": "ss", "%f": "SSSSSS", "%y": "yy",
    "%b": "MMM", "%B": "MMMM", "%a": "EEE", "%A": "EEEE", "%p": "a", "%I": "hh", "%j": "DDD", "%z": "XX",
    "%Z": "z", "%e": "d", "%-d": "d", "%-m": "M", "%-H": "H", "%-M": "m", "%-S": "s", "%%": "%",
}


def spark_datetime_pattern(strptime_format: str, *, where: str = "timestamp_format") -> str:
    """A strptime format (DuckDB's and Python's) as Spark's datetime pattern; a ConfigError naming
    `where` for a directive Spark cannot parse."""
    out, i = [], 0
    while i < len(strptime_format):
        ch = strptime_format[i]
        if ch == "%":
            directive = strptime_format[i:i + 3] if strptime_format[i + 1:i + 2] == "-" else strptime_format[i:i + 2]
            if directive not in STRPTIME_TO_SPARK:
                raise ConfigError(f"{where}: {directive!r} of {strptime_format!r} has no Spark datetime pattern; "
                                  "use kind: duckdb or a format of %Y %m %d %H %M %S %f %b %p %z")
            out.append(STRPTIME_TO_SPARK[directive])
            i += len(directive)
            continue
        j = i
        while j < len(strptime_format) and strptime_format[j] != "%":
            j += 1
        literal = strptime_format[i:j]
        out.append("'" + literal.replace("'", "''") + "'" if re.search(r"[A-Za-z']", literal) else literal)
        i = j
    return "".join(out)


def comparator(keys: list[tuple[str, bool]]) -> str:
    """A comparator of array_sort over structs by `o0`, `o1`... (desc or not), NULLs last as DuckDB."""
    body = "0"
    for i, (_, desc) in reversed(list(enumerate(keys))):
        a, b = f"l.o{i}", f"r.o{i}"
        lt, gt = ("1", "-1") if desc else ("-1", "1")
        body = (f"CASE WHEN {a} IS NULL AND {b} IS NULL THEN {body} WHEN {a} IS NULL THEN 1 WHEN {b} IS NULL THEN -1 "
                f"WHEN {a} < {b} THEN {lt} WHEN {a} > {b} THEN {gt} ELSE {body} END")
    return f"(l, r) -> {body}"


def ordered_collect(value: str, keys: list[tuple[str, bool]], condition: str | None, limit: str | None = None) -> str:
    """DuckDB's list(value ORDER BY keys) (or a top-k), NULL over no rows, NULL values kept."""
    fields = ", ".join([f"'x', {value}", *(f"'o{i}', {k}" for i, (k, _) in enumerate(keys))])
    struct = f"named_struct({fields})"
    if condition:
        struct = f"CASE WHEN {condition} THEN {struct} END"
    collected = f"collect_list({struct})"
    if keys:
        collected = f"array_sort({collected}, {comparator([(f'o{i}', d) for i, (_, d) in enumerate(keys)])})"
    if limit:
        collected = f"slice({collected}, 1, {limit})"
    counted = f"count(CASE WHEN {condition} THEN 1 END)" if condition else "count(*)"
    return f"CASE WHEN {counted} > 0 THEN transform({collected}, e -> e.x) END"


def compensated_sum(value: str) -> str:
    """fsum: a Neumaier sum of the values in ascending order (deterministic), NULL over no values."""
    step = ("named_struct('s', acc.s + v, 'c', acc.c + CASE WHEN abs(acc.s) >= abs(v) "
            "THEN (acc.s - (acc.s + v)) + v ELSE (v - (acc.s + v)) + acc.s END)")
    finish = f"acc -> CASE WHEN isnan(acc.s) OR abs(acc.s) = {INF} THEN acc.s ELSE acc.s + acc.c END"
    return (f"CASE WHEN count({value}) > 0 THEN aggregate(array_sort(collect_list(CAST({value} AS DOUBLE))), "
            f"named_struct('s', 0D, 'c', 0D), (acc, v) -> {step}, {finish}) END")
