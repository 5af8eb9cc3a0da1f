"""Content fingerprints of data sources: the same data gives the same digest wherever it lies.

A fingerprint is a sha256 of what the data *is*, never of when a file was written, so a fresh clone or
a copy (new modification times, another folder) keeps it, and a changed file changes it:

- Parquet: each file's size and a hash of its footer (schema, row groups, their statistics and
  offsets), read from the last bytes of the file: a 10 GB file costs a few kilobytes of reading;
- CSV and JSON (and anything not Parquet): a streamed hash of every byte;
- a table of a DuckDB file: the hash of the database file (and its write-ahead log, if any);
- a `sql:` source: the SQL text plus the fingerprints of what it reads (other datasets by name, files
  by path, DuckDB's file readers), found by DuckDB's own parser (`json_serialize_sql`).

A source whose content cannot be pinned down (a table of the engine's catalog without a snapshot,
a SQL query calling `now()` or a reader this module does not know) has `digest` None and a `note`
saying why: nothing may be cached on it. File names are left out of the digest (renaming a file
does not change its data); paths, sizes and modification times are recorded beside it, to read.

Usable on its own, without an engine: `fingerprint_source(spec, base_dir=...)` with a DatasetSpec (or
any object with `path`, `format`, `sql`, `table`, `database`).
"""

from __future__ import annotations

import glob
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from auditor.engine.base import VOLATILE
from auditor.engine.sources import EXTENSIONS
from auditor.engine.sql_parse import FILE_READERS, sql_inputs

PARQUET_MAGIC = b"PAR1"


@dataclass(frozen=True)
class FileInfo:
    path: str  # as the config names it: relative to the config's folder when under it
    size: int
    modified: str  # ISO 8601, UTC: recorded to read, never part of the digest

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "modified": self.modified}


@dataclass(frozen=True)
class Fingerprint:
    """What a source is: `digest` (hex sha256) or None with a `note` saying why there is none."""

    digest: str | None
    method: str  # parquet-footers | bytes | database-file | sql | none
    files: tuple[FileInfo, ...] = ()
    reads: tuple[str, ...] = ()  # a SQL source's inputs: dataset names and file paths
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"fingerprint": self.digest, "method": self.method,
                               "files": [f.to_dict() for f in self.files]}
        if self.reads:
            out["reads"] = list(self.reads)
        if self.note:
            out["note"] = self.note
        return out

    @property
    def bytes(self) -> int | None:
        """The size on disk of the files it was made from (None: no files)."""
        return sum(f.size for f in self.files) if self.files else None


def unfingerprinted(note: str, *, files: Sequence[FileInfo] = (), reads: Sequence[str] = ()) -> Fingerprint:
    return Fingerprint(digest=None, method="none", files=tuple(files), reads=tuple(reads), note=note)


def _digest(method: str, parts: Iterable[str]) -> str:
    h = hashlib.sha256(method.encode())
    for part in parts:
        h.update(b"\n" + part.encode())
    return h.hexdigest()


def _shown(path: Path, base_dir: Path | None) -> str:
    """A path as a person reads it in the report: relative to the config's folder when under it."""
    if base_dir is not None:
        try:
            return path.resolve().relative_to(base_dir.resolve()).as_posix()
        except ValueError:
            pass
    return path.as_posix()


def file_info(path: Path, base_dir: Path | None = None) -> FileInfo:
    stat = path.stat()
    modified = datetime.fromtimestamp(stat.st_mtime, UTC).isoformat(timespec="seconds")
    return FileInfo(path=_shown(path, base_dir), size=stat.st_size, modified=modified)


