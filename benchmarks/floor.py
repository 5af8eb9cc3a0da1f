#!/usr/bin/env python
"""The floor: one DuckDB pass per file computing what any audit must at least compute.

A tested copy of the shared one-pass floor (../shared/bench/floor.py): one query per file with, for
every column, count, nulls, min, max and approximate distinct count, plus mean and approximate deciles
for numeric columns. The benchmark runs it as a child process over every file an audit reads and adds
the measured start-up of `auditor --version`: the floor of that audit. Prints one JSON object: seconds
per file and the queries.

    python benchmarks/floor.py FILE [FILE ...] [--threads N] [--memory-limit 4GB]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time

import duckdb

NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL",
           "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
DECILES = "[0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9]"


def floor_sql(columns: list[tuple[str, str]], source: str) -> str:
    """The shared floor's statement, term for term."""
    parts = ["count(*)"]
    for name, typ in columns:
        q = '"' + name.replace('"', '""') + '"'
        parts += [f"count({q})", f"min({q})", f"max({q})", f"approx_count_distinct({q})"]
        if typ.split("(")[0] in NUMERIC:
            parts += [f"avg({q})", f"approx_quantile({q}, {DECILES})"]
    return f"SELECT {', '.join(parts)} FROM {source}"


def measure(con: duckdb.DuckDBPyConnection, path: str) -> dict:
    source = f"read_parquet('{path}')"
    columns = [(r[0], str(r[1])) for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
    sql = floor_sql(columns, source)
    started = time.perf_counter()
    row = con.execute(sql).fetchall()[0]
    return {"file": path, "rows": row[0], "columns": len(columns), "seconds": time.perf_counter() - started,
            "sql": sql}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--memory-limit")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="floor-duckdb-") as spill:
        config: dict = {"temp_directory": spill}
        if args.threads:
            config["threads"] = args.threads
        if args.memory_limit:
            config["memory_limit"] = args.memory_limit
        con = duckdb.connect(":memory:", config=config)
        files = [measure(con, f) for f in args.files]
        con.close()
    json.dump({"files": files}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
