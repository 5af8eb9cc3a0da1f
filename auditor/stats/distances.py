"""Pure statistics on small inputs: bin counts, ECDF summaries, a few thousand values.

The SQL side (auditor/stats/column_drift.py) reduces a column to counts per bin or category;
these functions turn counts into PSI, Jensen-Shannon distance and chi-square,
and give the KS p-value exactly as `scipy.stats.ks_2samp(method="auto")` does.
Recipes are DESIGN.md's "Statistics" section. Every function returns None where
a number is undefined (an empty side), never 0 or NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from auditor.stats.kolmogorov import kstwo_sf

# scipy is imported where it is first needed: scipy.stats alone takes over a second to import,
# and a drift run needs none of it (kstwo.sf comes from auditor.stats.kolmogorov, chi-square below).

# A bin with no rows would make PSI infinite; DESIGN.md: replace the proportion, do not renormalise.
PSI_EPSILON = 1e-4
# scipy.stats.ks_2samp(method="auto") is exact up to this many values on the larger side (MAX_AUTO_N).
KS_EXACT_MAX_N = 10_000
DECILES = tuple(round(0.1 * i, 1) for i in range(1, 10))


def proportions(counts: Sequence[float]) -> np.ndarray | None:
    """Counts as shares of their total; None when there is nothing to share."""
    arr = np.asarray(counts, dtype=np.float64)
    total = arr.sum()
    return arr / total if total > 0 else None


def psi_contributions(reference: Sequence[float], current: Sequence[float]) -> list[float] | None:
    """Each bin's term of PSI, (q - p) ln(q / p), with zero shares replaced by PSI_EPSILON."""
    p, q = proportions(reference), proportions(current)
    if p is None or q is None:
        return None
    p = np.where(p == 0, PSI_EPSILON, p)
    q = np.where(q == 0, PSI_EPSILON, q)
    return [float(x) for x in (q - p) * np.log(q / p)]


def psi(reference: Sequence[float], current: Sequence[float]) -> float | None:
    """Population stability index of two count vectors on the same bins (natural log)."""
    terms = psi_contributions(reference, current)
    return None if terms is None else float(math.fsum(terms))


def js_distance(reference: Sequence[float], current: Sequence[float]) -> float | None:
    """Jensen-Shannon distance, base 2, unsmoothed: scipy.spatial.distance.jensenshannon's formula."""
    p, q = proportions(reference), proportions(current)
    if p is None or q is None:
        return None
    from scipy.special import rel_entr

    m = (p + q) / 2.0
    divergence = (np.sum(rel_entr(p, m)) + np.sum(rel_entr(q, m))) / np.log(2.0)
    # Rounding can leave a hair below zero for identical inputs; the distance is its square root.
    return float(np.sqrt(max(divergence, 0.0) / 2.0))


def chi_square(reference: Sequence[int], current: Sequence[int]) -> tuple[float, float, int] | None:
    """scipy.stats.chi2_contingency on the 2xK table (Yates' correction only when dof == 1, scipy's default).

    None when a side has no values (the expected counts of its row would be zero).
    With a single category there is nothing to compare: scipy's answer, statistic 0, p 1, dof 0.
    """
    ref, cur = np.asarray(reference, dtype=np.int64), np.asarray(current, dtype=np.int64)
    if ref.sum() == 0 or cur.sum() == 0 or len(ref) == 0:
        return None
    statistic, dof = _chi2_contingency_statistic(np.vstack([ref, cur]))
    if dof == 0:
        return 0.0, 1.0, 0
    from scipy.special import chdtrc

    return float(statistic), float(chdtrc(dof, statistic)), dof


