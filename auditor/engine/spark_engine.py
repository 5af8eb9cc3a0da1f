"""The Spark engine: the same statements on Apache Spark (local, a cluster, or Spark Connect).

Each statement is DuckDB SQL translated by `engine/spark_sql.py` and its result comes back
through Arrow. The session is one per process (starting one costs 4-13 s), built with what the
numbers need: UTC as the session's time zone (timestamps compare as naive UTC, as on DuckDB),
ANSI mode off (a failed cast or a division by zero is NULL, as `TRY_CAST` on DuckDB), and a JVM
that logs nothing (errors reach the user as one line). pyspark is an optional dependency:
`pip install 'auditor[spark]'`.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import re
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from auditor.engine.base import Column, Engine, QueryLog, Result
from auditor.engine.duckdb_engine import regex_accepted_by_re2
from auditor.engine.spark_sql import translate
from auditor.engine.sql import quote_ident
from auditor.errors import ConfigError

READERS = {"parquet": {}, "csv": {"header": "true", "inferSchema": "true"}, "json": {}}
# What the numbers depend on: not left to a user's conf.
FIXED_CONF = {"spark.sql.session.timeZone": "UTC", "spark.sql.ansi.enabled": "false"}
QUIET_CONF = {"spark.ui.showConsoleProgress": "false", "spark.ui.enabled": "false"}
# Defaults a user's conf overrides: local Spark's 1 GB heap ran out on the example at 20k rows (the driver
# is the executor there), and 200 shuffle partitions of a few rows each cost more than the rows.
LOCAL_CONF = {"spark.driver.memory": "2g", "spark.sql.shuffle.partitions": "8"}
# Spark SQL reads files as `parquet.`path``: a relative path there is relative to the config's folder.
FILE_REFERENCE = re.compile(r"\b(parquet|csv|json|orc|text|avro|delta)\.`([^`]+)`", re.IGNORECASE)
DUCKDB_TYPES = {
    "string": "VARCHAR", "varchar": "VARCHAR", "char": "VARCHAR", "bigint": "BIGINT", "int": "INTEGER",
    "integer": "INTEGER", "smallint": "SMALLINT", "tinyint": "TINYINT", "double": "DOUBLE", "float": "FLOAT",
    "boolean": "BOOLEAN", "date": "DATE", "timestamp": "TIMESTAMP WITH TIME ZONE", "timestamp_ntz": "TIMESTAMP",
    "binary": "BLOB", "void": "NULL",
}
_session: Any = None  # the process's session, built once


def duckdb_type(spark_type: str) -> str:
    """A Spark type's DuckDB name: the one vocabulary the SQL builders test types in."""
    text = spark_type.lower()
    if text.startswith("decimal"):
        return text.upper()
    if text.startswith(("varchar", "char")):
        return "VARCHAR"
    if text.startswith("array<"):
        return duckdb_type(text[6:-1]) + "[]"
    if text.startswith(("struct<", "map<")):
        return text.upper()
    return DUCKDB_TYPES.get(text, text.upper())


def session(master: str | None = None, remote: str | None = None, conf: dict[str, Any] | None = None) -> Any:
    """The process's Spark session: built on first use with these settings, then shared."""
    global _session
    if _session is not None:
        return _session
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pyspark warns about pandas 3 on import
            from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError("engine.kind: spark needs pyspark: pip install 'auditor[spark]' (and Java 17 or newer)") from None
    builder = SparkSession.builder.appName("auditor")
    if remote:
        builder = builder.remote(remote)
    elif master:
        builder = builder.master(master)
    settings = {**QUIET_CONF, **LOCAL_CONF, **(conf or {}), **FIXED_CONF}
    for key, value in settings.items():
        builder = builder.config(key, str(value).lower() if isinstance(value, bool) else str(value))
    # pyspark logs every failed statement as a JSON stack trace on stderr; the error is raised anyway.
    logging.getLogger("SQLQueryContextLogger").disabled = True
    try:
        with _silenced():
            _session = builder.getOrCreate()
    except Exception as exc:  # no Java, a master that does not answer, a bad setting
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"engine: Spark did not start ({text}); it needs Java 17 or newer") from None
    return _session


