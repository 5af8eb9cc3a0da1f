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
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from auditor.delivery.files import FILENAMES, write_atomic
from auditor.errors import AuditorError, ConfigError
from auditor.report import AuditReport

__all__ = ["HistoryStore", "Retention", "parse_keep", "run_folder", "attach_history", "publish_latest",
           "prune", "record_run", "write_index", "DB_NAME", "TREND_RUNS"]

DB_NAME = "history.duckdb"
TREND_RUNS = 10  # runs shown in a check's trend, this one included
FOLDER = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}(-\d{2})?(-\d+)?$")  # only these are ever pruned
BAD = ("fail", "error")

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, folder VARCHAR NOT NULL, started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ, as_of TIMESTAMPTZ, project VARCHAR, status VARCHAR NOT NULL,
    n_pass INTEGER, n_warn INTEGER, n_fail INTEGER, n_error INTEGER, n_skip INTEGER, config_sha256 VARCHAR);
CREATE TABLE IF NOT EXISTS results (
    run_id VARCHAR NOT NULL, check_id VARCHAR NOT NULL, stage VARCHAR NOT NULL,
    subject VARCHAR NOT NULL,  -- '' when the check has no subject: (check_id, subject) names a result across runs
    status VARCHAR NOT NULL, value DOUBLE, value_text VARCHAR, message VARCHAR);
"""
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

    def __init__(self, root: Path) -> None:
        self.path = root / DB_NAME
        root.mkdir(parents=True, exist_ok=True)
        try:
            self.con = duckdb.connect(str(self.path))
        except duckdb.Error as exc:
            raise AuditorError(f"{self.path}: cannot open the history database ({exc})") from None
        self.con.execute(SCHEMA)

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.con.close()

    def append(self, report: AuditReport, folder: Path) -> None:
        """Record one run and every check result, in one transaction."""
        run, counts = report.run or {}, report.counts
        rows = [(run["id"], c.id, c.stage, c.subject or "", c.status, _number(c.value),
                 None if _number(c.value) is not None or c.value is None else str(c.value), c.message)
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
                columns = ["run_id", "check_id", "stage", "subject", "status", "value", "value_text", "message"]
                types = [pa.string()] * 5 + [pa.float64()] + [pa.string()] * 2
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

    def forget(self, run_ids: list[str]) -> None:
        for table in ("results", "runs"):
            self.con.execute(f"DELETE FROM {table} WHERE run_id IN (SELECT unnest(?::VARCHAR[]))", [run_ids])


def attach_history(report: AuditReport, store: HistoryStore, *, last: int = TREND_RUNS) -> AuditReport:
    """The report with ``run["history"]``: the previous runs, each check's trend, what changed.

    ``history = {"runs": [{"id", "started_at", "status", "folder"}] (previous runs, oldest first),
    "checks": [{"id", "subject", "values": [...], "statuses": [...]}] (aligned with runs, then this run;
    null where a run lacks the check), "changes": [{"id", "subject", "previous_status", "status",
    "previous_value", "value", "kind": "new_failure" | "new_warning" | "recovered" | "improved"}]}``
    """
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
        kind = _change(before[0] if before else None, c.status)
        if kind:
            changes.append({"id": c.id, "subject": c.subject, "previous_status": before[0] if before else None,
                            "status": c.status, "previous_value": before[1] if before else None,
                            "value": _number(c.value), "kind": kind})
    history = {"runs": [{k: r[k] for k in ("id", "started_at", "status", "folder")} for r in previous],
               "checks": checks, "changes": changes}
    return dataclasses.replace(report, run={**(report.run or {}), "history": history})


def _change(before: str | None, now: str) -> str | None:
    """How a result moved since the last run; None when it did not (or either side is a skip)."""
    if now == "skip" or before == "skip":
        return None
    if now in BAD and before not in BAD:
        return "new_failure"  # includes a check that did not run last time
    if now == "warn" and before == "pass":
        return "new_warning"
    if before in BAD and now in ("pass", "warn"):
        return "recovered"
    if before == "warn" and now == "pass":
        return "improved"
    return None


def publish_latest(root: Path, folder: Path) -> Path:
    """Copy a run's report files to root/latest (each written atomically; stale formats removed)."""
    latest = root / "latest"
    latest.mkdir(parents=True, exist_ok=True)
    names = set(FILENAMES.values())
    for path in folder.iterdir():
        if path.name in names and path.is_file():
            write_atomic(latest / path.name, path.read_bytes())
    for path in latest.iterdir():
        if path.name in names and not (folder / path.name).exists():
            path.unlink()
    return latest


def prune(root: Path, store: HistoryStore, keep: Retention, *, now: datetime, current: str | None = None) -> list[str]:
    """Drop runs past the retention from the database and delete their folders. Returns the folders removed.

    Only folders named like a run (2026-11-27T02-00) directly under `root` are ever deleted,
    and never the current run's.
    """
    runs = store.runs()
    if keep.count is not None:
        old = runs[keep.count:]
    else:
        cutoff = now - timedelta(days=keep.days or 0)
        old = [r for r in runs if datetime.fromisoformat(r["started_at"]) < cutoff]
    old = [r for r in old if r["id"] != current]
    store.forget([r["id"] for r in old])
    removed = []
    for r in old:
        folder = root / r["folder"]
        if FOLDER.match(r["folder"]) and folder.is_dir() and folder.parent == root:
            shutil.rmtree(folder)
            removed.append(r["folder"])
    return removed


def record_run(report: AuditReport, root: Path, formats: list[str], *, keep: Retention | None = None,
               now: datetime, report_url: str | None = None, templates: Path | None = None
               ) -> tuple[Path, list[Path]]:
    """A history-enabled run: its trends put into the report, its reports written to a dated folder,
    then recorded, copied to root/latest, old runs pruned and root/index.html rewritten.

    The reports are written first: a database problem must not lose them.
    """
    from auditor.delivery.files import write_reports
    from auditor.render.index import render_index

    with HistoryStore(root) as store:
        report = attach_history(report, store)
        folder = run_folder(root, report)
        written = write_reports(report, folder, formats, report_url=report_url, templates=templates)
        store.append(report, folder)
        publish_latest(root, folder)
        if keep is not None:
            prune(root, store, keep, now=now, current=(report.run or {}).get("id"))
        write_atomic(root / "index.html", render_index(store.runs(), title=_project(report)))
    return folder, written


def write_index(root: Path, *, keep: Retention | None = None, now: datetime) -> Path:
    """`auditor history ROOT`: (prune, then) write root/index.html listing every recorded run."""
    from auditor.render.index import render_index

    if not (root / DB_NAME).is_file():
        raise ConfigError(f"{root}: no {DB_NAME} here (run `auditor run --history --out {root}` first)")
    with HistoryStore(root) as store:
        if keep is not None:
            prune(root, store, keep, now=now)
        runs = store.runs()
    path = root / "index.html"
    write_atomic(path, render_index(runs, title=runs[0]["project"] if runs else None))
    return path


def _project(report: AuditReport) -> str | None:
    return (report.project or {}).get("name")
