"""Run history: dated run folders, a DuckDB file of every run's results, trends, retention.

Layout of an output root with history enabled::

    reports/
      history.duckdb          one row per run (runs) and per run and check result (results)
      index.html              every run with its status (`auditor history reports/`)
      2026-11-26T02-00/       one folder per run: report.json, report.html, ...
      2026-11-27T02-00/
      latest/                 a copy of the newest run's reports

``latest`` is a copy, not a symlink: symlinks need privileges on Windows, and
artefact uploaders and some web servers do not follow them. Each file is
written atomically, so a reader never sees half a report.

Before a run's reports are rendered, the history of its checks is put into the
report itself (``report.run["history"]``, see `attach_history`): the renderers
read only the report, and a re-render of an old report.json shows the trend it
had.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from auditor.delivery.files import ALL_FILES, write_atomic
from auditor.delivery.lock import DEFAULT_TIMEOUT_S, RootLock
from auditor.delivery.swap import aside, clear_leftovers, edited_copy, publish_dir
from auditor.errors import AuditorError, ConfigError
from auditor.report import FAILURES_FOLDER, AuditReport, change_kind, worst

__all__ = ["HistoryStore", "Retention", "parse_keep", "run_folder", "attach_history", "publish_latest",
           "expired", "remove_folders", "record_run", "write_index", "DB_NAME", "TREND_RUNS"]

DB_NAME = "history.duckdb"
TREND_RUNS = 10  # runs shown in a check's trend, this one included
FOLDER = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}(-\d{2})?(-\d+)?$")  # only these are ever pruned

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, folder VARCHAR NOT NULL, started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ, as_of TIMESTAMPTZ, project VARCHAR, status VARCHAR NOT NULL,
    n_pass INTEGER, n_warn INTEGER, n_fail INTEGER, n_error INTEGER, n_skip INTEGER, config_sha256 VARCHAR);
CREATE TABLE IF NOT EXISTS results (
    run_id VARCHAR NOT NULL, check_id VARCHAR NOT NULL, stage VARCHAR NOT NULL,
    subject VARCHAR NOT NULL,  -- '' when the check has no subject: (check_id, subject) names a result across runs
    status VARCHAR NOT NULL, value DOUBLE, value_text VARCHAR, message VARCHAR);
-- What each result was about (the data dictionary's fields), added after the first release: NULL in older runs.
ALTER TABLE results ADD COLUMN IF NOT EXISTS dataset VARCHAR;
ALTER TABLE results ADD COLUMN IF NOT EXISTS columns VARCHAR[];
"""
FIELDS_OF_RUN = "SELECT dataset, unnest(columns), status FROM results WHERE run_id = ? AND dataset IS NOT NULL"
RESULTS_OF_RUNS = """
SELECT r.run_id, r.check_id, r.subject, r.status, r.value
FROM results r WHERE r.run_id IN (SELECT unnest(?::VARCHAR[]))
"""


@dataclass(frozen=True)
class Retention:
    """Keep runs younger than `days`, or the newest `count` runs."""

    days: int | None = None
    count: int | None = None


def parse_keep(text: str) -> Retention:
    """'90d' keeps 90 days of runs; '30' keeps the newest 30 runs."""
    m = re.fullmatch(r"\s*([1-9]\d*)\s*(d?)\s*", str(text))
    if not m:
        raise ConfigError(f"--keep {text!r}: give a number of runs (30) or of days (90d)")
    n = int(m.group(1))
    return Retention(days=n) if m.group(2) else Retention(count=n)


def _started(report: AuditReport) -> datetime:
    value = datetime.fromisoformat(str((report.run or {}).get("started_at")))
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def run_folder(root: Path, report: AuditReport) -> Path:
    """root/2026-11-27T02-00 (UTC start of the run); a second run in the same minute gets its seconds."""
    started = _started(report)
    for name in (started.strftime("%Y-%m-%dT%H-%M"), started.strftime("%Y-%m-%dT%H-%M-%S")):
        if not (root / name).exists():
            return root / name
    n = 2
    while (root / f"{started.strftime('%Y-%m-%dT%H-%M-%S')}-{n}").exists():
        n += 1
    return root / f"{started.strftime('%Y-%m-%dT%H-%M-%S')}-{n}"


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


