"""One writer at a time on a history root: a lock that waits its turn, then names who holds it.

Two runs sharing an output root (a CI matrix, two people, a nightly run that overlaps a manual one)
take turns: the second waits up to `outputs.lock_timeout` for the first to finish, so neither loses
its record in history.duckdb. The lock is an OS file lock (`filelock`: fcntl on POSIX, msvcrt on
Windows), released by the OS when its holder dies, so a killed run never leaves the root locked. A
note beside it says who holds it, for the message of the run that gives up waiting.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from filelock import FileLock, Timeout

from auditor.delivery.files import write_atomic
from auditor.errors import AuditorError

LOCK_NAME = ".history.lock"
HOLDER_NAME = ".history.lock.holder"
DEFAULT_TIMEOUT_S = 600.0


class RootLocked(AuditorError):
    """Another run held the history root for longer than the wait allowed (exit 3)."""


def parse_duration(text: str | float | int) -> float:
    """Seconds in '90s', '10m', '1h' or a plain number of seconds."""
    if isinstance(text, (int, float)):
        return float(text)
    value = str(text).strip()
    units = {"s": 1, "m": 60, "h": 3600}
    if value and value[-1] in units:
        return float(value[:-1]) * units[value[-1]]
    return float(value)


def _holder() -> dict[str, object]:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return {"pid": os.getpid(), "host": socket.gethostname(), "user": user,
            "since": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def _describe(note: Path) -> str:
    try:
        h = json.loads(note.read_text(encoding="utf-8"))
        return f"process {h['pid']} of {h['user']} on {h['host']} (since {h['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


class RootLock:
    """`with RootLock(root, timeout_s=600):` hold the history root; raises RootLocked on timeout."""

    def __init__(self, root: Path, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.root = root
        self.timeout_s = timeout_s
        self._lock = FileLock(str(root / LOCK_NAME), timeout=timeout_s)

    def __enter__(self) -> RootLock:
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except Timeout:
            raise RootLocked(f"{self.root}: the history root is held by {_describe(self.root / HOLDER_NAME)}; "
                             f"gave up after waiting {self.timeout_s:g} s (outputs.lock_timeout)") from None
        write_atomic(self.root / HOLDER_NAME, json.dumps(_holder()))
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        (self.root / HOLDER_NAME).unlink(missing_ok=True)
        self._lock.release()
