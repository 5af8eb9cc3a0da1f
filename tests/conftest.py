"""Shared fixtures: small datasets written by DuckDB, and configs around them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
import yaml

from auditor import load_config
from auditor.audit.runner import run_audit
from auditor.report import AuditReport
from tests.engines import KINDS, new_engine


def pytest_collection_modifyitems(config, items):
    """A module's SPARK_ONLY_WITH = {"fixture": {values}} keeps its Spark runs to those parameters (a
    statement costs Spark a tenth of a second or more: the other parameters run on DuckDB only)."""
    kept, dropped = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        limits = getattr(item.module, "SPARK_ONLY_WITH", {})
        spark_extra = params.get("engine_kind") == "spark" and any(
            name in params and params[name] not in allowed for name, allowed in limits.items())
        (dropped if spark_extra else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(params=[pytest.param(kind, marks=[pytest.mark.spark] if kind == "spark" else []) for kind in KINDS])
def engine_kind(request) -> str:
    """Each engine in turn (Spark skips where it cannot run, and fails in CI)."""
    return request.param


@pytest.fixture
def make_engine(engine_kind) -> Callable:
    """A factory of engines of the kind under test, closed after the test."""
    made = []

    def make():
        made.append(new_engine(engine_kind))
        return made[-1]

    yield make
    for engine in made:
        engine.close()


def write_parquet(path: Path, select_sql: str) -> Path:
    """Write the result of a SELECT to Parquet (no pandas involved)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"COPY ({select_sql}) TO '{path}' (FORMAT parquet)")
    con.close()
    return path


BASE_SELECT = """
SELECT i AS id,
       20 + (i * 7) % 50 AS age,
       1000.0 + (i * 37) % 500 AS income,
       CASE WHEN i % 50 = 0 THEN NULL ELSE ['north', 'south', 'east', 'west'][1 + i % 4] END AS region,
       ['female', 'male'][1 + (i // 3) % 2] AS sex,
       (i % 3 > 0)::INTEGER AS label,
       ((i * 13) % 100) / 100.0 AS score,
       (((i * 13) % 100) >= 50)::INTEGER AS prediction
FROM range({n}) t(i)
"""


@pytest.fixture
def project(tmp_path: Path) -> Callable[..., Path]:
    """Write reference/current Parquet and an audit.yaml; return the config path.

    `project(current="SELECT ...", config={...})` overrides either side or replaces top-level config keys
    (None removes one).
    """

    def make(*, reference: str | None = None, current: str | None = None, n: int = 400,
             config: dict | None = None) -> Path:
        write_parquet(tmp_path / "data" / "reference.parquet", reference or BASE_SELECT.format(n=n))
        write_parquet(tmp_path / "data" / "current.parquet", current or BASE_SELECT.format(n=n))
        cfg = {
            "version": 1,
            "project": {"name": "test project", "problem_statement": "Approve loans.", "owner": "risk team",
                        "intended_use": "tests", "success_metrics": [{"metric": "accuracy", "target": 0.5}],
                        "deployment": {"mode": "batch", "latency_budget_ms": 200}},
            "datasets": {"reference": {"path": "data/reference.parquet"}, "current": {"path": "data/current.parquet"}},
            "columns": {"id": "id", "label": "label", "score": "score", "prediction": "prediction",
                        "sensitive": ["sex"]},
            "outputs": {"dir": "out", "formats": ["json"]},
        }
        for key, value in (config or {}).items():
            if value is None:
                cfg.pop(key, None)
            else:
                cfg[key] = value
        path = tmp_path / "audit.yaml"
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        return path

    return make


@pytest.fixture
def audit() -> Callable[..., AuditReport]:
    """Run the audit of a config path in-process, only the given stages."""

    def run(config_path: Path, *, stages: list[str] | None = None, **kwargs) -> AuditReport:
        return run_audit(load_config(config_path), stages=stages, **kwargs)

    return run


def results(report: AuditReport, check_id: str) -> dict:
    """subject -> result, for one check id."""
    return {r.subject: r for r in report.checks if r.id == check_id}