def _chi2_contingency_statistic(observed: np.ndarray) -> tuple[np.float64, int]:
    """scipy.stats.chi2_contingency's statistic and dof, operation for operation (scipy 1.17:
    expected_freq, Yates when dof == 1, power_divergence's Pearson terms); its p-value is
    scipy's _SimpleChi2(dof).sf = chdtrc(dof, statistic)."""
    table = np.asarray(observed, dtype=np.float64)
    expected = np.multiply(table.sum(axis=1, keepdims=True), table.sum(axis=0, keepdims=True)) / table.sum() ** 1
    dof = expected.size - sum(expected.shape) + expected.ndim - 1
    if dof == 1:
        diff = expected - observed
        observed = observed + np.minimum(0.5, np.abs(diff)) * np.sign(diff)
    f_obs = np.ravel(np.asarray(observed, dtype=np.float64))
    terms = (f_obs - np.ravel(expected)) ** 2 / np.ravel(expected)
    return np.sum(terms), int(dof)


def ks_pvalue_asymptotic(d: float, n_reference: int, n_current: int) -> float:
    """The two-sided p-value ks_2samp(method="auto") gives past KS_EXACT_MAX_N: kstwo.sf(D, round(n*m/(n+m)))."""
    m, n = sorted([float(n_reference), float(n_current)], reverse=True)
    en = m * n / (m + n)
    return float(np.clip(kstwo_sf(d, int(np.round(en))), 0.0, 1.0))


def ks_test_small(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """KS statistic and p-value of two small samples, by scipy itself (its exact method when it can).

    scipy's own function beneath its decorators (`inspect.unwrap`): they check axes and NaN policy for
    every call, 1.5 ms each, a second over the columns of a 600-column table; these samples are 1-D and
    without NaN, so the function's answer is the same (tests compare them with ks_2samp's)."""
    import inspect

    from scipy.stats import ks_2samp

    result = inspect.unwrap(ks_2samp)(reference, current, method="auto")
    return float(result.statistic), float(result.pvalue)


def samples_with_gap(at_ref: int, at_cur: int, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Two samples of sizes n and m whose ECDFs differ most by |at_ref / n - at_cur / m|: 0s then 1s. The
    two-sample KS test's exact p-value depends only on that gap and the sizes, so ks_test_small on them
    gives what it gives on the samples whose running counts at their widest gap these are."""
    return (np.repeat([0.0, 1.0], [at_ref, n - at_ref]), np.repeat([0.0, 1.0], [at_cur, m - at_cur]))


def decile_positions(n: int) -> list[tuple[int, int, float]]:
    """For each decile of n sorted values: the two 0-based positions around it and the weight between them.

    numpy's "linear" method: virtual index (n - 1) * q, its floor and the next position
    (the last value when the index reaches n - 1).
    """
    out = []
    for q in DECILES:
        virtual = (n - 1) * q
        if virtual >= n - 1:
            out.append((n - 1, n - 1, 0.0))
        else:
            lo = math.floor(virtual)
            out.append((lo, lo + 1, virtual - lo))
    return out


def lerp(a: float, b: float, t: float) -> float:
    """numpy's _lerp, term for term, so the deciles are bit-identical to np.quantile's."""
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t


def cut_points(deciles: Sequence[float | None] | None) -> list[float]:
    """PSI cut points: the distinct finite interior deciles, sorted.

    A decile that is infinite or NaN (interpolated between infinities) is dropped,
    so infinite values fall into the open outer bins.
    """
    if not deciles:
        return []
    return sorted({float(d) for d in deciles if d is not None and math.isfinite(d)})


def bin_index(values: np.ndarray, cuts: Sequence[float]) -> np.ndarray:
    """Right-closed bins (c[i-1], c[i]] with open outer ends: the number of cut points below a value."""
    return np.searchsorted(np.asarray(cuts, dtype=np.float64), values, side="left")


def normalised_wasserstein(distance: float | None, reference_std: float | None) -> float | None:
    """Wasserstein-1 in reference standard deviations (ddof=0).

    Identical distributions (distance 0) are 0 whatever the scale; a shift of a
    constant reference (std 0) cannot be scaled and is None.
    """
    if distance is None or not math.isfinite(distance):
        return None
    if distance == 0:
        return 0.0
    if reference_std is None or not math.isfinite(reference_std) or reference_std == 0:
        return None
    return distance / reference_std


def finite_or_none(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
