"""The one DuckDB connection of a run, behind a narrow interface.

Checks call `engine.query(sql, params)` and get a small result back. The engine keeps a log of
the statements it ran so a test or the benchmark can count scans, and checks can put their SQL
in the evidence. Repeated read-only statements are answered from memory (`_remembered`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from auditor.engine.stored import StoredResults, reads_only
from auditor.errors import ConfigError

# Only plain reads are remembered, and only small results; nothing that differs between two calls.
CACHEABLE = re.compile(r"^\s*(SELECT|WITH|FROM)\b", re.IGNORECASE)
VOLATILE = re.compile(r"\b(random|uuid|gen_random_uuid|now|current_timestamp|current_date|nextval|setseed)\b"
                      r"|USING\s+SAMPLE(?![^;]*REPEATABLE)", re.IGNORECASE)
CACHE_MAX_ROWS = 100_000
READ_ONLY = re.compile(r"^\s*(SELECT|WITH|FROM|DESCRIBE|SHOW|EXPLAIN|SUMMARIZE)\b", re.IGNORECASE)


def peak_rss_mb() -> float | None:
    """Peak resident memory of this process in MB (None where the OS does not say)."""
    try:
        import resource
    except ImportError:  # not on Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / (1024 if sys.platform == "darwin" else 1)  # macOS reports bytes, Linux KiB


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


@dataclass
class QueryLog:
    sql: str
    seconds: float
    rows_fetched: int | None = None  # how many rows came back to Python (None: streamed or not fetched)
    check: str | None = None  # the check that ran it (None: the runner itself)
    cpu_seconds: float | None = None  # CPU of every DuckDB thread: steadier than wall time on a busy machine
    peak_rss_mb: float | None = None  # the process's peak resident memory so far: where it jumps, this query grew it


@dataclass
class Engine:
    """One DuckDB connection; `query` returns rows as tuples, `query_df` a small DataFrame.

    Without a `memory_limit`, the engine takes `default_memory_limit()`. Without a `temp_directory`, it spills to a folder of its own under the system temp
    dir, removed when it closes: DuckDB's default (".tmp" in the working directory) would litter
    the user's checkout, and without one a sort larger than memory dies instead of spilling.
    """

    threads: int | None = None
    memory_limit: str | None = None
    temp_directory: str | None = None
    log: list[QueryLog] = field(default_factory=list)
    check: str | None = None  # set by the runner while a check runs, so the log says who asked
    cache_hits: int = 0  # queries answered from an identical earlier one
    stored: StoredResults | None = None  # answers kept across runs (auditor.engine.stored), when a cache is on
    _results: dict[tuple, Any] = field(default_factory=dict, init=False, repr=False)
    _cleanup: weakref.finalize | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
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
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"engine: DuckDB rejected the settings: {message}") from None
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

    def memory_limit_bytes(self) -> int:
        """DuckDB's memory_limit in bytes, as it took the setting (e.g. '488.2 MiB')."""
        (setting,) = self.con.execute("SELECT current_setting('memory_limit')").fetchone()
        number, unit = setting.split()
        return int(float(number) * 1024 ** MEMORY_UNITS.get(unit, 0))

    def execute(self, sql: str, params: list[Any] | None = None) -> duckdb.DuckDBPyConnection:
        if not READ_ONLY.match(sql):
            self._results.clear()  # a view or table may have changed: forget what was read before
        started, cpu = time.perf_counter(), time.process_time()
        try:
            return self.con.execute(sql, params or [])
        finally:
            self.log.append(QueryLog(sql=sql, seconds=time.perf_counter() - started, check=self.check,
                                     cpu_seconds=time.process_time() - cpu))

    def _remembered(self, kind: str, sql: str, params: list[Any] | None, fetch: Callable[[Any], Any],
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
        # DuckDB may finish a query while its rows are fetched: the log counts the fetch too.
        entry.seconds, entry.cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
        entry.peak_rss_mb = peak_rss_mb()
        entry.rows_fetched = size(result)
        if cacheable and size(result) <= CACHE_MAX_ROWS:
            self._results[key] = result
            if self.stored is not None and reads_only(self.con, sql, self.stored.views):
                self.stored.keep(key, result)
        return result

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        return list(self._remembered("rows", sql, params, lambda r: r.fetchall(), len))

    def query_one(self, sql: str, params: list[Any] | None = None) -> tuple:
        return self._remembered("one", sql, params, lambda r: r.fetchone(), lambda _row: 1)

    def query_arrays(self, sql: str, params: list[Any] | None = None) -> dict[str, Any]:
        """A small result as one numpy array per column, by name: tens of thousands of rows come back
        in milliseconds, without a Python tuple per row. The arrays may be shared: do not modify them."""
        return self._remembered("arrays", sql, params, lambda r: r.fetchnumpy(),
                                lambda found: len(next(iter(found.values()), ())))

    def query_df(self, sql: str, params: list[Any] | None = None):
        """A small result as pandas. Only for aggregates: never select a whole table here."""
        return self._remembered("df", sql, params, lambda r: r.df(), len).copy()

    def write_log(self, path: str | Path) -> None:
        """The statements run so far as JSON (the benchmark counts scans and costs from it)."""
        entries = [{"check": q.check, "seconds": q.seconds, "cpu_seconds": q.cpu_seconds, "peak_rss_mb": q.peak_rss_mb,
                    "rows_fetched": q.rows_fetched, "sql": q.sql} for q in self.log]
        payload = {"queries": entries, "cache_hits": self.cache_hits,
                   "stored_hits": self.stored.hits if self.stored is not None else 0}
        Path(path).write_text(json.dumps(payload, indent=1), encoding="utf-8")

    def close(self) -> None:
        if getattr(self, "con", None) is not None:
            self.con.close()
        if self._cleanup is not None:
            self._cleanup()  # removes the per-run spill folder (a no-op the second time)
