"""The config's `catalog:` tables, attached as views beside the datasets: the data dictionary measures
them (nulls, distinct values, ranges, freshness) without auditing them.

A path or glob is one table (the union of its files, as a dataset's path is), `sql` one query,
`{table, database}` one table of a DuckDB file, and `{database}` alone every table and view in it,
named `file.table` (`file.schema.table` outside `main`). A missing or unreadable source is a
DataError (exit 3) before any check runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from auditor.config import AuditConfig, CatalogTable, DatasetSpec
from auditor.engine.base import Engine
from auditor.engine.fingerprint import file_format
from auditor.engine.sources import READERS, Dataset, attach_spec, attach_view
from auditor.engine.sql import quote_ident, quote_literal
from auditor.errors import DataError

TABLES_SQL = """SELECT schema_name AS s, table_name AS t FROM duckdb_tables() WHERE database_name = ?
UNION ALL SELECT schema_name, view_name FROM duckdb_views() WHERE database_name = ? AND NOT internal
ORDER BY s <> 'main', s, t"""


@dataclass(frozen=True)
class CatalogEntry:
    """One catalog table: attached as a view, with the config item it came from."""

    table: Dataset
    item: CatalogTable
    index: int  # the item's position in `catalog:`
    reading: tuple[str, str]  # how a person reads it outside auditor (example_from), for example queries


def example_from(spec: CatalogTable | DatasetSpec, name: str, qualified: str | None = None) -> tuple[str, str]:
    """How a person reads a source outside auditor, as the config names it (paths relative to it): the
    statement to run first (an ATTACH, or nothing) and the FROM clause, for example queries."""
    if spec.path:
        reader = READERS.get(file_format(spec.path, spec.format) or "", "read_parquet")
        return "", f"{reader}({quote_literal(spec.path)})"
    table = ".".join(quote_ident(p) for p in (qualified or spec.table or "").split("."))
    if spec.database:
        alias = quote_ident(Path(spec.database).stem)
        return f"ATTACH {quote_literal(spec.database)} AS {alias} (READ_ONLY);\n", f"{alias}.{table}"
    if spec.table:
        return "", table
    return "", f"({(spec.sql or '').strip()}) AS {quote_ident(name)}"


def _database_tables(engine: Engine, item: CatalogTable, index: int, config: AuditConfig) -> list[tuple[str, str, str]]:
    """(name, SELECT, qualified table) of every table and view of a DuckDB file, attached read-only."""
    db = config.resolve(item.database or "")
    if not db.is_file():
        raise DataError(f"catalog[{index}]: database file not found: {db}")
    alias = f"catalog_{index}"
    try:
        engine.execute(f"ATTACH {quote_literal(str(db))} AS {quote_ident(alias)} (READ_ONLY)")
        found = engine.query(TABLES_SQL, [alias, alias])
    except engine.errors as exc:
        raise DataError(f"catalog[{index}] ({item.database}): cannot be read: {engine.first_line(exc)}") from None
    stem = item.name or Path(item.database or "").stem
    out = []
    for schema, table in found:
        qualified = table if schema == "main" else f"{schema}.{table}"
        out.append((f"{stem}.{qualified}", f"SELECT * FROM {quote_ident(alias)}.{quote_ident(schema)}.{quote_ident(table)}",
                    qualified))
    return out


def attach_catalog(engine: Engine, config: AuditConfig) -> list[CatalogEntry]:
    """A view per catalog table, named as the dictionary names it; after the datasets, so a `sql`
    table may read them by name."""
    entries: list[CatalogEntry] = []
    taken = {"reference", "current", "predictions"}
    for index, item in enumerate(config.catalog):
        if item.database and not item.table:
            tables = _database_tables(engine, item, index, config)
            sources = [(name, select, f"{item.database}:{qualified}", example_from(item, name, qualified))
                       for name, select, qualified in tables]
        else:
            name = item.default_name or f"catalog_{index}"
            sources = [(name, None, None, example_from(item, name))]
        for name, select, source, reading in sources:
            if name in taken:
                raise DataError(f"catalog[{index}]: a second table is named '{name}'; give the item a `name`")
            taken.add(name)
            if select is None:
                spec = DatasetSpec(path=item.path, format=item.format, sql=item.sql, table=item.table,
                                   database=item.database)
                table = attach_spec(engine, name, spec, config, kind="catalog table")
            else:
                table = attach_view(engine, name, select, source, kind="catalog table")
            entries.append(CatalogEntry(table=table, item=item, index=index, reading=reading))
    return entries
