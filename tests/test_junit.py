"""JUnit XML: one test case per check result, counts consistent, the common schema's structure."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from auditor.cli import main
from auditor.render.junit import render_junit
from auditor.report import AuditReport, CheckResult, Threshold

FIXTURE = Path(__file__).parent / "fixtures" / "report_small.json"

# What the common JUnit schema (jenkins-junit.xsd, read by GitLab and GitHub widgets) allows.
SUITES_ATTRS = {"name", "time", "tests", "failures", "errors", "skipped", "disabled"}
SUITE_ATTRS = {"name", "tests", "failures", "errors", "skipped", "time", "timestamp", "hostname", "id",
               "package", "disabled", "file", "log", "url", "version", "group"}
CASE_ATTRS = {"name", "classname", "time", "assertions", "status", "file", "line", "group"}
CASE_CHILDREN = {"skipped", "error", "failure", "system-out", "system-err", "properties"}


def load() -> AuditReport:
    return AuditReport.from_dict(json.loads(FIXTURE.read_text()))


def check_structure(root: ET.Element) -> None:
    assert root.tag == "testsuites"
    assert set(root.attrib) <= SUITES_ATTRS
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for suite in root:
        assert suite.tag == "testsuite"
        assert set(suite.attrib) <= SUITE_ATTRS
        cases = [c for c in suite if c.tag != "system-out"]  # the suite's system-out lists its findings
        assert all(c.tag == "testcase" for c in cases)
        counted = {
            "tests": len(cases),
            "failures": sum(c.find("failure") is not None for c in cases),
            "errors": sum(c.find("error") is not None for c in cases),
            "skipped": sum(c.find("skipped") is not None for c in cases),
        }
        for key, n in counted.items():
            assert int(suite.get(key)) == n, (suite.get("name"), key)
            totals[key] += n
        for case in cases:
            assert set(case.attrib) <= CASE_ATTRS
            assert case.get("name") and case.get("classname")
            assert {child.tag for child in case} <= CASE_CHILDREN
            assert sum(child.tag in ("failure", "error", "skipped") for child in case) <= 1
        float(suite.get("time"))
        if suite.get("timestamp"):
            assert len(suite.get("timestamp")) == 19 and suite.get("timestamp")[10] == "T"
    for key, n in totals.items():
        assert int(root.get(key)) == n


def test_one_case_per_result_with_counts_matching_the_report() -> None:
    report = load()
    root = ET.fromstring(render_junit(report))
    check_structure(root)
    assert int(root.get("tests")) == len(report.checks)
    counts = report.counts
    assert int(root.get("failures")) == counts["fail"]
    assert int(root.get("errors")) == counts["error"]
    assert int(root.get("skipped")) == counts["skip"]
    assert root.get("time") == "12.500"
    assert [s.get("timestamp") for s in root][0] == "2024-05-01T06:00:00"
    # classname = the check id (its stage is already its first part); name = subject (or the id when there is none)
    cases = {(c.get("classname"), c.get("name")) for c in root.iter("testcase")}
    expected = {(c.id, c.subject if c.subject is not None else c.id) for c in report.checks}
    assert cases == expected


def test_failures_errors_skips_and_warnings_carry_their_messages() -> None:
    checks = [
        CheckResult(id="data.null_rate", stage="data", title="Null rate", status="fail", subject="income",
                    message='31% of "income" is null & <rising>', value=0.31, threshold=Threshold(0.05, 0.2)),
        CheckResult(id="data.schema", stage="data", title="Schema", status="error", message="boom: KeyError"),
        CheckResult(id="modeling.calibration", stage="modeling", title="Calibration", status="skip",
                    message="needs a score column"),
        CheckResult(id="deployment.latency", stage="deployment", title="Latency", status="warn", subject="p95",
                    message="p95 latency is 170 ms, 85% of the budget.", value=170.0,
                    threshold=Threshold(160.0, 200.0)),
        CheckResult(id="data.duplicates", stage="data", title="Duplicates", status="pass", message="no duplicates"),
    ]
    report = AuditReport(tool={"name": "auditor", "version": "0"}, run={"id": "r"}, project={"name": "p&q"},
                         datasets=[], checks=checks)
    text = render_junit(report)
    root = ET.fromstring(text)  # escaping: quotes, ampersands and angle brackets parse back
    check_structure(root)
    case = {c.get("classname") + "/" + c.get("name"): c for c in root.iter("testcase")}
    failure = case["data.null_rate/income"].find("failure")
    assert failure.get("message") == '31% of "income" is null & <rising>'
    assert "value: 31%" in failure.text and "threshold:" in failure.text
    assert case["data.schema/data.schema"].find("error").get("message") == "boom: KeyError"
    assert case["modeling.calibration/modeling.calibration"].find("skipped").get("message") == (
        "needs a score column")
    warn = case["deployment.latency/p95"]
    assert warn.find("failure") is None and warn.find("error") is None  # a warning passes in CI
    assert warn.find("system-out").text.startswith("WARNING: p95 latency is 170 ms")
    assert root.get("name") == "p&q"
    assert (int(root.get("tests")), int(root.get("failures")), int(root.get("errors")),
            int(root.get("skipped"))) == (5, 1, 1, 1)


def test_render_command_writes_junit_xml(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_text(FIXTURE.read_text())
    assert main(["render", str(report), "--format", "junit"]) == 0
    check_structure(ET.parse(tmp_path / "junit.xml").getroot())
