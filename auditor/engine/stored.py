"""Query results kept across runs: a nightly run does not read an unchanged reference again.

The engine answers a repeated read-only statement from memory within a run. This keeps those answers
that read only given views (the reference) in a file between runs, under a key that changes when
anything they depend on changes: the view's content fingerprint and definition, auditor's and
DuckDB's versions, the threads. A statement is kept by its exact text and parameters, so whatever
a check derives from the answers is derived again the same way: cached and uncached runs give
identical values. Statements that also read another table (the current data) are never kept.

The file is JSON (gzip), not pickle: a cache is data, and loading it must never run code. Values keep
their Python types through tags (`{"$t": "tuple", ...}`): tuples, Decimal, dates and times, bytes,
UUIDs, and numpy arrays (masked or not) for `query_arrays`. Floats go through `repr`, which round-trips.
A file that cannot be read is ignored with one warning; the run then reads the data.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import json
import math
import os
import tempfile
import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from auditor.engine.sql_parse import sql_inputs

FORMAT = 1
KEEP_FILES = 3  # keys kept per folder, newest first: a reference that changes back is still warm


def encode(value: Any) -> Any:
    """A query result as JSON-native data with type tags."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$t": "float", "v": repr(value)}
    if isinstance(value, tuple):
        return {"$t": "tuple", "v": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {"$t": "dict", "v": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, Decimal):
        return {"$t": "decimal", "v": str(value)}
    if isinstance(value, dt.datetime):
        return {"$t": "datetime", "v": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$t": "date", "v": value.isoformat()}
    if isinstance(value, dt.time):
        return {"$t": "time", "v": value.isoformat()}
    if isinstance(value, dt.timedelta):
        return {"$t": "timedelta", "v": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$t": "bytes", "v": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, uuid.UUID):
        return {"$t": "uuid", "v": str(value)}
    if isinstance(value, np.ndarray):
        masked = isinstance(value, np.ma.MaskedArray)
        data = np.ma.getdata(value)
        items = [encode(v.item() if hasattr(v, "item") else v) for v in data.ravel().tolist()] \
            if data.dtype == object else encode(data.tolist())
        return {"$t": "ndarray", "dtype": data.dtype.str if data.dtype != object else "object", "v": items,
                "mask": np.ma.getmaskarray(value).tolist() if masked else None}
    if isinstance(value, np.generic):
        return encode(value.item())
    raise TypeError(f"cannot keep a {type(value).__name__} in the result cache")


def decode(value: Any) -> Any:
    """The inverse of `encode`; anything else raises (a file not written by `encode` is rejected)."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    kind, v = value.get("$t"), value.get("v")
    if kind == "tuple":
        return tuple(decode(x) for x in v)
    if kind == "dict":
        return {decode(k): decode(x) for k, x in v}
    if kind == "float":
        return float(v)
    if kind == "decimal":
        return Decimal(v)
    if kind == "datetime":
        return dt.datetime.fromisoformat(v)
    if kind == "date":
        return dt.date.fromisoformat(v)
    if kind == "time":
        return dt.time.fromisoformat(v)
    if kind == "timedelta":
        return dt.timedelta(days=v[0], seconds=v[1], microseconds=v[2])
    if kind == "bytes":
        return base64.b64decode(v)
    if kind == "uuid":
        return uuid.UUID(v)
    if kind == "ndarray":
        items = decode(v)
        data = np.array(items, dtype=object if value["dtype"] == "object" else np.dtype(value["dtype"]))
        return np.ma.MaskedArray(data, mask=value["mask"]) if value.get("mask") is not None else data
    raise ValueError(f"unknown tag {kind!r} in the result cache")


def reads_only(sql: str, views: frozenset[str]) -> bool:
    """Whether `sql` reads some of `views` and nothing else: no other table, no file read directly, no
    table function that is not pure (auditor.engine.sql_parse). Anything DuckDB cannot parse is not kept."""
    try:
        tables, readers, unknown = sql_inputs(sql)
    except ValueError:
        return False
    return bool(tables) and set(tables) <= views and not readers and not unknown


def cache_key(parts: Mapping[str, Any]) -> str:
    """A stable hex key of what the kept results depend on."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


class StoredResults:
    """The kept results of one key in `folder`: `known` answers, `added` the new ones to save."""

    def __init__(self, folder: Path, key: str, views: Iterable[str]) -> None:
        self.folder = folder
        self.key = key
        self.views = frozenset(views)  # statements reading only these views (by name) are kept
        self.path = folder / f"reference-{key}.json.gz"
        self.known: dict[tuple, Any] = {}
        self.added: dict[tuple, Any] = {}
        self.hits = 0
        self.warning: str | None = None

    def load(self) -> StoredResults:
        if not self.path.is_file():
            return self
        try:
            payload = json.loads(gzip.decompress(self.path.read_bytes()))
            if payload.get("format") != FORMAT or payload.get("key") != self.key:
                raise ValueError("written for another key or format")
            self.known = {(e["kind"], e["sql"], e["params"]): decode(e["result"]) for e in payload["entries"]}
        except (OSError, ValueError, KeyError, TypeError, EOFError, gzip.BadGzipFile) as exc:
            self.known = {}
            self.warning = f"ignoring the unreadable reference cache {self.path} ({type(exc).__name__}: {exc})"
        return self

    def get(self, key: tuple) -> tuple[bool, Any]:
        if key in self.known:
            self.hits += 1
            return True, self.known[key]
        return False, None

    def keep(self, key: tuple, result: Any) -> None:
        """Keep an answer (encoded now: a result the cache cannot hold, such as a DataFrame, is not kept)."""
        try:
            self.added[key] = encode(result)
        except TypeError:
            pass

    def save(self) -> Path | None:
        """Write known and added results (nothing when nothing was added), and drop the oldest files."""
        if not self.added:
            return None
        kept = {k: encode(r) for k, r in self.known.items()}
        kept.update(self.added)
        entries = [{"kind": k[0], "sql": k[1], "params": k[2], "result": r} for k, r in kept.items()]
        payload = {"format": FORMAT, "key": self.key, "entries": entries}
        self.folder.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed: a run killed while saving leaves the previous file whole.
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(gzip.compress(json.dumps(payload, allow_nan=False).encode(), mtime=0))
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        others = sorted((p for p in self.folder.glob("reference-*.json.gz") if p != self.path),
                        key=lambda p: p.stat().st_mtime, reverse=True)
        for old in others[KEEP_FILES - 1:]:
            old.unlink(missing_ok=True)
        return self.path
