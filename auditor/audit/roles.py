"""Which column plays which role: id, label, score, sensitive groups, features.

Resolved once per run against the `current` dataset. A declared column that
does not exist there is a `DataError` naming the closest real column.

Without `columns.features`, the features are every column without another role, except columns
that drift by construction (`left_out_features`): a near-unique integer or text column (an id
nobody declared) and a numeric column that follows the timestamp (a day or row index). The report
lists each with why; `columns.features` overrides.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection
from dataclasses import dataclass, field

from auditor.config import Columns
from auditor.engine.base import Engine
from auditor.engine.sources import Dataset
from auditor.engine.sql import is_integer, is_numeric, quote_ident
from auditor.engine.summary import ColumnSummary
from auditor.engine.windows import Timestamp
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
    left_out: dict[str, str] = field(default_factory=dict, compare=False)  # column -> why it is not a feature

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


# A feature whose non-null values are at least this share distinct looks like an id (the count is
# approximate, HyperLogLog within about 2%), judged on at least ID_MIN_VALUES values.
ID_DISTINCT_SHARE = 0.95
ID_MIN_VALUES = 100
# A numeric feature this correlated with the timestamp (Pearson, in current) is a time index.
TIME_INDEX_CORRELATION = 0.99
CORRELATION_SQL = "SELECT {parts} FROM {view}"


COUNTS_SQL = "SELECT {parts} FROM {view}"


def left_out_features(engine: Engine, current: Dataset, summaries: dict[str, ColumnSummary],
                      candidates: list[str], timestamp: Timestamp | None,
                      categorical: Collection[str] | None = None) -> tuple[dict[str, str], list[str]]:
    """The candidate features that drift by construction, each with why (for the report), and the SQL.

    `summaries` (the run's, when computed) give each column's values and distinct values; without them
    one narrow statement counts the integer and text candidates. `categorical` (declared) keeps those
    columns in; else integers of few values are categories (`infer_categorical`)."""
    out: dict[str, str] = {}
    statements: list[str] = []
    counted = [c for c in candidates if is_integer(current.column(c).type) or current.column(c).type.upper() == "VARCHAR"]
    if categorical is not None:
        counted = [c for c in counted if c not in categorical]
    if summaries:
        found = {c: (summaries[c].rows - summaries[c].nulls, summaries[c].distinct) for c in counted}
    elif counted:
        sql = COUNTS_SQL.format(parts=", ".join(f"count({quote_ident(c)}), approx_count_distinct({quote_ident(c)})"
                                                for c in counted), view=current.view)
        row = engine.query_one(sql)
        found = {c: (int(row[2 * i]), int(row[2 * i + 1])) for i, c in enumerate(counted)}
        statements.append(sql)
    else:
        found = {}
    for col, (present, distinct) in found.items():
        if present >= ID_MIN_VALUES and min(distinct, present) / present >= ID_DISTINCT_SHARE:
            out[col] = f"looks like an id ({min(distinct, present) / present:.1%} distinct)"

    def few_values(col: str) -> bool:
        if categorical is not None:
            return col in categorical
        return infer_categorical(col, current.column(col).type, summaries.get(col))

    numeric = [c for c in candidates if c not in out and is_numeric(current.column(c).type) and not few_values(c)]
    if timestamp is None or not numeric:
        return out, statements
    time = f"epoch({timestamp.sql})"
    sql = CORRELATION_SQL.format(parts=", ".join(f"corr({quote_ident(c)}::DOUBLE, {time})" for c in numeric),
                                 view=current.view)
    for col, r in zip(numeric, engine.query_one(sql, timestamp.params or None), strict=True):
        if r is not None and r >= TIME_INDEX_CORRELATION:
            out[col] = f"looks like a time index (follows '{timestamp.column}', correlation {r:.3f})"
    return out, [*statements, sql]


# Roles a prediction log carries but scored data need not: found in either dataset.
LOG_ROLES = ("timestamp", "model_version", "latency")


def resolve_roles(columns: Columns, current: Dataset, summaries: dict[str, ColumnSummary],
                  predictions: Dataset | None = None, left_out: dict[str, str] | None = None) -> Roles:
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
        features = tuple(c for c in current.column_names if c not in role_cols and c not in (left_out or {}))
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
        left_out=dict(left_out or {}) if columns.features is None else {},
    )


def default_features(columns: Columns, current: Dataset) -> list[str]:
    """The columns that are features unless left out: no other role, not sensitive, not a declared category."""
    taken = ({getattr(columns, r) for r in SINGLE_ROLES} | {columns.challenger_prediction, columns.challenger_score}
             | set(columns.sensitive) | set(columns.categorical or ())) - {None}
    return [c for c in current.column_names if c not in taken]
