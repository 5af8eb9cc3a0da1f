"""Write reports to disk, atomically: a reader never sees half a file."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from auditor.report import AuditReport

FILENAMES = {"json": "report.json", "html": "report.html", "md": "report.md", "email": "email.eml",
             "junit": "junit.xml"}


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


def render_json(report: AuditReport) -> str:
    # allow_nan=False: a NaN that slipped through is a bug, not a valid report.
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _renderer(fmt: str) -> Callable[[AuditReport], str | bytes]:
    """Import a renderer only when its format is asked for."""
    if fmt == "json":
        return render_json
    if fmt == "html":
        from auditor.render.html import render_html
        return render_html
    if fmt == "md":
        from auditor.render.markdown import render_markdown
        return render_markdown
    if fmt == "junit":
        from auditor.render.junit import render_junit
        return render_junit
    if fmt == "email":
        from auditor.render.email import render_email
        return render_email
    raise ValueError(f"unknown format {fmt!r}")


# Formats that link to the full report (where report.html is published) when given its URL.
LINKING = ("md", "email")


def render_all(report: AuditReport, formats: Iterable[str], *, report_url: str | None = None) -> dict[str, str | bytes]:
    """Render every format in memory first, so a renderer that fails leaves no partial set of files."""
    return {fmt: _renderer(fmt)(report, report_url=report_url) if report_url and fmt in LINKING
            else _renderer(fmt)(report) for fmt in formats}


def write_reports(report: AuditReport, out_dir: Path, formats: Iterable[str], *,
                  report_url: str | None = None) -> list[Path]:
    rendered = render_all(report, formats, report_url=report_url)
    written = []
    for fmt, payload in rendered.items():
        path = out_dir / FILENAMES[fmt]
        write_atomic(path, payload)
        written.append(path)
    return written


def load_report(path: Path) -> AuditReport:
    return AuditReport.from_dict(json.loads(path.read_text(encoding="utf-8")))
