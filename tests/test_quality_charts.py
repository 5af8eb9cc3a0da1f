"""Model-quality charts from SQL aggregates: ROC and PR curves, confusion matrices, regression charts; drawn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix

from auditor.render.charts import chart_svg
from auditor.report import AuditReport
from tests.conftest import BASE_SELECT, results

# Scores from 1 to 10 (not probabilities), labels '>50K' style handled by the config's positive label elsewhere.
SCORED = """
SELECT i AS id, 20 + (i * 7) % 50 AS age, 1000.0 + (i * 37) % 500 AS income,
       ['female', 'male'][1 + (i // 3) % 2] AS sex,
       (hash(i) % 100 < 30 + 4 * (1 + (i * 13) % 10))::INTEGER AS label,
       1 + (i * 13) % 10 AS score,
       ((1 + (i * 13) % 10) >= 6)::INTEGER AS prediction
FROM range({n}) t(i)
"""


def charts_of(report: AuditReport, check_id: str, subject: str) -> list[dict]:
    return results(report, check_id)[subject].evidence["charts"]


def assert_drawn(spec: dict) -> None:
    svg = chart_svg(spec, figure_id="t")
    assert "chart-placeholder" not in svg and spec["title"].split(" (")[0] in svg


def test_roc_and_pr_points_are_exact_at_their_thresholds(project, audit):
    import duckdb

    report = audit(project(reference=SCORED.format(n=3000), current=SCORED.format(n=4000)), stages=["modeling"])
    [roc] = charts_of(report, "modeling.performance", "roc_auc")
    [pr] = charts_of(report, "modeling.performance", "average_precision")
    assert set(roc["series"]) == {"reference", "current"}
    rows = duckdb.sql(SCORED.format(n=4000)).fetchall()
    y = np.array([r[4] for r in rows], dtype=bool)
    s = np.array([r[5] for r in rows], dtype=float)
    # The chart's k-th point is the threshold of bin k from the top: scores 1..10 in 100 bins over [1, 10].
    thresholds = sorted({1 + b * 9 / 100 for b in range(100)
                         if any(int((v - 1) / 9 * 100) == b or (b == 99 and v == 10) for v in s)}, reverse=True)
    tpr = [float(np.mean(s[y] >= t)) for t in thresholds]
    fpr = [float(np.mean(s[~y] >= t)) for t in thresholds]
    assert roc["series"]["current"]["x"] == pytest.approx([0.0, *fpr])
    assert roc["series"]["current"]["y"] == pytest.approx([0.0, *tpr])
    precision = [float(np.mean(y[s >= t])) for t in thresholds]
    assert pr["series"]["current"]["y"][1:] == pytest.approx(precision)
    assert pr["series"]["current"]["x"][-1] == pytest.approx(1.0)
    assert_drawn(roc)
    assert_drawn(pr)


def test_confusion_matrix_overall_and_for_the_worst_group(project, audit):
    report = audit(project(current=SCORED.format(n=4000)), stages=["modeling"])
    [spec] = charts_of(report, "modeling.performance", "accuracy")
    overall, worst = spec["panels"]
    import duckdb

    rows = duckdb.sql(SCORED.format(n=4000)).fetchall()
    y = [r[4] for r in rows]
    p = [r[6] for r in rows]
    assert overall["matrix"] == confusion_matrix(y, p).tolist()  # [[tn, fp], [fn, tp]], as scikit-learn
    sexes = {s: [(a, b) for a, b, x in zip(y, p, (r[3] for r in rows), strict=True) if x == s]
             for s in ("female", "male")}
    accuracy = {s: np.mean([a == b for a, b in v]) for s, v in sexes.items()}
    name = min(accuracy, key=accuracy.get)
    assert worst["name"] == f"sex = {name} (lowest accuracy)"
    assert worst["matrix"] == confusion_matrix(*zip(*sexes[name], strict=True)).tolist()
    assert_drawn(spec)


REGRESSION = """
SELECT i AS id, 20 + (i * 7) % 50 AS age, 1000.0 + (i * 37) % 500 AS income,
       ['female', 'male'][1 + (i // 3) % 2] AS sex,
       10.0 + i % 90 AS label,
       10.0 + i % 90 + ((i * 7919) % 21 - 10) / {noise} AS prediction
FROM range(3000) t(i)
"""


def test_regression_charts_on_a_regression_fixture(project, audit):
    cfg = {"task": "regression", "columns": {"id": "id", "label": "label", "prediction": "prediction"},
           "project": {"name": "rent", "success_metrics": [{"metric": "rmse", "target": 20}]}}
    report = audit(project(reference=REGRESSION.format(noise=2), current=REGRESSION.format(noise=1), config=cfg),
                   stages=["modeling"])
    grid, residuals = charts_of(report, "modeling.performance", "rmse")
    assert grid["kind"] == "heatmap" and grid["diagonal"]
    assert sum(v or 0 for row in grid["values"] for v in row) == 3000
    # residuals: actual − predicted = −((i·7919) mod 21 − 10): 21 values from −10 to 10, equally often
    assert residuals["kind"] == "histogram" and sum(residuals["series"]["current"]) == pytest.approx(1.0)
    assert residuals["edges"][0] == pytest.approx(-10) and residuals["edges"][-1] == pytest.approx(10)
    for spec in (grid, residuals):
        assert_drawn(spec)


def test_drift_over_time_is_a_heatmap_not_a_tangle(tmp_path):
    spec = {"kind": "heatmap", "title": "PSI per 1d window", "x": [f"d{i}" for i in range(40)],
            "y": [f"feature {i}" for i in range(12)], "values": [[i * j / 400 for i in range(40)] for j in range(12)],
            "thresholds": [{"value": 0.1, "label": "warn"}, {"value": 0.25, "label": "fail"}]}
    assert_drawn(spec)
    lines = {"kind": "line", "title": "Share per version", "x": ["a", "b", "c"],
             "series": {f"v{i}": [i, i + 1, None] for i in range(9)}}
    svg = chart_svg(lines, figure_id="m")
    assert "chart-placeholder" not in svg and svg.count("v8") == 1  # nine panels, one per series


def test_base_fixture_still_has_no_curves_without_scores(project, audit):
    no_score = BASE_SELECT.replace("((i * 13) % 100) / 100.0 AS score,", "")
    cfg = {"columns": {"id": "id", "label": "label", "prediction": "prediction", "sensitive": ["sex"]}}
    report = audit(project(reference=no_score.format(n=400), current=no_score.format(n=400), config=cfg),
                   stages=["modeling"])
    assert not charts_of(report, "modeling.performance", "accuracy")[0]["kind"] == "curve"
    assert "roc_auc" not in results(report, "modeling.performance")
