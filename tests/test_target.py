"""The decision rule (`target:`) on the encodings real data comes in: Adult-like '<=50K' / '>50K' labels,
COMPAS-like 1-10 decile scores without a prediction column and a favorable negative outcome, and the
regression wording. Every case is right (checked against scikit-learn / fairlearn on the same rows mapped
to 0/1) or a one-line error with its exit code; the fixtures are DuckDB SQL, nothing is downloaded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pytest
import yaml
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    selection_rate,
)
from sklearn import metrics as skm

from auditor import load_config
from auditor.audit.runner import run_audit
from auditor.errors import ConfigError, DataError
from auditor.render.filters import fmt_threshold, fmt_value
from tests.conftest import results, write_parquet

# Adult-like: income is '<=50K' / '>50K' text, a probability score, a 0/1 prediction beside it.
ADULT = """SELECT i AS id, 17 + (hash(i) % 60)::INTEGER AS age,
  ['Private', 'Self-emp', 'Gov'][1 + (hash(i * 3) % 3)::INTEGER] AS workclass,
  ['Male', 'Female'][1 + (hash(i * 5) % 2)::INTEGER] AS sex,
  ['White', 'Black', 'Asian-Pac-Islander', 'Other'][1 + (hash(i * 7) % 4)::INTEGER] AS race,
  (hash(i * 11) % 1000) / 1000.0 AS score,
  ((hash(i * 11) % 1000) >= 500)::INTEGER AS prediction,
  CASE WHEN (hash(i * 13) % 1000) < 700 * (hash(i * 11) % 1000) / 1000.0 + 60 THEN '>50K{dot}' ELSE '<=50K{dot}' END
    AS income
FROM range({n}) t(i)"""
# COMPAS-like: a 1-10 decile score and no prediction column; higher scores for one group.
COMPAS = """SELECT id, race, age, decile_score, ((hash(id * 31) % 100) < decile_score * 8)::INTEGER AS two_year_recid
FROM (SELECT i AS id, race, 18 + (hash(i * 7) % 50)::INTEGER AS age,
        least(10, 1 + (hash(i * 13) % 10)::INTEGER + CASE WHEN race = 'African-American' THEN 2 ELSE 0 END) AS decile_score
      FROM (SELECT i, ['African-American', 'Caucasian', 'Hispanic', 'Other'][1 + (hash(i) % 4)::INTEGER] AS race
            FROM range({n}) t(i)))"""


def project(tmp_path: Path, current: str, *, reference: str | None = None, columns: dict, **config) -> Path:
    write_parquet(tmp_path / "current.parquet", current)
    datasets = {"current": {"path": "current.parquet"}}
    if reference is not None:
        write_parquet(tmp_path / "reference.parquet", reference)
        datasets["reference"] = {"path": "reference.parquet"}
    path = tmp_path / "audit.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "datasets": datasets, "columns": columns,
                                    "outputs": {"dir": "out", "formats": ["json"]}, **config}))
    return path


def frame(tmp_path: Path, name: str = "current.parquet"):
    """The oracle's copy of the rows (a test may hold a small table in pandas; the auditor never does)."""
    return duckdb.sql(f"SELECT * FROM '{tmp_path / name}' ORDER BY id").df()


