"""Check options are declared once (a pydantic model per check) and validated before any data is read."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import yaml

from auditor.audit.configure import config_json_schema
from auditor.audit.options import option_rows
from auditor.checks import catalogue
from auditor.cli import main

# The datasets do not exist: a config error (exit 2) proves validation ran before any read (exit 3).
NO_DATA = {"version": 1, "datasets": {"current": {"path": "missing/current.parquet"},
                                      "reference": {"path": "missing/reference.parquet"}}}


def run(tmp_path, capsys, **extra) -> tuple[int, str]:
    config = {**NO_DATA, **extra}
    path = tmp_path / "audit.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    code = main(["run", str(path), "--out", str(tmp_path / "out")])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(("extra", "expected"), [
    ({"checks": {"data.null_rate": {"warn": "high"}}}, "checks.data.null_rate.warn: must be a number, got 'high'"),
    ({"checks": {"data.null_rate": {"warn": 0.5, "fail": 0.1}}},
     "checks.data.null_rate: warn (0.5) is above fail (0.1); higher values are worse here"),
    ({"checks": {"modeling.disparate_impact": {"warn": 0.7, "fail": 0.8}}},
     "checks.modeling.disparate_impact: warn (0.7) is below fail (0.8); lower values are worse here"),
    ({"checks": {"deployment.volume": {"warn_below": 0.1, "fail_below": 0.2}}},
     "warn_below (0.1) is below fail_below (0.2)"),
    ({"checks": {"data.volume": {"warn_ratio": [0.5, 2.0], "fail_ratio": [0.6, 5.0]}}},
     "fail_ratio [0.6, 5] must contain warn_ratio [0.5, 2]"),
    ({"checks": {"data.subgroup_null_rate": {"min_group_size": -1}}},
     "checks.data.subgroup_null_rate.min_group_size: must be greater than or equal to 1, got -1"),
    ({"checks": {"modeling.demographic_parity": {"min_group_size": 2.5}}},
     "checks.modeling.demographic_parity.min_group_size: must be a valid integer"),
    ({"project": {"deployment": {"latency_budget_ms": -5}}},
     "project.deployment.latency_budget_ms: must be greater than 0, got -5"),
    ({"checks": {"deployment.latency": {"budget_ms": 0}}}, "checks.deployment.latency.budget_ms: must be greater than 0"),
    ({"checks": {"data.null_rate": {"wran": 0.1}}}, "checks.data.null_rate.wran: unknown option (did you mean 'warn'?)"),
    ({"checks": {"data.null_rate": {"columns": {"income": {"fail": 0.01, "warn": 0.5}}}}},
     "columns.income: warn (0.5) is above fail (0.01)"),
    ({"checks": {"deployment.feature_drift": {"psi": {"warn": 0.3, "fail": 0.2}}}},
     "checks.deployment.feature_drift.psi: warn (0.3) is above fail (0.2)"),
    ({"checks": {"data.leakage": {"splits": "train-test"}}}, "checks.data.leakage.splits: must be 'train_test'"),
    ({"checks": {"data.nul_rate": {}}}, "checks.data.nul_rate: unknown check (did you mean 'data.null_rate'?)"),
])
def test_a_bad_option_exits_2_in_one_line_before_any_data_is_read(tmp_path, capsys, extra, expected):
    code, err = run(tmp_path, capsys, **extra)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert expected in err
    assert not (tmp_path / "out").exists()


def test_good_options_reach_the_data(tmp_path, capsys):
    """The same config with valid options gets as far as reading the (missing) data: exit 3."""
    code, err = run(tmp_path, capsys, checks={"data.null_rate": {"warn": 0.1, "fail": 0.3, "columns": {"x": {"warn": 0.2}}},
                                            "deployment.feature_drift": {"method": "psi", "psi": {"fail": 0.5}}})
    assert code == 3 and "no file matches" in err


def test_every_check_declares_its_options_with_descriptions():
    for spec in catalogue():
        for name, kind, _default, description in option_rows(spec.options):
            assert description, f"{spec.id}.{name} has no description"
            assert kind, f"{spec.id}.{name} has no type"
        # The defaults themselves are valid: the model accepts an empty block.
        spec.options.model_validate({})


def test_the_json_schema_has_every_checks_options():
    schema = config_json_schema()
    checks = schema["properties"]["checks"]
    assert checks["additionalProperties"] is False
    assert set(checks["properties"]) == {spec.id for spec in catalogue()}
    null_rate = checks["properties"]["data.null_rate"]
    assert null_rate["properties"]["warn"]["default"] == 0.05
    assert null_rate["additionalProperties"] is False
    assert "maximum" in json.dumps(null_rate["properties"]["warn"])
    json.dumps(schema)  # plain JSON


def test_config_schema_command_prints_it(capsys):
    assert main(["config-schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert "deployment.feature_drift" in printed["properties"]["checks"]["properties"]


def test_checks_options_lists_types_defaults_and_descriptions(capsys):
    assert main(["checks", "--options"]) == 0
    out = capsys.readouterr().out
    assert "data.null_rate" in out
    assert re.search(r"\n    warn +number ≥ 0 ≤ 1 or null \(default 0.05\): null rate that warns\n", out)
    assert re.search(r"\n    export_failures +boolean \(default false\): write the failing rows", out)
    assert "budget_ms" in out and "(default none)" in out


def test_python_dash_m_auditor_is_the_command():
    ran = subprocess.run([sys.executable, "-m", "auditor", "--version"], capture_output=True, text=True, check=True)
    assert ran.stdout.startswith("auditor ") and ran.stderr == ""


def test_a_closed_pipe_exits_quietly():
    """`auditor checks | head -1`: the reader closes the pipe early; no traceback, no error line."""
    shell = f"{sys.executable} -m auditor checks --options | head -1"
    ran = subprocess.run(["bash", "-c", f"set -o pipefail; {shell}"], capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr
    assert ran.stderr == "" and len(ran.stdout.splitlines()) == 1
