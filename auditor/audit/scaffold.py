"""`auditor init DATA [DATA ...]`: a starting audit.yaml from data files or DuckDB databases.

It reads each table's columns and a few aggregates in DuckDB (nothing is loaded whole), then decides:

- **which table is which**: a prediction log by its name (pred, predictions, log, scored, inference,
  serving); reference and current by name (train/test, ref/cur, baseline/prod, ...), else by the dates
  in their file names, else by their newest timestamp, else in the order given. Tables left over go to
  `catalog:`, so the data dictionary still describes them;
- **which column plays which role**, by name and type: label/target/y, score/proba, prediction/pred,
  id, timestamp/ts/date (or a date or timestamp column), model_version, latency. An id must be
  near-unique; a timestamp stored as text must read as ISO 8601;
- **the task and the decision rule**: two label values make a binary task (a `target:` section with
  `positive_label` when they are not 0/1, yes/no, ...; the rarer value is guessed and marked TODO);
  a score outside [0, 1] with no prediction column gets a `decision_threshold` marked TODO.

Sensitive-attribute candidates found by name (sex, gender, race, ...) are written commented out, for a
person to confirm; the project card is a skeleton of TODOs, which `scoping.project_card` flags until
someone fills them. The written config is validated before it is written.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from auditor.audit.configure import config_from_dict
from auditor.audit.roles import ID_DISTINCT_SHARE, ID_MIN_VALUES
from auditor.audit.scaffold_yaml import render_config
from auditor.audit.target import column_values
from auditor.config import AuditConfig
from auditor.engine.base import Engine
from auditor.engine.catalog import CatalogEntry, attach_catalog
from auditor.engine.sources import Dataset
from auditor.engine.sql import is_numeric, is_temporal, quote_ident
from auditor.engine.summary import ColumnSummary, summarize
from auditor.engine.windows import timestamp_expr
from auditor.errors import ConfigError, DataError

DATABASE_SUFFIXES = (".duckdb", ".db", ".ddb")
TABLE_HINTS = {
    "predictions": ("pred", "preds", "prediction", "predictions", "log", "logs", "scored", "scoring", "inference",
                    "serving"),
    "reference": ("train", "training", "ref", "reference", "baseline", "historical", "history", "dev", "fit"),
    "current": ("test", "testing", "cur", "current", "prod", "production", "live", "latest", "new", "holdout",
                "eval", "validation", "valid", "monitor", "monitoring"),
}
ROLE_NAMES = {  # exact names, after lower-casing and turning other characters into "_"
    "label": ("label", "target", "y", "class", "outcome", "ground_truth", "truth", "actual", "y_true"),
    "score": ("score", "scores", "proba", "probability", "prob", "pred_proba", "y_score", "y_prob",
              "predicted_probability", "prediction_score", "risk_score", "model_score"),
    "prediction": ("prediction", "pred", "predicted", "y_pred", "yhat", "y_hat", "predicted_label",
                   "predicted_class", "decision"),
    "id": ("id", "uuid", "key", "record_id", "row_id"),
    "timestamp": ("ts", "timestamp", "date", "time", "datetime", "event_time", "event_ts", "created_at",
                  "scored_at", "prediction_time", "predicted_at", "event_date"),
    "model_version": ("model_version", "version", "model"),
    "latency": ("latency", "latency_ms", "duration_ms", "response_time_ms", "elapsed_ms", "latency_s"),
}
ROLE_SUFFIXES = {"label": ("_label", "_target"), "score": ("_score", "_proba", "_probability"), "id": ("_id",),
                 "timestamp": ("_at", "_ts", "_time")}
SENSITIVE_NAMES = ("sex", "gender", "race", "ethnicity", "ethnic_group", "age", "religion", "nationality",
                   "national_origin", "citizenship", "marital_status", "disability", "pregnancy",
                   "sexual_orientation", "color", "colour", "skin_color")
DATE_IN_NAME = re.compile(r"(20\d\d|19\d\d)[-_]?(0[1-9]|1[0-2])(?:[-_]?(0[1-9]|[12]\d|3[01]))?")
CLASSES_AT_MOST = 20  # a label of more values than this, numeric, is a regression target
NEWEST_SQL = "SELECT max({ts}) FROM {view}"


def normalized(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _tokens(name: str) -> set[str]:
    return set(normalized(name).split("_"))


@dataclass
class Table:
    """One input table and what was read of it."""

    entry: CatalogEntry
    summaries: dict[str, ColumnSummary]
    written: str  # its file (or database file) as the config names it: relative to the config
    roles: dict[str, str] = field(default_factory=dict)
    newest: datetime | None = None

    @property
    def dataset(self) -> Dataset:
        return self.entry.table

    @property
    def name(self) -> str:
        """The file's name without its extensions, or the table's (what the hints are read from)."""
        item = self.entry.item
        if item.path:
            return Path(item.path).name.split(".")[0]
        return self.entry.table.source.split(":", 1)[-1]


def _role_of(column: str, duck_type: str, summary: ColumnSummary | None) -> str | None:
    name = normalized(column)
    for role, names in ROLE_NAMES.items():
        if name in names or name.endswith(ROLE_SUFFIXES.get(role, ())):
            if role == "id" and not _near_unique(summary):
                continue
            if role in ("score", "latency") and not is_numeric(duck_type):
                continue
            if role == "timestamp" and not (is_temporal(duck_type) or duck_type.upper() == "VARCHAR"):
                continue
            return role
    if is_temporal(duck_type) and timestamp_expr(column, duck_type) is not None:
        return "timestamp"
    return None


def _near_unique(summary: ColumnSummary | None) -> bool:
    if summary is None:
        return False
    present = summary.rows - summary.nulls
    return present >= min(ID_MIN_VALUES, summary.rows) > 0 and min(summary.distinct, present) / present >= ID_DISTINCT_SHARE


def find_roles(table: Table, engine: Engine) -> dict[str, str]:
    """role -> column, the first column of each role in the table's column order."""
    roles: dict[str, str] = {}
    for col in table.dataset.columns:
        role = _role_of(col.name, col.type, table.summaries.get(col.name))
        if role and role not in roles:
            if role == "timestamp" and not _reads_as_time(engine, table.dataset, col.name, col.type):
                continue
            roles[role] = col.name
    return roles


