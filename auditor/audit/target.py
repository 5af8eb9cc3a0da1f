"""The run's decision rule: what the label and the prediction mean, resolved once and read by every check.

`target:` in the config says which label value is positive, where to cut a score that is not a
probability, and which predicted outcome benefits a person. A few small aggregate queries (the
label's and the prediction's values, the score's range) check the data against it before any check
grades, so an encoding the rule cannot read stops the run with one line instead of a wrong verdict:

- a label is binary by the documented two-valued rule (1/0, true/false, yes/no, y/n, positive/negative,
  pos/neg, any case) or by `target.positive_label`; any other label needs `positive_label` (exit 2),
  and a `positive_label` that matches no value is exit 3;
- a prediction column compares to `positive_label` when it holds label values, else follows the rule;
- without a prediction column the prediction is `score >= target.decision_threshold`, which must be
  set when the score is not a probability (exit 2, naming the score's range).

Checks get each dataset's expressions from `Target.columns(dataset)` (auditor.metrics.performance's
ModelColumns, with the parameters every statement binds) and words for messages from `Target`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from auditor.audit.wording import some
from auditor.config import AuditConfig
from auditor.engine.base import Engine
from auditor.engine.sources import Dataset
from auditor.engine.sql import is_numeric, quote_ident
from auditor.errors import ConfigError, DataError
from auditor.metrics.performance import NEGATIVE_WORDS, POSITIVE_WORDS, ModelColumns, model_columns, value_expr

# The values of a label or prediction column, most frequent first, and how many there are in all.
VALUES_SQL = """SELECT v, n, count(*) OVER () AS kinds FROM (
  SELECT {value} AS v, count(*) AS n FROM {view} WHERE {value} IS NOT NULL GROUP BY 1
) ORDER BY n DESC, v LIMIT 12"""
SCORE_RANGE_SQL = "SELECT min({score}), max({score}) FROM {view}"
RULE = "1/0, true/false, yes/no, y/n, positive/negative or pos/neg"


@dataclass(frozen=True)
class Values:
    """The values a column holds across the run's datasets (as text), with counts per dataset."""

    column: str
    numeric: bool
    per_dataset: dict[str, list[tuple[Any, int]]] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)  # distinct values per dataset, all of them

    @property
    def all(self) -> list[Any]:
        seen: dict[Any, None] = {}
        for found in self.per_dataset.values():
            seen.update(dict.fromkeys(v for v, _ in found))
        return list(seen)

    def shown(self) -> str:
        return some([_text(v) for v in self.all], more=max(self.kinds.values(), default=0) - len(self.all))

    def fits_rule(self) -> bool:
        if self.numeric:
            return all(v in (0.0, 1.0) for v in self.all)
        return all(str(v).lower() in POSITIVE_WORDS + NEGATIVE_WORDS for v in self.all) and \
            max(self.kinds.values(), default=0) <= len(POSITIVE_WORDS + NEGATIVE_WORDS)

    def matches(self, positive: str, dataset: str | None = None) -> bool:
        found = self.per_dataset.get(dataset, []) if dataset else [(v, 0) for v in self.all]
        return any(_same(v, positive, self.numeric) for v, _ in found)


def _text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else f"'{value}'"


def _same(value: Any, positive: str, numeric: bool) -> bool:
    if numeric:
        try:
            return float(value) == float(positive)
        except ValueError:
            return False
    return str(value) == positive


@dataclass(frozen=True)
class Target:
    """How label, prediction and score read in every dataset of the run (see the module docstring)."""

    task: str
    label: str | None = None
    prediction: str | None = None
    score: str | None = None
    positive_label: str | None = None
    prediction_holds_labels: bool = False
    challenger_holds_labels: bool = False
    decision_threshold: float = 0.5
    favorable_outcome: str = "positive"
    score_range: tuple[float, float] | None = None
    sql: tuple[str, ...] = ()

    @property
    def probability(self) -> bool:
        """Whether the score is a probability: every observed value within [0, 1]."""
        return self.score_range is None or (self.score_range[0] >= 0 and self.score_range[1] <= 1)

    def not_probability(self) -> str:
        """Why probability metrics skip: the score's range in words."""
        low, high = self.score_range or (None, None)
        return f"'{self.score}' ranges {low:g} to {high:g}, not a probability"

    def columns(self, dataset: Dataset | None, *, prediction: str | None = None, score: str | None = None,
                challenger: bool = False) -> ModelColumns | None:
        """Label, prediction and score of `dataset` as SQL (None without the dataset or its rows);
        `prediction` and `score` name other columns (a challenger's) to read by the same rule."""
        if dataset is None or not dataset.rows:
            return None
        holds = self.challenger_holds_labels if challenger else self.prediction_holds_labels
        return model_columns(dataset, label=self.label, prediction=prediction if challenger else self.prediction,
                             score=score if challenger else self.score, task=self.task,
                             positive_label=self.positive_label, prediction_positive=holds,
                             decision_threshold=self.decision_threshold)

    @property
    def positive(self) -> str:
        """The positive class in words, for messages."""
        return f"'{self.positive_label}'" if self.positive_label is not None else "1 / true / yes"


