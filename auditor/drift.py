"""Drift statistics of columns in DuckDB, reference against current, small results out.

Per pair of relations (a view, or a filtered subquery such as one time window):
  1. rows, non-missing values, and counts per category (categorical columns) or the
     standard deviation (numeric ones): one query per kind and side;
  2. the reference deciles of each numeric column, exact, from auditor.quantiles (a locating
     histogram of every numeric column, shared with the other checks of the run; a value-counts
     window per column for a subquery with parameters); cached, so windows reuse them;
  3. the exact KS statistic, Wasserstein-1 and each side's counts in the PSI bins: for large
     columns of many values, fine bins of every such column in one statement per side, refined
     where needed (auditor.ecdf); otherwise one query per column over the value counts of both
     sides merged and summed in value order.
Then auditor.stats turns the counts into PSI, Jensen-Shannon and chi-square.

Edge cases, each with a defined answer (explained in `ColumnDrift.notes`):
  - NULL, and NaN in floating columns, are missing: counted per side, then left out.
  - ±infinity are values: they take part in KS (ordered below/above every finite
    value) and land in PSI's open outer bins (a decile that is not finite is not a
    cut point); Wasserstein distance is undefined (None) when either side has one.
  - a side with no non-missing values (all-null, or no rows): every statistic is None.
  - a constant reference: one cut point, two bins; the normalised Wasserstein is
    None (no scale) unless the distance is 0; PSI still grades the change.
  - repeated deciles (skewed or discrete data): the distinct ones are the cut points.
  - categories seen on one side only: a zero share, 1e-4 in PSI, listed as new/vanished.
  - a single category: PSI 0, JS 0, chi-square 0 with p 1 and dof 0 (scipy's answer).
"""

from __future__ import annotations

