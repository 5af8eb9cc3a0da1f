"""One column's drift measures from its two sides' counts: KS and Wasserstein (exact, refined in fine
bins where a column has many values), PSI, Jensen-Shannon and chi-square, with the notes that explain
an undefined answer. auditor.stats.column_drift gathers the counts; this module turns them into a
`ColumnDrift`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from auditor.engine import long_form
from auditor.engine.base import Engine
from auditor.stats import distances as stats
from auditor.stats import ecdf
from auditor.stats.drift_relations import (  # noqa: F401  (DriftColumn, Kind, missing_condition: re-exported)
    Counted,
    DriftColumn,
    Kind,
    Relation,
    counted_sides,
    counted_values,
    fetch_values,
    located_values,
    missing_condition,
    raw_values,
    reference_deciles,
    valid_condition,
    value_counts,
)


@dataclass(frozen=True)
class SideCounts:
    """One side of one column: rows, non-missing values, and counts per bin (int) or category (str)."""

    rows: int
    values: int
    bins: dict[Any, int]

    @property
    def null_rate(self) -> float | None:
        return (self.rows - self.values) / self.rows if self.rows else None


@dataclass(frozen=True)
class ReferenceProfile:
    cuts: dict[str, list[float]]  # numeric column -> PSI cut points
    std: dict[str, float | None]  # numeric column -> population std (None if undefined)
    counts: dict[str, SideCounts]
    sql: dict[str, list[str]]  # per column: the queries its reference side took
    value_counts: dict[str, Relation] = field(default_factory=dict)  # numeric column -> kept (v, n) table
    finite_range: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    distinct: dict[str, int] = field(default_factory=dict)  # numeric column -> distinct values it has at least
    fine_bins: dict[str, tuple] = field(default_factory=dict)  # numeric column -> its fine bins and their counts
    # numeric column -> its exact value counts, where the locating histogram shows every value (a cell of one)
    # Value counts known without grouping again: shown by the locating histogram (every cell one value), or
    # read on their own for a column of few values (auditor.stats.column_drift.know_reference_counts).
    shown: dict[str, dict[float, int]] = field(default_factory=dict)


@dataclass
class ColumnDrift:
    """Everything measured for one column; `metrics` uses report.json's names."""

    column: DriftColumn
    metrics: dict[str, Any]
    bin_labels: list[str] = field(default_factory=list)
    edges: list[float | None] = field(default_factory=list)  # numeric: PSI bin edges, None = open end
    reference_counts: list[int] = field(default_factory=list)
    current_counts: list[int] = field(default_factory=list)
    contributions: list[float] | None = None
    notes: list[str] = field(default_factory=list)
    sql: list[str] = field(default_factory=list)



def _base_metrics(method: str, r: SideCounts, c: SideCounts) -> dict[str, Any]:
    return {"method": method, "psi": None, "js_distance": None,
            "null_rate_reference": r.null_rate, "null_rate_current": c.null_rate,
            "rows_reference": r.rows, "rows_current": c.rows,
            "values_reference": r.values, "values_current": c.values}


def _empty_side_note(r: SideCounts, c: SideCounts) -> str | None:
    for name, side in (("reference", r), ("current", c)):
        if side.rows == 0:
            return f"the {name} data has no rows"
        if side.values == 0:
            return f"every {name} value is missing"
    return None


def _bin_label(edges: list[float | None], i: int) -> str:
    lo, hi = edges[i], edges[i + 1]
    lo_text = "-inf" if lo is None else f"{lo:.6g}"
    hi_text = "+inf)" if hi is None else f"{hi:.6g}]"
    return f"({lo_text}, {hi_text}"


# From this many values (both sides) and distinct reference values on (as many as the reference's locating
# histogram proves: auditor.engine.quantiles), D and Wasserstein come from fine bins refined where needed
# (auditor.stats.ecdf), not from a sort of every distinct value: the same numbers, with memory bounded by the
# refined bins. Few distinct values group and sort cheaply as they are.
REFINE_MIN_VALUES = 1_000_000
REFINE_MIN_DISTINCT = 50_000
REFINE_MIN_DISTINCT_LOCATED = 1_000  # fewer proven by the locating histogram: few enough, no HLL needed
# Columns whose fine bins one statement counts at most: each is a grouping of its own (a UNION ALL branch
# per column and side), all alive together.
FINE_COLUMNS_MAX = 50


