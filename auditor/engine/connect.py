"""The engine a run gets, from `engine:` in the config: DuckDB (the default) or Spark."""

from __future__ import annotations

import os

from auditor.config import AuditConfig
from auditor.engine.base import Engine
from auditor.errors import ConfigError


def open_engine(config: AuditConfig, environ: dict[str, str] | None = None) -> Engine:
    """A new engine for one run. Spark's options are checked here, before any data is read (exit 2)."""
    environ = dict(os.environ if environ is None else environ)
    settings = config.engine.with_environment(environ)
    if settings.kind == "spark":
        refuse_on_spark(config)
        from auditor.engine.spark_engine import SparkEngine

        return SparkEngine(master=settings.master, remote=settings.remote, conf=dict(settings.conf),
                           base_dir=config.base_dir)
    from auditor.engine.duckdb_engine import DuckDBEngine

    temp_directory = settings.temp_directory
    if temp_directory and not environ.get("AUDITOR_TEMP_DIRECTORY", "").strip():
        temp_directory = str(config.resolve(temp_directory))  # config paths are relative to the file
    return DuckDBEngine(threads=settings.threads, memory_limit=settings.memory_limit, temp_directory=temp_directory)


def refuse_on_spark(config: AuditConfig) -> None:
    """What the first Spark version leaves out, as one config error naming the option."""
    for name in ("reference", "current", "predictions"):
        spec = getattr(config.datasets, name)
        if spec is not None and spec.database:
            raise ConfigError(f"datasets.{name}.database: a DuckDB database file cannot be read with engine.kind: "
                              "spark; name a table of Spark's catalog, or use kind: duckdb")
    for index, item in enumerate(getattr(config, "catalog", None) or []):
        if item.database:
            raise ConfigError(f"catalog[{index}].database: a DuckDB database file cannot be read with engine.kind: "
                              "spark; name a table of Spark's catalog, or use kind: duckdb")
    timestamp_format = getattr(config.columns, "timestamp_format", None)  # columns.timestamp_format (strptime)
    if timestamp_format:
        from auditor.engine.spark_patterns import spark_datetime_pattern

        spark_datetime_pattern(timestamp_format, where="columns.timestamp_format")  # raises ConfigError
