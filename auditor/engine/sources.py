"""Datasets as the engine's views: nothing is copied, every check queries the view.

A dataset is a file or glob (Parquet, CSV, JSON by extension), a SQL query, or a table
(of a DuckDB database file, or of Spark's catalog). Each engine makes the view its own way
(`Engine.view_of_files` & co.). Problems with the data itself (a missing or
unreadable file) are `DataError`s: one line, exit 3.
"""

from __future__ import annotations

import glob
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from auditor.config import AuditConfig, DatasetSpec
from auditor.engine.base import Column, Engine
from auditor.engine.duckdb_engine import READERS
from auditor.engine.sql import quote_ident
from auditor.engine.sql_parse import sql_inputs
from auditor.errors import ConfigError, DataError

__all__ = ["READERS", "Column", "Dataset", "attach_datasets", "attach_spec", "attach_view"]
EXTENSIONS = {
    ".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "csv", ".txt": "csv",
    ".json": "json", ".jsonl": "json", ".ndjson": "json",
}


@dataclass(frozen=True)
class Dataset:
    """A dataset attached as a view: its name, where it comes from, its shape."""

    name: str
    view: str  # the quoted view name, ready for SQL
    source: str
    rows: int
    columns: tuple[Column, ...]
    # For Parquet files, the table function the view selects from: its rows carry the keys a view does not
    # show (file_index, file_row_number), so statements over a few columns at a time can be joined row by row.
    reader: str | None = None

    def column(self, name: str) -> Column | None:
        return self._by_name.get(name)

    @cached_property
    def _by_name(self) -> dict[str, Column]:  # a lookup per column of 2,000 took seconds as a scan
        return {c.name: c for c in reversed(self.columns)}  # the first of a repeated name, as before

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "source": self.source,
            "rows": self.rows,
            "columns": [{"name": c.name, "type": c.type} for c in self.columns],
        }


def _file_format(spec: DatasetSpec, path: str) -> str:
    if spec.format:
        return spec.format
    suffixes = [s.lower() for s in Path(path).suffixes if s.lower() != ".gz"]
    fmt = EXTENSIONS.get(suffixes[-1]) if suffixes else None
    if fmt is None:
        raise DataError(f"{path}: cannot tell the file format from its extension; set format: parquet, csv or json")
    return fmt


def _attach(name: str, spec: DatasetSpec, config: AuditConfig, engine: Engine, kind: str) -> str:
    """Attach one dataset as the view `name`, the engine's way; a readable description of its source."""
    if spec.path:
        # A URL (s3://, abfss://, hdfs://) is the engine's to read and to glob; a local path is checked here.
        pattern = spec.path if "://" in spec.path else str(config.resolve(spec.path))
        if "://" not in pattern and not glob.glob(pattern, recursive=True):
            raise DataError(f"{kind} '{name}': no file matches {pattern}")
        engine.view_of_files(name, pattern, _file_format(spec, pattern))
        return spec.path
    if spec.table:
        database = None
        if spec.database:
            db = config.resolve(spec.database)
            if not db.is_file():
                raise DataError(f"{kind} '{name}': database file not found: {db}")
            database = str(db)
        engine.view_of_table(name, spec.table, database)
        return f"{spec.database}:{spec.table}" if spec.database else spec.table
    assert spec.sql is not None
    engine.view_of_sql(name, spec.sql)
    return "sql"


DATASET_NAMES = ("reference", "current", "predictions")


def tables_read(engine: Engine, sql: str, where: str) -> set[str]:
    """The table names a query reads, from DuckDB's parse tree (nothing is bound or read; CTEs left out);
    on Spark, sqlglot's parse of the Spark SQL."""
    if engine.kind == "spark":
        from auditor.engine.spark_engine import tables_read_by_spark

        return tables_read_by_spark(sql, where)
    try:
        return set(sql_inputs(sql)[0])
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def attach_order(engine: Engine, config: AuditConfig) -> list[str]:
    """The configured datasets in an order where a `sql:` dataset comes after the datasets it reads
    (`reference: {sql: "select * from predictions ..."}`); a cycle is a ConfigError (exit 2)."""
    specs = {n: getattr(config.datasets, n) for n in DATASET_NAMES if getattr(config.datasets, n) is not None}
    reads = {name: tables_read(engine, spec.sql, f"datasets.{name}.sql") & set(specs) if spec.sql else set()
             for name, spec in specs.items()}
    order: list[str] = []
    visiting: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            loop = visiting[visiting.index(name):]
            if len(loop) == 1:
                raise ConfigError(f"datasets.{name}.sql reads '{name}', itself; read files or tables instead")
            raise ConfigError(f"datasets: the sql of {' and '.join(loop)} read each other "
                              f"({' -> '.join([*loop, name])}); one of them must read files or tables instead")
        visiting.append(name)
        for dependency in sorted(reads[name], key=DATASET_NAMES.index):
            visit(dependency)
        visiting.pop()
        order.append(name)

    for name in specs:
        visit(name)
    return order


def attach_datasets(engine: Engine, config: AuditConfig) -> dict[str, Dataset]:
    """Create one view per configured dataset, those a `sql:` reads first; read its columns and row count.

    Relative paths inside `sql:` (`read_parquet('../x.parquet')`, or Spark's ``parquet.`../x.parquet` ``)
    resolve against the config's folder, as `path:` does."""
    engine.set_search_path(config.base_dir.resolve())
    attached: dict[str, Dataset] = {}
    for name in attach_order(engine, config):
        attached[name] = attach_spec(engine, name, getattr(config.datasets, name), config)
    return {name: attached[name] for name in DATASET_NAMES if name in attached}


def attach_spec(engine: Engine, name: str, spec: DatasetSpec, config: AuditConfig, *, kind: str = "dataset") -> Dataset:
    """A view named `name` over a dataset spec, with its columns and row count (a DataError when unreadable)."""
    source = spec.path or (f"{spec.database}:{spec.table}" if spec.database else spec.table) or "sql"
    return _described(engine, name, source, kind, lambda: _attach(name, spec, config, engine, kind))


def attach_view(engine: Engine, name: str, select: str, source: str, *, kind: str = "dataset") -> Dataset:
    """A view named `name` over a SELECT in the engine's own dialect (a DataError when unreadable)."""
    return _described(engine, name, source, kind, lambda: engine.view_of_sql(name, select))


def _described(engine: Engine, name: str, source: str, kind: str, attach: Callable[[], object]) -> Dataset:
    try:
        source = attach() or source
        columns = tuple(engine.columns(name))
        rows = engine.query_one(f"SELECT count(*) FROM {quote_ident(name)}")[0]
        reader = engine.measure_reads(name, [c.name for c in columns])
    except engine.errors as exc:
        raise DataError(f"{kind} '{name}' ({source}): cannot be read: {engine.first_line(exc)}") from None
    return Dataset(name=name, view=quote_ident(name), source=str(source), rows=int(rows), columns=columns,
                   reader=reader)
