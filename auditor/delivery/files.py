"""Write reports to disk, atomically: a reader never sees half a file."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from auditor.delivery.swap import aside, publish_dir
from auditor.render.formats import FORMATS, render
from auditor.report import FAILURES_FOLDER, AuditReport

FILENAMES = {name: spec.filename for name, spec in FORMATS.items()}
ALL_FILES = frozenset(name for spec in FORMATS.values() for name in spec.filenames)  # every file a run may write


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write to a temp file in the same folder, fsync, then rename over the target."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def render_all(report: AuditReport, formats: Iterable[str], *, report_url: str | None = None,
               templates: Path | None = None) -> dict[str, str | bytes]:
    """{file name: payload} of every format, rendered in memory first, so a renderer that fails leaves
    no partial set of files."""
    files: dict[str, str | bytes] = {}
    for fmt in formats:
        files.update(FORMATS[fmt].files(render(fmt, report, report_url=report_url, templates=templates)))
    return files


def write_reports(report: AuditReport, out_dir: str | Path, formats: Iterable[str] = ("json", "html", "md"), *,
                  report_url: str | None = None, templates: str | Path | None = None,
                  failures: str | Path | None = None) -> list[Path]:
    """Render every format, then write each file atomically into out_dir; the paths written.

    `failures`: a folder of exported failing rows (run_audit's `failures_dir`), moved to
    out_dir/failures/ (replacing the previous run's) so the reports' links to it hold."""
    out_dir = Path(out_dir)
    rendered = render_all(report, formats, report_url=report_url,
                          templates=Path(templates) if templates is not None else None)
    written = []
    for name, payload in rendered.items():
        path = out_dir / name
        write_atomic(path, payload)
        written.append(path)
    if failures is not None:
        written += place_failures(Path(failures), out_dir)
    return written


def place_failures(staged: Path, out_dir: Path) -> list[Path]:
    """Move staged failing-row files to out_dir/failures/, swapped in whole; with none staged, a
    previous run's failures/ goes (nothing links to it any more)."""
    target = out_dir / FAILURES_FOLDER
    files = sorted(staged.glob("*.parquet")) if staged.is_dir() else []
    if not files:
        shutil.rmtree(target, ignore_errors=True)
        return []
    building = aside(target)
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    for path in files:
        shutil.move(str(path), building / path.name)
    publish_dir(building, target)
    return [target / path.name for path in files]


def load_report(path: Path) -> AuditReport:
    return AuditReport.from_dict(json.loads(path.read_text(encoding="utf-8")))


def load_run(report_dir: Path) -> tuple[Path, AuditReport]:
    """A run's report folder (or a history root's latest run) and its report, for `send` and `notify`."""
    from auditor.errors import ConfigError

    if not (report_dir / "report.json").is_file() and (report_dir / "latest" / "report.json").is_file():
        report_dir = report_dir / "latest"  # a history root: its newest run
    path = report_dir / "report.json"
    if not path.is_file():
        raise ConfigError(f"{report_dir}: no report.json here (run `auditor run` first)")
    try:
        return report_dir, load_report(path)
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not an auditor report.json ({exc})") from None
