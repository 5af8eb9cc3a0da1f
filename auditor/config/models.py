"""The audit config (audit.yaml, version 1) as pydantic models: the one declaration of every key.

Each field carries its description, so the JSON Schema (`auditor config-schema`) and the
configuration reference (docs/configuration.md) are generated from here. The roles a column can
play (`ROLES`) and the fields of the project card (`CARD_FIELDS`) are read off these models, so
they are written down once. Reading the file is auditor.config.loading's job.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from auditor.errors import ConfigError
from auditor.render.formats import FORMAT_NAMES

Task = Literal["binary_classification", "multiclass", "regression"]
Format = Literal[FORMAT_NAMES]  # type: ignore[valid-type]  (the formats are declared once, in auditor.render.formats)

class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SuccessMetric(Strict):
    metric: str = Field(description="a metric name of modeling.performance, like roc_auc, f1 or rmse")
    target: float = Field(description="the value the model must reach")
    direction: Literal["above", "below"] = Field(
        "above", description="above: the metric must reach the target (scores like roc_auc); below: stay under it (errors like rmse)")


class Deployment(Strict):
    mode: Literal["batch", "online", "streaming", "edge"] | None = Field(None, description="how predictions are served")
    latency_budget_ms: float | None = Field(None, gt=0, description="p95 latency the service must stay under (deployment.latency)")


def card(meaning: str, *, missing: Literal["fail", "warn", "info"], **kwargs: Any) -> Any:
    """A project-card field: what it says, and what scoping.project_card gives when it is missing."""
    return Field(description=meaning, json_schema_extra={"card": missing}, **kwargs)


class ProjectCard(Strict):
    """The scoping card, rendered first in every report and checked by scoping.project_card."""

    name: str = Field("unnamed project", description="the project's name, shown in every report's title")
    problem_statement: str | None = card("the problem the model solves", missing="fail", default=None)
    owner: str | None = card("who answers for the model", missing="warn", default=None)
    stakeholders: list[str] = card("who is affected", missing="info", default_factory=list)
    intended_use: str | None = card("what the model may be used for", missing="warn", default=None)
    out_of_scope: str | None = card("what the model must not be used for", missing="info", default=None)
    data_sources: list[str] = card("where the data comes from", missing="info", default_factory=list)
    success_metrics: list[SuccessMetric] = card("how success is measured", missing="warn", default_factory=list)
    deployment: Deployment | None = card("how the model is deployed", missing="warn", default=None)
    ethical_considerations: str | None = card("ethical risks and mitigations", missing="info", default=None)
    limitations: str | None = card("known limitations", missing="info", default=None)


class DatasetSpec(Strict):
    """One of: `path` (file or glob), `sql` (a query over other datasets), `table` (+ `database`)."""

    path: str | None = Field(None, description="a file or glob, relative to the config; Parquet, CSV or JSON by extension")
    format: Literal["parquet", "csv", "json"] | None = Field(None, description="the file format, when the extension does not say")
    sql: str | None = Field(None, description="a query over the other datasets (by name) or over files")
    table: str | None = Field(None, description="a table name (schema.table allowed)")
    database: str | None = Field(None, description="a DuckDB database file holding `table`, relative to the config")

    @model_validator(mode="after")
    def one_source(self) -> DatasetSpec:
        given = [k for k in ("path", "sql", "table") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of path, sql or table")
        if self.database and not self.table:
            raise ValueError("database goes with table")
        return self


class Datasets(Strict):
    reference: DatasetSpec | None = Field(None, description="the baseline: training data, or last month's")
    current: DatasetSpec = Field(description="the data being audited")
    predictions: DatasetSpec | None = Field(None, description="the prediction log for the deployment checks (default: current)")


GLOB_CHARACTERS = "*?["


class CatalogTable(Strict):
    """A table the data dictionary describes without auditing it: `path` (a file or glob: one table),
    `sql`, `table` with `database`, or `database` alone (every table of a DuckDB file)."""

    path: str | None = Field(None, description="a file or glob (one table, the union of its files), relative to the config")
    format: Literal["parquet", "csv", "json"] | None = Field(None, description="the file format, when the extension does not say")
    sql: str | None = Field(None, description="a query over files or the datasets (by name); needs a name")
    table: str | None = Field(None, description="a table of `database` (schema.table allowed)")
    database: str | None = Field(None, description="a DuckDB database file: with table, that table; alone, every table in it")
    name: str | None = Field(None, description="its name in the dictionary (default: the file's or the table's name)")
    description: str | None = Field(None, description="what the table holds, shown in the dictionary")

    @model_validator(mode="after")
    def one_source(self) -> CatalogTable:
        given = [k for k in ("path", "sql", "table") if getattr(self, k)]
        if len(given) > 1 or (not given and not self.database):
            raise ValueError("give exactly one of path, sql, table (with database) or database alone")
        if self.table and not self.database:
            raise ValueError("table goes with database (a DuckDB file); use sql for a query over the datasets")
        if self.database and given and given != ["table"]:
            raise ValueError("database goes with table, or alone for every table in it")
        if self.sql and not self.name:
            raise ValueError("a sql table needs a name")
        return self

    @property
    def default_name(self) -> str | None:
        """The dictionary's name for it (None for a whole database: its tables are named when attached)."""
        if self.name:
            return self.name
        if self.path:
            parts = [p for p in Path(self.path).parts if not any(ch in p for ch in GLOB_CHARACTERS)]
            last = Path(self.path).name
            if any(ch in last for ch in GLOB_CHARACTERS):
                return parts[-1] if parts else "files"
            return last.split(".")[0] or last
        if self.table:
            return self.table.split(".")[-1]
        return None


