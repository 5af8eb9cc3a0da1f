"""Chart data for model quality from small SQL aggregates: ROC and precision-recall curves, confusion
matrices, predicted vs actual and residuals for regression.

Curves: labelled rows are counted per score bin (equal widths between the score's min and max, so
scores from 1 to 10 work as well as probabilities), and the cumulative counts from the top bin down
give the curve's points at each bin edge: exact points of the true curve, at those thresholds (the
AUC and average precision in the metrics stay the exact ones from the ranking).
"""

from __future__ import annotations

from typing import Any

from auditor.engine.sql import bind
from auditor.metrics.group_rates import Group
from auditor.metrics.performance import ModelColumns

__all__ = ["score_bins_sql", "curves", "confusion_panel", "worst_group", "regression_sql", "regression_charts",
           "quality_charts"]

BINS = 100
GRID = 24  # cells per side of the predicted-vs-actual grid; bins of the residual histogram

SCORE_BINS_SQL = """WITH s AS (SELECT CAST({score} AS DOUBLE) AS s, {label} AS y FROM {view}
                WHERE {score} IS NOT NULL AND {label} IS NOT NULL AND isfinite(CAST({score} AS DOUBLE))),
r AS (SELECT min(s) AS lo, max(s) AS hi FROM s)
SELECT coalesce(least(CAST(floor((s - lo) / nullif(hi - lo, 0) * $bins) AS INTEGER), $bins - 1), 0) AS b,
       count(*) FILTER (WHERE y) AS positives, count(*) FILTER (WHERE NOT y) AS negatives
FROM s, r GROUP BY b ORDER BY b DESC"""


def score_bins_sql(view: str, cols: ModelColumns) -> str:
    return SCORE_BINS_SQL.format(score=cols.score, label=cols.label, view=view)


def curves(rows: list[tuple[int, int, int]]) -> dict[str, dict[str, list[float]]] | None:
    """ROC (fpr, tpr) and PR (recall, precision) points from (bin, positives, negatives), highest bin first."""
    positives = sum(r[1] for r in rows)
    negatives = sum(r[2] for r in rows)
    if not positives or not negatives:
        return None  # one class only: neither curve is defined
    tp = fp = 0
    roc = {"x": [0.0], "y": [0.0]}
    pr: dict[str, list[float]] = {"x": [], "y": []}
    for _, pos, neg in rows:
        tp, fp = tp + pos, fp + neg
        roc["x"].append(fp / negatives)
        roc["y"].append(tp / positives)
        if tp + fp:
            pr["x"].append(tp / positives)
            pr["y"].append(tp / (tp + fp))
    pr = {"x": [0.0, *pr["x"]], "y": [pr["y"][0], *pr["y"]]}
    return {"roc": roc, "pr": pr, "positive_rate": positives / (positives + negatives)}


def confusion_panel(name: str, counts: dict[str, Any]) -> dict[str, Any]:
    """A 2×2 panel: rows actual negative, positive; columns predicted negative, positive."""
    n = {k: int(counts.get(k) or 0) for k in ("tn", "fp", "fn", "tp")}
    return {"name": name, "matrix": [[n["tn"], n["fp"]], [n["fn"], n["tp"]]]}


def worst_group(groups: dict[str, list[Group]], *, min_rows: int) -> Group | None:
    """The single-attribute group with the lowest accuracy, among groups of at least `min_rows` labelled rows."""
    eligible = [g for attribute, members in groups.items() if "×" not in attribute for g in members
                if g.successes("accuracy")[1] >= min_rows]
    if not eligible:
        return None
    return min(eligible, key=lambda g: (g.successes("accuracy")[0] / g.successes("accuracy")[1], g.attribute, g.name))


REGRESSION_SQL = """WITH s AS (SELECT CAST({label} AS DOUBLE) AS y, CAST({prediction} AS DOUBLE) AS p FROM {view}
                WHERE isfinite(CAST({label} AS DOUBLE)) AND isfinite(CAST({prediction} AS DOUBLE))),
r AS (SELECT least(min(y), min(p)) AS lo, greatest(max(y), max(p)) AS hi,
             min(y - p) AS rlo, max(y - p) AS rhi FROM s)
SELECT 'grid' AS part,
       coalesce(least(CAST(floor((p - lo) / nullif(hi - lo, 0) * $grid) AS INTEGER), $grid - 1), 0) AS i,
       coalesce(least(CAST(floor((y - lo) / nullif(hi - lo, 0) * $grid) AS INTEGER), $grid - 1), 0) AS j,
       count(*) AS n, any_value(lo) AS lo, any_value(hi) AS hi FROM s, r GROUP BY i, j
UNION ALL
SELECT 'residual', coalesce(least(CAST(floor(((y - p) - rlo) / nullif(rhi - rlo, 0) * $grid) AS INTEGER),
                                  $grid - 1), 0), NULL, count(*), any_value(rlo), any_value(rhi)
FROM s, r GROUP BY 2"""