class HistoryStore:
    """The DuckDB file of past runs. Open it with `with HistoryStore(root) as store:`."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        """`path` is the database file. Runs write to a copy (auditor.delivery.swap.edited_copy) and
        read the published file read-only, so any number of readers and one writer never meet."""
        self.path = path
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.Error as exc:
            raise AuditorError(f"{self.path}: cannot open the history database ({exc})") from None
        if not read_only:
            self.con.execute(SCHEMA)

    @classmethod
    def published(cls, root: Path) -> HistoryStore | None:
        """The root's history.duckdb opened read-only, or None before the first recorded run."""
        return cls(root / DB_NAME, read_only=True) if (root / DB_NAME).is_file() else None

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.con.close()

    def append(self, report: AuditReport, folder: Path) -> None:
        """Record one run and every check result, in one transaction."""
        run, counts = report.run or {}, report.counts
        rows = [(run["id"], c.id, c.stage, c.subject or "", c.status, _number(c.value),
                 None if _number(c.value) is not None or c.value is None else str(c.value), c.message,
                 c.dataset, list(c.columns))
                for c in report.checks]
        self.con.execute("BEGIN")
        try:
            # Re-recording a run (same id) replaces it rather than doubling its rows.
            self.con.execute("DELETE FROM results WHERE run_id = ?", [run["id"]])
            self.con.execute("DELETE FROM runs WHERE run_id = ?", [run["id"]])
            self.con.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [run["id"], folder.name, run.get("started_at"), run.get("finished_at"), run.get("as_of"),
                 (report.project or {}).get("name"), report.status, counts["pass"], counts["warn"],
                 counts["fail"], counts["error"], counts["skip"], run.get("config_sha256")])
            if rows:
                # One Arrow table, not executemany: row-by-row inserts take seconds for thousands of results.
                columns = ["run_id", "check_id", "stage", "subject", "status", "value", "value_text", "message",
                           "dataset", "columns"]
                types = [pa.string()] * 5 + [pa.float64()] + [pa.string()] * 3 + [pa.list_(pa.string())]
                batch = pa.table([pa.array(col, type=t) for col, t in zip(zip(*rows, strict=True), types,
                                                                             strict=True)], names=columns)
                self.con.register("new_results", batch)
                self.con.execute(f"INSERT INTO results SELECT {', '.join(columns)} FROM new_results")
                self.con.unregister("new_results")
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def runs(self, *, limit: int | None = None) -> list[dict[str, Any]]:
        """Runs, newest first."""
        sql = ("SELECT run_id, folder, strftime(started_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S+00:00'), "
               "project, status, n_pass, n_warn, n_fail, n_error, n_skip FROM runs ORDER BY started_at DESC, run_id DESC")
        rows = self.con.execute(sql + (" LIMIT ?" if limit else ""), [limit] if limit else []).fetchall()
        keys = ("id", "folder", "started_at", "project", "status", "pass", "warn", "fail", "error", "skip")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def results(self, run_ids: list[str]) -> dict[tuple[str, str], dict[str, tuple[str, float | None]]]:
        """(check id, subject) -> run id -> (status, value)."""
        out: dict[tuple[str, str], dict[str, tuple[str, float | None]]] = {}
        for run_id, check_id, subject, status, value in self.con.execute(RESULTS_OF_RUNS, [run_ids]).fetchall():
            out.setdefault((check_id, subject), {})[run_id] = (status, value)
        return out

    def fields(self, run_id: str) -> dict[tuple[str, str], str]:
        """(dataset, column) -> the worst graded status of the run's results about it (skips aside)."""
        out: dict[tuple[str, str], str] = {}
        for dataset, column, status in self.con.execute(FIELDS_OF_RUN, [run_id]).fetchall():
            if status != "skip" and column is not None:
                before = out.get((dataset, column))
                out[(dataset, column)] = status if before is None else worst([before, status])
        return out

    def forget(self, run_ids: list[str]) -> None:
        for table in ("results", "runs"):
            self.con.execute(f"DELETE FROM {table} WHERE run_id IN (SELECT unnest(?::VARCHAR[]))", [run_ids])

    def close(self) -> None:
        """Fold the write-ahead log into the file, so a copy of it is complete, then close."""
        self.con.execute("CHECKPOINT")
        self.con.close()