def column_values(engine: Engine, datasets: list[Dataset], column: str) -> Values:
    """The values of `column` in each dataset that has it (at most 12 each, the most frequent first)."""
    numeric = all(is_numeric(ds.column(column).type) for ds in datasets)
    values = Values(column, numeric)
    for ds in datasets:
        col = ds.column(column)
        expr = value_expr(column, col.type) if numeric else f"nullif(trim({quote_ident(column)}::VARCHAR), '')"
        sql = VALUES_SQL.format(value=expr, view=ds.view)
        rows = engine.query(sql)
        values.per_dataset[ds.name] = [(v, int(n)) for v, n, _ in rows]
        values.kinds[ds.name] = int(rows[0][2]) if rows else 0
    return values


def resolve_target(engine: Engine, config: AuditConfig, datasets: dict[str, Dataset], *, label: str | None,
                   prediction: str | None, score: str | None, probe: bool = True) -> Target:
    """The run's Target. With `probe`, the data is checked against the rule first (see the module
    docstring for what raises); without it (no check reads the model's outputs) nothing is read."""
    rule = config.target
    positive = rule.positive_label.strip() if rule.positive_label is not None else None
    target = Target(task=config.task, label=label, prediction=prediction, score=score, positive_label=positive,
                    decision_threshold=rule.decision_threshold if rule.decision_threshold is not None else 0.5,
                    favorable_outcome=rule.favorable_outcome)
    if config.task != "binary_classification" or not probe:
        return target
    having = {c: [d for d in datasets.values() if d.rows and d.column(c) is not None]
              for c in (label, prediction, score, config.columns.challenger_prediction,
                        config.columns.challenger_score) if c}
    labels = column_values(engine, having[label], label) if label else None
    if labels is not None:
        _check_label(labels, positive)
    holds = {}
    for key, name in (("prediction", prediction), ("challenger_prediction", config.columns.challenger_prediction)):
        if name and having[name]:
            holds[key] = _prediction_rule(column_values(engine, having[name], name), key, labels, positive)
    score_range = _score_range(engine, having, score, "score", prediction, rule.decision_threshold)
    _score_range(engine, having, config.columns.challenger_score, "challenger_score",
                 config.columns.challenger_prediction, rule.decision_threshold)
    return Target(**{**target.__dict__, "prediction_holds_labels": holds.get("prediction", False),
                     "challenger_holds_labels": holds.get("challenger_prediction", False),
                     "score_range": score_range})


def _check_label(labels: Values, positive: str | None) -> None:
    if not labels.all:
        return  # no label has arrived yet: label-free, and nothing to read
    where = f"columns.label '{labels.column}'"
    if positive is None:
        if not labels.fits_rule():
            raise ConfigError(f"{where} holds {labels.shown()}, not {RULE}: set target.positive_label "
                              "to the value of the positive class")
        return
    if not labels.matches(positive):
        raise DataError(f"target.positive_label '{positive}' matches no value of {where} (it holds {labels.shown()})")
    for name, found in labels.per_dataset.items():
        if labels.kinds[name] > 1 and not labels.matches(positive, name):
            raise DataError(f"target.positive_label '{positive}' matches no value of {where} in dataset '{name}' "
                            f"(it holds {some([_text(v) for v, _ in found])})")


def _prediction_rule(values: Values, key: str, labels: Values | None, positive: str | None) -> bool:
    """Whether the prediction compares to positive_label (it holds label values); raises when it can be
    read neither that way nor by the two-valued rule."""
    if not values.all:
        return False
    if positive is not None and labels is not None and labels.all:
        label_text = {str(v) if not labels.numeric else float(v) for v in labels.all}
        if all((float(v) if labels.numeric and values.numeric else str(v)) in label_text for v in values.all):
            return True
    if values.fits_rule():
        return False
    hint = "; a score belongs in columns.score" if values.numeric else ""
    also = " nor the label's values" if positive is not None else ""
    raise ConfigError(f"columns.{key} '{values.column}' holds {values.shown()}: not {RULE}{also}{hint}")


def _score_range(engine: Engine, having: dict[str, list[Dataset]], score: str | None, key: str,
                 prediction: str | None, threshold: float | None) -> tuple[float, float] | None:
    """The score's observed range; exit 2 when a prediction is cut from a score that is not a
    probability and no target.decision_threshold says where."""
    if not score or not having.get(score):
        return None
    lows, highs, derived = [], [], False
    for ds in having[score]:
        col = ds.column(score)
        if not is_numeric(col.type):
            raise DataError(f"columns.{key} '{score}' is {col.type} in dataset '{ds.name}', not a number")
        low, high = engine.query_one(SCORE_RANGE_SQL.format(score=value_expr(score, col.type), view=ds.view))
        if low is not None:
            lows.append(float(low))
            highs.append(float(high))
        derived = derived or prediction is None or ds.column(prediction) is None
    if not lows:
        return None
    low, high = min(lows), max(highs)
    if derived and threshold is None and (low < 0 or high > 1):
        raise ConfigError(f"columns.{key} '{score}' ranges {low:g} to {high:g}, not a probability: "
                          "set target.decision_threshold (or columns.prediction)")
    return low, high
