import json
import math

import pytest

from auditor.report import AuditReport, CheckResult, Threshold, grade, table, worst


@pytest.mark.parametrize(
    ("value", "threshold", "expected"),
    [
        (0.01, Threshold(0.05, 0.2), "pass"),
        (0.05, Threshold(0.05, 0.2), "warn"),  # reaching the line counts
        (0.2, Threshold(0.05, 0.2), "fail"),
        (0.85, Threshold(0.9, 0.8, "below"), "warn"),
        (0.8, Threshold(0.9, 0.8, "below"), "warn"),  # under the line, not at it
        (0.79, Threshold(0.9, 0.8, "below"), "fail"),
        (5, Threshold(None, 1), "fail"),
        (0, Threshold(None, 1), "pass"),
        (None, Threshold(0.1, 0.2), "skip"),
        (math.nan, Threshold(0.1, 0.2), "skip"),
        (3.0, None, "pass"),
    ],
)
def test_grade(value, threshold, expected):
    assert grade(value, threshold) == expected


def test_worst_treats_error_as_worst_and_ignores_skips():
    assert worst(["pass", "warn", "skip"]) == "warn"
    assert worst(["fail", "error", "pass"]) == "error"
    assert worst(["skip"]) == "pass"


def test_report_round_trips_exactly_and_is_json_native():
    result = CheckResult(
        id="data.null_rate", stage="data", title="Null rate", status="fail", message="x",
        subject='a"b', value=0.25, threshold=Threshold(0.05, 0.2),
        metrics={"null_rate_current": 0.25, "undefined": math.nan, "inf": math.inf},
        evidence={"tables": [table("t", ["k", "v"], [["<script>", 1.5]])], "charts": [], "sql": ["SELECT 1"]},
    )
    report = AuditReport(tool={"name": "auditor", "version": "0"}, run={"id": "r"}, project={"name": "p"},
                         datasets=[], checks=[result, CheckResult("scoping.project_card", "scoping", "Card", "skip", "y")])
    data = report.to_dict()
    text = json.dumps(data, allow_nan=False)  # NaN/inf became null
    assert data["checks"][0]["metrics"]["undefined"] is None
    again = AuditReport.from_dict(json.loads(text))
    assert again.to_dict() == data
    assert data["status"] == "fail"
    assert data["counts"] == {"pass": 0, "warn": 0, "fail": 1, "error": 0, "skip": 1}


def test_unknown_schema_version_is_refused():
    with pytest.raises(ValueError, match="schema_version"):
        AuditReport.from_dict({"schema_version": 99, "checks": []})