def cli(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auditor", "run", str(path)], capture_output=True, text=True)


ADULT_COLUMNS = {"id": "id", "label": "income", "score": "score", "prediction": "prediction",
                 "sensitive": ["sex", "race"]}


def test_text_labels_without_positive_label_exit_2_naming_the_column_and_its_values(tmp_path):
    path = project(tmp_path, ADULT.format(n=2000, dot=""), columns=ADULT_COLUMNS)
    done = cli(path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("auditor: error: columns.label 'income' holds '")
    assert "'<=50K'" in done.stderr and "'>50K'" in done.stderr
    assert "not 1/0, true/false, yes/no, y/n, positive/negative or pos/neg: set target.positive_label" in done.stderr
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_text_labels_with_positive_label_match_scikit_learn_and_fairlearn(tmp_path):
    path = project(tmp_path, ADULT.format(n=3000, dot=""), columns=ADULT_COLUMNS,
                   target={"positive_label": ">50K"})
    report = run_audit(load_config(path), stages=["scoping", "modeling"])
    df = frame(tmp_path)
    y, pred, score = (df["income"] == ">50K").astype(int), df["prediction"], df["score"]
    got = results(report, "modeling.performance")["all metrics"].metrics
    expected = {"accuracy": skm.accuracy_score(y, pred), "precision": skm.precision_score(y, pred),
                "recall": skm.recall_score(y, pred), "f1": skm.f1_score(y, pred), "roc_auc": skm.roc_auc_score(y, score),
                "average_precision": skm.average_precision_score(y, score), "log_loss": skm.log_loss(y, score),
                "brier_score": skm.brier_score_loss(y, score)}
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-9), name
    assert got["rows"] == 3000
    parity = results(report, "modeling.demographic_parity")["race"]
    assert parity.value == pytest.approx(demographic_parity_difference(y, pred, sensitive_features=df["race"]),
                                         abs=1e-12)
    odds = results(report, "modeling.equalized_odds")["sex"]
    assert odds.value == pytest.approx(equalized_odds_difference(y, pred, sensitive_features=df["sex"]), abs=1e-12)
    # A label column that has values is never "label-free": every check that needs labels graded.
    assert all(r.status != "skip" for r in report.checks if r.id in ("modeling.equal_opportunity",
                                                                      "modeling.calibration"))
    coverage = results(report, "scoping.data_availability")["label coverage"]
    assert coverage.value == 1.0


def test_a_prediction_holding_label_values_reads_by_positive_label(tmp_path):
    labelled = ADULT.format(n=1500, dot="").replace(
        "((hash(i * 11) % 1000) >= 500)::INTEGER AS prediction",
        "CASE WHEN (hash(i * 11) % 1000) >= 500 THEN '>50K' ELSE '<=50K' END AS prediction")
    path = project(tmp_path, labelled, columns=ADULT_COLUMNS, target={"positive_label": ">50K"})
    got = results(run_audit(load_config(path), stages=["modeling"]), "modeling.performance")["all metrics"].metrics
    df = frame(tmp_path)
    y, pred = df["income"] == ">50K", df["prediction"] == ">50K"
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), abs=1e-12)
    assert got["recall"] == pytest.approx(skm.recall_score(y, pred), abs=1e-12)


def test_a_positive_label_that_matches_no_value_exits_3(tmp_path):
    # Adult's test file writes '>50K.' with a dot: the reference's '>50K' rule would read every row as negative.
    path = project(tmp_path, ADULT.format(n=500, dot="."), reference=ADULT.format(n=500, dot=""),
                   columns=ADULT_COLUMNS, target={"positive_label": ">50K"})
    with pytest.raises(DataError, match=r"target.positive_label '>50K' matches no value of columns.label 'income' "
                                        r"in dataset 'current' \(it holds '.*50K\.' and '.*50K\.'\)"):
        run_audit(load_config(path), stages=["modeling"])
    path = project(tmp_path, ADULT.format(n=500, dot=""), columns=ADULT_COLUMNS, target={"positive_label": "yes"})
    done = cli(path)
    assert done.returncode == 3 and "target.positive_label 'yes' matches no value of columns.label 'income'" in done.stderr


def test_a_prediction_that_is_no_class_exits_2(tmp_path):
    scored = ADULT.format(n=500, dot="").replace("((hash(i * 11) % 1000) >= 500)::INTEGER AS prediction",
                                                 "(hash(i * 11) % 1000) / 1000.0 AS prediction")
    path = project(tmp_path, scored, columns=ADULT_COLUMNS, target={"positive_label": ">50K"})
    with pytest.raises(ConfigError, match=r"columns.prediction 'prediction' holds .* and \d+ more: not 1/0.* nor the "
                                          r"label's values; a score belongs in columns.score"):
        run_audit(load_config(path), stages=["modeling"])


