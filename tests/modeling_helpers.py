"""Shared by the modeling tests: small frames as DuckDB views, audit configs in tmp_path, and DeLong's oracle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from auditor.engine.duckdb_engine import Engine
from auditor.engine.sources import Dataset
from auditor.engine.sql import quote_ident


def view_of(df: pd.DataFrame, tmp_path: Path, name: str = "data") -> tuple[Engine, Dataset]:
    """Write `df` to Parquet and attach it as a view, as the runner would."""
    path = tmp_path / f"{name}.parquet"
    df.to_parquet(path, index=False)
    engine = Engine()
    engine.view_of_files(name, str(path), "parquet")
    columns = tuple(engine.columns(name))
    return engine, Dataset(name=name, view=quote_ident(name), source=str(path), rows=len(df), columns=columns)


def write_project(tmp_path: Path, current: pd.DataFrame, *, reference: pd.DataFrame | None = None,
                  **config) -> Path:
    """Parquet files plus an audit.yaml naming them; `config` keys are merged in."""
    current.to_parquet(tmp_path / "current.parquet", index=False)
    data = {"version": 1, "datasets": {"current": {"path": "current.parquet"}}}
    if reference is not None:
        reference.to_parquet(tmp_path / "reference.parquet", index=False)
        data["datasets"]["reference"] = {"path": "reference.parquet"}
    data.update(config)
    path = tmp_path / "audit.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def run(path: Path, *, check_ids: tuple[str, ...] | None = None):
    """Run the modeling stage; return its results (only `check_ids` when given)."""
    from auditor import load_config
    from auditor.audit.runner import run_audit

    report = run_audit(load_config(path), stages=["modeling"])
    return [c for c in report.checks if check_ids is None or c.id in check_ids]


def naive_delong(y, a, b):
    """DeLong from the definition, O(P·N): the oracle for the SQL version."""
    pos, neg = y == 1, y == 0

    def components(s):
        sp, sn = s[pos][:, None], s[neg][None, :]
        psi = (sp > sn) + 0.5 * (sp == sn)
        return psi.mean(axis=1), psi.mean(axis=0), psi.mean()

    a10, a01, auc_a = components(a)
    b10, b01, auc_b = components(b)
    s10 = np.cov(np.vstack([a10, b10]))
    s01 = np.cov(np.vstack([a01, b01]))
    var = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / pos.sum() + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / neg.sum()
    return auc_a, auc_b, np.sqrt(var)
