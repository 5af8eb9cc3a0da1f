"""Datasets as DuckDB views: nothing is copied, every check queries the view.

A dataset is a file or glob (Parquet, CSV, JSON by extension), a SQL query, or
a table in a DuckDB database file. Problems with the data itself (a missing or
unreadable file) are `DataError`s: one line, exit 3.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

import duckdb

from auditor.config import AuditConfig, DatasetSpec
from auditor.engine.duckdb_engine import Engine
from auditor.engine.sql import quote_ident, quote_literal
from auditor.errors import DataError

READERS = {"parquet": "read_parquet", "csv": "read_csv_auto", "json": "read_json_auto"}
EXTENSIONS = {
    ".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "csv", ".txt": "csv",
    ".json": "json", ".jsonl": "json", ".ndjson": "json",
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str


@dataclass(frozen=True)
class Dataset:
    """A dataset attached as a view: its name, where it comes from, its shape."""

    name: str
    view: str  # the quoted view name, ready for SQL
    source: str
    rows: int
    columns: tuple[Column, ...]

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

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


def _view_sql(name: str, spec: DatasetSpec, config: AuditConfig, engine: Engine) -> tuple[str, str]:
    """The SELECT a dataset's view is made of, and a readable description of its source."""
    if spec.path:
        pattern = str(config.resolve(spec.path))
        matches = sorted(glob.glob(pattern, recursive=True))
        if not matches:
            raise DataError(f"dataset '{name}': no file matches {pattern}")
        reader = READERS[_file_format(spec, pattern)]
        # Literals here because DuckDB cannot bind parameters in CREATE VIEW; quote_literal escapes them.
        return f"SELECT * FROM {reader}({quote_literal(pattern)})", spec.path
    if spec.table:
        if spec.database:
            db = config.resolve(spec.database)
            if not db.is_file():
                raise DataError(f"dataset '{name}': database file not found: {db}")
            alias = f"db_{name}"
            engine.execute(f"ATTACH {quote_literal(str(db))} AS {quote_ident(alias)} (READ_ONLY)")
            table = ".".join(quote_ident(p) for p in spec.table.split("."))
            return f"SELECT * FROM {quote_ident(alias)}.{table}", f"{spec.database}:{spec.table}"
        return f"SELECT * FROM {'.'.join(quote_ident(p) for p in spec.table.split('.'))}", spec.table
    assert spec.sql is not None
    return spec.sql, "sql"


def attach_datasets(engine: Engine, config: AuditConfig) -> dict[str, Dataset]:
    """Create one view per configured dataset; read its columns and row count."""
    datasets: dict[str, Dataset] = {}
    for name in ("reference", "current", "predictions"):
        spec = getattr(config.datasets, name)
        if spec is None:
            continue
        select, source = _view_sql(name, spec, config, engine)
        datasets[name] = attach_view(engine, name, select, source)
    return datasets


def attach_view(engine: Engine, name: str, select: str, source: str, *, kind: str = "dataset") -> Dataset:
    """A view named `name` over `select`, with its columns and row count (a DataError when unreadable)."""
    view = quote_ident(name)
    try:
        engine.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS {select}")
        described = engine.query(f"DESCRIBE {view}")
        rows = engine.query_one(f"SELECT count(*) FROM {view}")[0]
    except duckdb.Error as exc:
        raise DataError(f"{kind} '{name}' ({source}): cannot be read: {_first_line(exc)}") from None
    columns = tuple(Column(name=r[0], type=str(r[1])) for r in described)
    return Dataset(name=name, view=view, source=source, rows=int(rows), columns=columns)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