def attach_history(report: AuditReport, store: HistoryStore | None, *, last: int = TREND_RUNS) -> AuditReport:
    """The report with ``run["history"]``: the previous runs, each check's trend, what changed.

    ``history = {"runs": [{"id", "started_at", "status", "folder"}] (previous runs, oldest first),
    "checks": [{"id", "subject", "values": [...], "statuses": [...]}] (aligned with runs, then this run;
    null where a run lacks the check), "changes": [{"id", "subject", "previous_status", "status",
    "previous_value", "value", "kind": "new_failure" | "new_warning" | "recovered" | "improved"}],
    "fields": [{"dataset", "column", "status"}] (the last run's worst status of the results about each
    column: the data dictionary's indicator then)}``
    """
    if store is None:
        return report
    previous = [r for r in store.runs(limit=last) if r["id"] != (report.run or {}).get("id")][: last - 1][::-1]
    if not previous:
        return report
    past = store.results([r["id"] for r in previous])
    last_id = previous[-1]["id"]
    checks, changes = [], []
    for c in report.checks:
        key = (c.id, c.subject or "")
        seen = past.get(key, {})
        values = [seen.get(r["id"], (None, None))[1] for r in previous] + [_number(c.value)]
        statuses = [seen.get(r["id"], (None, None))[0] for r in previous] + [c.status]
        checks.append({"id": c.id, "subject": c.subject, "values": values, "statuses": statuses})
        before = seen.get(last_id)
        kind = change_kind(before[0] if before else None, c.status)
        if kind:
            changes.append({"id": c.id, "subject": c.subject, "previous_status": before[0] if before else None,
                            "status": c.status, "previous_value": before[1] if before else None,
                            "value": _number(c.value), "kind": kind})
    fields = [{"dataset": d, "column": c, "status": st} for (d, c), st in sorted(store.fields(last_id).items())]
    history = {"runs": [{k: r[k] for k in ("id", "started_at", "status", "folder")} for r in previous],
               "checks": checks, "changes": changes, "fields": fields}
    return dataclasses.replace(report, run={**(report.run or {}), "history": history})


def publish_latest(root: Path, folder: Path) -> Path:
    """Copy a run's report files to root/latest: built aside, then swapped in (auditor.delivery.swap)."""
    latest = root / "latest"
    building = aside(latest)
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    names = ALL_FILES
    for path in folder.iterdir():
        if path.name in names and path.is_file():
            shutil.copyfile(path, building / path.name)
    if (folder / FAILURES_FOLDER).is_dir():  # the reports link their exported failing rows
        shutil.copytree(folder / FAILURES_FOLDER, building / FAILURES_FOLDER)
    publish_dir(building, latest)
    return latest


def expired(store: HistoryStore, keep: Retention, *, now: datetime, current: str | None = None) -> list[dict[str, Any]]:
    """The recorded runs past the retention, never the current one."""
    runs = store.runs()
    if keep.count is not None:
        old = runs[keep.count:]
    else:
        cutoff = now - timedelta(days=keep.days or 0)
        old = [r for r in runs if datetime.fromisoformat(r["started_at"]) < cutoff]
    return [r for r in old if r["id"] != current]


def remove_folders(root: Path, runs: list[dict[str, Any]]) -> list[str]:
    """Delete the folders of forgotten runs. Only folders named like a run (2026-11-27T02-00)
    directly under `root` are ever deleted."""
    removed = []
    for r in runs:
        folder = root / r["folder"]
        if FOLDER.match(r["folder"]) and folder.is_dir() and folder.parent == root:
            shutil.rmtree(folder)
            removed.append(r["folder"])
    return removed


