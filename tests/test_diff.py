"""`auditor diff BASE HEAD`: what a change did to the audit, worst first, and the exit code CI gates on."""

from __future__ import annotations

import dataclasses
import json

import pytest

from auditor.cli import main
from auditor.diff import compare_reports, crossed
from auditor.render.diff import DIFF_MARKER, render_diff_markdown
from auditor.report import CheckResult, Threshold
from tests.conftest import BASE_SELECT

SHIFTED = BASE_SELECT.format(n=400).replace("1000.0 + (i * 37) % 500 AS income", "1600.0 + (i * 37) % 500 AS income")


@pytest.fixture
def two_runs(project, tmp_path):
    """The same project audited before and after a change that shifts income."""
    config = project()
    assert main(["run", str(config), "--out", str(tmp_path / "base"), "--stage", "deployment"]) in (0, 1)
    config = project(current=SHIFTED)
    assert main(["run", str(config), "--out", str(tmp_path / "head"), "--stage", "deployment"]) == 1
    return tmp_path / "base", tmp_path / "head"


def test_a_change_that_adds_drift_is_listed_first_and_exits_1(two_runs, capsys):
    base, head = two_runs
    assert main(["diff", str(base), str(head)]) == 1
    text = capsys.readouterr().out
    assert text.startswith(DIFF_MARKER + "\n")
    new_failures = text.split("### New failures", 1)[1].split("###", 1)[0]
    assert "`deployment.feature_drift` | income |" in new_failures and "pass → fail" in new_failures
    assert "crossed fail" in new_failures  # the value moved across the line
    assert len(text) < 60000


def test_json_lists_every_change_and_out_writes_a_file(two_runs, tmp_path, capsys):
    base, head = two_runs
    assert main(["diff", str(head / "report.json"), str(base), "--json", "--out", str(tmp_path / "d.json")]) == 0
    diff = json.loads((tmp_path / "d.json").read_text())
    assert capsys.readouterr().out == ""
    income = next(e for e in diff["changes"] if e["id"] == "deployment.feature_drift" and e["subject"] == "income")
    assert income["kind"] == "recovered" and income["base_status"] == "fail" and income["head_status"] == "pass"
    assert diff["adds_failure"] is False and diff["counts"]["recovered"] >= 1


def test_the_same_run_twice_has_no_change(two_runs, capsys):
    base, _ = two_runs
    assert main(["diff", str(base), str(base)]) == 0
    text = capsys.readouterr().out
    assert "no new failure or warning" in text and "Every result has the same status and value" in text


def test_bad_input_is_one_line_exit_2_or_3(tmp_path, capsys):
    assert main(["diff", str(tmp_path / "nope"), str(tmp_path / "nope")]) == 2
    (tmp_path / "bad.json").write_text("{not json")
    assert main(["diff", str(tmp_path / "bad.json"), str(tmp_path / "bad.json")]) == 3
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and all(e.startswith("auditor: error: ") for e in errors)


def result(subject: str, status: str, value: float, **kw) -> CheckResult:
    return CheckResult(id="data.null_rate", stage="data", title="Null rate", subject=subject, status=status,
                       value=value, threshold=Threshold(warn=0.05, fail=0.2), message=f"{subject} <b>{value}</b>", **kw)


def test_kinds_ranking_removed_results_and_escaping():
    from auditor.report import AuditReport

    report = AuditReport(tool={}, run={"id": "a"}, project={"name": "p"}, datasets=[], checks=[
        result("age", "pass", 0.01), result("<script>x</script>", "warn", 0.06), result("gone", "fail", 0.5),
        result("steady", "pass", 0.01)])
    head = dataclasses.replace(report, run={"id": "b"}, checks=[
        result("age", "fail", 0.3), result("<script>x</script>", "pass", 0.01), result("steady", "pass", 0.02),
        result("added", "warn", 0.1)])
    diff = compare_reports(report, head)
    assert [(e["subject"], e["kind"]) for e in diff["changes"]] == [
        ("age", "new_failure"), ("added", "new_warning"), ("gone", "removed"), ("steady", "changed"),
        ("<script>x</script>", "improved")]
    assert [c["line"] for c in diff["changes"][0]["crossed"]] == ["warn", "fail"]
    text = render_diff_markdown(diff)
    assert "<script>" not in text and "&lt;script&gt;" in text and "<b>" not in text


def test_crossed_lines_follow_the_direction():
    below = Threshold(warn=0.8, fail=0.7, direction="below")
    assert [(c["line"], c["way"]) for c in crossed(0.9, 0.65, below)] == [("warn", "worse"), ("fail", "worse")]
    assert [(c["line"], c["way"]) for c in crossed(0.75, 0.85, below)] == [("warn", "better")]
    assert crossed(0.1, 0.15, Threshold(warn=0.2, fail=0.3)) == [] and crossed(None, 1.0, below) == []


def test_a_huge_diff_is_trimmed_under_the_limit_and_says_so():
    from auditor.report import AuditReport

    many = [result(f"col_{i}", "pass", 0.01) for i in range(3000)]
    base = AuditReport(tool={}, run={"id": "a"}, project={}, datasets=[], checks=many)
    head = dataclasses.replace(base, checks=[result(f"col_{i}", "fail" if i < 1500 else "pass", 0.3 if i < 1500
                                                    else 0.02) for i in range(3000)])
    text = render_diff_markdown(compare_reports(base, head))
    assert len(text) <= 60000 and "more left out to fit a comment" in text
    assert "### New failures" in text
