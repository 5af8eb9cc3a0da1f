"""Findings: every failing, warning and error result in exactly one finding, grouped by shared cause."""

from __future__ import annotations

import pytest

from auditor.audit.findings import find, link_keys
from auditor.report import AuditReport, CheckResult, Finding


def r(check_id: str, subject: str | None = None, status: str = "fail", *, columns=(), dataset="current",
      metrics=None, charts=(), message=None) -> CheckResult:
    return CheckResult(id=check_id, stage=check_id.split(".")[0], title=check_id.split(".")[1].replace("_", " "),
                       status=status, message=message or f"{check_id} {subject}", subject=subject,
                       dataset=dataset, columns=tuple(columns), metrics=dict(metrics or {}),
                       evidence={"tables": [], "charts": list(charts), "sql": []})


def groups(findings: list[Finding]) -> list[set[tuple[str, str | None]]]:
    return [set(f.results) for f in findings]


# The demo's failing and warning results, as the checks report them (see examples/credit_scoring/README.md).
DEMO = [
    r("data.duplicates", "id", columns=["id"]),
    r("data.duplicates", "(whole rows)", "warn"),
    r("data.null_rate", "debt_ratio", columns=["debt_ratio"]),
    r("data.schema", "id: field_uniqueness", columns=["id"]),
    r("data.schema", "age: in_range(18, 100)", columns=["age"]),
    r("data.subgroup_null_rate", "debt_ratio by region", columns=["debt_ratio", "region"]),
    r("data.subgroup_null_rate", "debt_ratio by sex×region", columns=["debt_ratio", "sex", "region"]),
    r("modeling.calibration", columns=["label", "prediction", "score"], charts=[{"kind": "reliability"}]),
    *[r(f"modeling.{c}", s, columns=s.split("×")) for c in ("demographic_parity", "disparate_impact",
                                                              "equal_opportunity", "equalized_odds")
      for s in ("sex", "sex×region")],
    r("modeling.equalized_odds", "region", "warn", columns=["region"]),
    r("modeling.slices", "income", columns=["income"]),
    r("modeling.slices", "debt_ratio", columns=["debt_ratio"]),
    r("modeling.slices", "credit_history_months", "warn", columns=["credit_history_months"]),
    r("modeling.slices", "employment_type", "warn", columns=["employment_type"]),
    r("deployment.drift_over_time", "income", "warn", columns=["income"], dataset="predictions",
      metrics={"first_crossed_window": "2026-11-16"}),
    r("deployment.feature_drift", "income", columns=["income"], charts=[{"kind": "histogram"}]),
    r("deployment.feature_drift", "employment_type", columns=["employment_type"]),
    r("deployment.feature_drift", "(all features)", "warn", columns=["income", "employment_type"]),
    r("deployment.latency", dataset="predictions", columns=["latency_ms"],
      metrics={"first_over_budget_window": "2026-11-13"}),
    r("deployment.model_versions", "v2", "warn", dataset="predictions", columns=["model_version"],
      metrics={"first_seen_window": "2026-11-06"}),
    r("deployment.performance_over_time", "roc_auc", dataset="predictions",
      metrics={"first_warn_window": "2026-11-16", "first_fail_window": "2026-11-16"}),
    r("deployment.prediction_drift", "score", "warn", columns=["score"]),
    r("deployment.volume", dataset="predictions", metrics={"first_flagged_window": "2026-11-01"}),
]


def test_every_attention_result_is_in_exactly_one_finding():
    passing = [r("data.null_rate", "age", "pass", columns=["age"]), r("data.profile", "age", "skip")]
    findings = find(DEMO + passing)
    named = [key for f in findings for key in f.results]
    assert sorted(named, key=str) == sorted(((c.id, c.subject) for c in DEMO), key=str)
    assert len(named) == len(set(named))


def test_the_demo_becomes_ten_findings_one_per_problem():
    findings = find(DEMO)
    assert len(findings) == 10
    by_title = {f.title: set(f.results) for f in findings}
    assert by_title["Repeated values of 'id'"] == {("data.duplicates", "id"), ("data.duplicates", "(whole rows)"),
                                                  ("data.schema", "id: field_uniqueness")}
    assert by_title["Missing values in 'debt_ratio'"] == {
        ("data.null_rate", "debt_ratio"), ("data.subgroup_null_rate", "debt_ratio by region"),
        ("data.subgroup_null_rate", "debt_ratio by sex×region"), ("modeling.slices", "debt_ratio")}
    fairness = next(f for f in findings if f.title.startswith("Unequal treatment"))
    assert len(fairness.results) == 9 and fairness.status == "fail" and fairness.stage == "modeling"
    drift = next(f for f in findings if f.title.startswith("Drift in"))
    # income's drift, its drift over time, its slice, the summary, the score that follows and the
    # performance drop that started in the same window as the income drift over time
    assert ("deployment.performance_over_time", "roc_auc") in drift.results
    assert ("modeling.slices", "income") in drift.results and ("deployment.prediction_drift", "score") in drift.results
    assert drift.stage == "modeling"  # the earliest stage among its results
    alone = [f for f in findings if len(f.results) == 1]
    assert {f.results[0][0] for f in alone} == {"data.schema", "modeling.calibration", "modeling.slices",
                                                "deployment.latency", "deployment.volume", "deployment.model_versions"}