def _reads_as_time(engine: Engine, dataset: Dataset, column: str, duck_type: str) -> bool:
    if timestamp_expr(column, duck_type) is not None:
        return True
    c = quote_ident(column)
    bad, present = engine.query_one(f"SELECT count(*) FILTER (WHERE nullif(trim({c}), '') IS NOT NULL AND "
                                    f"TRY_CAST(trim({c}) AS TIMESTAMPTZ) IS NULL), count({c}) FROM {dataset.view}")
    return present > 0 and bad == 0


def _newest(engine: Engine, table: Table) -> datetime | None:
    column = table.roles.get("timestamp")
    if column is None:
        return None
    col = table.dataset.column(column)
    ts = timestamp_expr(column, col.type) or f"TRY_CAST(trim({quote_ident(column)}) AS TIMESTAMP)"
    value = engine.query_one(NEWEST_SQL.format(ts=ts, view=table.dataset.view))[0]
    return value if isinstance(value, datetime) else None


def _name_date(table: Table) -> str | None:
    found = DATE_IN_NAME.findall(table.written if table.entry.item.path else table.name)
    return "".join(found[-1]) if found else None


def assign_tables(tables: list[Table]) -> tuple[dict[str, Table], list[Table], str]:
    """{reference, current, predictions} -> table, the tables left over, and how the pick was made."""
    picked: dict[str, Table] = {}
    rest = list(tables)
    for role in ("predictions", "reference", "current"):
        hinted = [t for t in rest if _tokens(t.name) & set(TABLE_HINTS[role])]
        if hinted and (role != "predictions" or len(rest) > 1):
            picked[role] = hinted[0]
            rest.remove(hinted[0])
    how = "by their names"
    if "current" not in picked and "reference" in picked and rest:
        picked["current"] = rest.pop(0)
    if "reference" not in picked and "current" in picked and len(rest) >= 1 and len(tables) > 1:
        picked["reference"] = rest.pop(0)
    if "current" not in picked and rest:
        dated = all(_name_date(t) for t in rest) and len({_name_date(t) for t in rest}) == len(rest)
        timed = all(t.newest for t in rest) and len({t.newest for t in rest}) == len(rest)
        if dated:
            rest.sort(key=lambda t: _name_date(t) or "")
            how = "by the dates in their file names"
        elif timed:
            rest.sort(key=lambda t: t.newest)  # type: ignore[arg-type, return-value]
            how = "by their newest timestamp"
        else:
            how = "in the order given"
        if len(rest) >= 2:
            picked["reference"] = rest.pop(0)
            picked["current"] = rest.pop(-1) if how != "in the order given" else rest.pop(0)
        else:
            picked["current"] = rest.pop(0)
    if "current" not in picked:  # only a prediction log was given: it is what is audited
        picked["current"] = picked.pop("predictions")
    return picked, rest, how


