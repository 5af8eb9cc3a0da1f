"""The survival function of the two-sided Kolmogorov-Smirnov statistic, as `scipy.stats.kstwo.sf`.

`scipy.stats` costs over a second to import (it loads every distribution), and a drift run
needs only `kstwo.sf(D, n)` for large samples. For n > 140, scipy's `_kolmogn` answers it
with closed forms, `scipy.special.smirnov` or the Pelz-Good approximation; those branches
are copied here term for term from scipy 1.17 (scipy/stats/_ksstats.py, BSD-3-Clause,
Copyright (c) 2001-2002 Enthought, Inc. 2003, SciPy Developers), so the p-values are
bit-identical (tests/test_stats.py compares them with `==`). The branches left (n <= 140,
and the Durbin matrix for n <= 100,000 with a small D) call scipy.stats itself.
"""

from __future__ import annotations

import numpy as np

_SQRT2PI = np.sqrt(2 * np.pi)
_LOG_2PI = np.log(2 * np.pi)
_MIN_LOG = -708
_SQRT3 = np.sqrt(3)
_PI_SQUARED = np.pi ** 2
_PI_FOUR = np.pi ** 4
_PI_SIX = np.pi ** 6
# Stirling coefficients B_{2j}/(2j)/(2j-1) for j = 8, ..., 1 (scipy's _STIRLING_COEFFS).
_STIRLING_COEFFS = [-2.955065359477124183e-2, 6.4102564102564102564e-3,
                    -1.9175269175269175269e-3, 8.4175084175084175084e-4,
                    -5.952380952380952381e-4, 7.9365079365079365079e-4,
                    -2.7777777777777777778e-3, 8.3333333333333333333e-2]


def kstwo_sf(d: float, n: int) -> float:
    """P(D_n >= d): `scipy.stats.kstwo.sf(d, n)` for an integer n >= 1."""
    x = np.float64(d)
    if x <= 0.5 / n:  # below kstwo's support (and n * x <= 0.5 in _kolmogn): certain
        return 1.0
    if x >= 1.0:
        return 0.0
    if n > 140:
        found = _sf_large_n(n, x)
        if found is not None:
            return float(found)
    from scipy.stats import kstwo  # the exact matrix methods: small n, or a small D for n <= 100,000

    return float(kstwo.sf(d, n))


def _sf_large_n(n: int, x: np.float64) -> np.float64 | None:
    """scipy's `_kolmogn(n, x, cdf=False)` for n > 140; None where it would use the Durbin matrix."""
    t = n * x
    if t <= 1.0:  # Ruben-Gambino: 1/2n <= x <= 1/n
        if t <= 0.5:
            return np.float64(1.0)
        prob = np.exp(_log_nfactorial_div_n_pow_n(n) + n * np.log(2 * t - 1))
        return np.clip(1.0 - prob, 0.0, 1.0)
    if t >= n - 1:  # Ruben-Gambino
        prob = 2 * (1.0 - x) ** n
        return np.clip(prob, 0.0, 1.0)
    from scipy.special import smirnov

    if x >= 0.5:  # exact: 2 * smirnov
        return np.clip(2 * smirnov(n, x), 0.0, 1.0)
    nxsquared = t * x
    if nxsquared >= 370.0:
        return np.float64(0.0)
    if nxsquared >= 2.2:
        return np.clip(2 * smirnov(n, x), 0.0, 1.0)
    if nxsquared >= 18.0:  # never true here (kept from scipy's CDF branch)
        return np.float64(0.0)
    if n <= 100000 and n * x ** 1.5 <= 1.4:
        return None
    cdfprob = _pelz_good_cdf(n, x)
    return np.clip(1.0 - cdfprob, 0.0, 1.0)


def _log_nfactorial_div_n_pow_n(n: int) -> np.float64:
    # log(n! / n**n) by Stirling, with n*log(n) taken out first to avoid cancellation.
    rn = 1.0 / n
    return np.log(n) / 2 - n + _LOG_2PI / 2 + rn * np.polyval(_STIRLING_COEFFS, rn / n)


def _pelz_good_cdf(n: int, x: np.float64) -> np.float64:
    """Pelz-Good (1976): P(D_n <= x) ~ K0(z) + K1(z)/sqrt(n) + K2(z)/n + K3(z)/n**1.5, z = x sqrt(n)."""
    z = np.sqrt(n) * x
    zsquared, zthree, zfour, zsix = z**2, z**3, z**4, z**6

    qlog = -_PI_SQUARED / 8 / zsquared
    if qlog < _MIN_LOG:  # z ~ 0.041743441416853426
        return np.float64(0.0)

    q = np.exp(qlog)

    # Coefficients of terms in the sums for K1, K2 and K3
    k1a = -zsquared
    k1b = _PI_SQUARED / 4

    k2a = 6 * zsix + 2 * zfour
    k2b = (2 * zfour - 5 * zsquared) * _PI_SQUARED / 4
    k2c = _PI_FOUR * (1 - 2 * zsquared) / 16

    k3d = _PI_SIX * (5 - 30 * zsquared) / 64
    k3c = _PI_FOUR * (-60 * zsquared + 212 * zfour) / 16
    k3b = _PI_SQUARED * (135 * zfour - 96 * zsix) / 4
    k3a = -30 * zsix - 90 * z**8

    k0to3 = np.zeros(4)
    # A Horner scheme for sum c_i q^(i^2), over odd integers.
    maxk = int(np.ceil(16 * z / np.pi))
    for k in range(maxk, 0, -1):
        m = 2 * k - 1
        msquared, mfour, msix = m**2, m**4, m**6
        qpower = np.power(q, 8 * k)
        coeffs = np.array([1.0,
                           k1a + k1b*msquared,
                           k2a + k2b*msquared + k2c*mfour,
                           k3a + k3b*msquared + k3c*mfour + k3d*msix])
        k0to3 *= qpower
        k0to3 += coeffs
    k0to3 *= q
    k0to3 *= _SQRT2PI
    k0to3 /= np.array([z, 6 * zfour, 72 * z**7, 6480 * z**10])

    # The other sum, over all integers k: K_2 gets (pi^2 k^2) q^(k^2), K_3 (3pi^2 k^2 z^2 - pi^4 k^4) q^(k^2).
    q = np.exp(-_PI_SQUARED / 2 / zsquared)
    ks = np.arange(maxk, 0, -1)
    ksquared = ks ** 2
    sqrt3z = _SQRT3 * z
    kspi = np.pi * ks
    qpwers = q ** ksquared
    k2extra = np.sum(ksquared * qpwers)
    k2extra *= _PI_SQUARED * _SQRT2PI / (-36 * zthree)
    k0to3[2] += k2extra
    k3extra = np.sum((sqrt3z + kspi) * (sqrt3z - kspi) * ksquared * qpwers)
    k3extra *= _PI_SQUARED * _SQRT2PI / (216 * zsix)
    k0to3[3] += k3extra
    powers_of_n = np.power(n * 1.0, np.arange(len(k0to3)) / 2.0)
    k0to3 /= powers_of_n
    return sum(k0to3)
