"""The example project's planted data problems are caught by the data stage (small --rows)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from auditor import load_config
from auditor.audit.runner import run_audit
from tests.conftest import results

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "credit_scoring"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("example")
    subprocess.run([sys.executable, str(EXAMPLE / "generate.py"), "--rows", "4000", "--log-rows", "1000",
                    "--out", str(folder / "data")], check=True, capture_output=True)
    config = yaml.safe_load((EXAMPLE / "audit.yaml").read_text())
    config["schema"] = str(EXAMPLE / "schema.yaml")
    config["outputs"] = {"dir": str(folder / "out"), "formats": ["json"]}
    (folder / "audit.yaml").write_text(yaml.safe_dump(config))
    return run_audit(load_config(folder / "audit.yaml"), stages=["data"])


def test_schema_catches_out_of_range_ages(report):
    age = results(report, "data.schema")["age: in_range(18, 100)"]
    assert age.status == "fail"
    assert {row[0] for row in age.evidence["tables"][0]["rows"]} == {-1, 150}
    assert "of 'age' fail in_range(18, 100) in current" in age.message


def test_schema_catches_duplicate_ids(report):
    found = results(report, "data.schema")
    ids = found["id: field_uniqueness"]
    assert ids.status == "fail" and ids.value > 0
    assert all(row[1] >= 2 for row in ids.evidence["tables"][0]["rows"])
    assert found["reference: (all checks)"].message.startswith("All ")


def test_subgroup_null_rate_names_region_east_for_debt_ratio(report):
    result = results(report, "data.subgroup_null_rate")["debt_ratio by region"]
    assert result.status == "fail"
    assert result.metrics["group"] == "region=east"
    assert result.message.startswith("debt_ratio is ") and "null for region=east vs " in result.message
