"""auditor.engine.repeats: the bitmap census and the grouping agree with pandas, and the bitmap skips the grouping."""

from __future__ import annotations

import pandas as pd
import pytest

from auditor.engine.duckdb_engine import Engine
from auditor.engine.repeats import BITMAP_MAX_BITS, count_shared, find_repeats
from auditor.engine.sources import Column, Dataset
from auditor.engine.summary import summarize
from tests.conftest import write_parquet


def _dataset(engine: Engine, path, name: str) -> Dataset:
    engine.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM read_parquet('{path}')")
    columns = tuple(Column(r[0], str(r[1])) for r in engine.query(f"DESCRIBE {name}"))
    rows = engine.query_one(f"SELECT count(*) FROM {name}")[0]
    return Dataset(name=name, view=name, source=str(path), rows=rows, columns=columns)


def _oracle(series: pd.Series, *, integer: bool) -> tuple[int, int, list[tuple[str, int]]]:
    """(repeated values, rows holding them, (value as text, rows) most rows first then by text) from pandas."""
    counts = series.dropna().value_counts()
    repeated = counts[counts > 1]
    # pandas reads a nullable integer column as float64: 5.0 is DuckDB's 5.
    text = (lambda v: str(int(v))) if integer else str
    ranked = sorted(((text(v), int(n)) for v, n in repeated.items()), key=lambda vn: (-vn[1], vn[0]))
    return len(repeated), int(repeated.sum()), ranked


CASES = {
    "unique with nulls": "SELECT CASE WHEN i % 7 = 0 THEN NULL ELSE i END::{t} AS id FROM range(200) t(i)",
    "repeats and nulls": "SELECT CASE WHEN i % 11 = 0 THEN NULL ELSE i % 60 - 20 END::{t} AS id FROM range(200) t(i)",
    "one value": "SELECT 5::{t} AS id FROM range(10) t(i)",
    "all null": "SELECT NULL::{t} AS id FROM range(10) t(i)",
    "wide range": f"SELECT (i % 30 * {BITMAP_MAX_BITS})::{{t}} AS id FROM range(100) t(i)",
}


@pytest.mark.parametrize("chunk", [2_000_000, 7])  # the grouping in one go, or a range of values at a time
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("duck_type", ["BIGINT", "INTEGER", "VARCHAR", "DOUBLE"])
def test_repeats_match_pandas_with_and_without_the_bitmap(tmp_path, case, duck_type, chunk, monkeypatch):
    monkeypatch.setattr("auditor.engine.repeats.CHUNK_VALUES", chunk)
    if case == "wide range" and duck_type == "INTEGER":
        pytest.skip("does not fit an INTEGER")
    path = write_parquet(tmp_path / "d.parquet", CASES[case].format(t=duck_type))
    engine = Engine()
    ds = _dataset(engine, path, "current")
    summary = summarize(engine, ds)["id"]
    expected = _oracle(pd.read_parquet(path)["id"], integer=duck_type in ("BIGINT", "INTEGER"))
    for with_summary in (True, False):
        found = find_repeats(engine, ds, "id", sample=5, summary=summary if with_summary else None)
        assert (found.values, found.rows) == expected[:2]
        assert [(text, n) for _, text, n in found.sample] == expected[2][:5]
        assert found.extra_rows == expected[1] - expected[0]
        assert sorted(map(str, found.every_value)) == sorted(text for text, _ in expected[2])
        bitmap = with_summary and duck_type in ("BIGINT", "INTEGER") and case not in ("wide range", "all null")
        assert ("bitstring_agg" in found.sql[0]) == bitmap
        # The grouping runs only when some value repeats (or the bitmap cannot be used).
        assert any("GROUP BY" in q for q in found.sql) == (not bitmap or expected[0] > 0)
        if bitmap and case == "repeats and nulls" and chunk == 7:  # 60 values: nine ranges, one statement each
            assert "BETWEEN" in found.sql[-1] and "UNION ALL" not in found.sql[-1]
            assert sum(q.sql == found.sql[-1] for q in engine.log) == 9
    engine.close()


