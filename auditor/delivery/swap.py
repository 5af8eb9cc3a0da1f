"""Publishing into a history root so that a run killed at any moment leaves the previous version
whole: a run folder, `latest/` and `history.duckdb` are each built aside under a dot-name, then
renamed into place; the next run, holding the root's lock, clears what a killed one left.

    .2026-11-27T02-00.partial/   a run folder being written   -> renamed to 2026-11-27T02-00/
    .history.duckdb.partial      the database being updated   -> renamed over history.duckdb
    .latest.partial/             the next latest/             -> swapped in (latest/ goes to .latest.old/ first)
    .index.html.XXXX.tmp         write_atomic's temp file     -> renamed over index.html

A rename within one folder is atomic for a file. A folder cannot replace a non-empty folder in one
rename, so `latest/` is swapped in two: if a run dies between them, `.latest.old/` is still whole and
`clear_leftovers` puts it back.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PARTIAL = ".partial"
OLD = ".old"


def aside(target: Path) -> Path:
    """Where `target` is built before it is renamed into place."""
    return target.parent / f".{target.name}{PARTIAL}"


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def publish_dir(built: Path, target: Path) -> None:
    """Put the complete folder `built` at `target`, replacing the folder there."""
    old = target.parent / f".{target.name}{OLD}"
    _remove(old)
    if target.exists():
        os.replace(target, old)
    os.replace(built, target)
    _remove(old)


@contextmanager
def edited_copy(database: Path) -> Iterator[Path]:
    """A copy of `database` to change; it replaces the original only when the block ends without error.

    The caller closes its connection (after a CHECKPOINT) inside the block, so the copy is one
    self-contained file when it is renamed.
    """
    copy = aside(database)
    for leftover in (copy, copy.with_name(copy.name + ".wal")):
        leftover.unlink(missing_ok=True)
    if database.exists():
        shutil.copyfile(database, copy)
    try:
        yield copy
    except BaseException:
        copy.unlink(missing_ok=True)
        raise
    with open(copy, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(copy, database)


def clear_leftovers(root: Path) -> list[str]:
    """What a killed run left under `root`: a half-swapped folder is put back, partial builds and
    temp files are removed. Returns the names cleared. Call it holding the root's lock."""
    cleared = []
    for old in sorted(root.glob(f".*{OLD}")):
        target = root / old.name[1:-len(OLD)]
        if old.is_dir() and not target.exists():
            os.replace(old, target)  # died between the two renames of publish_dir: the old one is whole
        else:
            _remove(old)
        cleared.append(old.name)
    for leftover in [*root.glob(f".*{PARTIAL}"), *root.glob(f".*{PARTIAL}.wal"), *root.glob(".*.tmp")]:
        _remove(leftover)
        cleared.append(leftover.name)
    return cleared
