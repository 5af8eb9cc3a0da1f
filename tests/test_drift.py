"""Drift statistics computed in DuckDB equal scipy's and a numpy PSI following DESIGN.md's recipe."""

from __future__ import annotations

import math
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon

from auditor.engine.duckdb_engine import Engine
from auditor.stats import column_measures
from auditor.stats import ecdf as ecdf_module
from auditor.stats.column_drift import DriftColumn, Relation, compare, reference_deciles
from tests.engines import attach_parquet, new_engine


@pytest.fixture(autouse=True)
def engine_under_test(engine_kind, monkeypatch):
    """Every test here runs on each engine: DuckDB, and Spark where it runs."""
    monkeypatch.setattr(sys.modules[__name__], "Engine", lambda: new_engine(engine_kind))
    return engine_kind

REL = 1e-9
# On Spark, the two exact methods' statements (every distinct value in order, fine bins refined); the
# coarse bins change only how many bins DuckDB refines, not the SQL.
SPARK_ONLY_WITH = {"ecdf_method": {"sorted", "refined"}}


@pytest.fixture(autouse=True, params=["sorted", "refined", "refined-coarse"])
def ecdf_method(request, monkeypatch):
    """Every test runs with both exact methods: all distinct values in order, and fine bins refined."""
    if request.param != "sorted":
        monkeypatch.setattr(column_measures, "REFINE_MIN_VALUES", 1)
        monkeypatch.setattr(column_measures, "REFINE_MIN_DISTINCT", 0)
    if request.param == "refined-coarse":  # few, wide bins: most need refining, or keep their sign
        monkeypatch.setattr(ecdf_module, "SUB_BINS", 2)
    return request.param


def make_engine(tmp_path, reference: pa.Array, current: pa.Array) -> Engine:
    engine = Engine()
    for name, values in (("reference", reference), ("current", current)):
        path = tmp_path / f"{name}.parquet"
        pq.write_table(pa.table({"x": values}), path)
        attach_parquet(engine, name, path)
    return engine


def clean(values: pa.Array) -> np.ndarray:
    """What the tests see: nulls and NaN left out."""
    arr = np.array([v for v in values.to_pylist() if v is not None], dtype=np.float64)
    return arr[~np.isnan(arr)]


