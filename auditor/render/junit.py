"""JUnit XML, for CI test widgets (GitHub, GitLab, Jenkins): one test case per check result.

The findings (results grouped by shared cause) go to each stage suite's ``system-out``: a suite
lists the findings whose stage it is, so every finding is printed once.

The shape follows the common JUnit schema (the one Jenkins and GitLab read):
``testsuites > testsuite (one per stage) > testcase``, with ``failure``, ``error``
and ``skipped`` children. A warning is not a failure for CI: it passes, and its
message goes to ``system-out`` so it is still visible. Built with ElementTree,
which escapes every attribute and text.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

from auditor.render.context import sort_checks
from auditor.render.filters import fmt_number, fmt_threshold, fmt_value
from auditor.report import STAGES, AuditReport, CheckResult, Finding

__all__ = ["render_junit"]


def _seconds(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "0.000"


def _timestamp(value: Any) -> str | None:
    """The schema's timestamp is ISO 8601 without a zone: the UTC time, to the second."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _detail(check: CheckResult) -> str:
    """The reading, threshold and metrics as plain text lines (the body of a failure)."""
    name = check.id.rsplit(".", 1)[-1]
    lines = [check.message]
    if check.value is not None:
        lines.append(f"value: {fmt_value(check.value, name, check.unit)}")
    if check.threshold is not None:
        lines.append(f"threshold: {fmt_threshold(check.threshold.to_dict(), name, check.unit)}")
    lines += [f"{k}: {fmt_number(v, k)}" for k, v in (check.metrics or {}).items()]
    return "\n".join(lines)


def _testcase(suite: ET.Element, check: CheckResult) -> None:
    case = ET.SubElement(suite, "testcase", {
        "classname": check.id,
        "name": check.subject if check.subject is not None else check.id,
        "time": "0.000",
    })
    kind = {"fail": "failure", "error": "error", "skip": "skipped"}.get(check.status)
    if kind == "skipped":
        ET.SubElement(case, "skipped", {"message": check.message})
    elif kind:
        child = ET.SubElement(case, kind, {"message": check.message, "type": check.id})
        child.text = _detail(check)
    if check.status in ("warn", "pass") and (check.status == "warn" or check.value is not None):
        out = ET.SubElement(case, "system-out")
        out.text = (f"WARNING: {_detail(check)}" if check.status == "warn" else _detail(check))


def _findings_text(findings: list[Finding]) -> str:
    lines = []
    for f in findings:
        lines.append(f"[{f.status.upper()}] {f.title}: {f.summary}")
        lines += [f"    {check_id}" + (f" · {subject}" if subject is not None else "") for check_id, subject in f.results]
    return "\n".join(lines)


def render_junit(report: AuditReport) -> str:
    """The report as JUnit XML: a suite per lifecycle stage, a test case per check result."""
    run = report.run or {}
    name = str((report.project or {}).get("name") or "auditor")
    root = ET.Element("testsuites", {"name": name})
    by_stage: dict[str, list[CheckResult]] = {}
    for check in report.checks:
        by_stage.setdefault(check.stage, []).append(check)
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    findings = report.finding_list()
    order = [s for s in STAGES if s in by_stage] + sorted(s for s in by_stage if s not in STAGES)
    for stage in order:
        checks = sort_checks(by_stage[stage])
        counts = {
            "tests": len(checks),
            "failures": sum(c.status == "fail" for c in checks),
            "errors": sum(c.status == "error" for c in checks),
            "skipped": sum(c.status == "skip" for c in checks),
        }
        suite = ET.SubElement(root, "testsuite", {
            "name": f"{name}.{stage}", **{k: str(v) for k, v in counts.items()},
            "time": "0.000",
        })
        if stamp := _timestamp(run.get("started_at")):
            suite.set("timestamp", stamp)
        for check in checks:
            _testcase(suite, check)
        if own := [f for f in findings if f.stage == stage]:
            ET.SubElement(suite, "system-out").text = "Findings:\n" + _findings_text(own)
        for k, v in counts.items():
            totals[k] += v
    root.attrib.update({k: str(v) for k, v in totals.items()})
    root.set("time", _seconds(run.get("duration_s")))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