COMPAS_COLUMNS = {"id": "id", "label": "two_year_recid", "score": "decile_score", "sensitive": ["race"]}


@pytest.mark.parametrize(("score", "shown"), [("decile_score", "1 to 10"), ("decile_score * 10", "10 to 100")])
def test_a_score_that_is_no_probability_without_a_threshold_exits_2(tmp_path, score, shown):
    data = COMPAS.format(n=1000).replace("SELECT id, race, age, decile_score,", f"SELECT id, race, age, {score} AS decile_score,")
    path = project(tmp_path, data, columns=COMPAS_COLUMNS)
    done = cli(path)
    assert done.returncode == 2
    assert done.stderr == (f"auditor: error: columns.score 'decile_score' ranges {shown}, not a probability: "
                           "set target.decision_threshold (or columns.prediction)\n")


def test_a_per_check_decision_threshold_exits_2_before_any_data_is_read(tmp_path):
    path = tmp_path / "audit.yaml"
    path.write_text(yaml.safe_dump({"datasets": {"current": {"path": "nowhere.parquet"}}, "columns": COMPAS_COLUMNS,
                                    "checks": {"modeling.performance": {"decision_threshold": 5}}}))
    done = cli(path)
    assert done.returncode == 2
    assert done.stderr == ("auditor: error: " + str(path) + ": checks.modeling.performance.decision_threshold: "
                           "moved to target.decision_threshold, one rule for every check\n")