def refines(col: DriftColumn, ref: ReferenceProfile, c: SideCounts) -> bool:
    n_ref, n_cur = ref.counts[col.name].values, c.values
    # Without a locating histogram (a reference with parameters) the count is unknown: assume many.
    distinct = ref.distinct.get(col.name, REFINE_MIN_DISTINCT)
    return bool(n_ref and n_cur and n_ref + n_cur >= REFINE_MIN_VALUES and distinct >= REFINE_MIN_DISTINCT)


def fine_bin_stats(engine: Engine, columns: list[DriftColumn], reference: Relation, current: Relation,
                    ref: ReferenceProfile) -> dict[str, tuple]:
    """Per refined column: its fine bins, and each side's (v, n) relation and bin statistics. One statement
    for the columns of each side (only the current's when the reference's are kept with its cached
    profile, as windows reuse them), or one per batch of them where reading them all would not fit. The
    reference's bins are a statement of their own: the same each night, so an engine that keeps answers
    across runs (auditor.engine.stored) does not read an unchanged reference for them again."""
    out: dict[str, tuple] = {}
    read = engine.read_shares(reference.sql, current.sql)
    for batch in long_form.batches(columns, read=lambda c: read(c.name), most=FINE_COLUMNS_MAX):
        plans = []
        for col in (c for c in batch if c.name not in ref.fine_bins):
            lo, hi = ref.finite_range[col.name]
            bins = ecdf.FineBins.on(ref.cuts[col.name], lo, hi, pieces=ecdf.pieces_for(ref.counts[col.name].values))
            plans.append((col, bins, ref.value_counts.get(col.name) or raw_values(col, reference)))
        if plans:
            found, query = ecdf.bin_stats_of(engine, [(bins, vn.sql, vn.params, vn.unit) for _, bins, vn in plans])
            for (col, bins, vn), stats_of in zip(plans, found, strict=True):
                ref.fine_bins[col.name] = (bins, vn, (stats_of, query))
        current_vn = {c.name: raw_values(c, current) for c in batch}
        found, query = ecdf.bin_stats_of(engine, [(ref.fine_bins[c.name][0], current_vn[c.name].sql,
                                                   current_vn[c.name].params, True) for c in batch])
        out.update({c.name: (*ref.fine_bins[c.name], current_vn[c.name], (stats_of, query))
                    for c, stats_of in zip(batch, found, strict=True)})
    return out


