"""Classification and regression metrics from small aggregates computed in DuckDB.

Every metric follows scikit-learn's definition and equals its number on the same
rows (tests compare to 1e-9, ties in scores included). The heavy part happens in
SQL: confusion counts and sums are one aggregate per group (`*_aggregates`), and
ROC AUC / average precision come from sorts by score (auditor.metrics.ranking), summed with
window functions so nothing row-sized reaches Python.

Conventions:
- The positive class is `target.positive_label`, or by the two-valued rule 1 / true /
  yes / y / positive / pos: `positive_expr` turns the label (and prediction) into a
  SQL boolean (NULL stays NULL). auditor.audit.target decides which, once per run.
- A score is the model's score of the positive class. Without a prediction column,
  the prediction is `score >= decision_threshold` (0.5 for probabilities).
- Undefined numbers are None where scikit-learn says 0 with a warning (precision
  with no predicted positives, recall with no positives, ROC AUC with one class,
  average precision with no positives) or 1.0/0.0 by convention (R² of a
  constant target). Multiclass averages leave undefined classes out, which is
  scikit-learn's `zero_division=np.nan`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from auditor.engine.sql import is_float, is_numeric, quote_ident

# numpy.finfo(float64).eps: scikit-learn clips probabilities (log loss) and |y| (MAPE) with it.
EPS = 2.220446049250313e-16

Kind = Literal["count", "rank", "prob", "regression", "multiclass"]


@dataclass(frozen=True)
class MetricSpec:
    name: str
    kind: Kind  # count: from confusion counts; rank: needs score order; prob: needs probabilities
    higher_is_better: bool | None  # None: neither (the positive rate), shown but never graded on change
    bounded: bool = True  # changes are compared in absolute points; unbounded errors relative to the reference
    per_slice: bool = True  # computable from per-group sums (no score ranking needed)


METRICS: dict[str, MetricSpec] = {m.name: m for m in (
    MetricSpec("accuracy", "count", True),
    MetricSpec("precision", "count", True),
    MetricSpec("recall", "count", True),
    MetricSpec("f1", "count", True),
    MetricSpec("positive_rate", "count", None),
    MetricSpec("roc_auc", "rank", True, per_slice=False),
    MetricSpec("average_precision", "rank", True, per_slice=False),
    MetricSpec("log_loss", "prob", False, bounded=False),
    MetricSpec("brier_score", "prob", False),
    MetricSpec("precision_macro", "multiclass", True, per_slice=False),
    MetricSpec("recall_macro", "multiclass", True, per_slice=False),
    MetricSpec("f1_macro", "multiclass", True, per_slice=False),
    MetricSpec("precision_weighted", "multiclass", True, per_slice=False),
    MetricSpec("recall_weighted", "multiclass", True, per_slice=False),
    MetricSpec("f1_weighted", "multiclass", True, per_slice=False),
    MetricSpec("mae", "regression", False, bounded=False),
    MetricSpec("rmse", "regression", False, bounded=False),
    MetricSpec("r2", "regression", True),
    MetricSpec("mape", "regression", False, bounded=False),
)}
ALIASES = {
    "auc": "roc_auc", "roc": "roc_auc", "ap": "average_precision", "pr_auc": "average_precision",
    "f1_score": "f1", "brier": "brier_score", "brier_score_loss": "brier_score", "logloss": "log_loss",
    "macro_f1": "f1_macro", "weighted_f1": "f1_weighted", "mean_absolute_error": "mae",
    "root_mean_squared_error": "rmse", "r2_score": "r2", "mean_absolute_percentage_error": "mape",
    "selection_rate": "positive_rate", "tpr": "recall", "sensitivity": "recall",
}
TASK_METRICS = {
    "binary_classification": ["accuracy", "precision", "recall", "f1", "positive_rate", "roc_auc",
                              "average_precision", "log_loss", "brier_score"],
    "multiclass": ["accuracy", "precision_macro", "recall_macro", "f1_macro",
                   "precision_weighted", "recall_weighted", "f1_weighted"],
    "regression": ["mae", "rmse", "r2", "mape"],
}


def canonical_metric(name: str) -> str | None:
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    key = ALIASES.get(key, key)
    return key if key in METRICS else None


def ratio(num: float, den: float) -> float | None:
    """num / den, or None when the denominator is 0 (an undefined rate is never 0)."""
    return num / den if den else None


# --- SQL fragments -----------------------------------------------------------------------------

# The documented two-valued rule: a label or prediction written with these words (any case, spaces
# trimmed) is binary without a `target.positive_label`; 1 and 0 count as numbers too.
POSITIVE_WORDS = ("1", "true", "yes", "y", "positive", "pos")
NEGATIVE_WORDS = ("0", "false", "no", "n", "negative", "neg")


def positive_expr(column: str, duck_type: str, *, positive: str | None = None) -> str:
    """A SQL boolean that is true for the positive class, NULL when the value is missing (NaN too).

    `positive` names a bound parameter holding the positive value (`target.positive_label`), compared
    as a number for a numeric column and as trimmed text otherwise; without it, the two-valued rule:
    a boolean as it is, a number = 1, text by POSITIVE_WORDS / NEGATIVE_WORDS (NULL for other text).
    """
    c = quote_ident(column)
    if positive:
        if is_numeric(duck_type):
            return f"({value_expr(column, duck_type)} = ${positive})"
        return f"(trim({c}::VARCHAR) = ${positive})"
    if duck_type.upper() == "BOOLEAN":
        return c
    if is_numeric(duck_type):
        return f"({value_expr(column, duck_type)} = 1)"
    word = f"lower(trim({c}::VARCHAR))"
    words = (", ".join(f"'{w}'" for w in POSITIVE_WORDS), ", ".join(f"'{w}'" for w in NEGATIVE_WORDS))
    return f"(CASE WHEN {word} IN ({words[0]}) THEN true WHEN {word} IN ({words[1]}) THEN false END)"


def positive_value(duck_type: str, positive_label: str) -> str | float | None:
    """The bound value `positive_expr(..., positive=...)` compares with (None: it can match no value)."""
    if not is_numeric(duck_type):
        return positive_label.strip()
    try:
        return float(positive_label)
    except ValueError:
        return None


def value_expr(column: str, duck_type: str) -> str:
    """A numeric column as DOUBLE with NaN read as NULL (pandas' and scikit-learn's 'missing')."""
    c = quote_ident(column)
    return f"(CASE WHEN isnan({c}) THEN NULL ELSE {c}::DOUBLE END)" if is_float(duck_type) else f"{c}::DOUBLE"


def classification_aggregates(label: str | None, pred: str | None, score: str | None) -> dict[str, str]:
    """Named aggregates for one group: sizes, confusion counts, score sums, log-loss and Brier sums.

    `label` and `pred` are SQL booleans (or None when absent), `score` a DOUBLE expression.
    """
    aggs = {"rows": "count(*)"}
    if pred:
        aggs["predicted"] = f"count({pred})"
        aggs["selected"] = f"count(*) FILTER (WHERE {pred})"
    if label:
        aggs["labelled"] = f"count({label})"
        aggs["positives"] = f"count(*) FILTER (WHERE {label})"
    if label and pred:
        aggs["tp"] = f"count(*) FILTER (WHERE {label} AND {pred})"
        aggs["fp"] = f"count(*) FILTER (WHERE NOT {label} AND {pred})"
        aggs["fn"] = f"count(*) FILTER (WHERE {label} AND NOT {pred})"
        aggs["tn"] = f"count(*) FILTER (WHERE NOT {label} AND NOT {pred})"
    if score:
        aggs["scored"] = f"count({score})"
        aggs["score_sum"] = f"fsum({score})"
        aggs["score_min"] = f"min({score})"
        aggs["score_max"] = f"max({score})"
    if score and label:
        both = f"{label} IS NOT NULL AND {score} IS NOT NULL"
        # scikit-learn clips [1 - p, p] to [eps, 1 - eps] before the log.
        aggs["scored_labelled"] = f"count(*) FILTER (WHERE {both})"
        aggs["log_loss_sum"] = (f"fsum(-ln(greatest(least(CASE WHEN {label} THEN {score} ELSE 1 - {score} END, "
                                f"1 - {EPS!r}), {EPS!r}))) FILTER (WHERE {both})")
        aggs["brier_sum"] = f"fsum(({score} - {label}::INTEGER::DOUBLE) ** 2) FILTER (WHERE {both})"
        aggs["scored_positives"] = f"count(*) FILTER (WHERE {both} AND {label})"
        aggs["scored_labelled_sum"] = f"fsum({score}) FILTER (WHERE {both})"
    return aggs


def regression_aggregates(label: str, pred: str) -> dict[str, str]:
    """Named sums for MAE, RMSE, R² and MAPE over rows where both values are present. Float sums are
    fsum's (compensated): a plain sum depends on the order DuckDB's threads add in, so a metric could
    move in its last digits between two runs on the same data."""
    both = f"{label} IS NOT NULL AND {pred} IS NOT NULL"
    return {
        "rows": "count(*)",
        "labelled": f"count(*) FILTER (WHERE {both})",
        "abs_error_sum": f"fsum(abs({label} - {pred})) FILTER (WHERE {both})",
        "sq_error_sum": f"fsum(({label} - {pred}) ** 2) FILTER (WHERE {both})",
        # var_pop is computed stably in DuckDB; n * var_pop is the total sum of squares of R².
        "label_var": f"var_pop({label}) FILTER (WHERE {both})",
        "ape_sum": f"fsum(abs({label} - {pred}) / greatest(abs({label}), {EPS!r})) FILTER (WHERE {both})",
    }


# --- metrics from aggregates --------------------------------------------------------------------

def _n(counts: Mapping[str, float | None], key: str) -> float:
    return counts.get(key) or 0


def binary_metrics(counts: Mapping[str, float | None], ranking: Mapping | None = None) -> dict[str, float | None]:
    """Every binary metric computable from one group's aggregates (and the ranking row when given)."""
    tp, fp, fn, tn = (_n(counts, k) for k in ("tp", "fp", "fn", "tn"))
    n = tp + fp + fn + tn
    scored = _n(counts, "scored_labelled")
    probabilities = (counts.get("score_min") is not None and counts["score_min"] >= 0
                     and counts["score_max"] <= 1)
    out: dict[str, float | None] = {
        "accuracy": ratio(tp + tn, n),
        "precision": ratio(tp, tp + fp),
        "recall": ratio(tp, tp + fn),
        "f1": ratio(2 * tp, 2 * tp + fp + fn),
        "positive_rate": ratio(_n(counts, "selected"), _n(counts, "predicted")),
        "roc_auc": None, "average_precision": None,
        "log_loss": ratio(_n(counts, "log_loss_sum"), scored) if probabilities else None,
        "brier_score": ratio(_n(counts, "brier_sum"), scored) if probabilities else None,
    }
    if ranking:
        out["roc_auc"] = ranking.get("roc_auc")
        out["average_precision"] = ranking.get("average_precision")
    return out