import itertools
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from auditor import ecdf, quantiles, stats
from auditor.drift_relations import (  # noqa: F401  (DriftColumn, Kind, missing_condition: re-exported)
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
from auditor.sql import Engine, is_float, quote_ident


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


def _value(column: DriftColumn) -> str:
    """The column with NaN as NULL, so plain aggregates skip what the tests leave out."""
    c = quote_ident(column.name)
    return f"(CASE WHEN isnan({c}) THEN NULL ELSE {c} END)" if is_float(column.type) else c


def counts_sql(rel: Relation, columns: list[DriftColumn], *, reference: bool, ranges: bool = False,
               distinct: Collection[str] = ()) -> str:
    """Rows, and per column its non-missing values and counts per category; for a numeric column of
    the reference, its std (ddof=0), with `ranges` its finite min and max, and for the `distinct`
    columns their approximate distinct values. One scan.

    Numeric aggregates skip NULLs by themselves: a third less CPU than the same aggregates FILTERed.
    """
    parts = ["count(*)"]
    for col in columns:
        c, valid, value = quote_ident(col.name), valid_condition(col), _value(col)
        if col.kind == "categorical":
            # Categories are compared as text, so 1 and '1' or true and 'true' are one category.
            parts.append(f"count(*) FILTER (WHERE {valid}), histogram({c}::VARCHAR) FILTER (WHERE {valid})")
            continue
        parts.append(f"count({value})")
        if reference:
            finite_range = (f", lo := min({c}::DOUBLE) FILTER (WHERE isfinite({c}::DOUBLE)),"
                            f" hi := max({c}::DOUBLE) FILTER (WHERE isfinite({c}::DOUBLE))") if ranges else ""
            n_distinct = f", n_distinct := approx_count_distinct({value})" if col.name in distinct else ""
            parts.append(f"struct_pack(std := stddev_pop({value}::DOUBLE){finite_range}{n_distinct})")
        else:
            parts.append("NULL")
    return f"SELECT {', '.join(parts)} FROM {rel.sql}"


def _count_side(engine: Engine, rel: Relation, columns: list[DriftColumn], *, reference: bool,
                ranges: bool = False, distinct: Collection[str] = ()
                ) -> tuple[dict[str, SideCounts], dict[str, dict], dict[str, str]]:
    """Each column's rows, non-missing values, and counts per category or std and range; one scan per kind.

    Numeric and categorical columns go in separate queries: DuckDB took three times as
    long for histogram() beside other aggregates as for the two apart (each query reads
    only its own columns from Parquet, so the split costs little I/O).
    """
    counts, moments, sql = {}, {}, {}
    for kind in ("numeric", "categorical"):
        group = [c for c in columns if c.kind == kind]
        if not group:
            continue
        query = counts_sql(rel, group, reference=reference, ranges=ranges, distinct=distinct)
        row = engine.query_one(query, list(rel.params))
        for i, col in enumerate(group):
            values, extra = int(row[1 + 2 * i] or 0), row[2 + 2 * i]
            counts[col.name] = SideCounts(rows=int(row[0]), values=values,
                                          bins=dict(extra or {}) if kind == "categorical" else {})
            if kind == "numeric":
                moments[col.name] = extra
            sql[col.name] = query
    return counts, moments, sql


def profile_reference(engine: Engine, reference: Relation, columns: list[DriftColumn],
                      *, cache: dict | None = None, keep_value_counts: bool = False,
                      counted: Counted | None = None) -> ReferenceProfile:
    """Cut points and std of the reference, and its counts; cached per relation and columns.

    keep_value_counts: store each numeric column's reference value counts in a temporary
    table, so comparing many current relations (time windows) aggregates the reference once.
    counted: few-valued columns' value counts (`counted_sides`), which locate them with no scan.
    """
    key = ("drift.reference", reference, tuple(columns), keep_value_counts)
    if cache is not None and key in cache:
        return cache[key]
    # The run's reference deciles come from auditor.quantiles (the same numbers, bit for bit): located
    # once for every check that needs reference quantiles, in parallel scans rather than a window per
    # column. A subquery with parameters, or kept value counts, take a value-counts window per column.
    shared = not keep_value_counts and not reference.params
    numeric = {c.name: c.type for c in columns if c.kind == "numeric"}
    run_cache = cache if cache is not None else {}
    if shared and counted is not None:
        for col, found in counted.reference.items():
            # The grid `locate` would lay over the column's min and max, every cell of one value: the same cells.
            key = quantiles.located_key(reference.sql, col)
            if key not in run_cache:
                run_cache[key] = quantiles.located_from_counts(found, float(min(found)), float(max(found)))
                run_cache[key].sql.extend([*counted.sql, *counted.reference_sql])
    located = quantiles.locate(engine, reference.sql, numeric, cache=run_cache) if shared and numeric else {}
    # Only a column whose locating histogram proves many values may need the fine bins: its approximate
    # distinct values decide (an HLL rides along the std's scan; some thousands still sort cheaply).
    many = [c for c, loc in located.items() if _distinct_at_least(loc) >= REFINE_MIN_DISTINCT_LOCATED]
    counts, moments, counts_sql_of = _count_side(engine, reference, columns, reference=True, ranges=not shared,
                                                 distinct=many)
    deciles: dict[str, list[float]] = {}
    if located:
        with_values = {c: t for c, t in numeric.items() if counts[c].values}
        deciles, deciles_sql = quantiles.quantiles(engine, reference.sql, with_values, stats.DECILES,
                                                   cache=run_cache, infinite=True)
    cuts: dict[str, list[float]] = {}
    sql: dict[str, list[str]] = {}
    kept: dict[str, Relation] = {}
    for col in columns:
        sql[col.name] = [counts_sql_of[col.name]]
        n = counts[col.name].values
        if col.kind == "numeric":
            if keep_value_counts:
                kept[col.name] = _keep(engine, value_counts(col, reference))
                sql[col.name].append(engine.log[-1].sql)
            cuts[col.name] = []
            if col.name in deciles:
                cuts[col.name] = stats.cut_points(deciles[col.name])
                sql[col.name].extend(deciles_sql)
            elif n:
                found, query = reference_deciles(engine, col, reference, n, counts=kept.get(col.name))
                cuts[col.name] = stats.cut_points(found)
                sql[col.name].append(query)
    finite_range = {c: (loc.lo, loc.hi) for c, loc in located.items()} if shared else {
        c: (m["lo"], m["hi"]) for c, m in moments.items()}
    profile = ReferenceProfile(
        cuts=cuts, std={c: stats.finite_or_none(m["std"]) for c, m in moments.items()}, counts=counts, sql=sql,
        value_counts=kept, finite_range=finite_range,
        distinct={c: int(moments[c]["n_distinct"] or 0) if c in many else _distinct_at_least(loc)
                  for c, loc in located.items()},
        shown={c: found for c, loc in located.items() if (found := located_values(loc)) is not None})
    if cache is not None:
        cache[key] = profile
    return profile


def _distinct_at_least(loc: quantiles.Located) -> int:
    """Distinct values the locating histogram proves: one per cell, two in a cell whose min and max differ."""
    several = sum(1 for low, high in loc.extremes.values() if low != high)
    return len(loc.cells) + several + (loc.negative_infinite > 0) + (loc.positive_infinite > 0)


_KEPT_TABLES = itertools.count(1)


def _keep(engine: Engine, counts: Relation) -> Relation:
    name = quote_ident(f"_auditor_drift_reference_{next(_KEPT_TABLES)}")
    engine.execute(f"CREATE TEMP TABLE {name} AS SELECT v, n FROM {counts.sql}", list(counts.params))
    return Relation(name)


def compare(engine: Engine, reference: Relation, current: Relation, columns: list[DriftColumn],
            *, cache: dict | None = None, keep_value_counts: bool = False) -> dict[str, ColumnDrift]:
    """Drift statistics of each column, reference against current.

    The current side may be any relation, such as one time window of a log
    (`Relation("(SELECT * FROM predictions WHERE ts >= ? AND ts < ?)", (start, end))`);
    with a `cache` (ctx.run.cache) the reference side is measured once, and with
    keep_value_counts its value counts too (worth it when comparing many windows).
    """
    counted = counted_sides(engine, reference, current, columns, cache=cache) if not keep_value_counts else None
    ref = profile_reference(engine, reference, columns, cache=cache, keep_value_counts=keep_value_counts,
                            counted=counted)
    cur_counts, _, cur_sql_of = _count_side(engine, current, columns, reference=False)
    refined = [c for c in columns if c.kind == "numeric" and _refines(c, ref, cur_counts[c.name])]
    binned = _fine_bin_stats(engine, refined, reference, current, ref)
    out = {}
    for col in columns:
        if col.kind == "numeric":
            drift = _numeric(engine, col, current, ref, ref.counts[col.name], cur_counts[col.name],
                             binned.get(col.name), reference=reference, counted=counted)
        else:
            drift = _categorical(col, ref.counts[col.name], cur_counts[col.name])
        drift.sql = [*ref.sql[col.name], cur_sql_of[col.name], *drift.sql]
        out[col.name] = drift
    return out


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
# histogram proves: auditor.quantiles), D and Wasserstein come from fine bins refined where needed
# (auditor.ecdf), not from a sort of every distinct value: the same numbers, with memory bounded by the
# refined bins. Few distinct values group and sort cheaply as they are.
REFINE_MIN_VALUES = 1_000_000
REFINE_MIN_DISTINCT = 50_000
REFINE_MIN_DISTINCT_LOCATED = 1_000  # fewer proven by the locating histogram: few enough, no HLL needed


def _refines(col: DriftColumn, ref: ReferenceProfile, c: SideCounts) -> bool:
    n_ref, n_cur = ref.counts[col.name].values, c.values
    # Without a locating histogram (a reference with parameters) the count is unknown: assume many.
    distinct = ref.distinct.get(col.name, REFINE_MIN_DISTINCT)
    return bool(n_ref and n_cur and n_ref + n_cur >= REFINE_MIN_VALUES and distinct >= REFINE_MIN_DISTINCT)


def _fine_bin_stats(engine: Engine, columns: list[DriftColumn], reference: Relation, current: Relation,
                    ref: ReferenceProfile) -> dict[str, tuple]:
    """Per refined column: its fine bins, and each side's (v, n) relation and bin statistics. One statement
    for all the columns of both sides (only the current's when the reference's are kept with its cached
    profile, as windows reuse them)."""
    if not columns:
        return {}
    todo = [c for c in columns if c.name not in ref.fine_bins]
    plans = []
    for col in todo:
        lo, hi = ref.finite_range[col.name]
        bins = ecdf.FineBins.on(ref.cuts[col.name], lo, hi, pieces=ecdf.pieces_for(ref.counts[col.name].values))
        plans.append((col, bins, ref.value_counts.get(col.name) or raw_values(col, reference)))
    current_vn = {c.name: raw_values(c, current) for c in columns}
    bins_of = {col.name: bins for col, bins, _ in plans} | {c: found[0] for c, found in ref.fine_bins.items()}
    found, query = ecdf.bin_stats_of(engine, [(bins, vn.sql, vn.params, vn.unit) for _, bins, vn in plans]
                                     + [(bins_of[c.name], current_vn[c.name].sql, current_vn[c.name].params, True)
                                        for c in columns])
    for (col, bins, vn), stats_of in zip(plans, found, strict=False):
        ref.fine_bins[col.name] = (bins, vn, (stats_of, query))
    return {c.name: (*ref.fine_bins[c.name], current_vn[c.name], (stats_of, query))
            for c, stats_of in zip(columns, found[len(plans):], strict=True)}


def _numeric(engine: Engine, col: DriftColumn, current: Relation, ref: ReferenceProfile, r: SideCounts,
             c: SideCounts, binned: tuple | None, *, reference: Relation, counted: Counted | None) -> ColumnDrift:
    cuts = ref.cuts[col.name]
    n_ref, n_cur = r.values, c.values
    if binned is not None:
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
        # scipy's exact p-value needs the values themselves; there are at most 10,000 per side.
        d, p = stats.ks_test_small(fetch_values(engine, col, reference, n_ref),
                                   fetch_values(engine, col, current, n_cur))
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


def _categorical(col: DriftColumn, r: SideCounts, c: SideCounts) -> ColumnDrift:
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


def _names(categories: list[str], limit: int = 20) -> str | None:
    """Category names as one metric string (metrics are scalars); None when there are none."""
    if not categories:
        return None
    shown = ", ".join(categories[:limit])
    return shown + (f" and {len(categories) - limit} more" if len(categories) > limit else "")
