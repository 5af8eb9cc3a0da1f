"""SQL text helpers shared by every statement: identifier quoting, type tests, bound parameters.

Every identifier goes through `quote_ident`; every value is a bound parameter (`bind` keeps the
named ones a statement uses). Literals are quoted only for DDL, where DuckDB cannot bind.
"""

from __future__ import annotations

import re
from collections.abc import Mapping


def quote_ident(name: str) -> str:
    """Quote an identifier for DuckDB: `a"b` becomes `"a""b"`."""
    return '"' + str(name).replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote a string literal. Only for DDL (CREATE VIEW, ATTACH), where DuckDB cannot bind parameters."""
    return "'" + str(value).replace("'", "''") + "'"


NUMERIC_TYPES = re.compile(r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|REAL|DECIMAL.*)$")
INTEGER_TYPES = re.compile(r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)$")
FLOAT_TYPES = re.compile(r"^(FLOAT|DOUBLE|REAL)$")
TEMPORAL_TYPES = re.compile(r"^(DATE|TIMESTAMP.*|TIME.*)$")


def is_numeric(duck_type: str) -> bool:
    return bool(NUMERIC_TYPES.match(duck_type.upper()))


def is_integer(duck_type: str) -> bool:
    return bool(INTEGER_TYPES.match(duck_type.upper()))


def is_float(duck_type: str) -> bool:
    return bool(FLOAT_TYPES.match(duck_type.upper()))


def is_temporal(duck_type: str) -> bool:
    return bool(TEMPORAL_TYPES.match(duck_type.upper()))


def bind(sql: str, params: Mapping[str, object]) -> dict[str, object]:
    """The named parameters a statement uses (DuckDB rejects unused ones); `$width` is not `$width_us`."""
    used = set(re.findall(r"\$(\w+)", sql))
    return {k: v for k, v in params.items() if k in used}


def select_list(aggs: Mapping[str, str]) -> str:
    """`expr AS "name", ...` for a mapping of output names to SQL expressions."""
    return ", ".join(f"{sql} AS {quote_ident(name)}" for name, sql in aggs.items())