def rates(counts: Mapping[str, float | None]) -> dict[str, float | None]:
    """fairlearn's per-group rates from one group's aggregates; undefined rates are None."""
    tp, fp, fn, tn = (_n(counts, k) for k in ("tp", "fp", "fn", "tn"))
    return {
        "selection_rate": ratio(_n(counts, "selected"), _n(counts, "predicted")),
        # The favorable rate when a positive prediction harms (target.favorable_outcome: negative).
        "non_selection_rate": ratio(_n(counts, "predicted") - _n(counts, "selected"), _n(counts, "predicted")),
        "true_positive_rate": ratio(tp, tp + fn),
        "false_positive_rate": ratio(fp, fp + tn),
        "false_negative_rate": ratio(fn, tp + fn),
        "precision": ratio(tp, tp + fp),
        "accuracy": ratio(tp + tn, tp + fp + fn + tn),
        "mean_score": ratio(_n(counts, "score_sum"), _n(counts, "scored")),
    }


def regression_metrics(sums: Mapping[str, float | None]) -> dict[str, float | None]:
    n = _n(sums, "labelled")
    if not n:
        return {"mae": None, "rmse": None, "r2": None, "mape": None}
    total = (sums["label_var"] or 0.0) * n
    return {
        "mae": sums["abs_error_sum"] / n,
        "rmse": math.sqrt(sums["sq_error_sum"] / n),
        # scikit-learn calls R² of a constant target 1.0 (perfect) or 0.0; it is undefined.
        "r2": 1 - sums["sq_error_sum"] / total if total > 0 else None,
        "mape": sums["ape_sum"] / n,
    }


