"""The audit config (audit.yaml, version 1) as pydantic models.

`load_config(path)` reads and validates it; every problem becomes one
`ConfigError` line naming the file, the key path, what is wrong and, for a
typo, the closest valid key.
"""

from __future__ import annotations

import difflib
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from auditor.errors import ConfigError

Task = Literal["binary_classification", "multiclass", "regression"]
Format = Literal["json", "html", "md", "email", "junit"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SuccessMetric(Strict):
    metric: str
    target: float
    # Higher is better for scores like roc_auc; errors like rmse want "below".
    direction: Literal["above", "below"] = "above"


class Deployment(Strict):
    mode: Literal["batch", "online", "streaming", "edge"] | None = None
    latency_budget_ms: float | None = None


class ProjectCard(Strict):
    name: str = "unnamed project"
    problem_statement: str | None = None
    owner: str | None = None
    stakeholders: list[str] = Field(default_factory=list)
    intended_use: str | None = None
    out_of_scope: str | None = None
    data_sources: list[str] = Field(default_factory=list)
    success_metrics: list[SuccessMetric] = Field(default_factory=list)
    deployment: Deployment | None = None
    ethical_considerations: str | None = None
    limitations: str | None = None


class DatasetSpec(Strict):
    """One of: `path` (file or glob), `sql` (a query over other datasets), `table` (+ `database`)."""

    path: str | None = None
    format: Literal["parquet", "csv", "json"] | None = None
    sql: str | None = None
    table: str | None = None
    database: str | None = None

    @model_validator(mode="after")
    def one_source(self) -> DatasetSpec:
        given = [k for k in ("path", "sql", "table") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of path, sql or table")
        if self.database and not self.table:
            raise ValueError("database goes with table")
        return self


class Datasets(Strict):
    reference: DatasetSpec | None = None
    current: DatasetSpec
    predictions: DatasetSpec | None = None


class Columns(Strict):
    id: str | None = None
    timestamp: str | None = None
    label: str | None = None
    prediction: str | None = None
    score: str | None = None
    sensitive: list[str] = Field(default_factory=list)
    model_version: str | None = None
    latency: str | None = None
    features: list[str] | None = None
    categorical: list[str] | None = None
    # A second model scored on the same rows, compared by modeling.champion_challenger.
    challenger_prediction: str | None = None
    challenger_score: str | None = None

    @field_validator("sensitive", mode="before")
    @classmethod
    def one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class Monitoring(Strict):
    window: str = Field(default="1d", pattern=r"^\d+[hdw]$")


class Outputs(Strict):
    dir: str = "reports"
    formats: list[Format] = Field(default_factory=lambda: ["json", "html", "md"])
    # history: each run goes to a dated folder under dir, recorded in dir/history.duckdb (see auditor.delivery.history)
    history: bool = False
    keep: str | None = Field(default=None, pattern=r"^[1-9]\d*d?$")  # "90d" (days) or "30" (runs)


class EngineSettings(Strict):
    threads: int | None = Field(default=None, ge=1)
    memory_limit: str | None = None  # DuckDB syntax, e.g. "4GB"
    temp_directory: str | None = None  # where large sorts spill (default: a per-run folder, removed after)

    def with_environment(self, environ: typing.Mapping[str, str]) -> EngineSettings:
        """AUDITOR_THREADS, AUDITOR_MEMORY_LIMIT and AUDITOR_TEMP_DIRECTORY override the config,
        so one machine's limits need not be written into a shared audit.yaml."""
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
    version: Literal[1] = 1
    project: ProjectCard = Field(default_factory=ProjectCard)
    task: Task = "binary_classification"
    datasets: Datasets
    columns: Columns = Field(default_factory=Columns)
    schema_: str | None = Field(default=None, alias="schema")
    checks: dict[str, dict[str, Any]] = Field(default_factory=dict)
    monitoring: Monitoring = Field(default_factory=Monitoring)
    outputs: Outputs = Field(default_factory=Outputs)
    engine: EngineSettings = Field(default_factory=EngineSettings)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    # Set by load_config: where relative paths are resolved, and the file itself.
    base_dir: Path = Field(default=Path("."), exclude=True)
    path: Path | None = Field(default=None, exclude=True)

    def resolve(self, relative: str) -> Path:
        p = Path(relative).expanduser()
        return p if p.is_absolute() else self.base_dir / p

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


def closest(word: str, candidates: typing.Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(str(word), list(candidates), n=1, cutoff=0.5)
    return matches[0] if matches else None


def _unwrap(annotation: Any) -> Any:
    """Optional[X] / X | None -> X."""
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(args[0]) if len(args) == 1 else annotation
    return annotation


def _valid_keys(loc: tuple) -> list[str]:
    """The keys allowed at a location of the config, for 'did you mean' hints."""
    model: Any = AuditConfig
    for part in loc:
        model = _unwrap(model)
        if isinstance(model, type) and issubclass(model, BaseModel):
            field = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
            if field is None:
                return []
            model = field.annotation
        elif typing.get_origin(model) in (list, dict):
            model = typing.get_args(model)[-1]
    model = _unwrap(model)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [f.alias or n for n, f in model.model_fields.items() if n not in ("base_dir", "path")]
    return []


def _format_loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def describe_error(err: dict[str, Any]) -> str:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    where = _format_loc(loc)
    if err["type"] == "extra_forbidden":
        hint = closest(str(loc[-1]), _valid_keys(loc[:-1]))
        parent = _format_loc(loc[:-1])
        suggestion = f" (did you mean '{parent + '.' if loc[:-1] else ''}{hint}'?)" if hint else ""
        return f"{where}: unknown key{suggestion}"
    if err["type"] == "missing":
        return f"{where}: required key is missing"
    if err["type"] == "string_pattern_mismatch" and loc[-1] == "window":
        return f"{where}: {err.get('input')!r} is not a window; use a count and a unit, like 1h, 1d or 1w"
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] in ("literal_error", "enum"):
        return f"{where}: {message}, got {err.get('input')!r}"
    return f"{where}: {message}"


def parse_config(data: Any, *, source: str, base_dir: Path, path: Path | None = None) -> AuditConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the config must be a YAML mapping with at least 'datasets'")
    try:
        config = AuditConfig.model_validate(data)
    except pydantic.ValidationError as exc:
        # A typo'd key explains the "missing" errors that come with it: report it first.
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        first = errors[0]
        more = len(errors) - 1
        tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise ConfigError(f"{source}: {describe_error(first)}{tail}") from None
    return config.model_copy(update={"base_dir": base_dir, "path": path})


def load_config(path: str | Path) -> AuditConfig:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}:{where}: invalid YAML: {problem}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    return parse_config(data, source=str(path), base_dir=path.resolve().parent, path=path)


def config_json_schema() -> dict[str, Any]:
    """JSON Schema of audit.yaml, for editors' autocompletion."""
    schema = AuditConfig.model_json_schema(by_alias=True)
    schema["properties"].pop("base_dir", None)
    schema["properties"].pop("path", None)
    schema["title"] = "auditor audit.yaml (version 1)"
    return schema
