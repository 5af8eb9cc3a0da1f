"""auditor.engine.quantiles (behind data.profile): exact quantiles from a locating histogram and a few values per cell."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from auditor.checks.profile import QUANTILES, _profiles
from auditor.engine import quantiles as quantiles_module
from auditor.engine.duckdb_engine import Engine
from auditor.engine.sources import Dataset
from auditor.engine.summary import summarize
from auditor.stats import distances as stats
from tests.engines import attach_parquet, new_engine


@pytest.fixture(autouse=True)
def engine_under_test(engine_kind, monkeypatch):
    """Every test here runs on each engine: DuckDB, and Spark where it runs."""
    monkeypatch.setattr(sys.modules[__name__], "Engine", lambda: new_engine(engine_kind))
    return engine_kind

rng = np.random.default_rng(11)
SAMPLES = {
    "normal": rng.normal(size=3000),
    "lognormal_with_outlier": np.append(rng.lognormal(10, 1.5, 4000), 1e12),  # nearly everything in one cell
    "ties": rng.integers(0, 5, 2000).astype(float),
    "one_value": np.array([3.25]),
    "two_values": np.array([-1.0, 7.0]),
    "constant": np.full(50, 2.5),
    "tiny_and_huge": np.array([1e-300, 2e-300, 1e300, -1e300, 0.0]),
}


def _view(tmp_path: Path, columns: dict[str, np.ndarray]) -> tuple[Engine, Dataset]:
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table(columns), path)
    engine = Engine()
    attach_parquet(engine, "d", path)
    cols = tuple(engine.columns("d"))
    return engine, Dataset(name="d", view="d", source=str(path), rows=0, columns=cols)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_quantiles_equal_numpy(tmp_path: Path, name: str) -> None:
    values = SAMPLES[name]
    engine, ds = _view(tmp_path, {"x": values})
    lo, hi = float(values.min()), float(values.max())
    profiles, _, sql = _profiles(engine, ds, {"x": (lo, hi, 20 if hi > lo else 1)}, [])
    assert profiles["quantiles"]["x"] == pytest.approx(list(np.quantile(values, QUANTILES)), rel=1e-12, abs=0)
    assert not any("quantile_cont" in q for q in sql)  # no aggregate holds the whole column
    engine.close()


def test_missing_and_infinite_values_are_left_out_and_integers_work(tmp_path: Path) -> None:
    x = np.array([np.nan, 1.0, np.inf, 4.0, -np.inf, 2.0, 8.0])
    n = pa.array([5, None, 1, 3, None, 9, 9], type=pa.int64())
    engine, ds = _view(tmp_path, {"x": x, "n": n})
    profiles, _, _ = _profiles(engine, ds, {"x": (1.0, 8.0, 20), "n": (1.0, 9.0, 20)}, [])
    assert profiles["quantiles"]["x"] == pytest.approx(list(np.quantile([1.0, 4.0, 2.0, 8.0], QUANTILES)))
    assert profiles["quantiles"]["n"] == pytest.approx(list(np.quantile([5, 1, 3, 9, 9], QUANTILES)))
    engine.close()


def test_nan_that_the_files_statistics_leave_out_is_missing(tmp_path: Path) -> None:
    """pyarrow (as polars and Spark) writes a float column's min and max without its NaN, as Parquet asks. DuckDB
    took such a column to hold no NaN and folded isnan() to false: 57 NaN were counted as 0, and as the largest
    values. NaN is missing; a column without NaN keeps its finite range, read from its values."""
    values = rng.normal(size=400)
    values[::7] = np.nan  # no NULL either: nothing else tells the engine the column may hold NaN
    clean = rng.normal(size=400)
    engine, ds = _view(tmp_path, {"x": values, "y": clean})
    stats = pq.read_metadata(tmp_path / "d.parquet").row_group(0).column(0).statistics
    assert stats.has_min_max and stats.max == np.nanmax(values)  # the statistics as the writer left them
    summary = summarize(engine, dataclasses.replace(ds, rows=400))
    assert summary["x"].nulls == 58 and summary["x"].max == np.nanmax(values) and summary["y"].nulls == 0
    found, _ = quantiles_module.quantiles(engine, ds.view, {"x": "DOUBLE", "y": "DOUBLE"}, QUANTILES)
    assert found["x"] == list(np.quantile(values[~np.isnan(values)], QUANTILES))
    assert found["y"] == list(np.quantile(clean, QUANTILES))
    located = quantiles_module.locate(engine, ds.view, {"y": "DOUBLE"})["y"]
    assert (located.lo, located.hi) == (clean.min(), clean.max())
    engine.close()


def test_a_column_with_no_values_has_no_quantiles(tmp_path: Path) -> None:
    engine, ds = _view(tmp_path, {"x": np.array([np.nan, np.nan]), "y": np.array([1.0, 2.0])})
    profiles, _, _ = _profiles(engine, ds, {"x": (0.0, 1.0, 20), "y": (1.0, 2.0, 20)}, [])
    assert "x" not in profiles["quantiles"]
    assert profiles["quantiles"]["y"] == pytest.approx(list(np.quantile([1.0, 2.0], QUANTILES)))
    engine.close()


def test_deep_ranks_in_a_full_cell_come_from_its_values_in_order(tmp_path: Path, monkeypatch) -> None:
    # With two cells, every quantile sits deep in a cell of 500 values, fetched unordered and sorted here;
    # shuffled in the file, with a tie run across the median, so order and ties both matter.
    monkeypatch.setattr("auditor.engine.located.LOCATE_BINS", 2)
    values = np.concatenate([np.arange(1000, dtype=float), np.full(200, 499.0)])
    rng.shuffle(values)
    engine, ds = _view(tmp_path, {"x": values})
    cache: dict = {}
    profiles, _, sql = _profiles(engine, ds, {"x": (0.0, 999.0, 20)}, [], cache=cache)
    assert profiles["quantiles"]["x"] == list(np.quantile(values, QUANTILES))  # bit for bit
    assert "list(s.v)" in sql[-1]
    deciles, _ = quantiles_module.quantiles(engine, ds.view, {"x": "DOUBLE"}, DECILES, cache=cache)
    assert deciles["x"] == list(np.quantile(values, DECILES))
    loc = quantiles_module.locate(engine, ds.view, {"x": "DOUBLE"}, cache=cache)["x"]
    for cut in stats.cut_points(deciles["x"]):  # counted through the tie run, read off the fetched cell
        assert quantiles_module.finite_at_most(loc, cut) == int((values <= cut).sum())
    engine.close()


def test_a_crowded_cell_of_one_value_needs_no_fetch_and_of_many_is_ranked_alone(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(quantiles_module, "FETCH_MAX", 10)
    flags = np.array([0.0] * 30 + [1.0] * 70)  # two crowded cells, each of one value
    skewed = np.append(np.linspace(0, 1, 99), 1e9)  # 99 distinct values crowd the first cell
    engine, ds = _view(tmp_path, {"flag": flags, "skewed": skewed})
    profiles, _, sql = _profiles(engine, ds, {"flag": (0.0, 1.0, 20), "skewed": (0.0, 1e9, 20)}, [])
    assert profiles["quantiles"]["flag"] == pytest.approx(list(np.quantile(flags, QUANTILES)))
    assert profiles["quantiles"]["skewed"] == list(np.quantile(skewed, QUANTILES))  # exact, bit for bit
    ranked = [q for q in sql if "OVER (ORDER BY v" in q]
    assert len(ranked) == 1 and '"skewed"' in ranked[0] and '"flag"' not in ranked[0]
    assert not any("quantile_cont" in q for q in sql)
    engine.close()


def test_quantiles_of_any_columns_in_four_statements(tmp_path: Path) -> None:
    from auditor.engine.quantiles import exact_quantiles_of

    a = rng.normal(size=1500)
    b = np.append(rng.exponential(size=1498), [np.inf, np.nan])
    n = pa.array([4, None, 4, 1, 9], type=pa.int64())
    engine, ds = _view(tmp_path, {"a": a, "b": b, "n": pa.concat_arrays([n] * 300),
                                  "none": np.full(1500, np.nan)})
    wanted = [0.2, 0.4, 0.6, 0.8]
    found, sql = exact_quantiles_of(engine, ds, ["a", "b", "n", "none"], wanted)
    assert found["a"] == pytest.approx(list(np.quantile(a, wanted)), rel=1e-12)
    assert found["b"] == pytest.approx(list(np.quantile(b[np.isfinite(b)], wanted)), rel=1e-12)
    assert found["n"] == pytest.approx(list(np.quantile([4, 4, 1, 9] * 300, wanted)))
    # The integer column's bounds (from the file's statistics), the float columns' finite bounds (read: the
    # statistics do not say whether they hold NaN), the cells, the values.
    assert "none" not in found and len(sql) == 4
    assert '"n"' in sql[0] and '"a"' not in sql[0]
    assert '"n"' not in sql[1] and all(f'"{c}"' in sql[1] for c in ("a", "b", "none"))
    assert exact_quantiles_of(engine, ds, [], wanted) == ({}, [])
    engine.close()


# --- quantiles(): shared in a run, ±infinity optional -------------------------------------------------

DECILES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
EDGE_CASES = {
    "ties": np.repeat([1.0, 2.0, 2.0, 5.0], 250),
    "infinities": np.array([-np.inf, 1.0, 3.0, np.inf, np.inf, 2.0, np.nan, 7.0, -np.inf, 4.0]),
    "only_infinities": np.array([np.inf, -np.inf, np.inf, np.nan]),
    "nan_and_one_value": np.array([np.nan, 3.5, np.nan]),
    "constant": np.full(40, -2.0),
    "outlier": np.append(rng.normal(size=2000), 1e15),
}


def _numpy(values: np.ndarray, probabilities, *, infinite: bool) -> list[float] | None:
    kept = values[~np.isnan(values)] if infinite else values[np.isfinite(values)]
    if not len(kept):
        return None
    with np.errstate(invalid="ignore"):  # numpy's own NaN between -inf and +inf
        return [float(v) for v in np.quantile(kept, probabilities)]


@pytest.mark.parametrize("infinite", [False, True])
@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_quantiles_equal_numpy_bit_for_bit(tmp_path: Path, name: str, infinite: bool) -> None:
    values = EDGE_CASES[name]
    engine, ds = _view(tmp_path, {"x": values})
    found, sql = quantiles_module.quantiles(engine, ds.view, {"x": "DOUBLE"}, DECILES, infinite=infinite)
    expected = _numpy(values, DECILES, infinite=infinite)
    if expected is None:
        assert "x" not in found
    else:
        np.testing.assert_array_equal(found["x"], expected)  # NaN where numpy has NaN, every bit the same
    assert not any("quantile_cont" in q for q in sql)
    engine.close()


def test_quantiles_of_nulls_integers_and_an_all_null_column(tmp_path: Path) -> None:
    n = pa.array([7, None, 7, -3, 12, None, 7, 0], type=pa.int64())
    empty = pa.array([None] * 8, type=pa.float64())
    engine, _ = _view(tmp_path, {"n": n, "empty": empty})
    found, _ = quantiles_module.quantiles(engine, "d", {"n": "BIGINT", "empty": "DOUBLE"}, DECILES, infinite=True)
    assert found == {"n": list(np.quantile([7, 7, -3, 12, 7, 0], DECILES))}
    engine.close()


def test_quantiles_are_located_once_per_run_and_reused(tmp_path: Path) -> None:
    a, b = rng.normal(size=5000), np.append(rng.exponential(size=4998), [np.inf, -np.inf])
    engine, ds = _view(tmp_path, {"a": a, "b": b})
    cache: dict = {}
    types = {"a": "DOUBLE", "b": "DOUBLE"}
    before = len(engine.log)
    deciles, _ = quantiles_module.quantiles(engine, ds.view, types, DECILES, cache=cache, infinite=True)
    ran = len(engine.log)
    # Finite bounds (a float column's are read from its values: its file's statistics do not say whether it
    # holds NaN), the row count (which a run's attach has asked already), cells, values around the ranks: both
    # columns at once.
    assert ran - before == 4
    # The same deciles again, and quintiles (deciles 2, 4, 6, 8): nothing more to read.
    assert quantiles_module.quantiles(engine, ds.view, types, DECILES, cache=cache, infinite=True)[0] == deciles
    quintiles, _ = quantiles_module.quantiles(engine, ds.view, {"a": "DOUBLE"}, [0.2, 0.4, 0.6, 0.8], cache=cache,
                                              infinite=True)
    assert quintiles["a"] == deciles["a"][1::2] and len(engine.log) == ran
    # Finite values only, and other probabilities: the cells are reused, at most one query fetches new ranks.
    finite, sql = quantiles_module.quantiles(engine, ds.view, {"b": "DOUBLE"}, [0.05, 0.95], cache=cache)
    assert finite["b"] == list(np.quantile(b[np.isfinite(b)], [0.05, 0.95]))
    assert len(engine.log) <= ran + 1 and all("list(s.v)" in q.sql for q in engine.log[ran:])
    np.testing.assert_array_equal(deciles["b"], np.quantile(b, DECILES))
    engine.close()


def test_quantiles_equal_the_drift_deciles(tmp_path: Path) -> None:
    """The value-counts deciles of auditor.stats.column_drift (±inf ranked as values) and these agree bit for bit."""
    from auditor.stats.column_drift import DriftColumn, Relation, reference_deciles

    values = np.concatenate([rng.lognormal(3, 2, 3000), [np.inf, -np.inf, np.nan], np.repeat(4.0, 500)])
    engine, ds = _view(tmp_path, {"x": values})
    column = DriftColumn("x", "DOUBLE", "numeric")
    old, _ = reference_deciles(engine, column, Relation(ds.view), int((~np.isnan(values)).sum()))
    new, _ = quantiles_module.quantiles(engine, ds.view, {"x": "DOUBLE"}, DECILES, infinite=True)
    assert new["x"] == old
    engine.close()


def test_a_discrete_column_needs_no_fetch(tmp_path: Path) -> None:
    """Each cell's min and max come with its count: ranks in cells of one value are known without a fetch."""
    ages = rng.integers(18, 90, 20_000)
    engine, ds = _view(tmp_path, {"age": ages})
    before = len(engine.log)
    found, sql = quantiles_module.quantiles(engine, ds.view, {"age": "BIGINT"}, DECILES, cache={})
    assert found["age"] == list(np.quantile(ages, DECILES))
    assert len(engine.log) - before == 3 and "list(v)" not in " ".join(sql)  # bounds, row count and cells only
    engine.close()


