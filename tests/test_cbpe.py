"""CBPE: expected confusion counts from calibrated scores, in SQL, against numpy and against simulation."""

import duckdb
import numpy as np
import pytest

from auditor.engine.sql import select_list
from auditor.metrics.cbpe import CBPE_METRICS, cbpe_aggregates, expected_metrics


def sql_sums(scores, predictions) -> dict:
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT unnest($s::DOUBLE[]) AS score, unnest($p::INTEGER[]) AS prediction",
                {"s": [None if s is None else float(s) for s in scores],
                 "p": [None if q is None else int(q) for q in predictions]})
    aggs = cbpe_aggregates("(prediction = 1)", "score")
    row = con.execute(f"SELECT {select_list(aggs)} FROM t").fetchone()
    return dict(zip(aggs, row, strict=True))


def numpy_expected(scores, predictions) -> dict:
    """Each row is a positive with probability p: expected TP/FP/FN/TN are sums of p and 1 - p."""
    p = np.asarray([s for s, q in zip(scores, predictions, strict=True) if s is not None and q is not None], float)
    pred = np.asarray([q for s, q in zip(scores, predictions, strict=True) if s is not None and q is not None]) == 1
    return {"tp": p[pred].sum(), "fp": (1 - p[pred]).sum(), "fn": p[~pred].sum(), "tn": (1 - p[~pred]).sum()}


def test_expected_counts_match_numpy():
    rng = np.random.default_rng(3)
    scores = rng.beta(2, 2, 5000)
    predictions = (scores >= 0.5).astype(int)
    predictions[:300] = 1 - predictions[:300]  # a prediction need not follow the score
    sums = sql_sums(scores, predictions)
    expected = numpy_expected(scores, predictions)
    for k in ("tp", "fp", "fn", "tn"):
        assert sums[f"expected_{k}"] == pytest.approx(expected[k], rel=1e-12)
    tp, fp, fn, tn = (expected[k] for k in ("tp", "fp", "fn", "tn"))
    got = expected_metrics(sums)
    assert got["expected_accuracy"] == pytest.approx((tp + tn) / len(scores), rel=1e-12)
    assert got["expected_precision"] == pytest.approx(tp / (tp + fp), rel=1e-12)
    assert got["expected_recall"] == pytest.approx(tp / (tp + fn), rel=1e-12)
    assert got["expected_f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn), rel=1e-12)


def test_expected_counts_are_the_mean_of_realised_counts_under_calibration():
    """Draw labels from the scores (calibration by construction): realised counts average to CBPE's."""
    rng = np.random.default_rng(11)
    scores = rng.uniform(0, 1, 400)
    pred = scores >= 0.5
    labels = rng.random((20000, scores.size)) < scores  # 20,000 worlds with calibrated scores
    tp = (labels & pred).sum(axis=1)
    tn = (~labels & ~pred).sum(axis=1)
    sums = sql_sums(scores, pred.astype(int))
    assert tp.mean() == pytest.approx(sums["expected_tp"], abs=4 * tp.std() / np.sqrt(len(tp)))
    accuracy = (tp + tn) / scores.size
    assert accuracy.mean() == pytest.approx(expected_metrics(sums)["expected_accuracy"],
                                            abs=4 * accuracy.std() / np.sqrt(len(accuracy)))


def test_rows_without_score_or_prediction_are_left_out():
    scores = [0.9, None, 0.2, 0.7]
    predictions = [1, 1, None, 0]
    sums = sql_sums(scores, predictions)
    assert sums["cbpe_rows"] == 2
    assert sums["expected_tp"] == pytest.approx(0.9) and sums["expected_fn"] == pytest.approx(0.7)
    assert expected_metrics(sums)["expected_accuracy"] == pytest.approx((0.9 + 0.3) / 2)


def test_undefined_cases():
    # No predicted positive: precision is undefined, never 0.
    got = expected_metrics(sql_sums([0.1, 0.3], [0, 0]))
    assert got["expected_precision"] is None and got["expected_accuracy"] == pytest.approx(0.8)
    # Scores that are not probabilities: no estimate at all.
    assert expected_metrics(sql_sums([0.1, 1.7], [0, 1])) == dict.fromkeys(CBPE_METRICS, None)
    # No rows.
    assert expected_metrics({"cbpe_rows": 0}) == dict.fromkeys(CBPE_METRICS, None)
