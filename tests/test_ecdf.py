"""auditor.stats.ecdf's fine-bin walk: the vectorised walk equals the plain loop over bins bit for bit, and the
refine query's value ranges (however merged) give scipy's numbers."""

from __future__ import annotations

import math
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats as sps

from auditor.engine.duckdb_engine import Engine
from auditor.stats import column_measures, ecdf
from auditor.stats.column_drift import DriftColumn, Relation, compare
from tests.engines import attach_parquet, new_engine


@pytest.fixture(autouse=True)
def engine_under_test(engine_kind, monkeypatch):
    """Every test here runs on each engine: DuckDB, and Spark where it runs."""
    monkeypatch.setattr(sys.modules[__name__], "Engine", lambda: new_engine(engine_kind))
    return engine_kind


def loop_walk(ref: ecdf.BinStats, cur: ecdf.BinStats, n: int, m: int) -> tuple[float, float, list[int], bool]:
    """The bin walk as a plain loop in bin order (how it was written before it was vectorised)."""
    ref_bins = {int(b): (int(c), s, lo, hi) for b, c, s, lo, hi in
                zip(ref.bins, ref.counts, ref.sums.tolist(), ref.lows.tolist(), ref.highs.tolist(), strict=True)}
    cur_bins = {int(b): (int(c), s, lo, hi) for b, c, s, lo, hi in
                zip(cur.bins, cur.counts, cur.sums.tolist(), cur.lows.tolist(), cur.highs.tolist(), strict=True)}
    empty = (0, 0.0, None, None)
    cum_r = cum_c = 0
    d_edges, rows = 0.0, []
    finite = all(math.isfinite(v[1]) for side in (ref_bins, cur_bins) for v in side.values())
    for b in sorted(set(ref_bins) | set(cur_bins)):
        r, s_r, lo_r, hi_r = ref_bins.get(b, empty)
        c, s_c, lo_c, hi_c = cur_bins.get(b, empty)
        before = cum_r / n - cum_c / m
        a = lo_c if lo_r is None else lo_r if lo_c is None else min(lo_r, lo_c)
        z = hi_c if hi_r is None else hi_r if hi_c is None else max(hi_r, hi_c)
        rows.append((b, cum_r, cum_c, before, r, s_r, c, s_c, a, z))
        cum_r, cum_c = cum_r + r, cum_c + c
        d_edges = max(d_edges, abs(cum_r / n - cum_c / m))
    refine, integral, prev_end, prev_gap = [], 0.0, None, 0.0
    for b, off_r, off_c, before, r, s_r, c, s_c, a, z in rows:
        low, high = before - c / m, before + r / n
        refined = a != z and (max(abs(low), abs(high)) > d_edges or low < 0 < high)
        if refined:
            refine.append(b)
        if finite:
            if prev_end is not None:
                integral += abs(prev_gap) * (a - prev_end)
            if not refined and a != z:
                integral += abs(before * (z - a) + (r * z - s_r) / n - (c * z - s_c) / m)
            prev_end, prev_gap = z, (off_r + r) / n - (off_c + c) / m
    return d_edges, integral, refine, finite


def random_side(rng: np.random.Generator, values: np.ndarray, pieces: int) -> ecdf.BinStats:
    """Bin statistics of values in equal-width bins over [0, 1) (a monotone bin of each value)."""
    b = np.minimum((values * pieces).astype(np.int64), pieces - 1)
    bins = np.unique(b)
    at = np.searchsorted(bins, b)
    return ecdf.BinStats(bins=bins, counts=np.bincount(at, minlength=len(bins)).astype(np.int64),
                         sums=np.array([math.fsum(values[at == i]) for i in range(len(bins))]),
                         lows=np.array([values[at == i].min() for i in range(len(bins))]),
                         highs=np.array([values[at == i].max() for i in range(len(bins))]))


