"""Drift statistics of columns in DuckDB, reference against current, small results out.

Per pair of relations (a view, or a filtered subquery such as one time window):
  1. rows, non-missing values, and counts per category (categorical columns) or the
     standard deviation (numeric ones): one query per kind and side;
  2. the reference deciles of each numeric column, exact, from auditor.engine.quantiles (a locating
     histogram of every numeric column, shared with the other checks of the run; a value-counts
     window per column for a subquery with parameters); cached, so windows reuse them;
  3. the exact KS statistic, Wasserstein-1 and each side's counts in the PSI bins: for large
     columns of many values, fine bins of every such column in one statement per side, refined
     where needed (auditor.stats.ecdf); otherwise one query per column over the value counts of both
     sides merged and summed in value order.
Then auditor.stats.distances turns the counts into PSI, Jensen-Shannon and chi-square.

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
import math
from collections.abc import Collection

from auditor.engine import long_form, quantiles
from auditor.engine.base import Engine
from auditor.engine.sql import is_float, quote_ident
from auditor.engine.value_counts import value_counts_of_view
from auditor.stats import distances as stats
from auditor.stats.column_measures import (
    REFINE_MIN_DISTINCT_LOCATED,
    REFINE_MIN_VALUES,
    ColumnDrift,
    ReferenceProfile,
    SideCounts,
    categorical_drift,
    fine_bin_stats,
    numeric_drift,
    refines,
)
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
from auditor.stats.ecdf_stacked import stacked_distances


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


# Many columns: stacked in long form (auditor.engine.long_form), numbers as DOUBLE and categories as text,
# in one statement whatever their number (a histogram per column holds a few MB; many filtered aggregates
# slow down faster than they grow). The first branch counts the relation's rows.
STACKED_ROWS = "SELECT -1 AS kind, '' AS k, count(*) AS n, {empty} FROM {rel}"
STACKED_NUMBERS = ("SELECT 0 AS kind, k, count(v) AS n, NULL AS v, stddev_pop(v) AS std, "
                   "min(CASE WHEN isfinite(v) THEN v END) AS lo, max(CASE WHEN isfinite(v) THEN v END) AS hi, "
                   "approx_count_distinct(v) AS n_distinct FROM {stacked} GROUP BY k")
STACKED_CATEGORIES = ("SELECT 1 AS kind, k, count(*) AS n, v, NULL AS std, NULL AS lo, NULL AS hi, "
                      "NULL AS n_distinct FROM {stacked} GROUP BY k, v")


def _count_side_stacked(engine: Engine, rel: Relation, columns: list[DriftColumn]
                        ) -> tuple[dict[str, SideCounts], dict[str, dict], dict[str, str]]:
    """`_count_side` of many columns in one statement (the std, finite range and distinct values of every
    numeric column)."""
    plan = {"numeric": [c for c in columns if c.kind == "numeric"],
            "categorical": [c for c in columns if c.kind == "categorical"]}
    branches = [STACKED_ROWS.format(rel=rel.sql, empty="NULL::VARCHAR AS v, NULL::DOUBLE AS std, NULL::DOUBLE AS lo, "
                                                       "NULL::DOUBLE AS hi, NULL::BIGINT AS n_distinct")]
    batches: list[list[DriftColumn]] = []
    read = engine.read_shares(rel.sql)
    for kind, template in (("numeric", STACKED_NUMBERS), ("categorical", STACKED_CATEGORIES)):
        for batch in long_form.batches(plan[kind], read=lambda c: read(c.name)):
            values = [_value(c) if kind == "numeric" else f"CASE WHEN {valid_condition(c)} THEN {quote_ident(c.name)}::VARCHAR END"
                      for c in batch]
            stacked = long_form.unpivot(rel.sql, values)
            branches.append(f"SELECT kind + {len(batches)} * 2 AS kind, * EXCLUDE (kind) FROM ({template.format(stacked=stacked)})")
            batches.append(batch)
    # One statement per stack, one after another: stacks side by side read all their columns at once.
    found_rows = [row for branch in branches for row in engine.query(branch, list(rel.params))]
    query = "\n;\n".join(branches)
    rows, found = 0, {}
    for kind, k, n, value, std, lo, hi, n_distinct in found_rows:
        if kind < 0:
            rows = int(n)
            continue
        col = batches[kind // 2][long_form.position(k)]
        entry = found.setdefault(col.name, {"values": 0, "bins": {}, "std": None, "lo": None, "hi": None, "n_distinct": 0})
        if col.kind == "numeric":
            entry.update(values=int(n), std=std, lo=lo, hi=hi, n_distinct=n_distinct)
        else:
            entry["values"] += int(n)
            entry["bins"][value] = int(n)
    counts, moments = {}, {}
    for col in columns:
        entry = found.get(col.name, {"values": 0, "bins": {}, "std": None, "lo": None, "hi": None, "n_distinct": 0})
        counts[col.name] = SideCounts(rows=rows, values=entry["values"], bins=entry["bins"])
        if col.kind == "numeric":
            moments[col.name] = {k: entry[k] for k in ("std", "lo", "hi", "n_distinct")}
    return counts, moments, dict.fromkeys((c.name for c in columns), query)


def _count_side(engine: Engine, rel: Relation, columns: list[DriftColumn], *, reference: bool,
                ranges: bool = False, distinct: Collection[str] = ()
                ) -> tuple[dict[str, SideCounts], dict[str, dict], dict[str, str]]:
    """Each column's rows, non-missing values, and counts per category or std and range; one scan per kind.

    Numeric and categorical columns go in separate queries: DuckDB took three times as
    long for histogram() beside other aggregates as for the two apart (each query reads
    only its own columns from Parquet, so the split costs little I/O). Many columns are stacked.
    """
    if len(columns) > long_form.NARROW_MAX:
        return _count_side_stacked(engine, rel, columns)
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
    # The run's reference deciles come from auditor.engine.quantiles (the same numbers, bit for bit): located
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


# A numeric reference column of at most this many distinct values has its value counts read in statements of
# their own (batched, auditor.engine.value_counts) and bound into the comparisons, rather than grouped inside a
# statement that reads both sides: a statement that reads only the reference gives the same answer every
# night, so an engine keeping answers across runs (auditor.engine.stored) does not read an unchanged
# reference for them again. Same counts, same numbers. The counts are Python dicts and bound parameters, so
# all the columns together hold at most KNOWN_VALUES_MAX values (the fewest-valued columns first): at 800
# columns of 20,000 values each, 16M dict entries took 2.8 GB and their parameters doubled the drift's time.
# The columns past it compare in statements that read both sides, as before.
KNOWN_COUNTS_MAX = 50_000
KNOWN_VALUES_MAX = 100_000


def know_reference_counts(engine: Engine, reference: Relation, columns: list[DriftColumn], ref: ReferenceProfile,
                          counted: Counted | None, cache: dict | None) -> list[str]:
    """Put the value counts of the reference's few-valued numeric columns into `ref.shown`; the statements."""
    if reference.params:
        return []
    few = sorted((ref.distinct[c.name], i, c) for i, c in enumerate(columns)
                 if c.kind == "numeric" and c.name not in ref.shown and not (counted and c.name in counted.reference)
                 and ref.distinct.get(c.name, KNOWN_COUNTS_MAX + 1) <= KNOWN_COUNTS_MAX)
    wanted: dict[str, str] = {}
    held = 0
    for distinct, _, col in few:
        if held + distinct > KNOWN_VALUES_MAX:
            break
        wanted[col.name], held = col.type, held + distinct
    if not wanted:
        return []
    found, sql = value_counts_of_view(engine, reference.sql, wanted, cache=cache,
                                      sizes={c: ref.distinct[c] for c in wanted})
    for col, counts in found.items():  # NULL and NaN are left out of the tests; ±infinity are values
        ref.shown[col] = {float(v): int(n) for v, n in counts.items()
                          if v is not None and not (isinstance(v, float) and math.isnan(v))}
    return sql


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
    know_reference_counts(engine, reference, columns, ref, counted, cache)
    cur_counts, _, cur_sql_of = _count_side(engine, current, columns, reference=False)
    refined = [c for c in columns if c.kind == "numeric" and refines(c, ref, cur_counts[c.name])]
    binned = fine_bin_stats(engine, refined, reference, current, ref)
    # Columns of fewer values than refining needs are compared on their values, stacked: one sort per batch
    # of them, not a statement (or three, with the small samples' values) each.
    plain = [c for c in columns if c.kind == "numeric" and c.name not in binned and ref.counts[c.name].values
             and cur_counts[c.name].values and ref.counts[c.name].values + cur_counts[c.name].values < REFINE_MIN_VALUES]
    measured = {}
    if plain and not reference.params and not current.params:
        # Value counts known already (the reference's locating histogram shows every value; a few-valued
        # integer column counted on either side) are bound rather than read.
        known = {c.name: (ref.shown.get(c.name) or (counted.reference.get(c.name) if counted else None),
                          counted.current.get(c.name) if counted else None) for c in plain}
        measured = stacked_distances(engine, reference.sql, current.sql, {c.name: (c.type, c.type) for c in plain},
                                     ref.cuts, {c.name: (ref.counts[c.name].values, cur_counts[c.name].values)
                                                for c in plain}, known)
    out = {}
    for col in columns:
        if col.kind == "numeric":
            drift = numeric_drift(engine, col, current, ref, ref.counts[col.name], cur_counts[col.name],
                                  binned.get(col.name), reference=reference, counted=counted,
                                  measured=measured.get(col.name))
        else:
            drift = categorical_drift(col, ref.counts[col.name], cur_counts[col.name])
        drift.sql = [*ref.sql[col.name], cur_sql_of[col.name], *drift.sql]
        out[col.name] = drift
    return out
