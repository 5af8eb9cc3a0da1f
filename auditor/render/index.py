"""The history index page: every recorded run with its status and counts, newest first.

Like the report, one self-contained file: inline CSS, no script, no request.
"""

from __future__ import annotations

from typing import Any

from auditor.render.filters import fmt_timestamp
from auditor.render.html import environment
from auditor.version import __version__

__all__ = ["render_index"]


def render_index(runs: list[dict[str, Any]], *, title: str | None = None) -> str:
    """`runs` as HistoryStore.runs() gives them: id, folder, started_at, project, status and counts."""
    rows = [{**r, "started": fmt_timestamp(r["started_at"]), "href": f"{r['folder']}/report.html"} for r in runs]
    return environment().get_template("history_index.html").render(
        title=f"{title or 'auditor'}: audit history", runs=rows, tool={"name": "auditor", "version": __version__},
        statuses=("error", "fail", "warn", "pass", "skip"))