CONFUSION_MATRIX_SQL = """SELECT {label}::VARCHAR AS actual, {pred}::VARCHAR AS predicted, count(*) AS n
FROM {view} WHERE {label} IS NOT NULL AND {pred} IS NOT NULL GROUP BY ALL ORDER BY 1, 2"""


def multiclass_metrics(cells: list[tuple[str, str, int]]) -> dict[str, float | None]:
    """Accuracy and macro/weighted precision, recall and F1 from (actual, predicted, count) cells."""
    classes = sorted({a for a, _, _ in cells} | {p for _, p, _ in cells})
    true_n = dict.fromkeys(classes, 0)
    pred_n = dict.fromkeys(classes, 0)
    hits = dict.fromkeys(classes, 0)
    for actual, predicted, n in cells:
        true_n[actual] += n
        pred_n[predicted] += n
        if actual == predicted:
            hits[actual] += n
    total = sum(true_n.values())
    per_class = {c: {"precision": ratio(hits[c], pred_n[c]), "recall": ratio(hits[c], true_n[c]),
                     "f1": ratio(2 * hits[c], pred_n[c] + true_n[c])} for c in classes}
    out: dict[str, float | None] = {"accuracy": ratio(sum(hits.values()), total)}
    for metric in ("precision", "recall", "f1"):
        defined = [(per_class[c][metric], true_n[c]) for c in classes if per_class[c][metric] is not None]
        out[f"{metric}_macro"] = sum(v for v, _ in defined) / len(defined) if defined else None
        weight = sum(w for _, w in defined)
        out[f"{metric}_weighted"] = sum(v * w for v, w in defined) / weight if weight else None
    return out


