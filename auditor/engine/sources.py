"""Datasets as DuckDB views: nothing is copied, every check queries the view.

A dataset is a file or glob (Parquet, CSV, JSON by extension), a SQL query, or
a table in a DuckDB database file. Problems with the data itself (a missing or
unreadable file) are `DataError`s: one line, exit 3.
"""

from __future__ import annotations

import glob
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb

from auditor.config import AuditConfig, DatasetSpec
from auditor.engine.duckdb_engine import Engine
from auditor.engine.sql import quote_ident, quote_literal
from auditor.errors import ConfigError, DataError

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


DATASET_NAMES = ("reference", "current", "predictions")


def tables_read(engine: Engine, sql: str, where: str) -> set[str]:
    """The table names a query reads, from DuckDB's parse tree (nothing is bound or read; CTEs left out)."""
    tree = json.loads(engine.query_one("SELECT json_serialize_sql($sql)", {"sql": sql})[0])
    if tree.get("error"):
        raise ConfigError(f"{where}: {tree.get('error_message', 'not a query DuckDB can parse')}")
    tables: set[str] = set()
    ctes: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "BASE_TABLE":
                tables.add(str(node.get("table_name")))
            ctes.update(str(entry.get("key")) for entry in (node.get("cte_map") or {}).get("map", []))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(tree)
    return tables - ctes


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

    Relative paths inside `sql:` (`read_parquet('../x.parquet')`) resolve against the config's folder, as
    `path:` does: it is DuckDB's `file_search_path` for the run."""
    engine.execute(f"SET file_search_path = {quote_literal(str(config.base_dir.resolve()))}")
    attached: dict[str, Dataset] = {}
    for name in attach_order(engine, config):
        spec = getattr(config.datasets, name)
        select, source = _view_sql(name, spec, config, engine)
        attached[name] = attach_view(engine, name, select, source)
    return {name: attached[name] for name in DATASET_NAMES if name in attached}


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
