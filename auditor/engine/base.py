"""The engine interface every check talks to, and what all engines share: the query log and the
per-run memory of read-only results.

Checks call `engine.query(sql, params)` (rows as tuples), `query_one`, `query_arrays` (numpy arrays
of a small result), `query_df` (a small pandas frame) and `execute` (DDL). SQL is written once, in
DuckDB's dialect; an engine that speaks another (Spark) translates it at this boundary
(`engine/spark_sql.py`). The few things SQL text cannot say the same way everywhere are methods:
datasets attached as views (`view_of_*`), their columns (`columns`), Arrow batches streamed to
pandera (`stream_arrow`), whether a plan reads min and max from file metadata
(`reads_from_metadata`), and which regexes the engine's regex library accepts (`regex_accepts`).

Column types are always named as DuckDB names them (VARCHAR, BIGINT, DOUBLE, TIMESTAMP...), so
the SQL builders test types one way whatever the engine.
"""

from __future__ import annotations

import json
import re
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from auditor.engine.sql import quote_ident
from auditor.engine.stored import StoredResults, reads_only

# Only plain reads are remembered, and only small results; nothing that differs between two calls.
CACHEABLE = re.compile(r"^\s*(SELECT|WITH|FROM)\b", re.IGNORECASE)
VOLATILE = re.compile(r"\b(random|uuid|gen_random_uuid|now|current_timestamp|current_date|nextval|setseed)\b"
                      r"|USING\s+SAMPLE(?![^;]*REPEATABLE)", re.IGNORECASE)
CACHE_MAX_ROWS = 100_000
READ_ONLY = re.compile(r"^\s*(SELECT|WITH|FROM|DESCRIBE|SHOW|EXPLAIN|SUMMARIZE)\b", re.IGNORECASE)
# What one statement may hold to read its columns, as a share of the memory limit. A Parquet scan holds each
# column's chunk of the row group it reads, compressed and decompressed, per thread: 500 numbers in row
# groups of 122,880 rows need ~1.65 MB a column a thread, and more than 143 of them at once ran out of a
# 488 MiB limit on two threads. The rest of the limit is the statement's hash tables and sorts.
READ_SHARE = 0.4


def peak_rss_mb() -> float | None:
    """Peak resident memory of this process in MB (None where the OS does not say)."""
    try:
        import resource
    except ImportError:  # not on Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / (1024 if sys.platform == "darwin" else 1)  # macOS reports bytes, Linux KiB


@dataclass
class QueryLog:
    sql: str  # as the caller wrote it (DuckDB's dialect): what evidence shows and tests look for
    seconds: float
    rows_fetched: int | None = None  # how many rows came back to Python (None: streamed or not fetched)
    check: str | None = None  # the check that ran it (None: the runner itself)
    cpu_seconds: float | None = None  # CPU of this process: steadier than wall time on a busy machine
    peak_rss_mb: float | None = None  # the process's peak resident memory so far: where it jumps, this query grew it
    params: Any = field(default=None, repr=False)  # the bound values (kept for parity tests, not written)
    engine_sql: str | None = field(default=None, repr=False)  # what the engine ran, when it translated


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # DuckDB's name of the type


class Result(ABC):
    """One statement's result, fetched one way."""

    @abstractmethod
    def fetchall(self) -> list[tuple]: ...

    def fetchone(self) -> tuple | None:
        rows = self.fetchall()
        return rows[0] if rows else None

    @abstractmethod
    def fetchnumpy(self) -> dict[str, Any]: ...

    @abstractmethod
    def df(self) -> Any: ...


