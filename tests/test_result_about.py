"""Every result says which dataset and columns it is about (findings and the dictionary group by them)."""

from __future__ import annotations

from auditor.report import AuditReport


def about(report: AuditReport, check_id: str, subject: str | None) -> tuple[str | None, tuple[str, ...]]:
    result = next(c for c in report.checks if c.id == check_id and c.subject == subject)
    return result.dataset, result.columns


def test_dataset_and_columns_are_read_off_the_subject(project, audit):
    report = audit(project(config={"checks": {"data.subgroup_null_rate": {"min_group_size": 1}}}))
    assert about(report, "data.null_rate", "age") == ("current", ("age",))
    assert about(report, "data.duplicates", "reference: id") == ("reference", ("id",))
    assert about(report, "modeling.demographic_parity", "sex") == ("current", ("sex",))
    # a metric is about the columns it was computed from (the check says so: the subject names none)
    assert about(report, "modeling.performance", "accuracy") == ("current", ("label", "prediction", "score"))
    assert about(report, "data.subgroup_null_rate", "region by sex") == ("current", ("region", "sex"))
    for result in report.checks:  # never a column that is not in the dataset named
        if result.columns:
            names = {c["name"] for d in report.datasets if d["name"] == result.dataset for c in d["columns"]}
            assert set(result.columns) <= names, (result.id, result.subject, result.columns)


def test_dataset_and_columns_round_trip_through_report_json(project, audit):
    report = audit(project())
    again = AuditReport.from_dict(report.to_dict())
    assert [(c.dataset, c.columns) for c in again.checks] == [(c.dataset, c.columns) for c in report.checks]
    assert all(isinstance(c["columns"], list) for c in report.to_dict()["checks"])
