"""The modeling checks end to end: pass, warn and fail cases from small literal data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.stats import binomtest
from sklearn.calibration import calibration_curve

from auditor.engine.sql import select_list
from auditor.errors import ConfigError
from auditor.metrics.paired import delong, delong_sql, mcnemar, mcnemar_aggregates
from auditor.metrics.performance import model_columns
from tests.modeling_helpers import naive_delong, run, view_of, write_project

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = {"label": "label", "prediction": "prediction", "score": "score", "sensitive": ["sex"]}


def block(sex: str, *, positives: int, negatives: int, tp: int, fp: int, region: str = "north") -> pd.DataFrame:
    """Rows of one group with exact confusion counts; scores follow the predictions."""
    label = [1] * positives + [0] * negatives
    pred = [1] * tp + [0] * (positives - tp) + [1] * fp + [0] * (negatives - fp)
    return pd.DataFrame({"sex": sex, "region": region, "label": label, "prediction": pred,
                         "score": [0.8 if p else 0.2 for p in pred]})


def only(results, check_id, subject=None):
    found = [r for r in results if r.id == check_id and (subject is None or r.subject == subject)]
    assert len(found) == 1, [(r.id, r.subject, r.status, r.message) for r in results if r.id == check_id]
    return found[0]


def audit(tmp_path, df, check_id, *, reference=None, checks=None, project=None, columns=None):
    path = write_project(tmp_path, df, reference=reference, columns=columns or COLUMNS,
                         checks=checks or {}, project=project or {"name": "t"})
    return [r for r in run(path) if r.id == check_id]


# --- performance --------------------------------------------------------------------------------

def test_performance_against_targets(tmp_path):
    df = block("female", positives=50, negatives=50, tp=40, fp=10)  # accuracy 0.8
    for target, status in ((0.7, "pass"), (0.78, "warn"), (0.85, "fail")):
        results = audit(tmp_path, df, "modeling.performance",
                        project={"success_metrics": [{"metric": "accuracy", "target": target}]})
        acc = only(results, "modeling.performance", "accuracy")
        assert acc.status == status, acc.message
        assert acc.value == pytest.approx(0.8)
    summary = only(results, "modeling.performance", "all metrics")
    assert summary.status == "pass" and summary.metrics["roc_auc"] == pytest.approx(0.8)


def test_performance_against_the_reference(tmp_path):
    reference = block("female", positives=50, negatives=50, tp=45, fp=5)  # accuracy 0.90
    for tp, status in ((45, "pass"), (44, "warn"), (41, "fail")):  # drops of 0, 0.01+0.01, 0.04+0.04
        current = block("female", positives=50, negatives=50, tp=tp, fp=50 - tp)
        acc = only(audit(tmp_path, current, "modeling.performance", reference=reference),
                   "modeling.performance", "accuracy")
        assert acc.status == status, acc.message
        assert acc.metrics["reference"] == pytest.approx(0.9)


def test_performance_skips_without_labels_and_rejects_unknown_metrics(tmp_path):
    df = block("female", positives=5, negatives=5, tp=3, fp=1).assign(label=None)
    results = audit(tmp_path, df, "modeling.performance")
    assert only(results, "modeling.performance").status == "skip"
    df = block("female", positives=5, negatives=5, tp=3, fp=1)
    with pytest.raises(ConfigError, match="did you mean 'roc_auc'"):
        audit(tmp_path, df, "modeling.performance", project={"success_metrics": [{"metric": "roc_acu", "target": 1}]})


# --- calibration -------------------------------------------------------------------------------

def test_calibration_table_matches_sklearn(tmp_path):
    rng = np.random.default_rng(0)
    score = np.round(rng.random(3000), 2)  # many scores exactly on bin edges
    label = (rng.random(3000) < score ** 1.5).astype(int)
    df = pd.DataFrame({"sex": "x", "label": label, "score": score, "prediction": (score >= 0.5).astype(int)})
    result = only(audit(tmp_path, df, "modeling.calibration"), "modeling.calibration")
    prob_true, prob_pred = calibration_curve(label, score, n_bins=10, strategy="uniform")
    chart = result.evidence["charts"][0]
    assert chart["kind"] == "reliability"
    assert chart["observed"] == pytest.approx(list(prob_true), abs=1e-12)
    assert chart["predicted"] == pytest.approx(list(prob_pred), abs=1e-12)
    bins = np.searchsorted(np.linspace(0, 1, 11)[1:-1], score)
    ece = sum(np.mean(bins == b) * abs(label[bins == b].mean() - score[bins == b].mean()) for b in np.unique(bins))
    assert result.value == pytest.approx(ece, abs=1e-12)


@pytest.mark.parametrize("rate,status", [(0.52, "pass"), (0.57, "warn"), (0.75, "fail")])
def test_calibration_grades_the_expected_error(tmp_path, rate, status):
    n = 100
    ones = round(rate * n)
    df = pd.DataFrame({"sex": "x", "label": [1] * ones + [0] * (n - ones), "score": 0.5,
                       "prediction": 1})
    result = only(audit(tmp_path, df, "modeling.calibration"), "modeling.calibration")
    assert result.status == status
    assert result.value == pytest.approx(abs(rate - 0.5))


# --- slices ------------------------------------------------------------------------------------

@pytest.mark.parametrize("west_tp,status", [(96, "pass"), (85, "warn"), (70, "fail")])
def test_slices_find_the_worst_region(tmp_path, west_tp, status):
    good = [block("female", positives=100, negatives=100, tp=95, fp=5, region=r) for r in ("north", "south", "east")]
    west = block("male", positives=100, negatives=100, tp=west_tp, fp=100 - west_tp, region="west")
    tiny = block("male", positives=5, negatives=5, tp=0, fp=5, region="nowhere")  # worst, but too small
    df = pd.concat([*good, west, tiny], ignore_index=True)
    df["income"] = np.arange(len(df), dtype=float)
    results = audit(tmp_path, df, "modeling.slices", columns={**COLUMNS, "categorical": ["region", "sex"]})
    region = only(results, "modeling.slices", "region")
    assert region.status == status, region.message
    if status != "pass":
        assert region.metrics["worst_slice"] == "west"
    overall = region.metrics["overall"]
    west_accuracy = west_tp / 100
    assert region.metrics["gap"] == pytest.approx(max(overall - west_accuracy, overall - 0.95))
    income = only(results, "modeling.slices", "income")
    assert len(income.evidence["tables"][0]["rows"]) == 5  # quintile bins, no missing values


# --- fairness ---------------------------------------------------------------------------------

def approvals(female: int, male: int, n: int = 500) -> pd.DataFrame:
    """n rows per sex; `female`/`male` of them approved; labels agree with decisions half the time."""
    rows = []
    for sex, approved in (("female", female), ("male", male)):
        pred = [1] * approved + [0] * (n - approved)
        label = [p if i % 2 else 1 - p for i, p in enumerate(pred)]
        rows.append(pd.DataFrame({"sex": sex, "label": label, "prediction": pred,
                                  "score": [0.7 if p else 0.3 for p in pred]}))
    return pd.concat(rows, ignore_index=True)


@pytest.mark.parametrize("female,status", [(245, "pass"), (215, "warn"), (150, "fail")])
def test_demographic_parity(tmp_path, female, status):
    result = only(audit(tmp_path, approvals(female, 250), "modeling.demographic_parity"),
                  "modeling.demographic_parity", "sex")
    assert result.status == status, result.message
    assert result.metrics["demographic_parity_difference"] == pytest.approx((250 - female) / 500)
    assert result.metrics["demographic_parity_ratio"] == pytest.approx(female / 250)
    assert result.metrics["min_group"] == "female" and result.metrics["max_group"] == "male"
    chart = result.evidence["charts"][0]
    assert chart["kind"] == "interval" and chart["reference_line"]["value"] == pytest.approx(0.8 * 0.5)


def test_a_gap_that_is_not_significant_only_warns(tmp_path):
    # 40 rows per group, 50% vs 65%: past the fail line, but Holm-adjusted p is about 0.17.
    result = only(audit(tmp_path, approvals(20, 26, n=40), "modeling.demographic_parity"),
                  "modeling.demographic_parity", "sex")
    assert result.value == pytest.approx(0.15)
    assert result.status == "warn" and "not statistically significant" in result.message
    assert result.metrics["p_value_holm"] > 0.05


@pytest.mark.parametrize("female,status", [(230, "pass"), (150, "fail")])
def test_disparate_impact_names_the_disadvantaged_group(tmp_path, female, status):
    result = only(audit(tmp_path, approvals(female, 250), "modeling.disparate_impact",
                        checks={"modeling.disparate_impact": {"outcome": "approved"}}),
                  "modeling.disparate_impact", "sex")
    assert result.status == status
    assert result.value == pytest.approx(female / 250)
    assert result.message.startswith(f"female are approved at {female / 250:.2f}× the rate of male")


def test_disparate_impact_against_a_reference_group_and_small_groups(tmp_path):
    df = pd.concat([approvals(150, 250), pd.DataFrame({"sex": ["other"] * 5, "label": 1, "prediction": 0,
                                                       "score": 0.1})], ignore_index=True)
    results = audit(tmp_path, df, "modeling.disparate_impact",
                    checks={"modeling.disparate_impact": {"reference_group": "female"}})
    vs_highest = only(results, "modeling.disparate_impact", "sex")
    assert vs_highest.metrics["min_group"] == "female"  # "other" (5 rows) is not graded
    table = vs_highest.evidence["tables"][0]
    other = next(r for r in table["rows"] if r[0] == "other")
    assert other[table["columns"].index("graded")].startswith("no")
    vs_female = only(results, "modeling.disparate_impact", "sex vs female")
    assert vs_female.status == "pass" and vs_female.value == pytest.approx(250 / 150)  # male vs female
    with pytest.raises(ConfigError, match="not a group"):
        audit(tmp_path, df, "modeling.disparate_impact",
              checks={"modeling.disparate_impact": {"reference_group": {"sex": "nobody"}}})


@pytest.mark.parametrize("female_tp,status", [(98, "pass"), (93, "warn"), (70, "fail")])
def test_equal_opportunity_and_equalized_odds(tmp_path, female_tp, status):
    df = pd.concat([block("female", positives=100, negatives=300, tp=female_tp, fp=30),
                    block("male", positives=100, negatives=300, tp=100, fp=30)], ignore_index=True)
    results = audit(tmp_path, df, "modeling.equal_opportunity") + audit(tmp_path, df, "modeling.equalized_odds")
    eo = only(results, "modeling.equal_opportunity", "sex")
    assert eo.status == status
    assert eo.metrics["equal_opportunity_difference"] == pytest.approx((100 - female_tp) / 100)
    odds = only(results, "modeling.equalized_odds", "sex")
    assert odds.status == status
    assert odds.metrics["false_positive_rate_difference"] == pytest.approx(0.0)
    assert odds.metrics["equalized_odds_ratio"] == pytest.approx(female_tp / 100)
    assert [c["title"].split(" by")[0] for c in odds.evidence["charts"]] == ["True positive rate",
                                                                             "False positive rate"]


def test_label_free_mode_grades_selection_rates_only(tmp_path):
    df = approvals(150, 250).assign(label=None)
    path = write_project(tmp_path, df, columns=COLUMNS)
    results = run(path)
    assert only(results, "modeling.disparate_impact", "sex").status == "fail"
    assert only(results, "modeling.demographic_parity", "sex").status == "fail"
    for check_id in ("modeling.equal_opportunity", "modeling.equalized_odds"):
        skipped = only(results, check_id)
        assert skipped.status == "skip" and "'label' has no value in current yet" in skipped.message


def test_intersection_is_named_with_the_cross_sign(tmp_path):
    df = approvals(150, 250)
    df["region"] = np.where(np.arange(len(df)) % 2, "north", "south")
    results = audit(tmp_path, df, "modeling.disparate_impact", columns={**COLUMNS, "sensitive": ["sex", "region"]})
    cross = only(results, "modeling.disparate_impact", "sex×region")
    assert cross.metrics["min_group"].startswith("female×")


def test_fairness_and_performance_share_one_scan(tmp_path, monkeypatch):
    from auditor.engine.duckdb_engine import Engine

    statements: list[str] = []
    original = Engine.execute
    monkeypatch.setattr(Engine, "execute", lambda self, sql, params=None: statements.append(sql) or
                        original(self, sql, params))
    df = approvals(150, 250)
    df["region"] = np.where(np.arange(len(df)) % 2, "north", "south")
    path = write_project(tmp_path, df, columns={**COLUMNS, "sensitive": ["sex", "region"]},
                         checks={"modeling.slices": {"enabled": False}})
    run(path)
    grouping = [s for s in statements if " AS cal" in s]  # the modeling scan groups by calibration bin
    assert len(grouping) == 1  # performance, calibration and four fairness checks read one scan
    assert len([s for s in statements if "precision_sum" in s]) == 1  # plus one ranking query for ROC AUC/AP


# --- champion vs challenger --------------------------------------------------------------------

def test_delong_matches_the_definition_with_ties(tmp_path):
    rng = np.random.default_rng(7)
    y = (rng.random(400) < 0.4).astype(int)
    a = np.round(rng.random(400) + 0.3 * y, 1)  # heavy ties
    b = np.round(rng.random(400) + 0.5 * y, 2)
    engine, ds = view_of(pd.DataFrame({"y": y, "a": a, "b": b}), tmp_path)
    cols = model_columns(ds, label="y", prediction=None, score="a")
    ours = delong(engine.query_one(delong_sql(ds.view, label=cols.label, score_a='"a"', score_b='"b"')))
    auc_a, auc_b, se = naive_delong(y, a, b)
    assert ours["auc_a"] == pytest.approx(auc_a, abs=1e-12) and ours["auc_b"] == pytest.approx(auc_b, abs=1e-12)
    assert ours["se"] == pytest.approx(se, rel=1e-9)


def test_mcnemar_counts_and_exact_p_value(tmp_path):
    rng = np.random.default_rng(8)
    y = rng.integers(0, 2, 300)
    pa = np.where(rng.random(300) < 0.8, y, 1 - y)
    pb = np.where(rng.random(300) < 0.7, y, 1 - y)
    engine, ds = view_of(pd.DataFrame({"y": y, "pa": pa, "pb": pb}), tmp_path)
    result = engine.execute(f"SELECT {select_list(mcnemar_aggregates('(y = 1)', '(pa = 1)', '(pb = 1)'))} FROM {ds.view}")
    counts = dict(zip([d[0] for d in result.description], result.fetchone(), strict=True))
    only_a = int(((pa == y) & (pb != y)).sum())
    only_b = int(((pb == y) & (pa != y)).sum())
    assert (counts["only_a_right"], counts["only_b_right"]) == (only_a, only_b)
    ours = mcnemar(counts)
    assert ours["p_value"] == pytest.approx(binomtest(min(only_a, only_b), only_a + only_b, 0.5).pvalue, rel=1e-12)
    assert ours["difference"] == pytest.approx((pb == y).mean() - (pa == y).mean())


def challenger_frame(n: int = 2000, hurt_female: bool = False, better: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(9)
    y = rng.integers(0, 2, n)
    sex = np.where(np.arange(n) % 2, "female", "male")
    champion = np.where(rng.random(n) < 0.75, y, 1 - y)
    right = 0.9 if better else 0.6
    challenger = np.where(rng.random(n) < right, y, 1 - y)
    if hurt_female:
        challenger = np.where((sex == "female") & (rng.random(n) < 0.3), 1 - y, challenger)
        challenger = np.where(sex == "male", y, challenger)
    return pd.DataFrame({"sex": sex, "label": y, "prediction": champion, "challenger": challenger})


@pytest.mark.parametrize("kind,status,verdict", [("better", "pass", "Promote the challenger"),
                                                 ("worse", "pass", "Keep the champion"),
                                                 ("hurts", "warn", "Do not promote yet")])
def test_champion_challenger(tmp_path, kind, status, verdict):
    df = challenger_frame(better=kind != "worse", hurt_female=kind == "hurts")
    columns = {"label": "label", "prediction": "prediction", "challenger_prediction": "challenger",
               "sensitive": ["sex"], "features": ["sex"]}
    result = only(audit(tmp_path, df, "modeling.champion_challenger", columns=columns), "modeling.champion_challenger")
    assert result.status == status and result.message.startswith(verdict), result.message
    assert result.metrics["promote"] is (kind == "better")
    if kind == "hurts":
        assert "female" in result.message


def test_champion_challenger_skips_when_not_configured(tmp_path):
    result = only(audit(tmp_path, approvals(200, 250), "modeling.champion_challenger"), "modeling.champion_challenger")
    assert result.status == "skip" and "challenger_prediction" in result.message


# --- the example project ----------------------------------------------------------------------

def test_example_unfair_model_fails_disparate_impact_for_women(tmp_path):
    example = ROOT / "examples" / "credit_scoring"
    subprocess.run([sys.executable, str(example / "generate.py"), "--rows", "3000", "--log-rows", "1000",
                    "--out", str(tmp_path / "data")], check=True, capture_output=True)
    config = yaml.safe_load((example / "audit.yaml").read_text(encoding="utf-8"))
    config.pop("schema", None)
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    results = run(tmp_path / "audit.yaml")
    impact = only(results, "modeling.disparate_impact", "sex")
    assert impact.status == "fail"
    assert impact.metrics["disadvantaged_group"] == "female"
    assert impact.message.startswith("female are approved at")
    assert "four-fifths" in impact.message
    assert only(results, "modeling.disparate_impact", "region").status == "pass"


def test_regression_and_multiclass_performance(tmp_path):
    from sklearn.metrics import f1_score, mean_absolute_error

    y = np.arange(200, dtype=float)
    df = pd.DataFrame({"sex": "x", "label": y, "prediction": y + np.where(np.arange(200) % 2, 3.0, -1.0)})
    path = write_project(tmp_path, df, task="regression", columns={"label": "label", "prediction": "prediction"},
                         project={"success_metrics": [{"metric": "mae", "target": 1.5}]})
    mae = only(run(path), "modeling.performance", "mae")
    assert mae.value == pytest.approx(mean_absolute_error(df.label, df.prediction))
    assert mae.status == "fail" and "above its target" in mae.message  # 2.0 > 1.5: lower is better

    labels = np.array(["a", "b", "c"])[np.arange(90) % 3]
    preds = np.where(np.arange(90) % 5 == 0, "a", labels)
    df = pd.DataFrame({"label": labels, "prediction": preds})
    path = write_project(tmp_path, df, task="multiclass", columns={"label": "label", "prediction": "prediction"},
                         project={"success_metrics": [{"metric": "macro_f1", "target": 0.8}]})
    f1 = only(run(path), "modeling.performance", "f1_macro")
    assert f1.value == pytest.approx(f1_score(labels, preds, average="macro"))
    assert f1.status == "pass"


def test_champion_challenger_uses_delong_when_auc_is_the_success_metric(tmp_path):
    rng = np.random.default_rng(10)
    y = rng.integers(0, 2, 1500)
    df = pd.DataFrame({"sex": np.where(np.arange(1500) % 2, "female", "male"), "label": y,
                       "score": np.clip(rng.random(1500) * 0.8 + 0.2 * y, 0, 1),
                       "challenger_score": np.clip(rng.random(1500) * 0.5 + 0.5 * y, 0, 1)})
    columns = {"label": "label", "score": "score", "challenger_score": "challenger_score", "sensitive": ["sex"],
               "features": ["sex"]}
    result = only(audit(tmp_path, df, "modeling.champion_challenger", columns=columns,
                        project={"success_metrics": [{"metric": "roc_auc", "target": 0.7}]}),
                  "modeling.champion_challenger")
    auc_a, auc_b, _ = naive_delong(y, df.score.to_numpy(), df.challenger_score.to_numpy())
    assert result.metrics["test"] == "DeLong"
    assert result.metrics["champion"] == pytest.approx(auc_a) and result.metrics["challenger"] == pytest.approx(auc_b)
    assert result.metrics["promote"] is True and result.message.startswith("Promote the challenger")
