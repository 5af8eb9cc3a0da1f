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
    """Where DuckDB answers a text or temporal column's min and max from a file's statistics, the summary
    asks it to, in one statement of min and max alone; elsewhere it reads them with the other aggregates.
    The summaries are the same either way."""
    from auditor.engine.summary import bounds_from_metadata, summary_plan

    path = write_parquet(tmp_path / "m.parquet", MIXED)
    engine = Engine()
    engine.execute(f"COPY (SELECT * FROM read_parquet('{path}')) TO '{tmp_path / 'm.csv'}'")
    engine.execute(f"CREATE TABLE m AS SELECT * FROM read_parquet('{path}')")
    select = {"parquet": f"SELECT * FROM read_parquet('{path}')", "csv": f"SELECT * FROM read_csv_auto('{tmp_path / 'm.csv'}')",
              "table": "SELECT * FROM m", "filtered": f"SELECT * FROM read_parquet('{path}') WHERE n IS NULL OR n > -100"}
    engine.execute(f"CREATE VIEW d AS {select[source]}")
    ds = Dataset(name="d", view="d", source=source, rows=4,
                 columns=tuple(Column(r[0], str(r[1])) for r in engine.query("DESCRIBE d")))
    # Booleans are compared as text, an order the file's statistics do not keep: read. Numbers are always read.
    expected = {"s", "ts"} if source == "parquet" else set()
    assert bounds_from_metadata(engine, ds) == expected
    found = summarize(engine, ds)
    # Each column's evidence is the statement of that column alone.
    assert all(s.sql == summary_plan(ds, [ds.column(n)], metadata_bounds=expected)[0] for n, s in found.items())
    # The same summaries, min and max read from the values.
    sql, plan = summary_plan(ds)
    read = {plan[batch][int(k)].name: values for batch, k, *values in engine.query(sql)}
    for col in ds.columns:
        got = found[col.name]
        assert (got.min, got.max) == ((read[col.name][4], read[col.name][5]) if got.numeric
                                      else (read[col.name][6], read[col.name][7])), col
    assert (found["n"].min, found["n"].max, found["n"].nulls, found["n"].distinct) == (-7.0, 10.0, 1, 3)
    assert (found["s"].min, found["s"].max) == ("a", "c")
    assert (found["ts"].min, found["ts"].max) == ("2025-12-31 23:59:59", "2026-03-01 00:00:00")
    assert (found["flag"].min, found["flag"].max) == ("false", "true")
    assert (found["amount"].min, found["amount"].max) == (-2.25, 4.0)
    assert (found["same"].min, found["same"].max, found["same"].mean) == (2.0, 2.0, 2.0)
    if source == "parquet":  # the bounds statement is answered from the statistics: its plan aggregates nothing
        from auditor.engine.summary import bounds_sql

        plan_text = str(engine.query(f"EXPLAIN {bounds_sql(ds.view, [ds.column('s'), ds.column('ts')])}"))
        assert "AGGREGATE" not in plan_text.upper()
    engine.close()


def test_one_plan_for_every_bounded_column_and_one_per_type_when_some_must_be_read(tmp_path):
    """Whether a file's statistics answer min and max is asked once, or once per type: never per column."""
    from auditor.engine.summary import bounds_from_metadata

    parts = ", ".join([f"'v' || (i % {j + 2})::VARCHAR AS s{j}" for j in range(40)]
                      + [f"DATE '2026-01-01' + (i % {j + 3})::INTEGER AS d{j}" for j in range(20)])
    path = write_parquet(tmp_path / "w.parquet", f"SELECT {parts} FROM range(50) t(i)")
    engine = Engine()
    engine.execute(f"CREATE VIEW w AS SELECT * FROM read_parquet('{path}')")
    ds = Dataset(name="w", view="w", source="w", rows=50,
                 columns=tuple(Column(r[0], str(r[1])) for r in engine.query("DESCRIBE w")))
    before = len(engine.log)
    assert bounds_from_metadata(engine, ds) == {c.name for c in ds.columns}
    assert len(engine.log) - before == 1
    engine.execute(f"CREATE VIEW f AS SELECT * FROM read_parquet('{path}') WHERE d0 > DATE '2026-01-01'")
    filtered = Dataset(name="f", view="f", source="f", rows=50, columns=ds.columns)
    before = len(engine.log)
    assert bounds_from_metadata(engine, filtered) == set()
    assert len(engine.log) - before == 3  # all at once, then VARCHAR and DATE apart
    engine.close()