def role(meaning: str) -> Any:
    """A column role: checks may need it (`@check(needs=...)`)."""
    return Field(None, description=meaning, json_schema_extra={"role": True})


class FieldDoc(Strict):
    description: str | None = Field(None, description="what the column holds")
    owner: str | None = Field(None, description="who answers for it")


class Columns(Strict):
    """Which column plays which role. Unset roles are inferred or left out; checks that need them skip."""

    id: str | None = role("the row identifier (duplicates, leakage)")
    timestamp: str | None = role("when the row happened (freshness and the time windows of the prediction log)")
    label: str | None = role("the observed outcome")
    prediction: str | None = role("the model's predicted class or value")
    score: str | None = role("the model's score or probability of the positive class")
    sensitive: list[str] = Field(default_factory=list, description="sensitive attributes for the fairness checks",
                                 json_schema_extra={"role": True})
    model_version: str | None = role("the model version that made the prediction")
    latency: str | None = role("the prediction's latency in milliseconds")
    features: list[str] | None = Field(None, description="the model's inputs (default: every column without another role)")
    categorical: list[str] | None = Field(None, description="columns to treat as categories (default: inferred)")
    challenger_prediction: str | None = Field(None, description="a second model's prediction on the same rows (modeling.champion_challenger)")
    challenger_score: str | None = Field(None, description="a second model's score on the same rows")
    timestamp_format: str | None = Field(
        None, description="how a text timestamp is written, in strptime codes like '%d/%m/%Y %H:%M' "
                          "(default: ISO 8601 text, or a native date or timestamp column)")
    descriptions: dict[str, FieldDoc] = Field(
        default_factory=dict, description="what each column means, for the data dictionary: column -> text, or "
        "{description, owner}; the pandera schema's description/title and metadata.owner are used where it is silent")

    @field_validator("sensitive", mode="before")
    @classmethod
    def one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("descriptions", mode="before")
    @classmethod
    def text_is_a_description(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: {"description": v} if isinstance(v, str) else v for k, v in value.items()}
        return value


