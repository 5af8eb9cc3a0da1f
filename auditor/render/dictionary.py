"""The data dictionary as data (dictionary.json), from report.json alone.

Every table of the report's `dictionary` (its datasets, then the config's catalog tables) with its
measures, and per field the **quality indicator**: the worst status of the check results about it
(results name their `dataset` and `columns`), each result linked to its place in report.html. A table
is as bad as its worst field or its own results (those about no column: volume, freshness, whole-row
duplicates). With history, each field's indicator in the previous run is beside it (`run.history.fields`,
from the results the history database recorded with their columns). A report without measures still
gives every field's name, type and indicator.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from auditor.render.context import check_anchors
from auditor.report import SEVERITY, AuditReport, CheckResult, worst

DATASET_ORDER = ("current", "reference", "predictions")
GRADED = ("pass", "warn", "fail", "error")
MESSAGE_FROM = ("warn", "fail", "error")  # field check links carry the message of these (JSON stays small)


def indicator(statuses: Iterable[str | None]) -> str | None:
    """The worst graded status; None when nothing graded is about it (no check, or only skips)."""
    graded = [s for s in statuses if s in GRADED]
    return worst(graded) if graded else None


def _previous_fields(report: AuditReport) -> dict[tuple[str, str], str] | None:
    """(table, field) -> its indicator in the previous run (run.history.fields); None without history."""
    history = (report.run or {}).get("history")
    if not isinstance(history, dict) or "fields" not in history:
        return None
    return {(f.get("dataset"), f.get("column")): f.get("status") for f in history.get("fields") or []
            if isinstance(f, dict)}


def _link(check: CheckResult, anchor: str, report_url: str | None) -> dict[str, Any]:
    out = {"id": check.id, "title": check.title, "subject": check.subject, "status": check.status,
           "link": f"{report_url or 'report.html'}#{anchor}"}
    if check.status in MESSAGE_FROM:
        out["message"] = check.message
    return out


def _tables_of(report: AuditReport) -> list[dict[str, Any]]:
    """The measured tables, datasets first (current, reference, predictions), then the catalog."""
    tables = (report.dictionary or {}).get("tables")
    if not tables:  # a report written before the dictionary had measures: names and types only
        tables = [{"name": d.get("name"), "kind": "dataset", "source": d.get("source"), "rows": d.get("rows"),
                   "fields": [{"name": c.get("name"), "type": c.get("type")} for c in d.get("columns") or []]}
                  for d in report.datasets or [] if isinstance(d, dict)]
    rank = {name: i for i, name in enumerate(DATASET_ORDER)}
    return sorted(tables, key=lambda t: (t.get("kind") != "dataset", rank.get(t.get("name"), len(rank))))


def build_dictionary(report: AuditReport, *, report_url: str | None = None) -> dict[str, Any]:
    """dictionary.json: {"run", "tables": [{..., "fields": [...]}]} (docs/report-json.md)."""
    about: dict[tuple[str | None, str | None], list[tuple[CheckResult, str]]] = {}
    for check, anchor in check_anchors(report):
        for column in check.columns or (None,):
            about.setdefault((check.dataset, column), []).append((check, anchor))
    previous = _previous_fields(report)
    has_history = previous is not None
    provenance = (report.run or {}).get("provenance") or {}
    prints = {**(provenance.get("catalog") or {}), **(provenance.get("datasets") or {})}
    tables = []
    for t in _tables_of(report):
        name = t.get("name")
        fields = []
        for f in t.get("fields") or []:
            results = about.get((name, f.get("name")), [])
            linked = sorted(results, key=lambda ca: (-SEVERITY.get(ca[0].status, -1), ca[0].id, ca[0].subject or ""))
            now = indicator(c.status for c, _ in results)
            before = previous.get((name, f.get("name"))) if previous is not None else None
            fields.append({
                "name": f.get("name"), "type": f.get("type"), "description": f.get("description"),
                "owner": f.get("owner"), "null_rate": f.get("null_rate"), "distinct": f.get("distinct"),
                "min": f.get("min"), "max": f.get("max"), "top_values": f.get("top_values"),
                "newest": f.get("newest"), "indicator": now,
                "checks": [_link(c, a, report_url) for c, a in linked],
                "roles": f.get("roles") or [], "example_sql": f.get("example_sql"),
                "personal_data": f.get("personal_data"),
                "previous_indicator": before, "changed": has_history and before is not None and before != now,
            })
        own = about.get((name, None), [])
        table_indicator = indicator([*(f["indicator"] for f in fields), *(c.status for c, _ in own)])
        entry = prints.get(name) if isinstance(prints.get(name), dict) else {}
        tables.append({
            "name": name, "kind": t.get("kind", "dataset"), "source": t.get("source"),
            "description": t.get("description"), "rows": t.get("rows"), "bytes": t.get("bytes"),
            "newest": t.get("newest"), "freshness_hours": t.get("freshness_hours"),
            "fingerprint": entry.get("fingerprint"), "indicator": table_indicator,
            "checks": [_link(c, a, report_url) for c, a in sorted(
                own, key=lambda ca: (-SEVERITY.get(ca[0].status, -1), ca[0].id, ca[0].subject or ""))],
            "fields": fields,
        })
    run = report.run or {}
    return {"run": {"id": run.get("id"), "as_of": run.get("as_of"), "project": (report.project or {}).get("name"),
                    "history": has_history},
            "tables": tables}


def failing_fields(dictionary: dict[str, Any]) -> list[tuple[str, str]]:
    """(table, field) of every field whose indicator is fail or error: `auditor dictionary` exits 1 on any."""
    return [(t["name"], f["name"]) for t in dictionary.get("tables") or [] for f in t.get("fields") or []
            if f.get("indicator") in ("fail", "error")]