def reached(step: str) -> None:
    """A point of record_run after which the root is consistent again; tests stop a run at each one
    (tests/test_history_concurrency.py) to show that a run killed anywhere loses nothing."""


def record_run(report: AuditReport, root: Path, formats: list[str], *, keep: Retention | None = None,
               now: datetime, report_url: str | None = None, templates: Path | None = None,
               lock_timeout_s: float = DEFAULT_TIMEOUT_S, failures: Path | None = None) -> tuple[Path, list[Path]]:
    """A history-enabled run: its trends put into the report, its reports written to a dated folder,
    then recorded, copied to root/latest, old runs pruned and root/index.html rewritten.

    The whole of it holds the root's lock (a second run waits its turn), and each thing published is
    built aside and renamed into place, so a run killed at any point leaves the previous
    history.duckdb, latest/ and index.html whole. The reports are written first: a database problem
    must not lose them.
    """
    from auditor.delivery.files import write_reports
    from auditor.render.index import render_index

    with RootLock(root, timeout_s=lock_timeout_s):
        _recover(root)
        store = HistoryStore.published(root)
        try:
            report = attach_history(report, store)
        finally:
            if store is not None:
                store.con.close()
        folder = run_folder(root, report)
        building = aside(folder)
        written = write_reports(report, building, formats, report_url=report_url, templates=templates,
                                failures=failures)
        reached("reports written")
        with edited_copy(root / DB_NAME) as database:
            store = HistoryStore(database)
            try:
                store.append(report, folder)
                old = expired(store, keep, now=now, current=(report.run or {}).get("id")) if keep else []
                store.forget([r["id"] for r in old])
                runs = store.runs()
            finally:
                store.close()
            reached("database copy")
        reached("database")  # recorded: from here a killed run's folder is completed by the next run
        os.replace(building, folder)
        written = [folder / path.relative_to(building) for path in written]
        reached("run folder")
        remove_folders(root, old)
        publish_latest(root, folder)
        reached("latest")
        write_atomic(root / "index.html", render_index(runs, title=_project(report)))
    return folder, written


def write_index(root: Path, *, keep: Retention | None = None, now: datetime,
                lock_timeout_s: float = DEFAULT_TIMEOUT_S) -> Path:
    """`auditor history ROOT`: (prune, then) write root/index.html listing every recorded run."""
    from auditor.render.index import render_index

    if not (root / DB_NAME).is_file():
        raise ConfigError(f"{root}: no {DB_NAME} here (run `auditor run --history --out {root}` first)")
    with RootLock(root, timeout_s=lock_timeout_s):
        _recover(root)
        old: list[dict[str, Any]] = []
        with edited_copy(root / DB_NAME) as database:
            store = HistoryStore(database)
            try:
                if keep is not None:
                    old = expired(store, keep, now=now)
                    store.forget([r["id"] for r in old])
                runs = store.runs()
            finally:
                store.close()
        remove_folders(root, old)
        path = root / "index.html"
        write_atomic(path, render_index(runs, title=runs[0]["project"] if runs else None))
    return path


def _recover(root: Path) -> None:
    """Before a run touches the root (holding its lock): finish or undo what a killed run left.

    A run folder still being built is completed when the database already records it (the run died
    between recording and renaming: its reports were written in full), else removed with the other
    partial builds. A history.duckdb written in place by an older auditor may have a write-ahead log
    beside it: fold it in before the file is copied, or the copy would miss its last runs.
    """
    if (root / f"{DB_NAME}.wal").exists():
        HistoryStore(root / DB_NAME).close()
    store = HistoryStore.published(root)
    if store is not None:
        try:
            folders = {r["folder"] for r in store.runs()}
        finally:
            store.con.close()
        for name in folders:
            if FOLDER.match(name) and aside(root / name).is_dir() and not (root / name).exists():
                os.replace(aside(root / name), root / name)
    clear_leftovers(root)


def _project(report: AuditReport) -> str | None:
    return (report.project or {}).get("name")