@contextlib.contextmanager
def _silenced() -> Iterator[None]:
    """Standard output and error pointed at /dev/null while the JVM starts, which it inherits: its
    banner, log4j's and the JDK's warnings never reach a cron mail. Its errors still come back as
    Python exceptions, which auditor prints as one line."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


class SparkResult(Result):
    def __init__(self, frame: Any) -> None:
        self.frame = frame
        self._table: Any = None

    def table(self) -> Any:
        if self._table is None:
            self._table = self.frame.toArrow()
        return self._table

    def fetchall(self) -> list[tuple]:
        table = self.table()
        columns = [[python_value(v, f.type) for v in c.to_pylist()] for c, f in zip(table.columns, table.schema,
                                                                                     strict=True)]
        return list(zip(*columns, strict=True)) if columns else []

    def fetchnumpy(self) -> dict[str, Any]:
        table = self.table()
        return {name: table.column(i).to_numpy(zero_copy_only=False) for i, name in enumerate(table.column_names)}

    def df(self) -> Any:
        return self.table().to_pandas()


def python_value(value: Any, arrow_type: Any) -> Any:
    """A value as DuckDB's Python client gives it: maps as dicts, timestamps as naive UTC."""
    import pyarrow as pa

    if value is None:
        return None
    if pa.types.is_map(arrow_type):
        return {python_value(k, arrow_type.key_type): python_value(v, arrow_type.item_type) for k, v in value}
    if pa.types.is_struct(arrow_type):
        return {f.name: python_value(value.get(f.name), f.type) for f in arrow_type}
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return [python_value(v, arrow_type.value_type) for v in value]
    if pa.types.is_timestamp(arrow_type) and getattr(value, "tzinfo", None) is not None:
        import datetime as dt

        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