@pytest.mark.parametrize("name", ["normal", "ties", "lognormal_with_outlier", "infinities", "discrete",
                                  "tie_among_continuous"])
def test_finite_at_most_equals_numpy_counts_or_says_it_does_not_know(tmp_path: Path, name: str) -> None:
    values = {**SAMPLES, **EDGE_CASES, "discrete": rng.integers(0, 30, 4000).astype(float),
              # The median is a run of 300 zeros sharing its cell with other values: counted through the run.
              "tie_among_continuous": np.concatenate([rng.normal(size=4000), np.zeros(300)])}[name]
    engine, ds = _view(tmp_path, {"x": values})
    cache: dict = {}
    deciles, _ = quantiles_module.quantiles(engine, ds.view, {"x": "DOUBLE"}, DECILES, cache=cache, infinite=True)
    loc = quantiles_module.locate(engine, ds.view, {"x": "DOUBLE"}, cache=cache)["x"]
    finite = values[np.isfinite(values)]
    cuts = stats.cut_points(deciles["x"])
    for value in [*cuts, *np.quantile(finite, [0.0, 0.33, 1.0]), float(finite.min()) - 1, 1e300]:
        found = quantiles_module.finite_at_most(loc, float(value))
        assert found is None or found == int((finite <= value).sum()), value
    # The PSI cut points themselves are always resolved here (the ranks around them were fetched).
    assert all(quantiles_module.finite_at_most(loc, cut) == int((finite <= cut).sum()) for cut in cuts)
    engine.close()


