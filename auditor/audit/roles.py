"""Which column plays which role: id, label, score, sensitive groups, features.

Resolved once per run against the `current` dataset. A declared column that
does not exist there is a `DataError` naming the closest real column.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from auditor.config import Columns
from auditor.engine.sources import Dataset
from auditor.engine.sql import is_integer, is_numeric
from auditor.engine.summary import ColumnSummary
from auditor.errors import DataError

SINGLE_ROLES = ("id", "timestamp", "label", "prediction", "score", "model_version", "latency")
# An integer column with at most this many distinct values is treated as categorical.
MAX_INTEGER_CATEGORIES = 20


@dataclass(frozen=True)
class Roles:
    id: str | None = None
    timestamp: str | None = None
    label: str | None = None
    prediction: str | None = None
    score: str | None = None
    model_version: str | None = None
    latency: str | None = None
    sensitive: tuple[str, ...] = ()
    features: tuple[str, ...] = ()
    categorical: frozenset[str] = field(default_factory=frozenset)

    def has(self, role: str) -> bool:
        value = getattr(self, role)
        return bool(value)

    def is_categorical(self, column: str) -> bool:
        return column in self.categorical

    @property
    def role_columns(self) -> dict[str, str]:
        """role -> column for the single-column roles that are set."""
        return {r: getattr(self, r) for r in SINGLE_ROLES if getattr(self, r)}


def _missing(column: str, where: str, dataset: Dataset) -> DataError:
    hint = difflib.get_close_matches(column, dataset.column_names, n=1, cutoff=0.5)
    suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
    return DataError(f"{where}: column '{column}' does not exist in dataset '{dataset.name}'{suggestion}")


def infer_categorical(column: str, duck_type: str, summary: ColumnSummary | None) -> bool:
    """Strings and booleans are categorical; integers too when they take few values."""
    if not is_numeric(duck_type):
        return not duck_type.upper().startswith(("TIMESTAMP", "DATE", "TIME"))
    if is_integer(duck_type) and summary is not None:
        return summary.distinct <= MAX_INTEGER_CATEGORIES
    return False


# Roles a prediction log carries but scored data need not: found in either dataset.
LOG_ROLES = ("timestamp", "model_version", "latency")


def resolve_roles(columns: Columns, current: Dataset, summaries: dict[str, ColumnSummary],
                  predictions: Dataset | None = None) -> Roles:
    names = set(current.column_names)
    log_names = set(predictions.column_names) if predictions else set()
    for role in SINGLE_ROLES:
        col = getattr(columns, role)
        if col and col not in names and not (role in LOG_ROLES and col in log_names):
            raise _missing(col, f"columns.{role}", current)
    for i, col in enumerate(columns.sensitive):
        if col not in names:
            raise _missing(col, f"columns.sensitive[{i}]", current)
    # A challenger's outputs are model outputs too, not inputs: keep them out of the default features.
    challengers = {columns.challenger_prediction, columns.challenger_score}
    role_cols = ({getattr(columns, r) for r in SINGLE_ROLES} | challengers) - {None}
    if columns.features is not None:
        for i, col in enumerate(columns.features):
            if col not in names:
                raise _missing(col, f"columns.features[{i}]", current)
        features = tuple(columns.features)
    else:
        # Sensitive attributes are features too by default: their drift and nulls matter.
        features = tuple(c for c in current.column_names if c not in role_cols)
    if columns.categorical is not None:
        for i, col in enumerate(columns.categorical):
            if col not in names:
                raise _missing(col, f"columns.categorical[{i}]", current)
        categorical = frozenset(columns.categorical) | frozenset(columns.sensitive)
    else:
        categorical = frozenset(
            c.name for c in current.columns
            if c.name in features and infer_categorical(c.name, c.type, summaries.get(c.name))
        ) | frozenset(columns.sensitive)
    return Roles(
        **{r: getattr(columns, r) for r in SINGLE_ROLES},
        sensitive=tuple(columns.sensitive),
        features=features,
        categorical=categorical,
    )