def test_ranked_by_severity_then_stage_then_size():
    findings = find(DEMO)
    keys = [({"error": 0, "fail": 1, "warn": 2}[f.status], ["scoping", "data", "modeling", "deployment"].index(f.stage))
            for f in findings]
    assert keys == sorted(keys)
    assert findings[0].title == "Missing values in 'debt_ratio'"  # the largest failing data finding
    assert [f.status for f in findings[-2:]] == ["warn", "warn"]


def test_a_grouping_column_does_not_link_a_null_rate_to_fairness():
    findings = find([r("data.subgroup_null_rate", "debt_ratio by region", columns=["debt_ratio", "region"]),
                     r("modeling.demographic_parity", "region", columns=["region"])])
    assert len(findings) == 2


def test_only_drift_and_model_quality_link_by_their_first_window():
    drift = r("deployment.drift_over_time", "income", columns=["income"], dataset="predictions",
              metrics={"first_crossed_window": "2026-11-13"})
    quality = r("deployment.performance_over_time", "accuracy", dataset="predictions",
                metrics={"first_warn_window": "2026-11-13"})
    later = r("deployment.performance_over_time", "roc_auc", dataset="predictions", metrics={"first_warn_window": "2026-11-20"})
    latency = r("deployment.latency", dataset="predictions", metrics={"first_over_budget_window": "2026-11-13"})
    versions = r("deployment.model_versions", "v3", "warn", dataset="predictions", metrics={"first_seen_window": "2026-11-13"})
    found = groups(find([drift, quality, later, latency, versions]))
    assert {(drift.id, "income"), (quality.id, "accuracy")} in found  # one incident
    assert {(latency.id, None)} in found and {(versions.id, "v3")} in found  # operations stand alone


def test_the_same_column_in_different_datasets_is_one_finding():
    findings = find([r("deployment.feature_drift", "age", columns=["age"]),
                     r("data.schema", "reference: age: in_range(18, 100)", columns=["age"], dataset="reference")])
    assert len(findings) == 1 and findings[0].stage == "data"
    assert findings[0].title == "'age' breaks the schema"  # the schema explains more than the drift


def test_an_error_is_a_finding_and_outranks_failures():
    findings = find([r("data.null_rate", "x", columns=["x"]),
                     r("modeling.calibration", None, "error", message="The check raised ValueError: boom.")])
    assert findings[0].status == "error" and findings[0].summary == "The check raised ValueError: boom."


def test_scoping_gaps_are_one_finding():
    findings = find([r("scoping.project_card", None, "warn", message="The project card lacks owner."),
                     r("scoping.data_availability", "sex", "warn", columns=["sex"])])
    assert len(findings) == 1 and findings[0].title.startswith("Scoping gaps")


def test_summary_is_one_sentence_naming_who_else_saw_it():
    finding = find([r("data.null_rate", "x", columns=["x"], message="'x' is 40% missing."),
                    r("modeling.slices", "x", "warn", columns=["x"])])[0]
    assert finding.summary == "'x' is 40% missing; 1 more result agrees (slices)."
    assert finding.summary.count(". ") == 0


def test_chart_points_at_the_lead_or_the_first_result_with_a_chart():
    finding = find([r("data.null_rate", "x", columns=["x"]),
                    r("modeling.slices", "x", "warn", columns=["x"], charts=[{"kind": "bars"}])])[0]
    assert finding.chart == {"id": "modeling.slices", "subject": "x", "index": 0}


def test_nothing_to_find_in_a_passing_run():
    assert find([r("data.null_rate", "x", "pass")]) == []


@pytest.mark.parametrize("result, key", [
    (r("data.subgroup_null_rate", "a by b", columns=["a", "b"]), ("column", "a")),
    (r("modeling.equalized_odds", "sex", columns=["sex"]), ("sensitive", "sex")),
    (r("deployment.prediction_drift", "score", columns=["score"]), ("drift", "current")),
])
def test_link_keys(result, key):
    assert key in link_keys(result)


def test_report_json_round_trips_findings_and_old_reports_fall_back_to_one_per_result():
    report = AuditReport(tool={}, run={}, project={}, datasets=[], checks=DEMO, findings=find(DEMO))
    data = report.to_dict()
    assert AuditReport.from_dict(data).to_dict() == data
    old = dict(data)
    del old["findings"]
    singles = AuditReport.from_dict(old).to_dict()["findings"]
    assert len(singles) == len(DEMO) and all(len(f["results"]) == 1 for f in singles)


def test_model_quality_seen_by_several_checks_is_named_for_the_model():
    findings = find([r("modeling.calibration", None, "fail", columns=["label", "score"]),
                     r("modeling.performance", "accuracy", "warn", columns=["label", "score"])])
    assert [f.title for f in findings] == ["Model quality: calibration, accuracy"]


def test_render_groups_an_old_report_json_that_has_no_findings(tmp_path):
    import json

    from auditor.cli import main

    report = AuditReport(tool={"name": "auditor", "version": "0"}, run={"id": "r"}, project={"name": "old"},
                         datasets=[], checks=DEMO, findings=find(DEMO))
    data = report.to_dict()
    del data["findings"]  # as written before findings existed
    (tmp_path / "report.json").write_text(json.dumps(data))
    assert main(["render", str(tmp_path / "report.json"), "--format", "md"]) == 0
    assert "10 findings from 30 failing, warning or error results" in (tmp_path / "report.md").read_text()