def test_decile_scores_cut_at_the_threshold_with_a_favorable_negative_outcome(tmp_path):
    path = project(tmp_path, COMPAS.format(n=4000), columns=COMPAS_COLUMNS,
                   target={"decision_threshold": 5, "favorable_outcome": "negative"},
                   checks={"modeling.disparate_impact": {"outcome": "flagged as high risk"}})
    report = run_audit(load_config(path), stages=["modeling"])
    df = frame(tmp_path)
    y, pred, race = df["two_year_recid"], (df["decile_score"] >= 5).astype(int), df["race"]
    # Disparate impact on the favorable outcome (not flagged): min / max of 1 - selection rate over groups.
    favorable = MetricFrame(metrics=selection_rate, y_true=y, y_pred=1 - pred, sensitive_features=race).by_group
    impact = results(report, "modeling.disparate_impact")["race"]
    assert impact.value == pytest.approx(favorable.min() / favorable.max(), abs=1e-12)
    assert impact.metrics["min_group"] == favorable.idxmin() == "African-American"
    assert impact.status == "fail" and impact.metrics["favorable_outcome"] == "negative"
    assert impact.message.startswith("African-American are not flagged as high risk at ")
    assert impact.message.endswith("under the four-fifths line (prediction = decile_score ≥ 5).")
    # fairlearn's own definitions, on the same cut.
    assert impact.metrics["demographic_parity_ratio"] == pytest.approx(
        demographic_parity_ratio(y, pred, sensitive_features=race), abs=1e-12)
    parity = results(report, "modeling.demographic_parity")["race"]
    assert parity.value == pytest.approx(demographic_parity_difference(y, pred, sensitive_features=race), abs=1e-12)
    odds = results(report, "modeling.equalized_odds")["race"]
    assert odds.value == pytest.approx(equalized_odds_difference(y, pred, sensitive_features=race), abs=1e-12)
    for check_id in ("modeling.demographic_parity", "modeling.equal_opportunity", "modeling.equalized_odds",
                     "modeling.slices"):
        for result in results(report, check_id).values():
            assert "(prediction = decile_score ≥ 5)" in result.message, result.message
    performance = results(report, "modeling.performance")["all metrics"]
    assert performance.metrics["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), abs=1e-12)
    assert performance.metrics["roc_auc"] == pytest.approx(skm.roc_auc_score(y, df["decile_score"]), abs=1e-12)
    assert performance.metrics["log_loss"] is None and performance.metrics["brier_score"] is None
    assert "Log loss and Brier score are left out: 'decile_score' ranges 1 to 10, not a probability." \
        in performance.message
    calibration = results(report, "modeling.calibration")[None]
    assert calibration.status == "skip" and "'decile_score' ranges 1 to 10, not a probability" in calibration.message


def test_a_favorable_positive_outcome_keeps_the_selection_rate(tmp_path):
    path = project(tmp_path, COMPAS.format(n=2000), columns=COMPAS_COLUMNS, target={"decision_threshold": 5})
    report = run_audit(load_config(path), stages=["modeling"])
    df = frame(tmp_path)
    pred = (df["decile_score"] >= 5).astype(int)
    rates = MetricFrame(metrics=selection_rate, y_true=df["two_year_recid"], y_pred=pred,
                        sensitive_features=df["race"]).by_group
    impact = results(report, "modeling.disparate_impact")["race"]
    assert impact.value == pytest.approx(rates.min() / rates.max(), abs=1e-12)
    assert " are selected at " in impact.message


def write_regression(tmp_path: Path, reference_error: float, current_error: float) -> Path:
    """Labels 0..99 and predictions off by a constant error (sign alternating): RMSE and MAE equal the error."""
    rows = "SELECT i AS id, (i % 100)::DOUBLE AS y, (i % 100) + {e} * (CASE WHEN i % 2 = 0 THEN 1 ELSE -1 END) AS yhat, "\
           "['a', 'b'][1 + i % 2] AS grp FROM range(400) t(i)"
    return project(tmp_path, rows.format(e=current_error), reference=rows.format(e=reference_error),
                   columns={"id": "id", "label": "y", "prediction": "yhat"}, task="regression",
                   project={"name": "demand", "success_metrics": [{"metric": "rmse", "target": 120,
                                                                    "direction": "below"}]})


def test_a_rise_in_an_error_is_graded_on_the_rule_that_fired_and_said_so(tmp_path):
    report = run_audit(load_config(write_regression(tmp_path, 80.79, 84.94)), stages=["modeling"])
    rmse = results(report, "modeling.performance")["rmse"]
    change = 84.94 / 80.79 - 1
    assert rmse.status == "fail" and rmse.value == pytest.approx(change, rel=1e-9) and rmse.unit == "percent"
    assert (rmse.threshold.warn, rmse.threshold.fail) == (0.02, 0.05)  # the drop rule decided, not the target's
    assert rmse.message == ("rmse rose 5.1% against the reference (80.79 then, 84.94 now), past the fail line of 5%; "
                            "it is meeting its target of 120.")
    # The value column and the message agree on units.
    assert fmt_value(rmse.value, "performance", rmse.unit) == "5.137%"
    assert fmt_threshold(rmse.threshold.to_dict(), "performance", rmse.unit) == "warn ≥ 2% · fail ≥ 5%"
    better = run_audit(load_config(write_regression(tmp_path, 84.94, 80.79)), stages=["modeling"])
    rmse = results(better, "modeling.performance")["rmse"]
    assert rmse.status == "pass" and rmse.unit is None and rmse.value == pytest.approx(80.79)
    assert rmse.message == "rmse is 80.79, meeting its target of 120; the reference had 84.94 (it dropped 4.9% since)."


def test_a_drop_in_accuracy_is_shown_in_points_beside_its_message(tmp_path):
    current = ADULT.format(n=2000, dot="").replace("((hash(i * 11) % 1000) >= 500)::INTEGER AS prediction",
                                                   "((hash(i * 17) % 1000) >= 500)::INTEGER AS prediction")
    path = project(tmp_path, current, reference=ADULT.format(n=2000, dot=""), columns=ADULT_COLUMNS,
                   target={"positive_label": ">50K"})
    accuracy = results(run_audit(load_config(path), stages=["modeling"]), "modeling.performance")["accuracy"]
    assert accuracy.status == "fail" and accuracy.unit == "points"
    points = round(accuracy.value * 100, 1)
    assert f"accuracy dropped {points:.1f} points against the reference" in accuracy.message
    assert fmt_value(accuracy.value, "performance", "points") == f"{accuracy.value * 100:.4g} pts"
    assert np.isclose(accuracy.value, accuracy.metrics["change"])