def numpy_psi_bins(ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DESIGN.md's recipe in numpy: distinct finite interior deciles (linear), right-closed bins."""
    deciles = np.quantile(ref, np.arange(1, 10) / 10)
    cuts = np.unique(deciles[np.isfinite(deciles)])
    k = len(cuts) + 1
    return (np.bincount(np.searchsorted(cuts, ref, side="left"), minlength=k),
            np.bincount(np.searchsorted(cuts, cur, side="left"), minlength=k))


def numpy_psi(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    p, q = ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum()
    p, q = np.where(p == 0, 1e-4, p), np.where(q == 0, 1e-4, q)
    return float(np.sum((q - p) * np.log(q / p)))


def numeric(tmp_path, reference, current, type_="DOUBLE"):
    engine = make_engine(tmp_path, reference, current)
    out = compare(engine, Relation("reference"), Relation("current"), [DriftColumn("x", type_, "numeric")])
    return out["x"]


def assert_numeric_matches_oracles(drift, reference: pa.Array, current: pa.Array) -> None:
    ref, cur = clean(reference), clean(current)
    m = drift.metrics
    ks = sps.ks_2samp(ref, cur, method="auto")
    assert m["ks_statistic"] == pytest.approx(float(ks.statistic), rel=REL, abs=1e-15)
    assert m["ks_pvalue"] == pytest.approx(float(ks.pvalue), rel=REL, abs=1e-300)
    w = sps.wasserstein_distance(ref, cur)
    if np.isfinite(w):
        assert m["wasserstein"] == pytest.approx(w, rel=REL, abs=1e-12)
        std = np.std(ref)
        if w == 0:
            assert m["wasserstein_norm"] == 0.0
        elif std > 0:
            assert m["wasserstein_norm"] == pytest.approx(w / std, rel=REL)
        else:
            assert m["wasserstein_norm"] is None
    else:
        assert m["wasserstein"] is None and m["wasserstein_norm"] is None
    ref_counts, cur_counts = numpy_psi_bins(ref, cur)
    assert drift.reference_counts == ref_counts.tolist()
    assert drift.current_counts == cur_counts.tolist()
    assert m["psi"] == pytest.approx(numpy_psi(ref_counts, cur_counts), rel=REL, abs=1e-15)
    assert m["js_distance"] == pytest.approx(float(jensenshannon(ref_counts, cur_counts, base=2)), rel=REL, abs=1e-9)


@pytest.mark.parametrize("n_ref,n_cur,shift", [(3000, 2000, 0.1), (800, 800, 0.0), (12000, 15000, 0.05),
                                                (20000, 11000, 0.0)])
def test_continuous_data_matches_scipy(tmp_path, n_ref, n_cur, shift):
    rng = np.random.default_rng(n_ref + n_cur)
    reference = pa.array(rng.lognormal(10, 0.5, n_ref))
    current = pa.array(rng.lognormal(10 + shift, 0.5, n_cur))
    drift = numeric(tmp_path, reference, current)
    assert_numeric_matches_oracles(drift, reference, current)
    assert drift.metrics["rows_reference"] == n_ref and drift.metrics["null_rate_current"] == 0.0


@pytest.mark.parametrize("n", [500, 14000])
def test_discrete_data_with_ties_matches_scipy(tmp_path, n):
    rng = np.random.default_rng(n)
    reference = pa.array(rng.poisson(3, n).astype(np.int64))
    current = pa.array(rng.poisson(3.4, n + 37).astype(np.int64))
    drift = numeric(tmp_path, reference, current, "BIGINT")
    assert_numeric_matches_oracles(drift, reference, current)
    # Repeated deciles collapse: fewer than 10 bins, all distinct cut points.
    assert len(drift.reference_counts) < 10
    edges = drift.edges[1:-1]
    assert edges == sorted(set(edges))


def test_very_skewed_data_with_repeated_quantile_edges(tmp_path):
    rng = np.random.default_rng(3)
    ref = np.where(rng.random(5000) < 0.85, 0.0, rng.exponential(100, 5000))
    cur = np.where(rng.random(4000) < 0.6, 0.0, rng.exponential(100, 4000))
    drift = numeric(tmp_path, pa.array(ref), pa.array(cur))
    assert_numeric_matches_oracles(drift, pa.array(ref), pa.array(cur))
    assert drift.edges[:2] == [None, 0.0]


def test_nulls_and_nan_are_counted_then_left_out(tmp_path):
    rng = np.random.default_rng(5)
    ref_values = rng.normal(0, 1, 1000)
    ref_values[:50] = np.nan
    reference = pa.array(ref_values.tolist() + [None] * 50, type=pa.float64())
    current = pa.array(rng.normal(0.3, 1, 900).tolist() + [None] * 100, type=pa.float64())
    drift = numeric(tmp_path, reference, current)
    assert_numeric_matches_oracles(drift, reference, current)
    assert drift.metrics["null_rate_reference"] == pytest.approx(100 / 1050)
    assert drift.metrics["null_rate_current"] == pytest.approx(0.1)
    assert drift.metrics["values_reference"] == 950


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy on inf - inf
def test_infinities_are_values_and_make_wasserstein_undefined(tmp_path):
    rng = np.random.default_rng(9)
    ref = np.concatenate([rng.normal(0, 1, 2000), [np.inf] * 30, [-np.inf] * 5])
    cur = np.concatenate([rng.normal(0, 1, 2000), [np.inf] * 300])
    drift = numeric(tmp_path, pa.array(ref), pa.array(cur))
    assert_numeric_matches_oracles(drift, pa.array(ref), pa.array(cur))
    assert drift.metrics["wasserstein"] is None and drift.metrics["wasserstein_norm"] is None
    # +inf lands in the open top bin: the current's 300 of them show there.
    assert drift.current_counts[-1] >= 300
    assert any("infinite" in n for n in drift.notes)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy on inf - inf
def test_infinite_deciles_are_not_cut_points(tmp_path):
    ref = np.array([1.0, 2.0] + [np.inf] * 8)
    cur = np.array([1.0] * 5 + [np.inf] * 5)
    drift = numeric(tmp_path, pa.array(ref), pa.array(cur))
    assert all(e is None or math.isfinite(e) for e in drift.edges)
    assert_numeric_matches_oracles(drift, pa.array(ref), pa.array(cur))


def test_constant_column_same_on_both_sides(tmp_path):
    drift = numeric(tmp_path, pa.array([5.0] * 300), pa.array([5.0] * 200))
    m = drift.metrics
    assert (m["ks_statistic"], m["ks_pvalue"], m["wasserstein"], m["wasserstein_norm"]) == (0.0, 1.0, 0.0, 0.0)
    assert m["psi"] == 0.0 and m["js_distance"] == 0.0
    assert drift.edges == [None, 5.0, None]


def test_constant_reference_that_moves_has_no_normalised_wasserstein(tmp_path):
    reference, current = pa.array([5.0] * 300), pa.array([5.0] * 100 + [6.0] * 100)
    drift = numeric(tmp_path, reference, current)
    assert_numeric_matches_oracles(drift, reference, current)
    assert drift.metrics["wasserstein"] == pytest.approx(0.5)
    assert drift.metrics["wasserstein_norm"] is None
    assert drift.metrics["psi"] > 0.25
    assert any("constant" in n for n in drift.notes)


@pytest.mark.parametrize("side", ["reference", "current"])
def test_all_null_side_gives_undefined_statistics(tmp_path, side):
    values = pa.array([1.0, 2.0, 3.0] * 10)
    empty = pa.array([None] * 20, type=pa.float64())
    ref, cur = (empty, values) if side == "reference" else (values, empty)
    drift = numeric(tmp_path, ref, cur)
    m = drift.metrics
    assert all(m[k] is None for k in ("psi", "js_distance", "ks_statistic", "ks_pvalue", "wasserstein",
                                     "wasserstein_norm"))
    assert m[f"null_rate_{side}"] == 1.0
    assert drift.notes == [f"every {side} value is missing, so no distribution test applies"]


def test_empty_current_relation(tmp_path):
    engine = make_engine(tmp_path, pa.array([1.0, 2.0]), pa.array([3.0]))
    cur = Relation("(SELECT * FROM current WHERE x > ?)", (100.0,))
    drift = compare(engine, Relation("reference"), cur, [DriftColumn("x", "DOUBLE", "numeric"),
                                                          DriftColumn("x", "DOUBLE", "categorical")])["x"]
    assert drift.metrics["rows_current"] == 0 and drift.metrics["null_rate_current"] is None
    assert drift.metrics["psi"] is None and drift.notes[0].startswith("the current data has no rows")


def categorical(tmp_path, reference, current, type_="VARCHAR"):
    engine = make_engine(tmp_path, reference, current)
    return compare(engine, Relation("reference"), Relation("current"), [DriftColumn("x", type_, "categorical")])["x"]


def assert_categorical_matches_oracles(drift, reference: list, current: list) -> None:
    ref = [str(v) for v in reference if v is not None]
    cur = [str(v) for v in current if v is not None]
    cats = sorted(set(ref) | set(cur))
    rc = np.array([ref.count(c) for c in cats])
    cc = np.array([cur.count(c) for c in cats])
    assert drift.bin_labels == cats
    assert drift.reference_counts == rc.tolist() and drift.current_counts == cc.tolist()
    m = drift.metrics
    assert m["psi"] == pytest.approx(numpy_psi(rc, cc), rel=REL, abs=1e-15)
    assert m["js_distance"] == pytest.approx(float(jensenshannon(rc, cc, base=2)), rel=REL, abs=1e-9)
    chi = sps.chi2_contingency(np.vstack([rc, cc]))
    assert m["chi2_statistic"] == pytest.approx(float(chi.statistic), rel=REL, abs=1e-12)
    assert m["chi2_pvalue"] == pytest.approx(float(chi.pvalue), rel=REL, abs=1e-300)
    assert m["chi2_dof"] == chi.dof


def test_categories_match_scipy(tmp_path):
    rng = np.random.default_rng(1)
    reference = rng.choice(["a", "b", "c", "d"], 3000, p=[0.4, 0.3, 0.2, 0.1]).tolist() + [None] * 30
    current = rng.choice(["a", "b", "c", "d"], 2000, p=[0.3, 0.3, 0.3, 0.1]).tolist()
    drift = categorical(tmp_path, pa.array(reference), pa.array(current))
    assert_categorical_matches_oracles(drift, reference, current)
    assert drift.metrics["null_rate_reference"] == pytest.approx(30 / 3030)


def test_two_categories_use_yates_correction(tmp_path):
    reference, current = [True] * 70 + [False] * 30, [True] * 50 + [False] * 50
    drift = categorical(tmp_path, pa.array(reference), pa.array(current), "BOOLEAN")
    assert_categorical_matches_oracles(drift, [str(v).lower() for v in reference], [str(v).lower() for v in current])
    assert drift.metrics["chi2_dof"] == 1


def test_new_and_vanished_categories(tmp_path):
    reference = ["a"] * 50 + ["b"] * 40 + ["gone"] * 10
    current = ["a"] * 50 + ["b"] * 30 + ["new"] * 20
    drift = categorical(tmp_path, pa.array(reference), pa.array(current))
    assert_categorical_matches_oracles(drift, reference, current)
    m = drift.metrics
    assert (m["new_categories"], m["new_category_names"]) == (1, "new")
    assert (m["vanished_categories"], m["vanished_category_names"]) == (1, "gone")


def test_integer_categories_compare_as_text(tmp_path):
    reference, current = [1, 2, 10, 10, 2], [2, 10, 10, 10, 1, 1]
    drift = categorical(tmp_path, pa.array(reference), pa.array(current), "BIGINT")
    assert drift.bin_labels == ["1", "10", "2"]
    assert_categorical_matches_oracles(drift, reference, current)


def test_single_category(tmp_path):
    drift = categorical(tmp_path, pa.array(["x"] * 10), pa.array(["x"] * 7))
    m = drift.metrics
    assert (m["psi"], m["js_distance"], m["chi2_statistic"], m["chi2_pvalue"], m["chi2_dof"]) == (0.0, 0.0, 0.0, 1.0, 0)


def test_all_null_categorical_side(tmp_path):
    drift = categorical(tmp_path, pa.array(["x", "y"]), pa.array([None, None], type=pa.string()))
    m = drift.metrics
    assert m["psi"] is None and m["chi2_statistic"] is None and m["new_categories"] == 0
    assert m["null_rate_current"] == 1.0


def test_reference_profile_is_cached_and_current_can_be_a_window(tmp_path):
    rng = np.random.default_rng(2)
    engine = make_engine(tmp_path, pa.array(rng.normal(0, 1, 500)), pa.array(rng.normal(0, 1, 500)))
    cache: dict = {}
    cols = [DriftColumn("x", "DOUBLE", "numeric")]
    whole = compare(engine, Relation("reference"), Relation("current"), cols, cache=cache)["x"]
    scans = len(engine.log)
    window = compare(engine, Relation("reference"), Relation("(SELECT * FROM current WHERE x > ?)", (0.0,)),
                     cols, cache=cache)["x"]
    deciles_again = [q.sql for q in engine.log[scans:] if "cum > ?" in q.sql]
    assert not deciles_again
    # The reference's fine bins (the refined methods) are kept with its profile: a window bins its own side only.
    assert all("FROM reference" not in q.sql for q in engine.log[scans:] if " AS k, b, " in q.sql)
    ref_values = pq.read_table(tmp_path / "reference.parquet")["x"].to_numpy()
    cur_values = pq.read_table(tmp_path / "current.parquet")["x"].to_numpy()
    assert window.metrics["ks_statistic"] == pytest.approx(
        sps.ks_2samp(ref_values, cur_values[cur_values > 0]).statistic, rel=REL, abs=1e-15)
    assert window.reference_counts == whole.reference_counts
    assert window.metrics["values_current"] == sum(window.current_counts) < 500


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy on inf - inf
@pytest.mark.parametrize("values", [
    np.random.default_rng(11).lognormal(3, 1, 2345),
    np.random.default_rng(12).integers(0, 7, 1001).astype(float),
    np.array([4.2]),
    np.array([1.0, 2.0]),
    np.array([-np.inf, 0.5, 1.5, 2.5, np.inf, np.inf]),
])
def test_reference_deciles_are_numpys_linear_quantiles_bit_for_bit(tmp_path, values):
    engine = make_engine(tmp_path, pa.array(values), pa.array([1.0]))
    deciles, _ = reference_deciles(engine, DriftColumn("x", "DOUBLE", "numeric"), Relation("reference"), len(values))
    expected = np.quantile(values, np.arange(1, 10) / 10)
    assert np.array_equal(np.array(deciles), expected, equal_nan=True)


def test_kept_reference_value_counts_give_the_same_answers(tmp_path):
    rng = np.random.default_rng(21)
    engine = make_engine(tmp_path, pa.array(rng.gamma(2, 3, 4000)), pa.array(rng.gamma(2, 3.3, 3000)))
    cols = [DriftColumn("x", "DOUBLE", "numeric")]
    cache: dict = {}
    for lo in (0.0, 2.0, 5.0):
        window = Relation("(SELECT * FROM current WHERE x >= ?)", (lo,))
        plain = compare(engine, Relation("reference"), window, cols)["x"]
        kept = compare(engine, Relation("reference"), window, cols, cache=cache, keep_value_counts=True)["x"]
        # The same numbers; sums over value counts may round in another order than over rows.
        assert kept.metrics == {k: pytest.approx(v, rel=1e-12) if isinstance(v, float) else v
                                for k, v in plain.metrics.items()}
        assert (kept.reference_counts, kept.current_counts) == (plain.reference_counts, plain.current_counts)
    creates = [q.sql for q in engine.log if q.sql.startswith("CREATE TEMP TABLE")]
    assert len(creates) == 1  # the reference was aggregated once for the three windows


def test_several_numeric_columns_share_each_sides_statements(tmp_path, ecdf_method):
    """Columns compared together are binned together (one statement per side: the reference's is the same
    each run, so a cache of reference answers keeps it), each still exact."""
    rng = np.random.default_rng(31)
    data = {"reference": {"x": rng.lognormal(3, 1, 4000), "y": rng.integers(0, 9, 4000).astype(float)},
            "current": {"x": rng.lognormal(3.1, 1, 3000), "y": rng.integers(1, 10, 3000).astype(float)}}
    data["reference"]["y"][:7] = [np.inf, -np.inf, np.nan, np.nan, np.inf, 2.5, 2.5]
    engine = Engine()
    for name, columns in data.items():
        path = tmp_path / f"{name}.parquet"
        pq.write_table(pa.table({k: pa.array(v) for k, v in columns.items()}), path)
        attach_parquet(engine, name, path)
    cols = [DriftColumn("x", "DOUBLE", "numeric"), DriftColumn("y", "DOUBLE", "numeric")]
    out = compare(engine, Relation("reference"), Relation("current"), cols)
    for col in ("x", "y"):
        assert_numeric_matches_oracles(out[col], pa.array(data["reference"][col]), pa.array(data["current"][col]))
    binned = [q.sql for q in engine.log if " AS k, b, " in q.sql]
    assert len(binned) == (2 if ecdf_method != "sorted" else 0)
    assert all('"x"' in sql and '"y"' in sql for sql in binned)
    assert sorted(("FROM reference" in sql, "FROM current" in sql) for sql in binned) == (
        [(False, True), (True, False)] if binned else [])
