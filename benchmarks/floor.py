#!/usr/bin/env python
"""The floor: one DuckDB pass per file computing what any audit must at least compute.

For every column: count, nulls, min, max, mean, approximate distinct count and (numeric
columns) exact deciles. The benchmark runs this as a child process, like the audit, and
divides the audit's time by it. Prints one JSON object: seconds per file and the queries.

    python benchmarks/floor.py FILE [FILE ...] [--threads N] [--memory-limit 4GB]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time

import duckdb

NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "REAL", "DECIMAL")
DECILES = [i / 10 for i in range(1, 10)]


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def floor_sql(columns: list[tuple[str, str]], source: str) -> str:
    parts = ["count(*)"]
    for name, duck_type in columns:
        c = quote_ident(name)
        numeric = duck_type.upper().startswith(NUMERIC)
        value = f"{c}::DOUBLE" if numeric else f"{c}::VARCHAR"
        parts += [f"count({c})", f"min({value})", f"max({value})", f"approx_count_distinct({c})"]
        if numeric:
            parts += [f"avg({value})", f"quantile_cont({value}, {DECILES})"]
    return f"SELECT {', '.join(parts)} FROM {source}"


def measure(con: duckdb.DuckDBPyConnection, path: str) -> dict:
    source = f"read_parquet('{path.replace(chr(39), chr(39) * 2)}')"
    columns = [(r[0], str(r[1])) for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
    sql = floor_sql(columns, source)
    started = time.perf_counter()
    row = con.execute(sql).fetchone()
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
