"""Drift of few-valued columns from value counts known already: the reference's locating histogram (every
cell one value) and the run's shared integer value counts, bound into the sorted KS instead of grouped again."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from auditor.engine import quantiles
from auditor.engine.duckdb_engine import Engine
from auditor.engine.value_counts import few_valued_integers
from auditor.stats.column_drift import DriftColumn, Relation, compare
from tests.test_drift import assert_numeric_matches_oracles


def engine_with(tmp_path, data: dict[str, dict[str, pa.Array]]) -> Engine:
    engine = Engine()
    for name, columns in data.items():
        path = tmp_path / f"{name}.parquet"
        pq.write_table(pa.table(columns), path)
        engine.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{path}')")
    return engine


def test_few_valued_integers_are_told_by_both_sides_ranges(tmp_path):
    engine = engine_with(tmp_path, {
        "reference": {"small": pa.array([1, 5, None, -3], pa.int64()), "wide": pa.array([0, 10, 20, 30], pa.int32()),
                      "real": pa.array([1.0, 2.0, 3.0, 4.0]), "empty": pa.array([None] * 4, pa.int64()),
                      "flag": pa.array([True, False, True, True])},
        "current": {"small": pa.array([0, 2, 2, 7], pa.int64()), "wide": pa.array([0, 1, 5000, 3], pa.int32()),
                    "real": pa.array([1.0, 2.0, 3.0, 4.0]), "empty": pa.array([1, 2, 3, 4], pa.int64()),
                    "flag": pa.array([True, False, True, True])}})
    few, sql = few_valued_integers(engine, ["reference", "current"], ["small", "wide", "real", "empty", "flag"],
                                   quantiles.LOCATE_BINS)
    assert few == ["small"]  # wide spans 5001 values in current; real is DOUBLE; empty has no value; flag is BOOLEAN
    assert len(sql) == 1
    assert few_valued_integers(engine, ["reference"], ["small", "wide"], 30)[0] == ["small"]  # wide: 30 values


@pytest.mark.parametrize("n", [500, 14000])
def test_few_valued_integer_columns_are_compared_from_their_value_counts(tmp_path, n):
    rng = np.random.default_rng(n)
    ref = rng.poisson(30, n) - 40  # negatives, ties
    cur = rng.poisson(33, n + 51) - 40
    ref_x = pa.array([None if i % 17 == 0 else int(v) for i, v in enumerate(ref)], pa.int64())
    cur_x = pa.array([int(v) for v in cur], pa.int64())
    wide = pa.array(rng.integers(0, 10**6, n), pa.int64())  # spans too many values to count by range
    cur_wide = pa.array(rng.integers(0, 10**6, n + 51), pa.int64())
    engine = engine_with(tmp_path, {"reference": {"x": ref_x, "w": wide}, "current": {"x": cur_x, "w": cur_wide}})
    cols = [DriftColumn("x", "BIGINT", "numeric"), DriftColumn("w", "BIGINT", "numeric")]
    cache: dict = {}
    out = compare(engine, Relation("reference"), Relation("current"), cols, cache=cache)
    assert_numeric_matches_oracles(out["x"], ref_x, cur_x)
    assert_numeric_matches_oracles(out["w"], wide, cur_wide)
    # x: the run's shared value counts (one histogram per side), no grouping of its own in locate or KS.
    assert ("value_counts", "reference", "x") in cache and ("value_counts", "current", "x") in cache
    # w: the reference's counts in a statement of their own (under KNOWN_COUNTS_MAX values), so the
    # comparison reads only current: a statement reading only the reference is one a cache keeps.
    assert ("value_counts", "reference", "w") in cache and ("value_counts", "current", "w") not in cache
    grouped = [q.sql for q in engine.log if "GROUP BY" in q.sql and '"x"' in q.sql]
    assert grouped == []
    # One sort of both columns' values: current's w read, x's and the reference's w bound from their counts.
    ks = [sql for sql in out["x"].sql if sql.startswith("WITH stacked")]
    assert len(ks) == 1 and ks == [sql for sql in out["w"].sql if sql.startswith("WITH stacked")]
    assert '"x"' not in ks[0] and '"w"' in ks[0] and "FROM reference" not in ks[0]
    assert any(sql.startswith('SELECT histogram("x")') for sql in out["x"].sql)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy on inf - inf
def test_few_valued_float_reference_is_read_from_its_locating_histogram(tmp_path):
    rng = np.random.default_rng(5)
    ref = np.round(rng.normal(0.4, 0.2, 6000), 2)
    ref[:6] = [np.inf, -np.inf, np.nan, np.inf, -0.0, 0.0]
    cur = np.round(rng.normal(0.45, 0.2, 5000), 2)
    cur[:3] = [np.nan, -np.inf, 0.0]
    engine = engine_with(tmp_path, {"reference": {"x": pa.array(ref)}, "current": {"x": pa.array(cur)}})
    out = compare(engine, Relation("reference"), Relation("current"), [DriftColumn("x", "DOUBLE", "numeric")])
    assert_numeric_matches_oracles(out["x"], pa.array(ref), pa.array(cur))
    ks = [sql for sql in out["x"].sql if sql.startswith("WITH stacked")]
    assert len(ks) == 1 and "FROM reference" not in ks[0] and "FROM current" in ks[0]


def test_window_with_parameters_still_groups_its_values(tmp_path):
    rng = np.random.default_rng(8)
    ref, cur = pa.array(rng.integers(0, 20, 3000), pa.int64()), pa.array(rng.integers(2, 22, 3000), pa.int64())
    engine = engine_with(tmp_path, {"reference": {"x": ref}, "current": {"x": cur}})
    window = Relation("(SELECT * FROM current WHERE x >= ?)", (5,))
    out = compare(engine, Relation("reference"), window, [DriftColumn("x", "BIGINT", "numeric")])
    cur_in_window = pa.array([v for v in cur.to_pylist() if v >= 5], pa.int64())
    assert_numeric_matches_oracles(out["x"], ref, cur_in_window)
    assert not any(q.sql.startswith("SELECT histogram") for q in engine.log)


def test_known_reference_counts_hold_a_bounded_number_of_values_fewest_valued_columns_first(tmp_path, monkeypatch):
    """At width the reference's counts would be millions of dict entries and bound parameters: past
    KNOWN_VALUES_MAX values in all, a column compares in the statement that reads both sides, same numbers."""
    from auditor.stats import column_drift

    rng = np.random.default_rng(11)
    n = 20000
    pools = {name: rng.choice(10**7, size, replace=False) for name, size in (("a", 2000), ("b", 6000), ("c", 9000))}
    sides = {side: {name: pa.array(rng.choice(pool, n + extra), pa.int64()) for name, pool in pools.items()}
             for side, extra in (("reference", 0), ("current", 37))}
    engine = engine_with(tmp_path, sides)
    cols = [DriftColumn(name, "BIGINT", "numeric") for name in ("c", "a", "b")]
    monkeypatch.setattr(column_drift, "KNOWN_VALUES_MAX", 9000)  # a (2,000) and b (~6,000) fit; c does not
    cache: dict = {}
    out = compare(engine, Relation("reference"), Relation("current"), cols, cache=cache)
    for name in ("a", "b", "c"):
        assert_numeric_matches_oracles(out[name], sides["reference"][name], sides["current"][name])
    assert ("value_counts", "reference", "a") in cache and ("value_counts", "reference", "b") in cache
    assert ("value_counts", "reference", "c") not in cache