def read_tables(engine: Engine, paths: list[str], base: Path) -> list[Table]:
    """Every input (absolute paths) as a table: a file or glob is one, a DuckDB database gives each of
    its tables. `base` is the folder of the config to be written: the paths it will name are relative to it."""
    # Views named input_0, input_1... (a file named current.parquet must not take the dataset's name).
    items = [{"database": p} if Path(p).suffix.lower() in DATABASE_SUFFIXES else {"path": p, "name": f"input_{i}"}
             for i, p in enumerate(paths)]
    config = config_from_dict({"datasets": {"current": {"sql": "SELECT 1"}}, "catalog": items}, base_dir=Path("/"))
    tables = []
    for entry in attach_catalog(engine, config):
        if entry.table.rows == 0:
            continue
        table = Table(entry=entry, summaries=summarize(engine, entry.table), written=_written(paths[entry.index], base))
        table.roles = find_roles(table, engine)
        table.newest = _newest(engine, table)
        tables.append(table)
    if not tables:
        raise DataError(f"{', '.join(paths)}: no table with rows to audit")
    return tables


def _written(path: str, base: Path) -> str:
    """A data path as the config names it: relative to the config when it sits beside it or one folder up
    (data/x.parquet, ../data/x.parquet), else absolute (a chain of ../ is harder to read than the path)."""
    relative = os.path.relpath(path, base)
    return relative if not relative.startswith(os.path.join("..", "..")) else path


def decision_rule(engine: Engine, current: Table, others: list[Table]) -> tuple[str, dict[str, Any], list[str]]:
    """The task, the `target:` keys, and notes on what was guessed."""
    label, score, prediction = (current.roles.get(r) for r in ("label", "score", "prediction"))
    target: dict[str, Any] = {}
    notes: list[str] = []
    task = "binary_classification"
    if label:
        having = [t.dataset for t in [current, *others] if t.dataset.column(label) is not None]
        values = column_values(engine, having, label)
        kinds = max(values.kinds.values(), default=0)
        if values.numeric and kinds > CLASSES_AT_MOST:
            task = "regression"
        elif kinds > 2:
            task = "multiclass"
        elif kinds == 2 and not values.fits_rule():
            counts: dict[Any, int] = {}
            for found in values.per_dataset.values():
                for value, n in found:
                    counts[value] = counts.get(value, 0) + n
            rarer = min(counts, key=lambda v: (counts[v], str(v)))
            target["positive_label"] = str(rarer if not values.numeric else _plain(rarer))
            notes.append(f"positive_label: '{label}' holds {values.shown()}; the rarer value is guessed as positive")
    if task == "binary_classification" and score and not prediction:
        s = current.summaries.get(score)
        if s is not None and s.min is not None and s.max is not None and (float(s.min) < 0 or float(s.max) > 1):
            target["decision_threshold"] = _plain((float(s.min) + float(s.max)) / 2)
            notes.append(f"decision_threshold: '{score}' ranges {_plain(s.min)} to {_plain(s.max)}, not a "
                         "probability; the middle of its range is a placeholder")
    return task, target, notes


def _plain(value: Any) -> Any:
    number = float(value)
    return int(number) if number.is_integer() else round(number, 6)


def sensitive_candidates(table: Table) -> list[str]:
    roles = set(table.roles.values())
    return [c.name for c in table.dataset.columns if normalized(c.name) in SENSITIVE_NAMES and c.name not in roles]


def scaffold(engine: Engine, paths: list[str], out: Path, *, now: datetime) -> str:
    """The text of a starting audit.yaml for the data in `paths` (relative to the working folder), to be
    written at `out`; validated before it is returned."""
    base = out.parent.resolve()
    located = [str(Path(p).resolve()) for p in paths]
    for given, found in zip(paths, located, strict=True):
        if not any(ch in given for ch in "*?[") and not Path(found).exists():
            raise ConfigError(f"{given}: no such file")
    tables = read_tables(engine, located, base)
    picked, rest, how = assign_tables(tables)
    current = picked["current"]
    task, target, notes = decision_rule(engine, current, [t for t in picked.values() if t is not current])
    text = render_config(tables=picked, rest=rest, how=how, task=task, target=target, notes=notes,
                         sensitive=sensitive_candidates(current), sources=paths, now=now, name=_project_name(out, tables))
    validate_written(text, base)
    return text


def _project_name(out: Path, tables: list[Table]) -> str:
    folder = out.resolve().parent.name
    return folder if folder and folder not in ("data", "") else normalized(tables[0].name) or "my-model"


def validate_written(text: str, base: Path) -> AuditConfig:
    """The config as `auditor run` will read it: a bug here must never write a config that does not load."""
    return config_from_dict(yaml.safe_load(text), base_dir=base)
