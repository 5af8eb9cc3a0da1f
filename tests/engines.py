"""Both engines for the tests: DuckDB always, Spark (local[2], one session per test run) where pyspark
and Java are installed. In CI (env CI set) a missing Spark fails the Spark tests instead of skipping them."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

from auditor.engine.base import Engine

KINDS = ("duckdb", "spark")
# Small and steady on a shared 2-core machine: two task slots, few shuffle partitions.
SPARK_CONF = {"spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "2"}


def spark_missing() -> str | None:
    """Why Spark cannot run here, or None."""
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install -e '.[spark]')"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "Java is not installed (Spark needs Java 17 or newer)"
    return None


def require(kind: str) -> None:
    """Skip a Spark test where Spark cannot run; in CI, fail it."""
    if kind == "spark" and (reason := spark_missing()):
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the Spark tests: {reason}")
        pytest.skip(reason)


def new_engine(kind: str) -> Engine:
    require(kind)
    if kind == "spark":
        from auditor.engine.spark_engine import SparkEngine

        return SparkEngine(master="local[2]", conf=SPARK_CONF)
    from auditor.engine.duckdb_engine import DuckDBEngine

    return DuckDBEngine()


def attach_parquet(engine: Engine, name: str, path: str | Path) -> None:
    """A Parquet file as the view `name`, the way each engine attaches a dataset."""
    engine.view_of_files(name, str(path), "parquet")
