"""PCA reconstruction error, NannyML's multivariate drift method, from SQL aggregates.

NannyML's DataReconstructionDriftCalculator imputes missing values with the reference mean,
standardises each feature (StandardScaler: the population standard deviation of the imputed
reference), fits a PCA keeping 65% of the variance, and measures each row by the Euclidean distance
between it and its reconstruction from the components, averaged over a chunk of rows.

Here nothing leaves the engine but k×k numbers:
- the covariance of the standardised, imputed reference is one statement of sums of products
  (k ≤ 50 features, so at most 1,275 aggregates, whatever the rows);
- the components come from numpy's `eigh` of that k×k matrix (what scikit-learn's PCA finds by SVD
  of the centred data: the same components and explained variance);
- a row's error is ||d||² − Σ_c (w_c · d)², d the centred standardised row and w_c the kept
  components (orthonormal), evaluated in SQL as inner products of one list per row with bound
  parameter lists, and averaged per group (reference chunk, current, window).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from auditor.engine.sql import quote_ident

__all__ = ["Standardised", "Components", "standardised_row", "covariance_sql", "components", "errors_sql"]


@dataclass(frozen=True)
class Standardised:
    """How each feature is imputed and scaled, from the reference."""

    columns: tuple[str, ...]
    means: tuple[float, ...]  # of the finite reference values: the imputed value
    scales: tuple[float, ...]  # population sd of the imputed reference (never 0: constant features are left out)


def standardised_row(features: Standardised) -> tuple[str, dict[str, float]]:
    """SQL: the list of a row's standardised values (a missing or infinite value is the mean: 0), with its parameters."""
    items, params = [], {}
    for i, (col, mean, scale) in enumerate(zip(features.columns, features.means, features.scales, strict=True)):
        c = f"CAST({quote_ident(col)} AS DOUBLE)"
        items.append(f"coalesce(CASE WHEN isfinite({c}) THEN ({c} - $mv_mean_{i}) / $mv_scale_{i} END, 0.0)")
        params[f"mv_mean_{i}"], params[f"mv_scale_{i}"] = float(mean), float(scale)
    return "[" + ", ".join(items) + "]", params


def covariance_sql(k: int, row: str, view: str) -> str:
    """One statement: the row count, each standardised feature's sum and every sum of products (upper triangle)."""
    sums = [f"sum(z[{i + 1}])" for i in range(k)]
    products = [f"sum(z[{i + 1}] * z[{j + 1}])" for i in range(k) for j in range(i, k)]
    return f"SELECT count(*), {', '.join(sums + products)} FROM (SELECT {row} AS z FROM {view})"


@dataclass(frozen=True)
class Components:
    centre: np.ndarray  # the mean of the standardised reference (0 up to rounding; scikit-learn subtracts it)
    vectors: np.ndarray  # k × c, orthonormal columns: the kept components
    explained: np.ndarray  # explained variance ratio of every component, largest first
    kept: int


def components(sums: list[float], k: int, variance_kept: float) -> Components:
    """The principal components of the standardised reference from its sums (covariance_sql's row, after the count).

    Kept: the fewest components whose explained variance exceeds `variance_kept`, scikit-learn's rule
    for a fractional n_components."""
    n, rest = sums[0], np.asarray(sums[1:], dtype=float)
    means = rest[:k] / n
    products = np.zeros((k, k))
    products[np.triu_indices(k)] = rest[k:]
    products = products + np.triu(products, 1).T
    covariance = products / n - np.outer(means, means)
    values, vectors = np.linalg.eigh(covariance)
    order = np.argsort(values)[::-1]
    values, vectors = np.clip(values[order], 0, None), vectors[:, order]
    total = values.sum()
    ratio = values / total if total > 0 else np.zeros_like(values)
    kept = min(int(np.searchsorted(np.cumsum(ratio), variance_kept, side="right")) + 1, k)
    return Components(centre=means, vectors=vectors[:, :kept], explained=ratio, kept=kept)


ERRORS_SQL = """SELECT grp, avg(e), count(*) FROM (
  SELECT grp, sqrt(greatest(list_inner_product(d, d){projections}, 0.0)) AS e
  FROM (SELECT {group} AS grp, list_transform(list_zip({row}, $mv_centre::DOUBLE[]), lambda p: p[1] - p[2]) AS d
        FROM {view} WHERE {where}))
GROUP BY grp ORDER BY grp"""


def errors_sql(row: str, fitted: Components, *, view: str, group: str, where: str = "true"
               ) -> tuple[str, dict[str, list[float]]]:
    """One statement: the mean reconstruction error and the rows of each group (`group`: a SQL expression),
    with its parameters. A row's error is ||d||² minus its squared projections on the kept components,
    never below 0 by rounding, square-rooted: the distance between the row and its reconstruction."""
    params: dict[str, list[float]] = {"mv_centre": [float(v) for v in fitted.centre]}
    projections = []
    for c in range(fitted.kept):
        params[f"mv_w{c}"] = [float(v) for v in fitted.vectors[:, c]]
        projections.append(f" - pow(list_inner_product(d, $mv_w{c}::DOUBLE[]), 2)")
    sql = ERRORS_SQL.format(projections="".join(projections), group=group, row=row, view=view, where=where)
    return sql, params
