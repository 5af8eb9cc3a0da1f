"""Every metric computed from DuckDB aggregates equals scikit-learn's on the same rows."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from auditor.metrics import ranking
from auditor.metrics.evaluate import compute_metrics
from auditor.metrics.performance import canonical_metric, model_columns
from tests import modeling_helpers
from tests.engines import new_engine
from tests.modeling_helpers import view_of


@pytest.fixture(autouse=True)
def engine_under_test(engine_kind, monkeypatch):
    """Every test here runs on each engine: DuckDB, and Spark where it runs."""
    monkeypatch.setattr(modeling_helpers, "Engine", lambda: new_engine(engine_kind))
    return engine_kind

TOL = 1e-9


def binary(df, tmp_path, *, label="label", prediction="prediction", score="score", threshold=0.5):
    engine, ds = view_of(df, tmp_path)
    cols = model_columns(ds, label=label, prediction=prediction, score=score, decision_threshold=threshold)
    values, sql = compute_metrics(engine, ds.view, cols, task="binary_classification")
    return values, sql, engine


def sklearn_binary(y, pred, score):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "accuracy": skm.accuracy_score(y, pred),
            "precision": skm.precision_score(y, pred),
            "recall": skm.recall_score(y, pred),
            "f1": skm.f1_score(y, pred),
            "roc_auc": skm.roc_auc_score(y, score),
            "average_precision": skm.average_precision_score(y, score),
            "log_loss": skm.log_loss(y, score),
            "brier_score": skm.brier_score_loss(y, score),
            "positive_rate": float(np.mean(pred)),
        }


@pytest.mark.parametrize("per_sort", [None, 300])
@pytest.mark.parametrize("seed,distinct", [(0, None), (1, 7), (2, 3)])
def test_binary_metrics_match_sklearn_with_ties(tmp_path, monkeypatch, seed, distinct, per_sort):
    """With `per_sort`, the ranking takes score ranges of at most that many rows (two more statements:
    the cuts and the ranges' ranking, run once per range)."""
    if per_sort:
        monkeypatch.setattr(ranking, "rows_per_sort", lambda engine: per_sort)
    rng = np.random.default_rng(seed)
    n = 2000
    y = rng.random(n) < 0.3
    score = np.clip(0.3 * y + rng.random(n) * 0.7, 0, 1)
    if distinct:  # heavy ties: only a few distinct scores
        score = np.round(score * (distinct - 1)) / (distinct - 1)
    pred = (score >= 0.5).astype(int)
    df = pd.DataFrame({"label": y.astype(int), "prediction": pred, "score": score})
    ours, sql, engine = binary(df, tmp_path)
    expected = sklearn_binary(y.astype(int), pred, score)
    for name, value in expected.items():
        assert ours[name] == pytest.approx(value, abs=TOL), name
    # the cells, then the cuts and the ranges' ranking (on Spark the ranges are counted first: one more)
    assert len(sql) == ((3 if engine.parallel_global_sort else 4) if per_sort else 2)


def test_booleans_nulls_and_prediction_from_score(tmp_path):
    df = pd.DataFrame({
        "label": pd.array([True, False, True, None, False, True, False, True], dtype="boolean"),
        "score": [0.9, 0.2, 0.4, 0.7, np.nan, 0.6, 0.55, 0.1],
    })
    ours, _, _ = binary(df, tmp_path, prediction=None, threshold=0.5)
    keep = df["label"].notna() & df["score"].notna()
    y = df.loc[keep, "label"].astype(int).to_numpy()
    s = df.loc[keep, "score"].to_numpy()
    # Rows with a null score have no prediction; rows with a null label are not scored.
    expected = sklearn_binary(y, (s >= 0.5).astype(int), s)
    for name in ("accuracy", "precision", "recall", "f1", "roc_auc", "average_precision", "log_loss",
                 "brier_score"):
        assert ours[name] == pytest.approx(expected[name], abs=TOL), name


def test_log_loss_clips_certain_mistakes_like_sklearn(tmp_path):
    df = pd.DataFrame({"label": [1, 0, 1, 0], "prediction": [0, 1, 1, 0], "score": [0.0, 1.0, 1.0, 0.0]})
    ours, _, _ = binary(df, tmp_path)
    assert ours["log_loss"] == pytest.approx(skm.log_loss(df.label, df.score), abs=TOL)


def test_undefined_metrics_are_none_where_sklearn_says_0(tmp_path):
    # All-one labels: ROC AUC is undefined (scikit-learn raises / warns); precision is defined.
    df = pd.DataFrame({"label": [1, 1, 1, 1], "prediction": [1, 0, 1, 1], "score": [0.9, 0.4, 0.8, 0.8]})
    ours, _, _ = binary(df, tmp_path)
    assert ours["roc_auc"] is None
    assert ours["average_precision"] == pytest.approx(skm.average_precision_score(df.label, df.score), abs=TOL)
    assert ours["precision"] == 1.0 and ours["recall"] == 0.75
    # No positives at all: recall, F1 and average precision are undefined, scikit-learn says 0.
    df = pd.DataFrame({"label": [0, 0, 0], "prediction": [0, 0, 0], "score": [0.2, 0.2, 0.2]})
    ours, _, _ = binary(df, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert skm.recall_score(df.label, df.prediction) == 0.0
        assert skm.average_precision_score(df.label, df.score) == 0.0
    assert ours["recall"] is None and ours["precision"] is None and ours["f1"] is None
    assert ours["average_precision"] is None and ours["roc_auc"] is None
    assert ours["accuracy"] == 1.0
    assert ours["brier_score"] == pytest.approx(skm.brier_score_loss(df.label, df.score, pos_label=1), abs=TOL)


def test_constant_scores_give_auc_one_half(tmp_path):
    df = pd.DataFrame({"label": [1, 0, 1, 0, 0], "prediction": [1] * 5, "score": [0.7] * 5})
    ours, _, _ = binary(df, tmp_path)
    assert ours["roc_auc"] == pytest.approx(0.5, abs=TOL)
    assert ours["average_precision"] == pytest.approx(skm.average_precision_score(df.label, df.score), abs=TOL)


def test_scores_outside_zero_one_have_no_probability_metrics(tmp_path):
    df = pd.DataFrame({"label": [1, 0, 1, 0], "prediction": [1, 0, 0, 0], "score": [2.5, -1.0, 0.3, 0.1]})
    ours, _, _ = binary(df, tmp_path)
    assert ours["log_loss"] is None and ours["brier_score"] is None
    assert ours["roc_auc"] == pytest.approx(skm.roc_auc_score(df.label, df.score), abs=TOL)


def test_regression_metrics_match_sklearn(tmp_path):
    rng = np.random.default_rng(3)
    y = rng.normal(100, 20, 500)
    y[:3] = 0.0  # MAPE divides by max(|y|, eps), as scikit-learn does
    p = y + rng.normal(0, 5, 500)
    df = pd.DataFrame({"y": y, "p": p})
    df.loc[10, "p"] = np.nan  # left out, like a missing prediction
    engine, ds = view_of(df, tmp_path)
    cols = model_columns(ds, label="y", prediction="p", score=None, task="regression")
    ours, _ = compute_metrics(engine, ds.view, cols, task="regression")
    keep = df.p.notna()
    yk, pk = df.y[keep], df.p[keep]
    assert ours["mae"] == pytest.approx(skm.mean_absolute_error(yk, pk), abs=TOL)
    assert ours["rmse"] == pytest.approx(skm.root_mean_squared_error(yk, pk), abs=TOL)
    assert ours["r2"] == pytest.approx(skm.r2_score(yk, pk), abs=TOL)
    assert ours["mape"] == pytest.approx(skm.mean_absolute_percentage_error(yk, pk), rel=1e-12)


def test_r2_of_a_constant_target_is_undefined(tmp_path):
    engine, ds = view_of(pd.DataFrame({"y": [3.0, 3.0, 3.0], "p": [3.0, 2.0, 4.0]}), tmp_path)
    cols = model_columns(ds, label="y", prediction="p", score=None, task="regression")
    ours, _ = compute_metrics(engine, ds.view, cols, task="regression")
    assert skm.r2_score([3.0] * 3, [3.0, 2.0, 4.0]) == 0.0  # scikit-learn's convention
    assert ours["r2"] is None


def test_multiclass_metrics_match_sklearn_with_nan_zero_division(tmp_path):
    rng = np.random.default_rng(4)
    y = rng.choice(["a", "b", "c", "d"], 300)
    p = np.where(rng.random(300) < 0.6, y, rng.choice(["a", "b", "c"], 300))  # "d" never predicted
    engine, ds = view_of(pd.DataFrame({"y": y, "p": p}), tmp_path)
    cols = model_columns(ds, label="y", prediction="p", score=None, task="multiclass")
    ours, _ = compute_metrics(engine, ds.view, cols, task="multiclass")
    assert ours["accuracy"] == pytest.approx(skm.accuracy_score(y, p), abs=TOL)
    for avg in ("macro", "weighted"):
        kw = {"average": avg, "zero_division": np.nan}
        assert ours[f"precision_{avg}"] == pytest.approx(skm.precision_score(y, p, **kw), abs=TOL)
        assert ours[f"recall_{avg}"] == pytest.approx(skm.recall_score(y, p, **kw), abs=TOL)
        assert ours[f"f1_{avg}"] == pytest.approx(skm.f1_score(y, p, **kw), abs=TOL)


def test_metric_names_and_aliases():
    assert canonical_metric("AUC") == "roc_auc"
    assert canonical_metric("roc-auc") == "roc_auc"
    assert canonical_metric("f1") == "f1"
    assert canonical_metric("mean_absolute_error") == "mae"
    assert canonical_metric("gini") is None
