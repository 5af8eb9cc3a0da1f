"""The one DuckDB connection of a run, behind a narrow interface.

Checks call `engine.query(sql, params)` and get a small result back. Every
identifier goes through `quote_ident`; every value is a bound parameter. The
engine keeps a log of the statements it ran so a test or the benchmark can
count scans, and checks can put their SQL in the evidence.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb


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


@dataclass
class QueryLog:
    sql: str
    seconds: float
    rows_fetched: int | None = None  # how many rows came back to Python (None: streamed or not fetched)


@dataclass
class Engine:
    """One DuckDB connection; `query` returns rows as tuples, `query_df` a small DataFrame."""

    threads: int | None = None
    memory_limit: str | None = None
    temp_directory: str | None = None
    log: list[QueryLog] = field(default_factory=list)

    def __post_init__(self) -> None:
        config: dict[str, Any] = {}
        if self.threads:
            config["threads"] = int(self.threads)
        if self.memory_limit:
            config["memory_limit"] = str(self.memory_limit)
        if self.temp_directory:
            Path(self.temp_directory).mkdir(parents=True, exist_ok=True)
            config["temp_directory"] = str(self.temp_directory)
        self.con = duckdb.connect(":memory:", config=config)

    def execute(self, sql: str, params: list[Any] | None = None) -> duckdb.DuckDBPyConnection:
        started = time.perf_counter()
        try:
            return self.con.execute(sql, params or [])
        finally:
            self.log.append(QueryLog(sql=sql, seconds=time.perf_counter() - started))

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        rows = self.execute(sql, params).fetchall()
        self.log[-1].rows_fetched = len(rows)
        return rows

    def query_one(self, sql: str, params: list[Any] | None = None) -> tuple:
        row = self.execute(sql, params).fetchone()
        self.log[-1].rows_fetched = 1
        return row

    def query_df(self, sql: str, params: list[Any] | None = None):
        """A small result as pandas. Only for aggregates: never select a whole table here."""
        df = self.execute(sql, params).df()
        self.log[-1].rows_fetched = len(df)
        return df

    def close(self) -> None:
        self.con.close()
