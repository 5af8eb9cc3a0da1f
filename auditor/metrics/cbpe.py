"""Confidence-based performance estimation (CBPE, as NannyML defines it) for binary classification.

When a model's scores are calibrated, a row scored p is a positive with probability p, so
without any label the expected confusion counts of a set of rows are sums of scores:

    E[TP] = sum(p  where predicted 1)    E[FP] = sum(1 - p  where predicted 1)
    E[FN] = sum(p  where predicted 0)    E[TN] = sum(1 - p  where predicted 0)

and the expected accuracy, precision, recall and F1 follow from them as from real counts.
These sums are plain aggregates, so every window's estimate comes out of the same GROUP BY
as its realised counts. The estimate is only as good as the calibration: on the labelled
reference, expected and realised accuracy should agree, and `calibration_gap` says how far
apart they are. NannyML recalibrates the scores on the reference first; this version takes
them as given and reports that gap instead.
"""

from __future__ import annotations

from collections.abc import Mapping

from auditor.metrics.performance import ratio

CBPE_METRICS = ("expected_accuracy", "expected_precision", "expected_recall", "expected_f1")


def cbpe_aggregates(prediction: str, score: str) -> dict[str, str]:
    """Named SQL sums of expected confusion counts; `prediction` a SQL boolean, `score` a DOUBLE in [0, 1].

    Rows without a score or a prediction are left out, and counted in `cbpe_rows`.
    """
    both = f"{prediction} IS NOT NULL AND {score} IS NOT NULL"
    return {
        "cbpe_rows": f"count(*) FILTER (WHERE {both})",
        "expected_tp": f"coalesce(sum({score}) FILTER (WHERE {both} AND {prediction}), 0)",
        "expected_fp": f"coalesce(sum(1 - {score}) FILTER (WHERE {both} AND {prediction}), 0)",
        "expected_fn": f"coalesce(sum({score}) FILTER (WHERE {both} AND NOT {prediction}), 0)",
        "expected_tn": f"coalesce(sum(1 - {score}) FILTER (WHERE {both} AND NOT {prediction}), 0)",
        # Scores outside [0, 1] are not probabilities: the estimate is then undefined.
        "cbpe_score_min": f"min({score})",
        "cbpe_score_max": f"max({score})",
    }


def expected_metrics(sums: Mapping[str, float | None]) -> dict[str, float | None]:
    """Expected accuracy, precision, recall and F1 from `cbpe_aggregates`' sums; None where undefined."""
    lo, hi = sums.get("cbpe_score_min"), sums.get("cbpe_score_max")
    if not sums.get("cbpe_rows") or lo is None or hi is None or lo < 0 or hi > 1:
        return dict.fromkeys(CBPE_METRICS, None)
    tp, fp, fn, tn = (float(sums[k] or 0.0) for k in ("expected_tp", "expected_fp", "expected_fn", "expected_tn"))
    return {
        "expected_accuracy": ratio(tp + tn, tp + fp + fn + tn),
        "expected_precision": ratio(tp, tp + fp),
        "expected_recall": ratio(tp, tp + fn),
        "expected_f1": ratio(2 * tp, 2 * tp + fp + fn),
    }
