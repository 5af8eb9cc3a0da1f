"""The demo's findings: its 30 failing and warning results become 10 findings covering the planted problems."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from auditor import load_config
from auditor.audit.runner import run_audit

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "credit_scoring"


@pytest.mark.example
def test_the_demo_opens_with_ten_findings(tmp_path):
    subprocess.run([sys.executable, str(EXAMPLE / "generate.py"), "--out", str(tmp_path / "data")], check=True,
                   capture_output=True)
    config = yaml.safe_load((EXAMPLE / "audit.yaml").read_text())
    config["schema"] = str(EXAMPLE / "schema.yaml")
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(config))
    from datetime import UTC, datetime

    report = run_audit(load_config(tmp_path / "audit.yaml"), as_of=datetime(2026, 11, 27, tzinfo=UTC))
    attention = [(c.id, c.subject) for c in report.checks if c.status in ("fail", "warn", "error")]
    grouped = [key for f in report.findings for key in f.results]
    assert sorted(grouped, key=str) == sorted(attention, key=str)  # each exactly once
    assert len(attention) >= 28 and len(report.findings) == 10
    titles = [f.title for f in report.findings]
    for planted in ("Missing values in 'debt_ratio'", "Repeated values of 'id'", "'age' breaks the schema",
                    "Unequal treatment by 'sex' and 'region'", "Latency over time", "Prediction volume",
                    "Model versions: v2"):
        assert planted in titles
    drift = next(f for f in report.findings if f.title.startswith("Drift in"))
    assert {"income", "employment_type"} <= set(drift.columns)
    assert ("deployment.drift_over_time", "income") in drift.results
    assert ("deployment.performance_over_time", "roc_auc") in drift.results  # the same window, 2026-11-16
    assert [f.status for f in report.findings] == sorted((f.status for f in report.findings),
                                                          key=["error", "fail", "warn"].index)