@pytest.mark.parametrize("seed,pieces,infinite", [(1, 50, False), (2, 400, False), (3, 7, False), (4, 60, True)])
def test_vectorised_walk_equals_the_loop_bit_for_bit(seed, pieces, infinite):
    rng = np.random.default_rng(seed)
    ref_values, cur_values = rng.beta(2, 5, 3000), rng.beta(2.2, 5, 2500)
    cur_values[:40] = np.round(cur_values[:40], 2)  # ties, and bins of one value
    ref_side, cur_side = random_side(rng, ref_values, pieces), random_side(rng, cur_values, pieces)
    if infinite:  # an infinite value makes the sum of its bin infinite: no integral
        cur_side.sums[-1] = np.inf
        cur_side.highs[-1] = np.inf
    walk = ecdf._BinWalk(ref_side, cur_side, len(ref_values), len(cur_values))
    d, integral, refine, finite = loop_walk(ref_side, cur_side, len(ref_values), len(cur_values))
    assert walk.d_edges == d
    assert walk.finite is finite
    assert walk.order[walk.refined].tolist() == refine
    if finite:
        assert walk.integral == integral  # the same additions in the same order


def make_engine(tmp_path, reference: np.ndarray, current: np.ndarray) -> Engine:
    engine = Engine()
    for name, values in (("reference", reference), ("current", current)):
        path = tmp_path / f"{name}.parquet"
        pq.write_table(pa.table({"x": pa.array(values)}), path)
        attach_parquet(engine, name, path)
    return engine


@pytest.mark.parametrize("most,merge_below,many", [(1, 10**9, False), (1000, 10**9, True), (3, 0, False),
                                                   (4, 16, False)])
def test_refine_ranges_however_merged_give_scipys_numbers(tmp_path, monkeypatch, most, merge_below, many):
    """Every run in one range, a range per run, all merged, the defaults: the same exact D and Wasserstein."""
    monkeypatch.setattr(column_measures, "REFINE_MIN_VALUES", 1)
    monkeypatch.setattr(column_measures, "REFINE_MIN_DISTINCT", 0)
    monkeypatch.setattr(ecdf, "SUB_BINS", 40)  # no drift: sign changes all over, many runs of refined bins
    monkeypatch.setattr(ecdf, "REFINE_MAX_RANGES", most)
    monkeypatch.setattr(ecdf, "REFINE_MERGE_BELOW", merge_below)
    rng = np.random.default_rng(most + merge_below)
    ref, cur = rng.normal(0, 1, 4000), rng.normal(0, 1, 3500)
    ref[:5] = [-np.inf, 7.5, 7.5, 7.5, 0.0]
    cur[:3] = [0.0, 0.0, 7.5]
    engine = make_engine(tmp_path, ref, cur)
    drift = compare(engine, Relation("reference"), Relation("current"), [DriftColumn("x", "DOUBLE", "numeric")])["x"]
    refine = [q.sql for q in engine.log if q.sql.startswith("WITH wanted")]
    assert len(refine) == 1
    ranges = refine[0].count("BETWEEN") // 2
    assert 1 <= ranges <= most and (ranges > 4) is many
    assert drift.metrics["ks_statistic"] == pytest.approx(sps.ks_2samp(ref, cur).statistic, rel=1e-12, abs=1e-15)
    assert drift.metrics["wasserstein"] is None  # the reference has -inf
    finite_ref = ref[np.isfinite(ref)]
    engine = make_engine(tmp_path, finite_ref, cur)
    drift = compare(engine, Relation("reference"), Relation("current"), [DriftColumn("x", "DOUBLE", "numeric")])["x"]
    assert drift.metrics["ks_statistic"] == pytest.approx(sps.ks_2samp(finite_ref, cur).statistic, rel=1e-12,
                                                          abs=1e-15)
    assert drift.metrics["wasserstein"] == pytest.approx(sps.wasserstein_distance(finite_ref, cur), rel=1e-9)