class Target(Strict):
    """What the label and the prediction mean: one decision rule, read by every check."""

    positive_label: str | None = Field(
        None, description="the label value that is the positive class, compared as text (like '>50K'); needed "
                          "when the label is not two-valued 1/0, true/false, yes/no, y/n, positive/negative or pos/neg")
    decision_threshold: float | None = Field(
        None, description="prediction = score >= this, when there is no prediction column; needed when the score "
                          "is not a probability (default: 0.5 for probabilities)")
    favorable_outcome: Literal["positive", "negative"] = Field(
        "positive", description="which predicted class benefits the person (negative: a positive prediction harms, "
                                "like 'high risk'); disparate impact compares the favorable outcome's rates")

    @field_validator("positive_label", mode="before")
    @classmethod
    def as_text(cls, value: Any) -> Any:
        # YAML reads `positive_label: 1` as a number and `yes` as true: the label is compared as text.
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value) if isinstance(value, (int, float)) else value


class Monitoring(Strict):
    window: str = Field(default="1d", pattern=r"^\d+[hdw]$", description="the time window of the deployment checks: 1h, 1d, 1w")


class Outputs(Strict):
    dir: str = Field("reports", description="where reports are written, relative to the config")
    formats: list[Format] = Field(default_factory=lambda: ["json", "html", "md"], description="report formats to write")
    history: bool = Field(False, description="dated run folders under dir, recorded in dir/history.duckdb, with trends")
    keep: str | None = Field(default=None, pattern=r"^[1-9]\d*d?$", description="with history: keep 90d (days) or the newest 30 (runs)")
    lock_timeout: str = Field("10m", pattern=r"^\d+(\.\d+)?[smh]?$",
                              description="with history: how long a run waits for another one writing the same "
                                          "output root (90s, 10m, 1h; a bare number is seconds), then exits 3")
    templates: str | None = Field(None, description="a folder of report templates searched before the stock ones, "
                                  "relative to the config; it mirrors report_templates/ (html/, md/, email/)")
    provenance_identity: bool = Field(True, description="the host and user that ran the audit, in run.provenance "
                                      "(false leaves them out of every report)")


DUCKDB_SETTINGS = ("threads", "memory_limit", "temp_directory")
SPARK_SETTINGS = ("master", "remote", "conf")


class EngineSettings(Strict):
    kind: Literal["duckdb", "spark"] = Field(
        "duckdb", description="duckdb: in-process, one machine (the default); spark: Apache Spark, local or a cluster")
    threads: int | None = Field(default=None, ge=1, description="DuckDB threads (default: one per core)")
    memory_limit: str | None = Field(None, description="DuckDB memory limit, like 4GB (default: 256 MB a thread, at least 512 MB)")
    temp_directory: str | None = Field(None, description="where DuckDB's large sorts spill (default: a per-run folder, removed after)")
    cache_dir: str | None = Field(None, description="where the reference's statistics are kept between runs, relative "
                                  "to the config (default: the history root's cache/ with --history; none without)")
    master: str | None = Field(None, description='Spark: the master URL, like "local[2]" or "spark://host:7077" '
                               '(default: local[*], or what spark-submit set)')
    remote: str | None = Field(None, description='Spark: a Spark Connect server, like "sc://host:15002" (instead of master)')
    conf: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Spark: settings of the session, like {spark.executor.memory: 4g}")

    @model_validator(mode="after")
    def settings_of_the_kind(self) -> EngineSettings:
        wrong = [k for k in (DUCKDB_SETTINGS if self.kind == "spark" else SPARK_SETTINGS) if getattr(self, k)]
        if wrong:
            other = "DuckDB" if self.kind == "spark" else "Spark"
            hint = "; Spark's own settings go in conf" if self.kind == "spark" else "; set kind: spark"
            raise ValueError(f"{', '.join(wrong)} {'is a' if len(wrong) == 1 else 'are'} {other} setting"
                             f"{'' if len(wrong) == 1 else 's'}, not for kind: {self.kind}{hint}")
        if self.master and self.remote:
            raise ValueError("give master or remote, not both (remote is a Spark Connect server)")
        return self

    def with_environment(self, environ: typing.Mapping[str, str]) -> EngineSettings:
        """AUDITOR_THREADS, AUDITOR_MEMORY_LIMIT and AUDITOR_TEMP_DIRECTORY override the config,
        so one machine's limits need not be written into a shared audit.yaml (DuckDB only: Spark's
        resources are the cluster's)."""
        if self.kind != "duckdb":
            return self
        update: dict[str, Any] = {}
        threads = environ.get("AUDITOR_THREADS", "").strip()
        if threads:
            if not threads.isdigit() or int(threads) < 1:
                raise ConfigError(f"AUDITOR_THREADS: {threads!r} is not a positive whole number")
            update["threads"] = int(threads)
        for key in ("memory_limit", "temp_directory"):
            value = environ.get(f"AUDITOR_{key.upper()}", "").strip()
            if value:
                update[key] = value
        return self.model_copy(update=update)