def numeric_drift(engine: Engine, col: DriftColumn, current: Relation, ref: ReferenceProfile, r: SideCounts,
             c: SideCounts, binned: tuple | None, *, reference: Relation, counted: Counted | None,
             measured: tuple | None = None) -> ColumnDrift:
    """`measured`: (D, Wasserstein-1, rows at the cut points, statement, rows at the widest gap) computed
    already with other columns (auditor.stats.ecdf_stacked)."""
    cuts = ref.cuts[col.name]
    n_ref, n_cur = r.values, c.values
    if measured is not None:
        d, w, at_cuts, query, widest = measured
        queries = [query]
    elif binned is not None:
        bins, ref_vn, ref_stats, cur_vn, cur_stats = binned
        found = ecdf.distances(engine, bins, (ref_vn.sql, ref_vn.params), (cur_vn.sql, cur_vn.params), n_ref, n_cur,
                               ref_stats=ref_stats, cur_stats=cur_stats)
        d, w, at_cuts, queries = (found.ks_statistic, found.wasserstein,
                                  found.cum_ref_at_cuts + found.cum_cur_at_cuts, found.sql)
    else:
        # Value counts known already (the reference's locating histogram shows every value; a few-valued
        # integer column counted on the current side) are the same (v, n) pairs, bound rather than grouped again.
        queries = []
        if col.name in ref.shown:
            ref_counts = counted_values(ref.shown[col.name])
        else:
            ref_counts = ref.value_counts.get(col.name) or value_counts(col, reference)
        if counted is not None and col.name in counted.current:
            cur_counts = counted_values(counted.current[col.name])
            queries.extend(counted.current_sql)
        else:
            cur_counts = value_counts(col, current)
        query, params = ecdf.ecdf_sql((ref_counts.sql, ref_counts.params), (cur_counts.sql, cur_counts.params),
                                      cuts, n_ref, n_cur)
        d, w, *at_cuts = engine.query_one(query, params)
        queries.append(query)
    # Rows per right-closed bin from the cumulative counts at the cut points (and the total at +inf).
    ref_bins = np.diff([0, *at_cuts[:len(cuts)], n_ref]).astype(int).tolist()
    cur_bins = np.diff([0, *at_cuts[len(cuts):], n_cur]).astype(int).tolist()
    metrics = _base_metrics("numeric", r, c)
    metrics.update({"ks_statistic": None, "ks_pvalue": None, "wasserstein": None, "wasserstein_norm": None,
                    "reference_std": ref.std[col.name]})
    edges: list[float | None] = [None, *cuts, None]
    drift = ColumnDrift(col, metrics, bin_labels=[_bin_label(edges, i) for i in range(len(cuts) + 1)], edges=edges,
                        reference_counts=ref_bins, current_counts=cur_bins, sql=queries)
    note = _empty_side_note(r, c)
    if note:
        drift.notes.append(f"{note}, so no distribution test applies")
        return drift
    drift.contributions = stats.psi_contributions(ref_bins, cur_bins)
    metrics["psi"] = stats.psi(ref_bins, cur_bins)
    metrics["js_distance"] = stats.js_distance(ref_bins, cur_bins)
    if not cuts:
        drift.notes.append("the reference has no finite decile, so PSI has a single bin")
    if max(n_ref, n_cur) <= stats.KS_EXACT_MAX_N:
        # scipy's exact p-value depends only on D and the sizes: from the rows at the widest gap (two-valued
        # samples with that gap), or the values themselves; there are at most 10,000 per side.
        d, p = (stats.ks_test_small(*stats.samples_with_gap(*widest, n_ref, n_cur)) if measured is not None else
                stats.ks_test_small(fetch_values(engine, col, reference, n_ref), fetch_values(engine, col, current, n_cur)))
        drift.notes.append("the KS p-value is scipy's exact one (at most 10,000 values per side)")
    else:
        p = stats.ks_pvalue_asymptotic(float(d), n_ref, n_cur)
    metrics["ks_statistic"] = float(d)
    metrics["ks_pvalue"] = p
    metrics["wasserstein"] = stats.finite_or_none(w)
    if metrics["wasserstein"] is None:
        drift.notes.append("infinite values make the Wasserstein distance undefined; PSI and JS grade it")
    metrics["wasserstein_norm"] = stats.normalised_wasserstein(metrics["wasserstein"], ref.std[col.name])
    if metrics["wasserstein"] and metrics["wasserstein_norm"] is None:
        drift.notes.append("the reference is constant, so the Wasserstein distance has no scale to normalise by")
    return drift


def categorical_drift(col: DriftColumn, r: SideCounts, c: SideCounts) -> ColumnDrift:
    metrics = _base_metrics("categorical", r, c)
    metrics.update({"chi2_statistic": None, "chi2_pvalue": None, "chi2_dof": None})
    categories = sorted(set(r.bins) | set(c.bins))
    ref_bins = [int(r.bins.get(k, 0)) for k in categories]
    cur_bins = [int(c.bins.get(k, 0)) for k in categories]
    new = [k for k in categories if k not in r.bins]
    vanished = [k for k in categories if k not in c.bins]
    metrics.update({"categories": len(categories), "new_categories": len(new), "vanished_categories": len(vanished),
                    "new_category_names": _names(new), "vanished_category_names": _names(vanished)})
    drift = ColumnDrift(col, metrics, bin_labels=categories, reference_counts=ref_bins, current_counts=cur_bins)
    note = _empty_side_note(r, c)
    if note:
        drift.notes.append(f"{note}, so no distribution test applies")
        # A side with no values has no categories: nothing appeared or vanished.
        metrics.update({"new_categories": 0, "vanished_categories": 0,
                        "new_category_names": None, "vanished_category_names": None})
        return drift
    drift.contributions = stats.psi_contributions(ref_bins, cur_bins)
    metrics["psi"] = stats.psi(ref_bins, cur_bins)
    metrics["js_distance"] = stats.js_distance(ref_bins, cur_bins)
    chi = stats.chi_square(ref_bins, cur_bins)
    if chi is not None:
        metrics["chi2_statistic"], metrics["chi2_pvalue"], metrics["chi2_dof"] = chi
    if len(categories) == 1:
        drift.notes.append("there is a single category, so its distribution cannot change")
    return drift


def _names(categories: list[str], limit: int = 5) -> str | None:
    """Category names as one metric string (metrics are scalars), at most `limit` named (as messages name
    them, auditor.audit.wording.some); None when there are none."""
    if not categories:
        return None
    shown = ", ".join(categories[:limit])
    return shown + (f" and {len(categories) - limit} more" if len(categories) > limit else "")
