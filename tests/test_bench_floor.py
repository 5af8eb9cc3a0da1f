"""benchmarks/floor.py, the copy of the shared one-pass floor every bench ratio is measured against:
its one statement computes what it says, against pandas."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from tests.conftest import write_parquet

FLOOR = Path(__file__).resolve().parent.parent / "benchmarks" / "floor.py"


def load_floor():
    spec = importlib.util.spec_from_file_location("bench_floor", FLOOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_floor_is_one_pass_of_counts_bounds_distinct_means_and_approximate_deciles(tmp_path):
    floor = load_floor()
    path = write_parquet(tmp_path / "f.parquet", "SELECT i AS n, CASE WHEN i % 4 = 0 THEN NULL ELSE i * 0.5 END AS x, "
                                                 "'v' || (i % 7)::VARCHAR AS s FROM range(1000) t(i)")
    con = duckdb.connect()
    found = floor.measure(con, str(path))
    assert found["rows"] == 1000 and found["columns"] == 3 and found["sql"].count("FROM") == 1
    row = con.execute(found["sql"]).fetchone()
    frame = pd.read_parquet(path)
    # count(*), then per column count, min, max, approx distinct (+ avg and deciles for numbers).
    assert row[0] == 1000
    n_count, n_min, n_max, n_distinct, n_avg, n_deciles = row[1:7]
    assert (n_count, n_min, n_max, n_avg) == (1000, 0, 999, frame.n.mean())
    assert abs(n_distinct - 1000) < 50
    assert n_deciles == pytest.approx(np.quantile(frame.n, np.arange(1, 10) / 10), abs=15)
    x_count = row[7]
    assert x_count == frame.x.notna().sum()
    s_count, s_min, s_max, s_distinct = row[13:17]
    assert (s_count, s_min, s_max, s_distinct) == (1000, "v0", "v6", 7)
    con.close()