class AuditConfig(Strict):
    version: Literal[1] = Field(1, description="the config format's version")
    project: ProjectCard = Field(default_factory=ProjectCard, description="the project card")
    task: Task = Field("binary_classification", description="what the model does")
    datasets: Datasets = Field(description="where the data is")
    columns: Columns = Field(default_factory=Columns, description="which column plays which role")
    target: Target = Field(default_factory=Target, description="the positive class, the decision threshold and "
                                                              "the favorable outcome")
    schema_: str | None = Field(default=None, alias="schema",
                                description="a pandera schema: a YAML file relative to the config, or module:attribute")
    checks: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="options per check id ({enabled: false} turns one off); each check declares its own")
    monitoring: Monitoring = Field(default_factory=Monitoring, description="the deployment checks' time windows")
    outputs: Outputs = Field(default_factory=Outputs, description="what is written, and where")
    engine: EngineSettings = Field(default_factory=EngineSettings, description="the engine's settings")
    catalog: list[CatalogTable] = Field(
        default_factory=list, description="more tables for the data dictionary (measured, not audited): a path or "
        "glob each, or {path}, {sql, name}, {table, database}, {database} for every table of a DuckDB file")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    # Set by read_config: where relative paths are resolved, and the file itself.
    base_dir: Path = Field(default=Path("."), exclude=True)
    path: Path | None = Field(default=None, exclude=True)

    def resolve(self, relative: str) -> Path:
        p = Path(relative).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    @field_validator("catalog", mode="before")
    @classmethod
    def paths_are_tables(cls, value: Any) -> Any:
        return [{"path": item} if isinstance(item, str) else item for item in value] if isinstance(value, list) else value

    @field_validator("catalog", mode="after")
    @classmethod
    def catalog_names_are_unique(cls, value: list[CatalogTable]) -> list[CatalogTable]:
        seen = {"reference", "current", "predictions"}  # the datasets' names
        for i, item in enumerate(value):
            name = item.default_name
            if name in seen:
                raise ValueError(f"item {i} would be named {name!r}, which is taken; give it another `name`")
            if name is not None:
                seen.add(name)
        return value

    @field_validator("checks", mode="before")
    @classmethod
    def options_are_mappings(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for key, options in value.items():
                if options is None:
                    value[key] = {}
                elif not isinstance(options, dict):
                    raise ValueError(f"options of {key} must be a mapping, like {{warn: 0.1, fail: 0.2}}")
        return value


# Declared once, read off the models: the roles checks may need, and the fields of the project card.
ROLES: tuple[str, ...] = tuple(name for name, f in Columns.model_fields.items()
                               if (f.json_schema_extra or {}).get("role"))  # type: ignore[union-attr]
SINGLE_ROLES: tuple[str, ...] = tuple(r for r in ROLES if r != "sensitive")
# (field, what it says, the status when it is missing): the required fields first.
CARD_FIELDS: tuple[tuple[str, str, str], ...] = tuple(sorted(
    ((name, f.description or "", f.json_schema_extra["card"])  # type: ignore[index]
     for name, f in ProjectCard.model_fields.items() if (f.json_schema_extra or {}).get("card")),
    key=lambda field: ("fail", "warn", "info").index(field[2])))