@pytest.mark.parametrize("chunk", [2_000_000, 200, 64])  # buckets of 64 values; too many buckets: ranges
@pytest.mark.parametrize("duck_type", ["BIGINT", "INTEGER", "SMALLINT"])
def test_repeats_found_through_buckets_of_64_values_match_pandas(tmp_path, duck_type, chunk, monkeypatch):
    """Repeats at bucket edges (63/64, 127/128 from the minimum), negative values, a value repeated 5 times,
    nulls, gaps: the buckets with more rows than distinct values hold every repeat, and only those are grouped."""
    monkeypatch.setattr("auditor.engine.repeats.CHUNK_VALUES", chunk)
    sql = f"""SELECT unnest(list_concat(range(-300, 700), [-300 + 63, -300 + 64, -300 + 127, -300 + 128, 5, 5, 5, 5,
             699, NULL, NULL, 1000, 1000]))::{duck_type} AS id"""
    path = write_parquet(tmp_path / "b.parquet", sql)
    engine = Engine()
    ds = _dataset(engine, path, "current")
    found = find_repeats(engine, ds, "id", sample=3, summary=summarize(engine, ds)["id"])
    values, rows, ranked = _oracle(pd.read_parquet(path)["id"], integer=True)
    assert (found.values, found.rows, [(text, n) for _, text, n in found.sample]) == (values, rows, ranked[:3])
    assert sorted(map(str, found.every_value)) == sorted(text for text, _ in ranked)
    bucketed = chunk // 64 >= 4  # repeats lie in 4 buckets: -300 + 0..63, 64..127, 128..191, 1000's
    assert any("bit_or" in q for q in found.sql) and ("// 64 IN" in found.sql[-1]) == bucketed
    assert ("BETWEEN" in found.sql[-1]) == (not bucketed)
    engine.close()


def test_repeated_float_key_treats_nan_as_missing(tmp_path):
    path = write_parquet(tmp_path / "f.parquet", "SELECT unnest([1.5, 1.5, 'NaN'::DOUBLE, 'NaN'::DOUBLE, NULL, 2.0]) AS x")
    engine = Engine()
    ds = _dataset(engine, path, "current")
    found = find_repeats(engine, ds, "x", sample=5, key='CASE WHEN isnan("x") THEN NULL ELSE "x" END')
    engine.close()
    assert (found.values, found.rows, found.sample[0][2]) == (1, 2, 2)


@pytest.mark.parametrize(("current", "reference", "shared", "queried"), [
    ("SELECT i AS id FROM range(100) t(i)", "SELECT i + 1000 AS id FROM range(100) t(i)", 0, False),  # disjoint
    ("SELECT i AS id FROM range(100) t(i)", "SELECT i + 90 AS id FROM range(100) t(i)", 10, True),
    ("SELECT CASE WHEN i < 5 THEN NULL ELSE i END AS id FROM range(100) t(i)",
     "SELECT (i * 3 - 50) AS id FROM range(100) t(i) UNION ALL SELECT NULL", 31, True),
    ("SELECT -i AS id FROM range(100) t(i)", "SELECT i AS id FROM range(100) t(i)", 1, True),
])
def test_shared_ids_from_bitmaps_match_the_intersection(tmp_path, current, reference, shared, queried):
    engine = Engine()
    cur = _dataset(engine, write_parquet(tmp_path / "c.parquet", current), "current")
    ref = _dataset(engine, write_parquet(tmp_path / "r.parquet", reference), "reference")
    expected = len(set(pd.read_parquet(tmp_path / "c.parquet")["id"].dropna())
                   & set(pd.read_parquet(tmp_path / "r.parquet")["id"].dropna()))
    count, sql = count_shared(engine, cur, ref, "id", current_summary=summarize(engine, cur)["id"],
                              reference_summary=summarize(engine, ref)["id"])
    engine.close()
    assert count == expected == shared
    assert bool(sql) == queried


def test_shared_ids_of_other_types_are_left_to_the_intersection(tmp_path):
    engine = Engine()
    cur = _dataset(engine, write_parquet(tmp_path / "c.parquet", "SELECT i::VARCHAR AS id FROM range(10) t(i)"), "current")
    ref = _dataset(engine, write_parquet(tmp_path / "r.parquet", "SELECT i::VARCHAR AS id FROM range(10) t(i)"), "reference")
    assert count_shared(engine, cur, ref, "id", current_summary=summarize(engine, cur)["id"],
                        reference_summary=summarize(engine, ref)["id"]) == (None, [])
    engine.close()
