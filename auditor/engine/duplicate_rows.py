"""Rows that repeat another row exactly (pandas' `duplicated()` count), for any number of columns.

Equal rows hash alike (DuckDB's hash agrees with its equality, -0.0 and NaN included), so grouping
8-byte row hashes finds every candidate; grouping the few candidate rows by their values keeps the
count exact, NULLs and NaNs equal to themselves as DISTINCT and GROUP BY treat them. Grouping whole rows
instead held every distinct row in memory: 1.6 GB at 10M rows, 0.65 GB this way.

A statement reading every column at once holds a Parquet row group's chunk of each (`Engine.read_shares`):
2,000 columns of one 20,000-row group ran out of a 488 MiB limit. Past what one statement may read, the
columns are read in batches keyed by each row's place in the files (file_index, file_row_number, which the
Parquet reader gives and a view does not show): each batch's row hash is combined with the hashes so far
in a scratch table; rows whose combined hash repeats are then split into groups of equal values one batch
of columns at a time, and only groups of more than one row are kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from auditor.engine import long_form
from auditor.engine.base import Engine
from auditor.engine.sources import Dataset
from auditor.engine.sql import quote_ident

# One statement when the columns can be read together: the row hashes grouped, then DISTINCT over the rows
# whose hash repeats. `listed` may hold the few rows that can be copies (see `rows_of`), read once.
DUPLICATE_ROWS_SQL = """WITH {listed}repeated AS (SELECT hash({columns}) AS h FROM {rows} GROUP BY ALL HAVING count(*) > 1),
candidates AS (SELECT * FROM {rows} WHERE hash({columns}) IN (SELECT h FROM repeated))
SELECT (SELECT count(*) FROM candidates) - (SELECT count(*) FROM (SELECT DISTINCT * FROM candidates))"""
LISTED_ROWS = "listed AS MATERIALIZED (SELECT * FROM {view} WHERE {where}),\n"
LISTED_ROWS_MAX = 1_000_000  # rows that can be copies held in memory at most; more are read twice instead

# In batches of columns, each row named by its place in the files. Names no column of the data takes.
FILE, ROW = quote_ident("auditor file"), quote_ident("auditor row")
KEYED_SQL = "SELECT file_index AS {f}, file_row_number AS {r}, {values} FROM {reader}{where}"
FIRST_HASHES_SQL = "SELECT {f}, {r}, h FROM ({keyed})"
MORE_HASHES_SQL = "SELECT a.{f}, a.{r}, hash(a.h, b.h) AS h FROM {hashes} AS a JOIN ({keyed}) AS b USING ({f}, {r})"
# Rows whose combined hash repeats, the hash as their group; then each batch of columns splits the groups
# by their values (GROUP BY: NULLs and NaNs group together), keeping groups of more than one row.
REPEATED_SQL = "SELECT {f}, {r}, h AS g FROM {hashes} WHERE h IN (SELECT h FROM {hashes} GROUP BY h HAVING count(*) > 1)"
SPLIT_SQL = """SELECT g, k.f AS {f}, k.r AS {r} FROM (
  SELECT row_number() OVER () AS g, unnest(rows_of_group) AS k FROM (
    SELECT list({{'f': a.{f}, 'r': a.{r}}}) AS rows_of_group FROM {groups} AS a JOIN ({keyed}) AS b USING ({f}, {r})
    GROUP BY a.g, {columns} HAVING count(*) > 1))"""
EXTRA_ROWS_SQL = "SELECT count(*) - count(DISTINCT g) FROM {groups}"


def rows_of(view: str, where: str) -> str:
    """The rows of a view that pass `where`, as a relation."""
    return f"(SELECT * FROM {view} WHERE {where})"


def duplicate_rows(engine: Engine, ds: Dataset, *, where: str | None = None, params: Sequence[Any] = (),
                   candidates: int | None = None) -> tuple[int, list[str]]:
    """Rows of `ds` that repeat an earlier row exactly, and the statements that counted them. `where` (with
    its `params`) keeps the only rows that can be copies (those of a repeated or missing id, say), about
    `candidates` of them."""
    names = ds.column_names
    read = engine.read_shares(ds.view)
    batches = long_form.batches(names, read=read, most=len(names) or 1)
    keyed = ds.reader is not None and not {"file_index", "file_row_number"} & set(names)
    if len(batches) > 1 and keyed:
        return _in_batches(engine, ds, batches, where, list(params))
    columns = ", ".join(quote_ident(c) for c in names)
    rows, listed, bound = ds.view, "", []
    if where is not None:
        if candidates is not None and candidates <= LISTED_ROWS_MAX:
            rows, listed, bound = "listed", LISTED_ROWS.format(view=ds.view, where=where), list(params)
        else:
            rows, bound = rows_of(ds.view, where), list(params) * 2
    query = DUPLICATE_ROWS_SQL.format(listed=listed, rows=rows, columns=columns)
    return int(engine.query_one(query, bound)[0]), [query]


def _in_batches(engine: Engine, ds: Dataset, batches: list[list[str]], where: str | None,
                params: list[Any]) -> tuple[int, list[str]]:
    def keyed(values: str) -> str:
        return KEYED_SQL.format(f=FILE, r=ROW, values=values, reader=ds.reader, where=f" WHERE {where}" if where else "")

    def hashed(batch: list[str]) -> str:
        return keyed(f"hash({', '.join(quote_ident(c) for c in batch)}) AS h")

    statements: list[str] = []
    scratches: list[str] = []
    try:
        sql = FIRST_HASHES_SQL.format(f=FILE, r=ROW, keyed=hashed(batches[0]))
        hashes = engine.scratch(sql, params)
        scratches.append(hashes)
        statements.append(sql)
        for batch in batches[1:]:
            sql = MORE_HASHES_SQL.format(f=FILE, r=ROW, hashes=hashes, keyed=hashed(batch))
            hashes = engine.scratch(sql, params)
            scratches.append(hashes)
            statements.append(MORE_HASHES_SQL.format(f=FILE, r=ROW, hashes="hashes", keyed=hashed(batch)))
        groups = engine.scratch(REPEATED_SQL.format(f=FILE, r=ROW, hashes=hashes))
        scratches.append(groups)
        statements.append(REPEATED_SQL.format(f=FILE, r=ROW, hashes="hashes"))
        for batch in batches:
            if not engine.query_one(f"SELECT count(*) FROM {groups}")[0]:
                break  # no two rows left alike
            columns = ", ".join(f"b.{quote_ident(c)}" for c in batch)
            sql = SPLIT_SQL.format(f=FILE, r=ROW, groups=groups, columns=columns,
                                   keyed=keyed(", ".join(quote_ident(c) for c in batch)))
            groups = engine.scratch(sql, params)
            scratches.append(groups)
            statements.append(sql.replace(scratches[-2], "groups"))
        (extra,) = engine.query_one(EXTRA_ROWS_SQL.format(groups=groups))
        statements.append(EXTRA_ROWS_SQL.format(groups="groups"))
    finally:
        for name in scratches:
            engine.drop_scratch(name)
    return int(extra or 0), statements