def bytes_digest(path: Path, memo: dict | None = None) -> str:
    """sha256 of every byte of a file, streamed (hashlib reads it in blocks)."""
    key = ("bytes", str(path.resolve()))
    if memo is not None and key in memo:
        return memo[key]
    with open(path, "rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    if memo is not None:
        memo[key] = digest
    return digest


def parquet_footer_digest(path: Path) -> str | None:
    """sha256 of a Parquet file's footer (its FileMetaData: schema, row groups, statistics, offsets),
    or None when the file does not end like plain Parquet (encrypted footers end in PARE)."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        if size < 12:
            return None
        fh.seek(-8, 2)
        tail = fh.read(8)
        length = int.from_bytes(tail[:4], "little")
        if tail[4:] != PARQUET_MAGIC or length + 8 > size:
            return None
        fh.seek(-(8 + length), 2)
        return hashlib.sha256(fh.read(length)).hexdigest()


def file_format(path: str, declared: str | None = None) -> str | None:
    if declared:
        return declared
    suffixes = [s.lower() for s in Path(path).suffixes if s.lower() != ".gz"]
    return EXTENSIONS.get(suffixes[-1]) if suffixes else None


def expand(pattern: str | Path) -> list[Path]:
    """The files a path or glob names, sorted (as DuckDB reads a glob)."""
    return [Path(p) for p in sorted(glob.glob(str(pattern), recursive=True)) if Path(p).is_file()]


def fingerprint_files(paths: Sequence[Path], fmt: str | None = None, *, base_dir: Path | None = None,
                      memo: dict | None = None) -> Fingerprint:
    """The fingerprint of the union of these files (in the given order, as one table)."""
    if not paths:
        return unfingerprinted("no file matches")
    infos = tuple(file_info(p, base_dir) for p in paths)
    parts, methods = [], set()
    for path, info in zip(paths, infos, strict=True):
        footer = parquet_footer_digest(path) if file_format(str(path), fmt) == "parquet" else None
        if footer is not None:
            methods.add("parquet-footers")
            parts.append(f"parquet {info.size} {footer}")
        else:
            methods.add("bytes")
            parts.append(f"bytes {bytes_digest(path, memo)}")
    method = methods.pop() if len(methods) == 1 else "mixed"
    return Fingerprint(digest=_digest(method, parts), method=method, files=infos)


def database_fingerprint(database: Path, *, base_dir: Path | None = None, memo: dict | None = None) -> Fingerprint:
    """A DuckDB database file (and its write-ahead log, when one is beside it), hashed whole."""
    if not database.is_file():
        return unfingerprinted(f"database file not found: {database}")
    paths = [database] + [p for p in (Path(f"{database}.wal"),) if p.is_file()]
    infos = tuple(file_info(p, base_dir) for p in paths)
    return Fingerprint(digest=_digest("database-file", [bytes_digest(p, memo) for p in paths]),
                       method="database-file", files=infos)


# ---------------------------------------------------------------- SQL sources

def _resolve(relative: str, search: Sequence[Path]) -> list[Path]:
    path = Path(relative).expanduser()
    if path.is_absolute():
        return expand(path)
    for folder in search:
        found = expand(folder / path)
        if found:
            return found
    return []


def sql_fingerprint(sql: str, *, known: Mapping[str, Fingerprint], search: Sequence[Path],
                    base_dir: Path | None = None, memo: dict | None = None) -> Fingerprint:
    """The SQL text plus the fingerprints of what it reads: `known` sources by name (the other
    datasets), files by path (relative ones looked up in `search`, in order)."""
    if VOLATILE.search(sql):
        return unfingerprinted("the query calls a function whose result changes between runs (now(), random(), ...)")
    try:
        tables, readers, unknown = sql_inputs(sql)
    except (ValueError, duckdb.Error) as exc:
        return unfingerprinted(f"the query cannot be parsed ({str(exc).splitlines()[0]})")
    if unknown:
        return unfingerprinted(f"the query reads through {', '.join(unknown)}, which has no fingerprint")
    inputs: list[tuple[str, Fingerprint]] = []
    for name in tables:
        if name in known:
            inputs.append((name, known[name]))
        elif files := _resolve(name, search):  # DuckDB reads FROM 'data/x.parquet' as a file
            inputs.append((name, fingerprint_files(files, base_dir=base_dir, memo=memo)))
        else:
            return unfingerprinted(f"the query reads table {name}, which has no fingerprint", reads=tables)
    for reader, patterns in readers:
        files = [f for pattern in patterns for f in _resolve(pattern, search)]
        label = f"{reader}({', '.join(patterns)})"
        if not files:
            return unfingerprinted(f"{label} matches no file this audit can hash")
        inputs.append((label, fingerprint_files(files, FILE_READERS[reader], base_dir=base_dir, memo=memo)))
    reads = tuple(label for label, _ in inputs)
    files = tuple(dict.fromkeys(f for _, fp in inputs for f in fp.files))
    missing = [label for label, fp in inputs if fp.digest is None]
    if missing:
        return unfingerprinted(f"the query reads {', '.join(missing)}, which has no fingerprint", files=files,
                               reads=reads)
    parts = [sql.strip()] + sorted(f"{label}={fp.digest}" for label, fp in inputs)
    return Fingerprint(digest=_digest("sql", parts), method="sql", files=files, reads=reads)


# ---------------------------------------------------------------- a dataset spec

@dataclass
class Fingerprinter:
    """Fingerprints of a config's sources, each file hashed once (`memo`), SQL sources reading the
    ones fingerprinted before them by name."""

    base_dir: Path
    search: Sequence[Path] = ()
    known: dict[str, Fingerprint] = field(default_factory=dict)
    memo: dict = field(default_factory=dict)

    def source(self, name: str, spec: Any) -> Fingerprint:
        """Fingerprint one source (path, sql, or table with or without database) and remember it by name."""
        found = fingerprint_source(spec, base_dir=self.base_dir, known=self.known,
                                   search=self.search or (self.base_dir, Path.cwd()), memo=self.memo)
        self.known[name] = found
        return found


def fingerprint_source(spec: Any, *, base_dir: Path, known: Mapping[str, Fingerprint] | None = None,
                       search: Sequence[Path] = (), memo: dict | None = None) -> Fingerprint:
    """The fingerprint of one source as a config declares it: `path` (a file or glob, relative to
    base_dir), `sql`, `table` with `database` (a DuckDB file), or `table` alone (an engine table: only
    when it names a source in `known`)."""
    known = known or {}
    search = search or (base_dir, Path.cwd())
    path, database, table, sql = (getattr(spec, k, None) for k in ("path", "database", "table", "sql"))
    if path:
        full = Path(path).expanduser()
        full = full if full.is_absolute() else base_dir / full
        return fingerprint_files(expand(full), getattr(spec, "format", None), base_dir=base_dir, memo=memo)
    if database:
        db = Path(database).expanduser()
        return database_fingerprint(db if db.is_absolute() else base_dir / db, base_dir=base_dir, memo=memo)
    if table:
        if table in known:
            return known[table]
        return unfingerprinted(f"table {table} of the engine's catalog has no snapshot to fingerprint")
    if sql:
        return sql_fingerprint(sql, known=known, search=search, base_dir=base_dir, memo=memo)
    return unfingerprinted("the source names no data")