# --- which SQL expressions stand for label, prediction and score on a dataset ------------------

@dataclass(frozen=True)
class ModelColumns:
    """Label, prediction and score of one dataset as SQL expressions (None when absent).

    For classification `label` and `prediction` are SQL booleans (the positive class is true);
    for regression and multiclass they are the raw values. `prediction_from_score` says the
    prediction is `score >= $decision_threshold` because the dataset has no prediction column, and
    `cut` says so in words. Every statement using these expressions binds `params`.
    """

    label: str | None
    prediction: str | None
    score: str | None
    label_column: str | None
    prediction_column: str | None
    score_column: str | None
    prediction_from_score: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    cut: str | None = None  # "prediction = decile_score ≥ 5" when the prediction comes from the score

    @property
    def names(self) -> tuple[str, ...]:
        """The columns a metric of these is about (label, prediction, score; those present)."""
        return tuple(c for c in (self.label_column, self.prediction_column, self.score_column) if c)


def model_columns(dataset, *, label: str | None, prediction: str | None, score: str | None,
                  task: str = "binary_classification", positive_label: str | None = None,
                  prediction_positive: bool = False, decision_threshold: float = 0.5) -> ModelColumns:
    """Resolve the role columns present in `dataset` into SQL expressions for `task`.

    Binary: the label is positive where it equals `positive_label` (else by the two-valued rule);
    so is the prediction column when `prediction_positive` (it holds label values), else the rule;
    without a prediction column the prediction is `score >= decision_threshold`."""
    def typed(col: str | None) -> str | None:
        found = dataset.column(col) if col else None
        return found.type if found else None

    label_t, pred_t, score_t = typed(label), typed(prediction), typed(score)
    label = label if label_t else None
    prediction = prediction if pred_t else None
    score = score if score_t and is_numeric(score_t) else None
    score_sql = value_expr(score, score_t) if score else None
    params: dict[str, Any] = {}
    cut = None
    if task == "binary_classification":
        label_sql = _outcome(label, label_t, positive_label, "label_positive", params) if label else None
        pred_sql = (_outcome(prediction, pred_t, positive_label if prediction_positive else None,
                             "prediction_positive", params) if prediction else None)
        from_score = pred_sql is None and score_sql is not None
        if from_score:
            pred_sql = f"({score_sql} >= $decision_threshold)"
            params["decision_threshold"] = float(decision_threshold)
            cut = f"prediction = {score} ≥ {decision_threshold:g}"
    elif task == "regression":
        label_sql = value_expr(label, label_t) if label and is_numeric(label_t) else None
        pred_col, pred_type = (prediction, pred_t) if prediction and is_numeric(pred_t) else (score, score_t)
        pred_sql = value_expr(pred_col, pred_type) if pred_col else None
        from_score = False
    else:
        label_sql = quote_ident(label) if label else None
        pred_sql = quote_ident(prediction) if prediction else None
        from_score = False
    return ModelColumns(label_sql, pred_sql, score_sql, label, prediction, score, from_score, params, cut)


def _outcome(column: str, duck_type: str, positive_label: str | None, name: str, params: dict[str, Any]) -> str:
    """positive_expr of one column, its compared value (if any) added to `params` under `name`."""
    if positive_label is None:
        return positive_expr(column, duck_type)
    params[name] = positive_value(duck_type, positive_label)
    return positive_expr(column, duck_type, positive=name)


def worse_by(metric: str, current: float | None, reference: float | None) -> float | None:
    """How much worse `current` is than `reference` (positive = worse): absolute points for bounded
    metrics, a fraction of the reference for unbounded errors (MAE, RMSE, log loss, MAPE)."""
    spec = METRICS[metric]
    if current is None or reference is None or spec.higher_is_better is None:
        return None
    worse = reference - current if spec.higher_is_better else current - reference
    if spec.bounded:
        return worse
    return worse / abs(reference) if reference else None
