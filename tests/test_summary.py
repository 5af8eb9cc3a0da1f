"""auditor.engine.summary against numpy: nulls (NaN counted as missing), infinities apart, moments of the finite values."""

from __future__ import annotations

import numpy as np
import pytest

from auditor.engine.duckdb_engine import Engine
from auditor.engine.sources import Column, Dataset
from auditor.engine.summary import summarize
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


MIXED = """SELECT * FROM (VALUES
  (3::BIGINT, 'b', TIMESTAMP '2026-01-02 03:04:05', true, 1.5::DECIMAL(9, 2), 2::TINYINT),
  (NULL, NULL, NULL, NULL, NULL, NULL),
  (-7, 'a', TIMESTAMP '2025-12-31 23:59:59', false, -2.25, 2),
  (10, 'c', TIMESTAMP '2026-03-01 00:00:00', true, 4.0, 2)
) t(n, s, ts, flag, amount, same)"""


@pytest.mark.parametrize("source", ["parquet", "csv", "table", "filtered"])
def test_min_and_max_from_parquet_statistics_equal_those_read_from_the_values(tmp_path, source):
    """Where DuckDB answers min and max from a file's statistics, the summary asks it to, in subqueries of
    their own; elsewhere it reads them with the other aggregates. The summaries are the same either way."""
    from auditor.engine.summary import bounds_from_metadata, statements, summary_sql

    path = write_parquet(tmp_path / "m.parquet", MIXED)
    engine = Engine()
    engine.execute(f"COPY (SELECT * FROM read_parquet('{path}')) TO '{tmp_path / 'm.csv'}'")
    engine.execute(f"CREATE TABLE m AS SELECT * FROM read_parquet('{path}')")
    select = {"parquet": f"SELECT * FROM read_parquet('{path}')", "csv": f"SELECT * FROM read_csv_auto('{tmp_path / 'm.csv'}')",
              "table": "SELECT * FROM m", "filtered": f"SELECT * FROM read_parquet('{path}') WHERE n IS NULL OR n > -100"}
    engine.execute(f"CREATE VIEW d AS {select[source]}")
    ds = Dataset(name="d", view="d", source=source, rows=4,
                 columns=tuple(Column(r[0], str(r[1])) for r in engine.query("DESCRIBE d")))
    # Booleans are compared as text, an order the file's statistics do not keep: read.
    expected = {"n", "s", "ts", "amount", "same"} if source == "parquet" else set()
    assert bounds_from_metadata(engine, ds) == expected
    found = summarize(engine, ds)
    sql = statements(found)
    assert sql == [summary_sql(ds, metadata_bounds=expected)]
    assert ("(SELECT min(" in sql[0]) == (source == "parquet") and "(SELECT min(\"flag\"" not in sql[0]
    # The same summaries, min and max read from the values.
    rows = {row[0]: row for row in engine.query(summary_sql(ds))}
    for i, col in enumerate(ds.columns):
        got = found[col.name]
        assert (got.min, got.max) == (rows[i][5], rows[i][6]) if got.numeric else (rows[i][7], rows[i][8]), col
    assert (found["n"].min, found["n"].max, found["n"].nulls, found["n"].distinct) == (-7.0, 10.0, 1, 3)
    assert (found["s"].min, found["s"].max) == ("a", "c")
    assert (found["ts"].min, found["ts"].max) == ("2025-12-31 23:59:59", "2026-03-01 00:00:00")
    assert (found["flag"].min, found["flag"].max) == ("false", "true")
    assert (found["amount"].min, found["amount"].max) == (-2.25, 4.0)
    assert (found["same"].min, found["same"].max, found["same"].mean) == (2.0, 2.0, 2.0)
    if source == "parquet":  # without the boolean, one plan answers for every column
        engine.execute(f"CREATE VIEW e AS SELECT * EXCLUDE (flag) FROM read_parquet('{path}')")
        plain = Dataset(name="e", view="e", source=source, rows=4,
                        columns=tuple(c for c in ds.columns if c.name != "flag"))
        before = len(engine.log)
        assert bounds_from_metadata(engine, plain) == expected
        assert [q.sql.startswith("EXPLAIN") for q in engine.log[before:]] == [True]
    engine.close()
