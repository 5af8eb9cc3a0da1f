"""Comparing a DuckDB column type with a pandera dtype.

A DuckDB type maps to the pandas dtypes that hold the same values (BIGINT: int64,
or Int64 when nulls are allowed); the column passes when pandera's own dtype check
accepts any of them. Timestamps match any unit: the unit is storage, not quality.
The stored type is the truth: pandas reads an integer column with nulls as float64,
but here it stays an integer column (int64 or Int64), and `nullable` judges its nulls.
A type with no pandas equivalent here (STRUCT, LIST, ...) cannot be compared:
that is a ConfigError when the schema sets a dtype for it.
"""

from __future__ import annotations

import re
from typing import Any

from auditor.errors import ConfigError

_UNITS = ("ns", "us", "ms", "s")
_TIMESTAMPS = tuple(f"datetime64[{u}]" for u in _UNITS)
PANDAS_EQUIVALENTS: dict[str, tuple[str, ...]] = {
    "BOOLEAN": ("bool", "boolean"),
    "TINYINT": ("int8", "Int8"), "SMALLINT": ("int16", "Int16"),
    "INTEGER": ("int32", "Int32"), "BIGINT": ("int64", "Int64"),
    "UTINYINT": ("uint8", "UInt8"), "USMALLINT": ("uint16", "UInt16"),
    "UINTEGER": ("uint32", "UInt32"), "UBIGINT": ("uint64", "UInt64"),
    "FLOAT": ("float32", "Float32"), "DOUBLE": ("float64", "Float64"),
    "VARCHAR": ("str", "string", "object", "category"),
    "DATE": ("date", *_TIMESTAMPS, "object"),
    "TIMESTAMP": _TIMESTAMPS, "TIMESTAMP_NS": _TIMESTAMPS, "TIMESTAMP_MS": _TIMESTAMPS, "TIMESTAMP_S": _TIMESTAMPS,
    "TIMESTAMP WITH TIME ZONE": tuple(f"datetime64[{u}, UTC]" for u in _UNITS),
}
# The DuckDB type a pandera dtype coerces to (schema `coerce: true`).
DUCKDB_TARGETS = {
    "int8": "TINYINT", "int16": "SMALLINT", "int32": "INTEGER", "int64": "BIGINT",
    "Int8": "TINYINT", "Int16": "SMALLINT", "Int32": "INTEGER", "Int64": "BIGINT",
    "uint8": "UTINYINT", "uint16": "USMALLINT", "uint32": "UINTEGER", "uint64": "UBIGINT",
    "float32": "FLOAT", "float64": "DOUBLE", "Float32": "FLOAT", "Float64": "DOUBLE",
    "bool": "BOOLEAN", "boolean": "BOOLEAN", "str": "VARCHAR", "string": "VARCHAR",
    "string[pyarrow]": "VARCHAR", "string[python]": "VARCHAR", "date": "DATE",
    **{t: "TIMESTAMP" for t in _TIMESTAMPS},
}


def pandas_equivalents(duck_type: str) -> tuple[str, ...]:
    base = duck_type.upper()
    if base.startswith("DECIMAL"):
        return ("object", "float64")  # pandas reads Decimal objects; pandera accepts them as float64
    if base in ("ENUM",) or base.startswith("ENUM("):
        return ("category", "object", "str")
    return PANDAS_EQUIVALENTS.get(base, ())


def dtype_matches(expected: Any, duck_type: str) -> bool | None:
    """pandera's dtype check against the column's pandas equivalents; None when uncomparable."""
    from pandera.engines import pandas_engine

    candidates = pandas_equivalents(duck_type)
    if not candidates:
        return None
    for name in candidates:
        try:
            if expected.check(pandas_engine.Engine.dtype(name)):
                return True
        except (TypeError, ValueError):
            continue
    return False


def dtype_outcome(col: Any, column: str, duck_type: str, *, rows: int, source: str):
    """(the dtype's Outcome, the DuckDB type to coerce to when it fails); (None, None) without a dtype."""
    from auditor.schema.plan import Outcome

    if col.dtype is None:
        return None, None
    matches = dtype_matches(col.dtype, duck_type)
    if matches is None:
        raise ConfigError(f"schema {source}: column '{column}': cannot compare dtype {col.dtype} "
                          f"with the data's {duck_type}")
    actual = pandas_equivalents(duck_type)[0]
    if matches:
        return Outcome(column=column, check=f"dtype('{col.dtype}')", failures=0, rows=None), None
    target = DUCKDB_TARGETS.get(str(col.dtype)) or DUCKDB_TARGETS.get(re.sub(r"\[.*\]$", "", str(col.dtype)))
    outcome = Outcome(column=column, check=f"dtype('{col.dtype}')", failures=1, rows=None,
                      sample=[[actual]], detail=f"expected {col.dtype}, the data has {duck_type} ({actual})")
    return outcome, target