class Engine(ABC):
    """One connection of a run. Subclasses run statements (`_run`) and attach datasets."""

    kind: ClassVar[str] = ""
    errors: tuple[type[BaseException], ...] = ()  # what a statement raises on bad data or SQL
    # Whether a window over one sort of every row (ORDER BY without PARTITION BY) uses every core: DuckDB
    # sorts in parallel, Spark runs such a window as one task, so rankings are partitioned there.
    parallel_global_sort: ClassVar[bool] = True
    # Whether bitstring_agg counts distinct integers in a bitmap (DuckDB); elsewhere they are grouped.
    bitmaps: ClassVar[bool] = True

    def __init__(self) -> None:
        self.log: list[QueryLog] = []
        self.check: str | None = None  # set by the runner while a check runs, so the log says who asked
        self.cache_hits = 0  # queries answered from an identical earlier one
        self.stored: StoredResults | None = None  # answers kept across runs (auditor.engine.stored), when on
        # Per view (quoted name): per column, what a scan reading it holds at once on all threads, in bytes
        # (known for Parquet files on DuckDB: `measure_reads`); a view not listed costs nothing to read.
        self.read_bytes: dict[str, dict[str, int]] = {}
        self._results: dict[tuple, Any] = {}
        self._scratches = 0

    # --- what each engine implements -------------------------------------------------------------
    @abstractmethod
    def _run(self, sql: str, params: Any, entry: QueryLog) -> Result:
        """Run one statement (DuckDB's dialect, parameters `?` or `$name`)."""

    @abstractmethod
    def view_of_files(self, view: str, pattern: str, file_format: str) -> None:
        """A temporary view `view` (unquoted name) over files matching `pattern` (Parquet, CSV or JSON)."""

    @abstractmethod
    def view_of_table(self, view: str, table: str, database: str | None = None) -> None:
        """A temporary view over a table of the engine's catalog, or of a database file (DuckDB)."""

    @abstractmethod
    def view_of_sql(self, view: str, sql: str) -> None:
        """A temporary view over a query in the engine's own dialect."""

    @abstractmethod
    def set_search_path(self, folder: Path) -> None:
        """Where relative file paths inside `sql:` datasets are looked up (the config's folder)."""

    @abstractmethod
    def columns(self, view: str) -> list[Column]:
        """A view's columns, types named as DuckDB names them."""

    @abstractmethod
    def stream_arrow(self, sql: str, rows: int) -> Iterator[Any]:
        """Arrow record batches of about `rows` rows of a statement's result, never all of it at once."""

    @abstractmethod
    def write_parquet(self, select: str, params: Any, path: Path) -> None:
        """A statement's rows written to one Parquet file on this machine (only for bounded results: a LIMIT)."""

    @abstractmethod
    def reads_from_metadata(self, select: str) -> bool:
        """Whether the engine answers this aggregate from file metadata without reading the data."""

    @abstractmethod
    def regex_accepts(self, pattern: str) -> bool:
        """Whether `regexp_matches(x, pattern)` runs on this engine (RE2 syntax, as written for DuckDB)."""

    @abstractmethod
    def memory_limit_bytes(self) -> int:
        """How much memory one sort may take (bounds the ranking's sorts)."""

    @abstractmethod
    def close(self) -> None: ...

    def measure_reads(self, view: str, columns: list[str]) -> str | None:
        """For a view that is every column of Parquet files, fill `read_bytes[view]` and return the table
        function it selects from (its rows carry file_index and file_row_number); None elsewhere."""
        return None

    # --- shared ----------------------------------------------------------------------------------
    def read_shares(self, *sources: str) -> Callable[[str], float]:
        """Each column's share of what one statement may hold to read it (`READ_SHARE` of the memory limit),
        added up over the views named in `sources` (view names, or SQL that reads them, as a relation's
        subquery does): a batch of columns whose shares add up to at most 1 can be read in one statement."""
        views = [view for view in self.read_bytes if any(view in source for source in sources)]
        if not views:
            return lambda _column: 0.0
        budget = max(1.0, self.memory_limit_bytes() * READ_SHARE)
        per_column: dict[str, float] = {}
        for view in views:
            for column, size in self.read_bytes[view].items():
                per_column[column] = per_column.get(column, 0.0) + size / budget
        return lambda column: per_column.get(column, 0.0)

    def scratch(self, select: str, params: Any = None) -> str:
        """A temporary table of `select`'s rows, for a result too large to bring back that later statements
        read (built in steps, say); its name (quoted) is new to the run, so nothing remembered reads it and
        nothing remembered is forgotten. Drop it with `drop_scratch`."""
        self._scratches += 1
        name = quote_ident(f"auditor scratch {self._scratches}")
        self.execute(f"CREATE TEMP TABLE {name} AS {select}", params, keep_results=True)
        return name

    def drop_scratch(self, name: str) -> None:
        self.execute(f"DROP TABLE IF EXISTS {name}", keep_results=True)

    def execute(self, sql: str, params: Any = None, *, keep_results: bool = False) -> Result:
        if not keep_results and not READ_ONLY.match(sql):
            self._results.clear()  # a view or table may have changed: forget what was read before
        entry = QueryLog(sql=sql, seconds=0.0, check=self.check, params=params)
        started, cpu = time.perf_counter(), time.process_time()
        try:
            return self._run(sql, params, entry)
        finally:
            entry.seconds, entry.cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
            self.log.append(entry)

    def _remembered(self, kind: str, sql: str, params: Any, fetch: Callable[[Result], Any],
                    size: Callable[[Any], int]) -> Any:
        """Run a read-only query once per run: the data cannot change under a run, and checks
        that need the same aggregate (a ranking by score, a reference's category counts) ask
        for it with the same SQL. A repeat is served from memory and not logged again."""
        key = (kind, sql, repr(params or []))
        if key in self._results:
            self.cache_hits += 1
            return self._results[key]
        cacheable = bool(CACHEABLE.match(sql)) and not VOLATILE.search(sql)
        if self.stored is not None and cacheable:
            found, result = self.stored.get(key)
            if found:  # an earlier run read the same answer from the same data
                self._results[key] = result
                return result
        started, cpu = time.perf_counter(), time.process_time()
        cursor = self.execute(sql, params)
        entry = self.log[-1]
        result = fetch(cursor)
        # An engine may finish a query while its rows are fetched: the log counts the fetch too.
        entry.seconds, entry.cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
        entry.peak_rss_mb = peak_rss_mb()
        entry.rows_fetched = size(result)
        if cacheable and size(result) <= CACHE_MAX_ROWS:
            self._results[key] = result
            if self.stored is not None and reads_only(sql, self.stored.views):
                self.stored.keep(key, result)
        return result

    def query(self, sql: str, params: Any = None) -> list[tuple]:
        return list(self._remembered("rows", sql, params, lambda r: r.fetchall(), len))

    def query_one(self, sql: str, params: Any = None) -> tuple:
        return self._remembered("one", sql, params, lambda r: r.fetchone(), lambda _row: 1)

    def query_arrays(self, sql: str, params: Any = None) -> dict[str, Any]:
        """A small result as one numpy array per column, by name: tens of thousands of rows come back
        in milliseconds, without a Python tuple per row. The arrays may be shared: do not modify them."""
        return self._remembered("arrays", sql, params, lambda r: r.fetchnumpy(),
                                lambda found: len(next(iter(found.values()), ())))

    def query_df(self, sql: str, params: Any = None):
        """A small result as pandas. Only for aggregates: never select a whole table here."""
        return self._remembered("df", sql, params, lambda r: r.df(), len).copy()

    def logged_stream(self, sql: str, rows: int) -> Iterator[Any]:
        """`stream_arrow`, logged like any query (its rows are not counted: they are streamed)."""
        started = time.perf_counter()
        reader = self.stream_arrow(sql, rows)
        self.log.append(QueryLog(sql=sql, seconds=time.perf_counter() - started, check=self.check))
        return reader

    def write_log(self, path: str | Path) -> None:
        """The statements run so far as JSON (the benchmark counts scans and costs from it)."""
        entries = [{"check": q.check, "seconds": q.seconds, "cpu_seconds": q.cpu_seconds, "peak_rss_mb": q.peak_rss_mb,
                    "rows_fetched": q.rows_fetched, "sql": q.sql,
                    **({"engine_sql": q.engine_sql} if q.engine_sql else {})} for q in self.log]
        payload = {"engine": self.kind, "queries": entries, "cache_hits": self.cache_hits,
                   "stored_hits": self.stored.hits if self.stored is not None else 0}
        Path(path).write_text(json.dumps(payload, indent=1), encoding="utf-8")

    def first_line(self, exc: BaseException) -> str:
        """An engine error as one line (Spark's carry a stack trace)."""
        text = str(exc).strip()
        return text.splitlines()[0] if text else type(exc).__name__
