"""auditor.stats.distances against scipy and a numpy PSI written from DESIGN.md's recipe."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon

from auditor.stats import distances as stats

REL = 1e-9


def numpy_psi(ref_counts, cur_counts) -> float:
    p = np.asarray(ref_counts, float) / np.sum(ref_counts)
    q = np.asarray(cur_counts, float) / np.sum(cur_counts)
    p, q = np.where(p == 0, 1e-4, p), np.where(q == 0, 1e-4, q)
    return float(np.sum((q - p) * np.log(q / p)))


@pytest.mark.parametrize("ref,cur", [
    ([100, 200, 300, 400], [110, 190, 330, 370]),
    ([5, 0, 7, 1], [0, 3, 7, 9]),  # zeros on either side: 1e-4, no renormalisation
    ([1], [10]),
    ([10**9, 3, 1], [10**9 - 7, 10, 0]),
])
def test_psi_and_js_match_oracles(ref, cur):
    assert stats.psi(ref, cur) == pytest.approx(numpy_psi(ref, cur), rel=REL, abs=1e-15)
    assert stats.js_distance(ref, cur) == pytest.approx(float(jensenshannon(ref, cur, base=2)), rel=REL, abs=1e-12)
    assert sum(stats.psi_contributions(ref, cur)) == pytest.approx(stats.psi(ref, cur), rel=REL, abs=1e-15)


def test_psi_is_symmetric_and_zero_for_identical_shares():
    assert stats.psi([1, 2, 3], [2, 4, 6]) == 0.0
    assert stats.js_distance([1, 2, 3], [2, 4, 6]) == 0.0
    assert stats.psi([1, 9], [5, 5]) == pytest.approx(stats.psi([5, 5], [1, 9]), rel=1e-12)


def test_empty_side_is_undefined_not_zero():
    assert stats.psi([0, 0], [1, 2]) is None
    assert stats.js_distance([1, 2], [0, 0]) is None
    assert stats.chi_square([0, 0], [1, 2]) is None
    assert stats.psi_contributions([], []) is None


@pytest.mark.parametrize("ref,cur", [
    ([30, 70], [50, 50]),  # dof 1: Yates' correction
    ([120, 80, 40, 7], [100, 100, 30, 20]),
    ([3, 0, 5], [4, 6, 2]),
])
def test_chi_square_matches_chi2_contingency(ref, cur):
    expected = sps.chi2_contingency(np.array([ref, cur]))
    statistic, pvalue, dof = stats.chi_square(ref, cur)
    assert statistic == pytest.approx(expected.statistic, rel=REL)
    assert pvalue == pytest.approx(expected.pvalue, rel=REL)
    assert dof == expected.dof


def test_chi_square_of_a_single_category_is_scipys_answer():
    assert stats.chi_square([10], [7]) == (0.0, 1.0, 0)


@pytest.mark.parametrize("n,m", [(10_001, 10_001), (50_000, 12_345), (12_000, 900_000)])
def test_asymptotic_ks_pvalue_matches_ks_2samp(n, m):
    rng = np.random.default_rng(n + m)
    a, b = rng.normal(0, 1, n), rng.normal(0.02, 1, m)
    expected = sps.ks_2samp(a, b, method="auto")
    assert stats.ks_pvalue_asymptotic(float(expected.statistic), n, m) == pytest.approx(expected.pvalue, rel=REL)
    assert stats.ks_pvalue_asymptotic(float(expected.statistic), m, n) == pytest.approx(expected.pvalue, rel=REL)


def test_small_samples_use_scipys_exact_ks():
    rng = np.random.default_rng(4)
    a, b = rng.normal(0, 1, 300), rng.normal(0.3, 1, 250)
    d, p = stats.ks_test_small(a, b)
    exact = sps.ks_2samp(a, b, method="exact")
    assert (d, p) == (pytest.approx(exact.statistic, rel=REL), pytest.approx(exact.pvalue, rel=REL))


def test_cut_points_are_distinct_finite_deciles():
    assert stats.cut_points([1.0, 1.0, 2.0, float("inf"), float("nan"), None, -3.0]) == [-3.0, 1.0, 2.0]
    assert stats.cut_points(None) == []


def test_bin_index_is_right_closed_with_open_ends():
    idx = stats.bin_index(np.array([-np.inf, 0.5, 1.0, 1.5, 2.0, 2.5, np.inf]), [1.0, 2.0])
    assert idx.tolist() == [0, 0, 0, 1, 1, 2, 2]


def test_normalised_wasserstein_edge_cases():
    assert stats.normalised_wasserstein(0.5, 2.0) == 0.25
    assert stats.normalised_wasserstein(0.0, 0.0) == 0.0  # identical: no movement at any scale
    assert stats.normalised_wasserstein(0.5, 0.0) is None  # a constant reference has no scale
    assert stats.normalised_wasserstein(None, 1.0) is None
    assert stats.normalised_wasserstein(float("inf"), 1.0) is None


def test_deciles_are_numpys_linear_quantiles():
    assert stats.DECILES == (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def _kstwo_cases() -> list[tuple[float, int]]:
    """D values on every branch of scipy's kstwo.sf for n > 140 (closed forms, smirnov, Pelz-Good)."""
    rng = np.random.default_rng(8)
    cases = []
    for n in (141, 1_000, 150_000, 500_000, 4_999_999):
        branch_edges = [0.5 / n, 0.75 / n, 1 / n, 1.5 / n, (n - 1) / n, 0.5, 0.4999, np.sqrt(2.2 / n),
                        np.sqrt(370 / n), 0.99]
        random = np.concatenate([rng.uniform(0, 4 / np.sqrt(n), 12), rng.uniform(0, 1, 4)])
        cases += [(float(d), n) for d in [*branch_edges, *random]]
    return cases


@pytest.mark.parametrize("d,n", _kstwo_cases())
def test_kstwo_sf_is_scipys_bit_for_bit(d, n):
    from auditor.stats.kolmogorov import kstwo_sf

    assert kstwo_sf(d, n) == float(np.clip(sps.kstwo.sf(d, float(n)), 0.0, 1.0))


@pytest.mark.parametrize("seed", range(40))
def test_chi_square_is_chi2_contingency_bit_for_bit(seed):
    """The statistic and p-value are computed without scipy.stats, operation for operation as scipy does."""
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 12))
    ref, cur = rng.integers(0, 10 ** int(rng.integers(1, 8)), (2, k)) + 1
    expected = sps.chi2_contingency(np.array([ref, cur]))
    assert stats.chi_square(ref.tolist(), cur.tolist()) == (float(expected.statistic), float(expected.pvalue),
                                                             int(expected.dof))


def test_importing_the_statistics_does_not_load_scipy_stats():
    """scipy.stats takes over a second to import; a drift run's p-values do not need it."""
    import subprocess
    import sys

    code = ("import sys; from auditor.stats import distances as stats; stats.ks_pvalue_asymptotic(0.003, 10**6, 10**6); "
            "stats.chi_square([5, 7, 9], [6, 2, 1]); stats.js_distance([1, 2], [2, 1]); "
            "print('scipy.stats' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