def test_finite_at_most_does_not_guess_inside_a_tie_run_it_did_not_fetch() -> None:
    # Values 1, 2, 2, 2, 3 in one cell, ranks 1 and 2 fetched: how many are at most 2 needs rank 3.
    loc = quantiles_module.Located(1.0, 3.0, cells={0: 5}, extremes={0: (1.0, 3.0)}, known={1: 2.0, 2: 2.0})
    assert quantiles_module.finite_at_most(loc, 2.0) is None
    assert quantiles_module.finite_at_most(loc, 3.0) == 5 and quantiles_module.finite_at_most(loc, 0.5) == 0
    loc.known[3] = 2.0
    loc.known[4] = 3.0
    assert quantiles_module.finite_at_most(loc, 2.0) == 4 and quantiles_module.finite_at_most(loc, 2.5) == 4


def test_a_tie_run_at_a_cut_point_is_counted_through_from_the_fetched_values(tmp_path: Path) -> None:
    """A 4-decimal ratio: each value repeats, and a decile lands inside a run that shares its cell."""
    values = np.round(rng.beta(2, 5, 60_000), 4)
    engine, ds = _view(tmp_path, {"x": values})
    cache: dict = {}
    deciles, _ = quantiles_module.quantiles(engine, ds.view, {"x": "DOUBLE"}, DECILES, cache=cache, infinite=True)
    loc = quantiles_module.locate(engine, ds.view, {"x": "DOUBLE"}, cache=cache)["x"]
    assert deciles["x"] == list(np.quantile(values, DECILES))
    for cut in stats.cut_points(deciles["x"]):
        assert quantiles_module.finite_at_most(loc, cut) == int((values <= cut).sum())
    engine.close()
