"""auditor.summary against numpy: nulls (NaN counted as missing), infinities apart, moments of the finite values."""

from __future__ import annotations

import numpy as np
import pytest

from auditor.sources import Column, Dataset
from auditor.sql import Engine
from auditor.summary import summarize
from tests.conftest import write_parquet

ROWS = """SELECT * FROM (VALUES
  (1.5::DOUBLE, 3::BIGINT, 'b', 'inf'::DOUBLE, 'NaN'::DOUBLE),
  ('NaN'::DOUBLE, NULL, 'a', '-inf'::DOUBLE, NULL),
  (NULL, -7, NULL, 'inf'::DOUBLE, 'NaN'::DOUBLE),
  ('inf'::DOUBLE, 3, 'b', NULL, NULL),
  ('-inf'::DOUBLE, 10, 'c', 'NaN'::DOUBLE, 'NaN'::DOUBLE),
  (-2.25, 0, 'a', 'inf'::DOUBLE, NULL),
  (4.0, 3, 'b', '-inf'::DOUBLE, 'NaN'::DOUBLE)
) t(x, n, s, only_inf, only_missing)"""


def test_summary_matches_numpy_with_nulls_nan_and_infinities(tmp_path):
    path = write_parquet(tmp_path / "s.parquet", ROWS)
    engine = Engine()
    engine.execute(f"CREATE VIEW d AS SELECT * FROM read_parquet('{path}')")
    ds = Dataset(name="d", view="d", source=str(path), rows=7,
                 columns=tuple(Column(r[0], str(r[1])) for r in engine.query("DESCRIBE d")))
    found = summarize(engine, ds)
    engine.close()
    x = found["x"]
    finite = np.array([1.5, -2.25, 4.0])
    assert (x.rows, x.nulls, x.infinite) == (7, 2, 2)
    assert (x.min, x.max) == (-2.25, 4.0)
    assert x.mean == pytest.approx(finite.mean(), rel=1e-15) and x.std == pytest.approx(finite.std(), rel=1e-15)
    n = found["n"]
    ints = np.array([3, -7, 3, 10, 0, 3], dtype=float)
    assert (n.nulls, n.infinite, n.min, n.max, n.distinct) == (1, 0, -7.0, 10.0, 4)
    assert n.mean == pytest.approx(ints.mean()) and n.std == pytest.approx(ints.std())
    assert (found["s"].nulls, found["s"].min, found["s"].max, found["s"].distinct) == (1, "a", "c", 3)
    inf = found["only_inf"]
    assert (inf.nulls, inf.infinite, inf.min, inf.max, inf.mean, inf.std) == (2, 5, None, None, None, None)
    missing = found["only_missing"]
    assert (missing.nulls, missing.infinite, missing.min, missing.mean) == (7, 0, None, None)
