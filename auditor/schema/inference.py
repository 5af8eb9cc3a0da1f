"""`auditor infer-schema`: a starting pandera schema from a dataset, computed in DuckDB.

One scan gives every column's nulls, range and (for strings) approximate distinct
count; a second, only over the few candidate columns, gives the exact value sets of
low-cardinality strings and whether id-like columns are unique. The schema is built
with pandera's own classes and written by pandera's `to_yaml`, so it always loads
back; run on the same data it passes by construction.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from auditor.engine.base import Engine
from auditor.engine.duckdb_engine import DuckDBEngine
from auditor.engine.sources import Dataset
from auditor.engine.sql import is_float, is_integer, is_numeric, quote_ident
from auditor.schema.dtypes import pandas_equivalents

ID_LIKE = re.compile(r"(^|_)(id|key|uuid)$", re.IGNORECASE)


def _stats_sql(ds: Dataset) -> str:
    parts = ["count(*)"]
    for col in ds.columns:
        c = quote_ident(col.name)
        if is_float(col.type):
            parts += [f"count(*) FILTER (WHERE {c} IS NULL OR isnan({c}))", f"min({c}) FILTER (WHERE NOT isnan({c}))",
                      f"max({c}) FILTER (WHERE NOT isnan({c}))"]
        elif is_numeric(col.type):
            parts += [f"count(*) FILTER (WHERE {c} IS NULL)", f"min({c})", f"max({c})"]
        else:
            parts += [f"count(*) FILTER (WHERE {c} IS NULL)", f"approx_count_distinct({c})", "NULL"]
    return f"SELECT {', '.join(parts)} FROM {ds.view}"


def _detail_sql(categorical: list[str], id_like: list[str], view: str, limit: int) -> str:
    """Exact value lists (only when at most `limit`) and exact uniqueness, for the few candidates."""
    parts = []
    for col in categorical:
        c = quote_ident(col)
        parts.append(f"CASE WHEN count(DISTINCT {c}) <= {int(limit)} THEN list(DISTINCT {c} ORDER BY {c}) END")
    for col in id_like:
        c = quote_ident(col)
        parts.append(f"count(DISTINCT {c}) = count({c})")
    return f"SELECT {', '.join(parts)} FROM {view}"


def _number(value: Any, duck_type: str) -> Any:
    return int(value) if is_integer(duck_type) else float(value)


def infer_schema(engine: Engine, ds: Dataset, *, max_categories: int = 20) -> tuple[Any, list[str]]:
    """A pandera DataFrameSchema describing the dataset as it is, and the SQL that measured it."""
    import pandera.pandas as pa

    stats_sql = _stats_sql(ds)
    row = engine.query_one(stats_sql)
    rows, found = int(row[0]), {}
    for i, col in enumerate(ds.columns):
        found[col.name] = row[1 + 3 * i: 4 + 3 * i]
    strings = [c.name for c in ds.columns if c.type.upper() == "VARCHAR"]
    categorical = [c for c in strings if (found[c][1] or 0) <= 2 * max_categories]  # approximate: check exactly
    id_like = [c.name for c in ds.columns if ID_LIKE.search(c.name) and (is_integer(c.type) or c.name in strings)]
    sql, values, unique = [stats_sql], {}, {}
    if (categorical or id_like) and rows:
        detail_sql = _detail_sql(categorical, id_like, ds.view, max_categories)
        detail = engine.query_one(detail_sql)
        sql.append(detail_sql)
        values = {c: v for c, v in zip(categorical, detail[:len(categorical)], strict=True) if v is not None}
        unique = dict(zip(id_like, detail[len(categorical):], strict=True))
    columns = {}
    for col in ds.columns:
        nulls, low, high = found[col.name]
        equivalents = pandas_equivalents(col.type)
        checks = []
        finite = low is not None and high is not None and all(abs(float(v)) != float("inf") for v in (low, high)) \
            if is_numeric(col.type) else False
        if finite:
            checks.append(pa.Check.in_range(_number(low, col.type), _number(high, col.type)))
        if col.name in values:
            checks.append(pa.Check.isin([v for v in values[col.name] if v is not None]))
        columns[col.name] = pa.Column(equivalents[0] if equivalents else None, checks=checks,
                                      nullable=bool(nulls), unique=bool(unique.get(col.name)))
    return pa.DataFrameSchema(columns, name=ds.name, coerce=False, strict=False), sql


def schema_yaml(schema: Any, *, source: str, rows: int, now: datetime) -> str:
    header = (f"# pandera schema inferred by `auditor infer-schema` from {source} ({rows:,} rows) on "
              f"{now.date().isoformat()}.\n# Observed ranges and categories: review and widen them before use.\n")
    # pandera spells the str dtype "string[pyarrow]"; "str" loads back to the same and reads better.
    return header + re.sub(r"(?m)^(\s+dtype: )string\[pyarrow\]$", r"\1str", schema.to_yaml())


def write_inferred(data: str, *, out: Path | None, max_categories: int, now: datetime) -> str:
    """Attach DATA like a `current` dataset, infer its schema, write it to `out`; return the YAML."""
    from auditor.config import parse_config
    from auditor.delivery.files import write_atomic
    from auditor.engine.sources import attach_datasets

    config = parse_config({"datasets": {"current": {"path": data}}}, source="infer-schema", base_dir=Path.cwd())
    engine = DuckDBEngine()  # infer-schema reads a local file: DuckDB
    try:
        ds = attach_datasets(engine, config)["current"]
        schema, _ = infer_schema(engine, ds, max_categories=max_categories)
    finally:
        engine.close()
    text = schema_yaml(schema, source=data, rows=ds.rows, now=now)
    if out is not None:
        write_atomic(out, text.encode("utf-8"))
    return text
