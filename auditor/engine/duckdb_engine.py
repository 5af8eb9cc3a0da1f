"""The DuckDB engine: one in-process connection per run, the default and fastest on one machine.

SQL arrives in DuckDB's own dialect and runs as written. Datasets are views over files
(`read_parquet` & co.), tables, database files ATTACH-ed read-only, or queries.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from auditor.engine.base import Column, Engine, QueryLog, Result
from auditor.engine.sql import quote_ident, quote_literal
from auditor.errors import ConfigError

# Re-exported: older modules import the log entry from here.
__all__ = ["DuckDBEngine", "Engine", "QueryLog", "default_memory_limit"]

READERS = {"parquet": "read_parquet", "csv": "read_csv_auto", "json": "read_json_auto"}
# A view that is every column of Parquet files, as `view_of_files` writes it (or a `sql:` dataset just like it).
PARQUET_VIEW = re.compile(r"SELECT \* FROM (read_parquet\('(?:[^']|'')*'\))")
# Per leaf column of the files: its largest chunk (compressed and decompressed: a scan holds both), and
# the row groups a scan's threads can read at once. From the files' footers, not their data.
PARQUET_CHUNKS_SQL = """SELECT path_in_schema, max(total_compressed_size + total_uncompressed_size),
  any_value(groups) FROM (SELECT *, count(DISTINCT (file_name, row_group_id)) OVER () AS groups
  FROM parquet_metadata({files})) GROUP BY path_in_schema"""

# DuckDB's own default limit is 80% of RAM, so its buffers (hash tables, sorts) grow with the data
# until the machine runs out. A limit that scales with threads, not rows, keeps the run's memory flat:
# what does not fit spills to the temp directory (benchmarks/README.md has the figures).
MEMORY_PER_THREAD_MB = 256
MEMORY_FLOOR_MB = 512
# How DuckDB writes a memory size back ("488.2 MiB"; "16383.9 PiB" for no limit at all).
MEMORY_UNITS = {"byte": 0, "bytes": 0, "KiB": 1, "MiB": 2, "GiB": 3, "TiB": 4, "PiB": 5}


def default_memory_limit(threads: int | None = None) -> str:
    """The memory_limit a run gets when none is configured: 256 MB a thread, at least 512 MB."""
    threads = threads or os.cpu_count() or 1
    return f"{max(MEMORY_FLOOR_MB, MEMORY_PER_THREAD_MB * threads)}MB"


class DuckDBResult(Result):
    def __init__(self, cursor: duckdb.DuckDBPyConnection) -> None:
        self.cursor = cursor

    def fetchall(self) -> list[tuple]:
        return self.cursor.fetchall()

    def fetchone(self) -> tuple | None:
        return self.cursor.fetchone()

    def fetchnumpy(self) -> dict[str, Any]:
        return self.cursor.fetchnumpy()

    def df(self) -> Any:
        return self.cursor.df()

    def __getattr__(self, name: str) -> Any:  # the rest of DuckDB's cursor (description, fetchmany...)
        return getattr(self.cursor, name)


class DuckDBEngine(Engine):
    """One DuckDB connection.

    Without a `memory_limit`, the engine takes `default_memory_limit()`. Without a `temp_directory`, it
    spills to a folder of its own under the system temp dir, removed when it closes: DuckDB's default
    (".tmp" in the working directory) would litter the user's checkout, and without one a sort larger
    than memory dies instead of spilling.
    """

    kind = "duckdb"
    errors = (duckdb.Error,)

    def __init__(self, threads: int | None = None, memory_limit: str | None = None,
                 temp_directory: str | None = None) -> None:
        super().__init__()
        self.threads, self.memory_limit, self.temp_directory = threads, memory_limit, temp_directory
        self._cleanup: weakref.finalize | None = None
        self.con: duckdb.DuckDBPyConnection | None = None
        self._parquet_readers: dict[str, str] = {}  # view (unquoted) -> the read_parquet(...) it selects from
        config: dict[str, Any] = {}
        if self.threads:
            config["threads"] = int(self.threads)
        config["memory_limit"] = str(self.memory_limit or default_memory_limit(self.threads))
        if self.temp_directory:
            Path(self.temp_directory).mkdir(parents=True, exist_ok=True)
        else:
            self.temp_directory = tempfile.mkdtemp(prefix="auditor-duckdb-")
            self._cleanup = weakref.finalize(self, shutil.rmtree, self.temp_directory, ignore_errors=True)
        config["temp_directory"] = str(self.temp_directory)
        try:
            self.con = duckdb.connect(":memory:", config=config)
        except duckdb.Error as exc:  # e.g. memory_limit: "lots"
            self.close()
            raise ConfigError(f"engine: DuckDB rejected the settings: {self.first_line(exc)}") from None
        # DuckDB's own progress bar would print on long queries: cron must stay quiet (progress is ours, on -v).
        self.con.execute("SET enable_progress_bar = false")
        # Timestamps are compared as UTC (auditor.engine.windows): text without an offset is read as UTC
        # whatever the machine's zone, so a report does not change with where it runs.
        self.con.execute("SET TimeZone = 'UTC'")
        # memory_limit bounds DuckDB's buffers, not what its allocator keeps after freeing them: without
        # purging, a 100M-row ranking sort peaked at 819 MB under a 512 MB limit and held 653 MB after
        # it ended. jemalloc's background threads return freed pages as they go: 686 MB, 167 MB after.
        self.con.execute("SET allocator_background_threads = true")
        # Checks scan the same Parquet files many times, often in one statement (the summary: a UNION ALL
        # of a scan per column). Without this cache each scan parses the file's footer anew and keeps its
        # own copy: the summary of a 100M-row file peaked at 513 MB with it off, 117 MB with it on. DuckDB
        # checks the file's modification time before using a cached footer.
        self.con.execute("SET parquet_metadata_cache = true")
        # Parquet's min and max leave NaN out (pyarrow, polars and Spark write them so, as the format asks),
        # and DuckDB by default reads a float column with a min and max as holding no NaN: its statistics
        # propagation folded isnan(x) to false, so NaN was counted as a value, the largest (28 NaN of 400
        # rows found as 0; duckdb/duckdb#25521), and row groups were pruned as if NaN were not there. With
        # this setting a float column's upper bound is NaN: right, save that DuckDB then answers a bare
        # unfiltered max() of it from the statistics as NaN, NaN or not (quantiles' ranges read floats).
        # Disabling the statistics propagation instead fixed both, for ~5% more CPU (the example at 1M rows).
        with contextlib.suppress(duckdb.Error):  # a DuckDB before the setting prunes with the statistics as they are
            self.con.execute("SET parquet_can_have_nan = true")

    def memory_limit_bytes(self) -> int:
        """DuckDB's memory_limit in bytes, as it took the setting (e.g. '488.2 MiB')."""
        (setting,) = self.con.execute("SELECT current_setting('memory_limit')").fetchone()
        number, unit = setting.split()
        return int(float(number) * 1024 ** MEMORY_UNITS.get(unit, 0))

    def _run(self, sql: str, params: Any, entry: QueryLog) -> Result:
        return DuckDBResult(self.con.execute(sql, params or []))

    def view_of_files(self, view: str, pattern: str, file_format: str) -> None:
        # Literals here because DuckDB cannot bind parameters in CREATE VIEW; quote_literal escapes them.
        self._view(view, f"SELECT * FROM {READERS[file_format]}({quote_literal(pattern)})")

    def view_of_table(self, view: str, table: str, database: str | None = None) -> None:
        name = ".".join(quote_ident(p) for p in table.split("."))
        if database:
            alias = quote_ident(f"db_{view}")
            self.execute(f"ATTACH {quote_literal(database)} AS {alias} (READ_ONLY)")
            name = f"{alias}.{name}"
        self._view(view, f"SELECT * FROM {name}")

    def view_of_sql(self, view: str, sql: str) -> None:
        self._view(view, sql)

    def set_search_path(self, folder: Path) -> None:
        self.execute(f"SET file_search_path = {quote_literal(str(folder))}")

    def _view(self, view: str, select: str) -> None:
        plain = PARQUET_VIEW.fullmatch(select.strip())
        if plain:
            self._parquet_readers[view] = plain.group(1)
        else:
            self._parquet_readers.pop(view, None)
        self.execute(f"CREATE OR REPLACE TEMP VIEW {quote_ident(view)} AS {select}")

    def columns(self, view: str) -> list[Column]:
        return [Column(name=r[0], type=str(r[1])) for r in self.query(f"DESCRIBE {quote_ident(view)}")]

    def stream_arrow(self, sql: str, rows: int) -> Iterator[Any]:
        """A relation's reader streams; a DB-API result's reader would first copy every row."""
        abort = getattr(self.con, "abort", None)
        if abort is not None:  # DuckDB 2 refuses a relation while an earlier query_one result is pending
            abort()
        return self.con.sql(sql).to_arrow_reader(rows)

    def write_parquet(self, select: str, params: Any, path: Path) -> None:
        self.execute(f"COPY ({select}) TO {quote_literal(str(path))} (FORMAT parquet)", params)

    def reads_from_metadata(self, select: str) -> bool:
        """DuckDB answers an unfiltered min and max from Parquet's statistics: its plan has no aggregate."""
        plan = self.query(f"EXPLAIN {select}")
        return "AGGREGATE" not in " ".join(str(cell) for row in plan for cell in row).upper()

    def regex_accepts(self, pattern: str) -> bool:
        return regex_accepted_by_re2(pattern)

    def measure_reads(self, view: str, columns: list[str]) -> str | None:
        """Per column of a Parquet view, the bytes a scan reading it holds at once: its largest chunk,
        compressed and decompressed, on each thread that reads a row group of its own. One statement.

        DuckDB reads a row group's chunk of every column a statement needs, and decompresses it, before the
        first row comes out, so what a statement holds grows with its columns times the row group's size:
        500 numbers in row groups of 122,880 rows could not be read together under a 488 MiB limit, nor
        2,000 columns of one 20,000-row group. Batches of columns are sized by these (`read_shares`)."""
        reader = self._parquet_readers.get(view)
        if reader is None:
            return None
        files = reader.removeprefix("read_parquet(").removesuffix(")")
        (threads,) = self.query_one("SELECT current_setting('threads')")
        leaves = self.query(PARQUET_CHUNKS_SQL.format(files=files))
        out = dict.fromkeys(columns, 0)
        for path, size, groups in leaves:
            # A nested column's leaves are "name, field, ...": each counts towards its top-level column.
            column = path if path in out else next((c for c in columns if path.startswith(f"{c}, ")), None)
            if column is not None:
                out[column] += int(size or 0) * min(int(threads), int(groups or 1))
        self.read_bytes[quote_ident(view)] = out
        return reader

    def close(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None
        if self._cleanup is not None:
            self._cleanup()  # removes the per-run spill folder (a no-op the second time)


_checker: duckdb.DuckDBPyConnection | None = None  # validating a pattern is not a query of the run


def regex_accepted_by_re2(pattern: str) -> bool:
    """Whether DuckDB's RE2 compiles `pattern` (a private connection: no run's log counts it)."""
    global _checker
    if _checker is None:
        _checker = duckdb.connect(":memory:")
    try:
        _checker.execute("SELECT regexp_matches('', ?)", [pattern]).fetchall()
    except duckdb.Error:
        return False
    return True


# The name the engine had before there was a second one: tests and scripts construct `Engine()`.
Engine = DuckDBEngine  # type: ignore[misc]
