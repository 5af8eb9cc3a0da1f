"""Pass, warn and fail cases of the drift checks from literal rows; options; the example project."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from auditor.cli import main
from auditor.report import AuditReport
from tests.conftest import BASE_SELECT, results

ROOT = Path(__file__).resolve().parents[1]
N = 1000
DEPLOYMENT = ["deployment"]

# income is uniform on 1000..1499 (std ~144): +20 moves it ~0.14 std (warn), +40 ~0.28 (fail); PSI stays low.
INCOME = "1000.0 + (i * 37) % 500 AS income"
REGION = "CASE WHEN i % 50 = 0 THEN NULL ELSE ['north', 'south', 'east', 'west'][1 + i % 4] END AS region"


def shifted(by: float) -> str:
    return BASE_SELECT.replace(INCOME, f"{1000.0 + by} + (i * 37) % 500 AS income").format(n=N)


def regions(expr: str) -> str:
    return BASE_SELECT.replace(REGION, f"{expr} AS region").format(n=N)


def feature(report: AuditReport, subject: str):
    return results(report, "deployment.feature_drift")[subject]


@pytest.mark.parametrize(("by", "expected"), [(0.0, "pass"), (20.0, "warn"), (40.0, "fail")])
def test_numeric_feature_graded_on_normalised_wasserstein(project, audit, by, expected):
    report = audit(project(current=shifted(by), n=N), stages=DEPLOYMENT)
    income = feature(report, "income")
    assert income.status == expected
    m = income.metrics
    assert m["kind"] == "numeric" and m["methods"] == "wasserstein, psi"
    assert m["psi"] < 0.25  # PSI alone would fail none of these
    if by:
        assert m["method"] == "wasserstein" and income.value == m["wasserstein_norm"]
        assert m["wasserstein"] == pytest.approx(by, rel=0.02)
    for key in ("ks_statistic", "ks_pvalue", "wasserstein", "null_rate_reference", "null_rate_current",
                "rows_reference", "rows_current", "js_distance"):
        assert key in m
    assert feature(report, "age").status == "pass"
    chart = income.evidence["charts"][0]
    assert chart["kind"] == "histogram" and chart["edges"][0] is None and chart["edges"][-1] is None
    assert len(chart["series"]["reference"]) == len(chart["edges"]) - 1
    assert sum(chart["series"]["current"]) == pytest.approx(1.0)
    # A statement several columns share is shown with the first of them; the others point to it.
    shown = [s for r in results(report, "deployment.feature_drift").values() for s in r.evidence["sql"]]
    assert any("count(*) AS n, min(v) AS lo" in s for s in shown)  # the reference deciles (auditor.engine.quantiles)
    assert any("lead(v)" in s for s in shown)  # the ECDFs
    assert all(s.startswith("-- the statement shown with") or s in shown for s in income.evidence["sql"])
    assert income.evidence["tables"][0]["columns"][-1] == "psi_contribution"


@pytest.mark.parametrize(("expr", "expected"), [
    ("['north', 'south', 'east', 'west'][1 + i % 4]", "pass"),
    # north 25% -> 40%: PSI ~0.13 (warn), JS ~0.09
    ("CASE WHEN i % 20 < 8 THEN 'north' ELSE ['south', 'east', 'west'][1 + i % 3] END", "warn"),
    # a new region takes 30%: the reference never saw it
    ("CASE WHEN i % 10 < 3 THEN 'island' ELSE ['north', 'south', 'east', 'west'][1 + i % 4] END", "fail"),
])
def test_categorical_feature_graded_on_psi_and_js(project, audit, expr, expected):
    report = audit(project(current=regions(expr), n=N), stages=DEPLOYMENT)
    region = feature(report, "region")
    assert region.status == expected, region.message
    m = region.metrics
    assert m["kind"] == "categorical" and {"chi2_statistic", "chi2_pvalue", "chi2_dof"} <= set(m)
    assert region.evidence["charts"][0]["kind"] == "bars"
    if expected == "fail":
        assert (m["new_categories"], m["new_category_names"]) == (1, "island")
        assert "island" in region.message
        assert region.evidence["tables"][0]["rows"][0][0] == "island"  # the biggest PSI contribution first
    if expected == "pass":
        # The 2% nulls are counted per side and left out.
        assert m["null_rate_reference"] == pytest.approx(0.02) and m["null_rate_current"] == 0.0


def test_summary_reports_the_share_of_drifted_features(project, audit):
    report = audit(project(current=shifted(40.0), n=N), stages=DEPLOYMENT)
    summary = feature(report, "(all features)")
    assert summary.metrics["features_graded"] == 4  # age, income, region, sex (id and roles left out)
    assert summary.value == 0.25 and summary.status == "warn"
    assert summary.metrics["drifted_features"] == "income"
    calm = feature(audit(project(n=N), stages=DEPLOYMENT), "(all features)")
    assert (calm.value, calm.status) == (0.0, "pass")


def test_method_and_lines_per_column(project, audit):
    config = {"checks": {"deployment.feature_drift": {
        "columns": {"income": {"method": ["psi"]}, "age": {"wasserstein": {"warn": 0.0, "fail": 0.5}}}}}}
    report = audit(project(current=shifted(40.0), n=N, config=config), stages=DEPLOYMENT)
    income = feature(report, "income")
    assert income.status == "warn" and income.metrics["method"] == "psi" and income.metrics["methods"] == "psi"
    assert income.value == income.metrics["psi"]  # PSI 0.18: warn, where Wasserstein would fail
    age = feature(report, "age")
    assert age.status == "warn" and age.threshold.warn == 0.0 and age.threshold.fail == 0.5


def test_check_level_warn_and_fail_apply_to_every_method(project, audit):
    config = {"checks": {"deployment.feature_drift": {"warn": 0.00001, "fail": 0.9}}}
    report = audit(project(current=shifted(20.0), n=N, config=config), stages=DEPLOYMENT)
    income = feature(report, "income")
    assert income.status == "warn" and income.threshold.fail == 0.9


@pytest.mark.parametrize(("options", "message"), [
    ({"method": ["ks"]}, "method[0]: must be 'psi', 'js' or 'wasserstein', got 'ks'"),
    ({"columns": {"region": {"method": "wasserstein"}}}, "cannot grade the categorical column 'region'"),
    ({"columns": {"incme": {"method": "psi"}}}, "did you mean 'income'"),
    ({"columns": {"income": {"metod": "psi"}}}, "did you mean 'method'"),
    ({"psi": {"warn": "high"}}, "must be a number"),
])
def test_bad_options_are_config_errors(project, capsys, options, message):
    path = project(n=N, config={"checks": {"deployment.feature_drift": options}})
    assert main(["run", str(path), "--stage", "deployment"]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(("shift", "expected"), [(0.0, "pass"), (0.04, "warn"), (0.1, "fail")])
def test_prediction_drift_on_score_and_class(project, audit, shift, expected):
    score = "((i * 13) % 100) / 100.0"
    current = BASE_SELECT.replace(f"{score} AS score", f"least({score} + {shift}, 0.999) AS score").format(n=N)
    report = audit(project(current=current, n=N), stages=DEPLOYMENT)
    drift = results(report, "deployment.prediction_drift")
    assert set(drift) == {"score", "prediction"}
    assert drift["score"].status == expected
    assert drift["score"].metrics["kind"] == "numeric" and drift["prediction"].metrics["kind"] == "categorical"
    assert drift["prediction"].status == "pass"  # the class column is unchanged in this data


@pytest.mark.parametrize(("label", "expected"), [
    ("(i % 3 > 0)::INTEGER", "pass"),
    ("(i % 10 > 1)::INTEGER", "warn"),  # 67% -> 80% repaid: JS ~0.11
    ("(i % 20 > 0)::INTEGER", "fail"),  # -> 95%: JS ~0.28, PSI ~0.4
])
def test_label_drift(project, audit, label, expected):
    current = BASE_SELECT.replace("(i % 3 > 0)::INTEGER AS label", f"{label} AS label").format(n=N)
    report = audit(project(current=current, n=N), stages=DEPLOYMENT)
    result = results(report, "deployment.label_drift")["label"]
    assert result.status == expected, result.message


def test_label_drift_skips_without_current_labels(project, audit):
    current = BASE_SELECT.replace("(i % 3 > 0)::INTEGER AS label", "NULL::INTEGER AS label").format(n=N)
    result = results(audit(project(current=current, n=N), stages=DEPLOYMENT), "deployment.label_drift")["label"]
    assert result.status == "skip" and "current data has no labels" in result.message


def test_all_null_and_constant_features(project, audit):
    reference = BASE_SELECT.replace(INCOME, "7.0 AS income").format(n=N)
    current = BASE_SELECT.replace(INCOME, "NULL::DOUBLE AS income").replace("20 + (i * 7) % 50 AS age", "33 AS age")
    report = audit(project(reference=reference, current=current.format(n=N), n=N), stages=DEPLOYMENT)
    income = feature(report, "income")
    assert income.status == "skip" and "every current value is missing" in income.message
    assert income.metrics["null_rate_current"] == 1.0 and income.metrics["psi"] is None
    age = feature(report, "age")  # a varied reference, a constant current: PSI and Wasserstein both see it
    assert age.status == "fail"
    json.dumps(AuditReport.from_dict(report.to_dict()).to_dict())  # JSON-native, round-trips


def test_missing_reference_column_is_a_skip(project, audit):
    reference = BASE_SELECT.replace(f"{INCOME},", "").format(n=N)
    income = feature(audit(project(reference=reference, n=N), stages=DEPLOYMENT), "income")
    assert income.status == "skip" and "not in the reference data" in income.message


@pytest.mark.example
def test_example_project_drifts(tmp_path):
    """The planted income and employment_type drifts fail; undrifted features pass (20,000 rows a side)."""
    subprocess.run([sys.executable, str(ROOT / "examples/credit_scoring/generate.py"), "--rows", "20000",
                    "--log-rows", "1000", "--out", str(tmp_path / "data")], check=True, capture_output=True)
    config = yaml.safe_load((ROOT / "examples/credit_scoring/audit.yaml").read_text())
    config.pop("schema", None)
    config["checks"] = {}
    config["outputs"] = {"dir": "out", "formats": ["json"]}
    path = tmp_path / "audit.yaml"
    path.write_text(yaml.safe_dump(config))
    from auditor import load_config
    from auditor.audit.runner import run_audit
    report = run_audit(load_config(path), stages=DEPLOYMENT)
    drift = results(report, "deployment.feature_drift")
    assert drift["income"].status == "fail" and drift["income"].metrics["method"] == "wasserstein"
    assert drift["income"].metrics["psi"] < 0.1  # PSI alone would have missed it
    assert drift["employment_type"].status == "fail"
    for name in ("age", "credit_history_months", "num_accounts", "region", "sex", "debt_ratio"):
        assert drift[name].status == "pass", drift[name].message
    assert drift["(all features)"].metrics["drifted_features"] == "income and employment_type"
    assert results(report, "deployment.label_drift")["label"].status == "pass"


def test_feature_drift_alone_scans_no_whole_summary(project, audit, tmp_path, monkeypatch):
    """With the categorical columns declared, a drift-only run never reads every column's summary (a full scan
    of each side): the categories' distinct counts come from one narrow statement, and max_categories still
    skips a column with too many."""
    from auditor.checks import catalogue

    log = tmp_path / "queries.json"
    monkeypatch.setenv("AUDITOR_QUERY_LOG", str(log))
    checks = {spec.id: {"enabled": False} for spec in catalogue() if spec.id != "deployment.feature_drift"}
    checks["deployment.feature_drift"] = {"max_categories": 3}
    config = {"checks": checks, "columns": {"id": "id", "label": "label", "score": "score",
                                            "prediction": "prediction", "sensitive": ["sex"],
                                            "categorical": ["region", "sex"]}}
    report = audit(project(current=shifted(40.0), n=N, config=config))
    queries = [q["sql"] for q in json.loads(log.read_text())["queries"]]
    assert not any('"id"' in sql or '"label"' in sql for sql in queries)  # columns only a summary would read
    distinct = [sql for sql in queries if "approx_count_distinct" in sql and "count(\"" not in sql]
    assert len(distinct) == 1 and '"reference"' in distinct[0] and '"current"' in distinct[0]  # both sides at once
    # Role inference counts the integer and text candidates (is one an undeclared id?) in one narrow statement.
    assert len([sql for sql in queries if "approx_count_distinct" in sql]) == 2
    found = results(report, "deployment.feature_drift")
    assert found["region"].status == "skip" and "max_categories" in found["region"].message
    assert found["sex"].status == "pass" and found["income"].status == "fail"


def noisy(n: int, salt: int, shift: float = 0.0) -> str:
    """BASE_SELECT with income drawn from one uniform distribution (hash-seeded by `salt`), plus `shift`."""
    return BASE_SELECT.replace(INCOME, f"{1000.0 + shift} + (hash(i * 7919 + {salt}) % 500)::DOUBLE AS income").format(n=n)


def test_small_samples_fail_only_where_their_test_tells_the_sides_apart(project, audit):
    """At 50 rows a side two draws of one distribution cross the distance lines by chance: a pass that says
    so, not a fail. A real shift at the same size still fails: its KS test is significant."""
    same = audit(project(reference=noisy(50, 1), current=noisy(50, 2), n=50), stages=DEPLOYMENT)
    income = feature(same, "income")
    m = income.metrics
    assert max(m["psi"] / 0.1, m["wasserstein_norm"] / 0.1) >= 1  # past a line: the old verdict was warn or fail
    assert m["ks_pvalue"] >= 0.05
    assert income.status == "pass" and m["within_chance"] is True
    assert "not drifted beyond chance" in income.message and "50 values on a side" in income.message
    moved = audit(project(reference=noisy(50, 1), current=noisy(50, 2, shift=300.0), n=50), stages=DEPLOYMENT)
    income = feature(moved, "income")
    assert income.status == "fail" and income.metrics["ks_pvalue"] < 0.05 and "within_chance" not in income.metrics
    # small_sample: 10 judges on distances alone again, as for large samples.
    strict = audit(project(reference=noisy(50, 1), current=noisy(50, 2), n=50,
                           config={"checks": {"deployment.feature_drift": {"small_sample": 10}}}), stages=DEPLOYMENT)
    assert feature(strict, "income").status in ("warn", "fail")