def regression_sql(view: str, cols: ModelColumns) -> str:
    return REGRESSION_SQL.format(label=cols.label, prediction=cols.prediction, view=view)


def regression_charts(rows: list[tuple], dataset: str) -> list[dict[str, Any]]:
    """Predicted vs actual (a heatmap of rows on a common grid, with the diagonal) and the residual histogram."""
    grid = [r for r in rows if r[0] == "grid"]
    residual = [r for r in rows if r[0] == "residual"]
    if not grid:
        return []
    lo, hi = grid[0][4], grid[0][5]
    step = (hi - lo) / GRID if hi > lo else 1.0
    values: list[list[float | None]] = [[None] * GRID for _ in range(GRID)]
    for _, i, j, n, *_ in grid:
        values[GRID - 1 - j][i] = n  # first row on top: the highest actual values
    edges = [lo + k * step for k in range(GRID + 1)]
    labels = [f"{(edges[k] + edges[k + 1]) / 2:.3g}" for k in range(GRID)]
    rlo, rhi = residual[0][4], residual[0][5]
    rstep = (rhi - rlo) / GRID if rhi > rlo else 1.0
    counts = [0] * GRID
    for _, b, _, n, *_ in residual:
        counts[b] = n
    total = sum(counts) or 1
    return [
        {"kind": "heatmap", "title": f"Predicted vs actual ({dataset}, rows per cell)", "x": labels,
         "y": labels[::-1], "values": values, "x_label": "predicted", "y_label": "actual", "diagonal": True,
         "scale": "count"},
        {"kind": "histogram", "title": f"Residuals, actual − predicted ({dataset})",
         "edges": [rlo + k * rstep for k in range(GRID + 1)], "series": {dataset: [c / total for c in counts]},
         "x_label": "residual"},
    ]


def quality_charts(engine, *, task: str, current: tuple[str, ModelColumns],
                   reference: tuple[str, ModelColumns] | None, overall: dict[str, Any] | None = None,
                   groups: dict[str, list[Group]] | None = None, min_group_rows: int = 30
                   ) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """Charts by the metric whose result shows them, and the SQL behind them.

    Binary: ROC (roc_auc) and precision-recall (average_precision) curves, reference vs current, and
    the confusion matrix overall and for the worst group (accuracy). Regression: predicted vs actual
    and the residual histogram (rmse)."""
    sides = [("reference", reference), ("current", current)] if reference is not None else [("current", current)]
    charts: dict[str, list[dict[str, Any]]] = {}
    statements: list[str] = []
    if task == "regression":
        view, cols = current
        if cols.label and cols.prediction:
            sql = regression_sql(view, cols)
            statements.append(sql)
            charts["rmse"] = regression_charts(engine.query(sql, bind(sql, {**cols.params, "grid": GRID})), "current")
        return charts, statements
    if task != "binary_classification":
        return charts, statements
    roc, pr, base = {}, {}, None
    for name, (view, cols) in sides:
        if not (cols.label and cols.score):
            continue
        sql = score_bins_sql(view, cols)
        statements.append(sql)
        found = curves(engine.query(sql, bind(sql, {**cols.params, "bins": BINS})))
        if found:
            roc[name], pr[name], base = found["roc"], found["pr"], found["positive_rate"]
    if roc:
        charts["roc_auc"] = [{"kind": "curve", "title": "ROC curve", "series": roc, "diagonal": True,
                              "x_label": "false positive rate", "y_label": "true positive rate"}]
        charts["average_precision"] = [{"kind": "curve", "title": f"Precision-recall curve (positive rate {base:.0%})",
                                        "series": pr, "x_label": "recall", "y_label": "precision"}]
    if overall and overall.get("labelled"):
        panels = [confusion_panel("all rows", overall)]
        worst = worst_group(groups or {}, min_rows=min_group_rows)
        if worst is not None:
            panels.append(confusion_panel(f"{worst.attribute} = {worst.name} (lowest accuracy)", worst.counts))
        charts["accuracy"] = [{"kind": "confusion", "title": "Confusion matrix (current)", "panels": panels}]
    return charts, statements
