"""The findings and the five-second overview, as the templates see them.

report.json's `findings` are grouped when the report is built (auditor.audit.findings); this module
only turns them into a view: each finding's results linked to their place on the page, the top
findings with their most telling chart, the stages with their status and what changed since the
last run. HTML, Markdown and the email all lead with it.
"""

from __future__ import annotations

from typing import Any

from auditor.render.filters import status_emoji
from auditor.report import AuditReport, Finding

__all__ = ["findings_view", "overview_view", "TOP_FINDINGS"]

TOP_FINDINGS = 4  # findings shown with a chart in the overview; the rest are listed below it
RESULTS_LISTED = 40  # results listed under a finding in the HTML (2,000 drifted columns are one finding)
STAGE_TITLES = {"scoping": "Scoping", "data": "Data", "modeling": "Modeling", "deployment": "Deployment"}


def _chart_spec(report_checks: dict[tuple[str, str | None], Any], ref: dict[str, Any] | None) -> dict | None:
    if not isinstance(ref, dict):
        return None
    check = report_checks.get((ref.get("id"), ref.get("subject")))
    charts = (check.evidence or {}).get("charts") or [] if check is not None else []
    index = ref.get("index")
    return charts[index] if isinstance(index, int) and 0 <= index < len(charts) else None


def findings_view(report: AuditReport, by_key: dict[tuple[str, str | None], dict[str, Any]]) -> list[dict[str, Any]]:
    """Every finding, worst first, its results linked through `by_key` ((id, subject) -> the check's view)."""
    checks = {(c.id, c.subject): c for c in report.checks}
    out = []
    for n, finding in enumerate(report.finding_list(), 1):
        results = []
        for check_id, subject in finding.results:
            view = by_key.get((check_id, subject))
            results.append({
                "anchor": view["anchor"] if view else None,
                "title": view["title"] if view else check_id,
                "id": check_id,
                "subject": subject,
                "status": view["status"] if view else None,
                "emoji": status_emoji(view["status"]) if view else "",
            })
        out.append({
            "n": n,
            "anchor": f"finding-{n}",
            "title": finding.title,
            "status": finding.status,
            "emoji": status_emoji(finding.status),
            "stage": finding.stage,
            "stage_title": STAGE_TITLES.get(finding.stage, finding.stage.capitalize()),
            "summary": finding.summary,
            "results": results,
            "results_shown": results[:RESULTS_LISTED],
            "results_more": max(0, len(results) - RESULTS_LISTED),
            "size": f"{len(results)} result{'' if len(results) == 1 else 's'}",
            "chart_spec": _chart_spec(checks, finding.chart),
        })
    return out


def overview_view(stages: list[dict[str, Any]], findings: list[dict[str, Any]],
                  history: dict[str, Any] | None) -> dict[str, Any]:
    """What a person reads in five seconds: each stage's status, the top findings, what changed."""
    tiles = [{"title": s["title"], "anchor": s["anchor"], "status": s["status"], "counts_line": s["counts_line"],
              "findings": sum(1 for f in findings if f["stage"] == s["id"])} for s in stages]
    changed = None
    if history:
        changed = [{"title": g["title"], "kind": g["kind"], "count": len(g["rows"]),
                    "names": [r["title"] + (f" · {r['subject']}" if r["subject"] is not None else "")
                              for r in g["rows"]][:5]} for g in history["groups"]]
    return {"stages": tiles, "top": findings[:TOP_FINDINGS], "more": max(0, len(findings) - TOP_FINDINGS),
            "changed": changed}


def finding_of(report: AuditReport) -> dict[tuple[str, str | None], Finding]:
    """Which finding each result belongs to."""
    return {key: f for f in report.finding_list() for key in f.results}