class SparkEngine(Engine):
    """One Spark session's views and statements. `session` (a SparkSession) is for tests that share one."""

    kind = "spark"
    parallel_global_sort = False
    bitmaps = False

    def __init__(self, master: str | None = None, remote: str | None = None, conf: dict[str, Any] | None = None,
                 base_dir: str | Path = ".", spark: Any = None) -> None:
        super().__init__()
        self.master, self.remote, self.conf = master, remote, dict(conf or {})
        self.spark = spark if spark is not None else session(master, remote, conf)
        self.base_dir = Path(base_dir)
        self.views: list[str] = []
        from pyspark.errors import PySparkException

        errors: list[type[BaseException]] = [PySparkException]
        try:
            from py4j.protocol import Py4JJavaError

            errors.append(Py4JJavaError)
        except ImportError:  # Spark Connect's client has no py4j
            pass
        self.errors = tuple(errors)

    def _run(self, sql: str, params: Any, entry: QueryLog) -> Result:
        described = re.match(r"^\s*DESCRIBE\s+(.+?)\s*$", sql, re.IGNORECASE)
        if described:  # DuckDB's DESCRIBE: (name, type) rows
            return _Rows([(c.name, c.type) for c in self.columns(described.group(1).strip('"'))])
        entry.engine_sql = translate(sql, params)
        return SparkResult(self.spark.sql(entry.engine_sql))

    def settings_summary(self) -> dict[str, Any]:
        """What run.provenance records of the engine."""
        return {"name": "spark", "version": str(self.spark.version), "master": self.master, "remote": self.remote,
                "conf": dict(self.conf)}

    def first_line(self, exc: BaseException) -> str:
        """Spark's error as one line: a JVM failure says what it was on a 'Caused by' line, not the first."""
        text = str(exc).strip()
        causes = re.findall(r"Caused by: (?:[\w.$]+: )?(.+)", text)
        if text.startswith("An error occurred while calling") and causes:
            return causes[-1].strip()[:300]
        return super().first_line(exc)[:300]

    def memory_limit_bytes(self) -> int:
        return 1 << 62  # a sort is the cluster's to spill; rankings are partitioned instead (parallel_global_sort)

    def view_of_files(self, view: str, pattern: str, file_format: str) -> None:
        paths = pattern if "://" in pattern else (sorted(glob.glob(pattern, recursive=True)) or pattern)
        reader = self.spark.read.format(file_format).options(**READERS[file_format])
        self._register(view, reader.load(paths))

    def view_of_table(self, view: str, table: str, database: str | None = None) -> None:
        if database:
            raise ConfigError(f"datasets.{view}.database: a DuckDB database file cannot be read with engine.kind: spark")
        self._register(view, self.spark.table(table))

    def set_search_path(self, folder: Path) -> None:
        self.base_dir = folder  # relative ``parquet.`x` `` references resolve against it (view_of_sql)

    def view_of_sql(self, view: str, sql: str) -> None:
        self._register(view, self.spark.sql(resolve_file_references(sql, self.base_dir)))

    def _register(self, view: str, frame: Any) -> None:
        started = len(self.log)
        frame.createOrReplaceTempView(view)
        self.views.append(view)
        self._results.clear()
        if len(self.log) == started:
            self.log.append(QueryLog(sql=f"-- view {quote_ident(view)}", seconds=0.0, check=self.check))

    def columns(self, view: str) -> list[Column]:
        schema = self.spark.table(view).schema
        return [Column(name=f.name, type=duckdb_type(f.dataType.simpleString())) for f in schema.fields]

    def stream_arrow(self, sql: str, rows: int) -> Iterator[Any]:
        raise ConfigError("custom pandera checks cannot run with engine.kind: spark; remove them or use kind: duckdb")

    def write_parquet(self, select: str, params: Any, path: Path) -> None:
        """Collected to the driver through Arrow (the caller bounds the rows) and written there: Spark's own
        writer makes a folder of part files, on the executors' file system."""
        import pyarrow.parquet as pq

        result = self.execute(select, params)
        pq.write_table(result.table(), str(path))

    def reads_from_metadata(self, select: str) -> bool:
        return False  # Spark reads min and max from the data

    def regex_accepts(self, pattern: str) -> bool:
        return regex_accepted_by_re2(pattern)  # written as RE2, sent as Java's equivalent (spark_sql.java_regex)

    def close(self) -> None:
        for view in self.views:
            try:
                self.spark.catalog.dropTempView(view)
            except Exception:  # a session already stopped: nothing left to drop
                pass
        self.views = []


class _Rows(Result):
    def __init__(self, rows: list[tuple]) -> None:
        self.rows = rows

    def fetchall(self) -> list[tuple]:
        return list(self.rows)

    def fetchnumpy(self) -> dict[str, Any]:
        raise NotImplementedError

    def df(self) -> Any:
        raise NotImplementedError


def resolve_file_references(sql: str, base_dir: Path) -> str:
    """`parquet.`data/x.parquet`` -> the path against the config's folder (absolute paths and URLs stay)."""
    def absolute(match: re.Match) -> str:
        path = match.group(2)
        if "://" in path or Path(path).is_absolute():
            return match.group(0)
        return f"{match.group(1)}.`{(base_dir / path).resolve()}`"

    return FILE_REFERENCE.sub(absolute, sql)


def tables_read_by_spark(spark_sql: str, where: str) -> set[str]:
    """The tables a Spark SQL query reads (its CTEs left out), by sqlglot's parse; a ConfigError if it cannot."""
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(spark_sql, read="spark")
    except sqlglot.errors.ParseError as exc:
        raise ConfigError(f"{where}: not a query Spark SQL can parse ({str(exc).splitlines()[0]})") from None
    ctes = {cte.alias for cte in tree.find_all(exp.CTE)}
    return {table.name for table in tree.find_all(exp.Table) if table.name and table.name not in ctes}
