"""Exact KS statistic and Wasserstein-1 distance of two samples in DuckDB, by two methods.

Sorted (`ecdf_sql`): every distinct value of both sides, counted and summed in value
order. Simple; its window holds every distinct value, so it suits columns with few.

Refined (`distances`, DESIGN.md's "Scale notes"): both sides' values go in the same
fine bins, each PSI interval of the reference ((-inf, c1], (c1, c2], ..., (ck, inf))
cut into SUB_BINS equal-width pieces. A value's bin is a monotone function of it, so
one GROUP BY per side (thousands of groups, no sort) gives per bin each side's count,
sum, min and max, and with them:

  - both ECDFs exactly at the end of every bin, so the KS gap there is exact;
    inside a bin the gap stays within [gap before - current share, gap before +
    reference share], so only bins whose bound beats the best gap can hold D;
  - the integral of the gap over a bin, exactly, from the counts and sums
    (the integral of an ECDF over [a, b] is F(a)(b - a) + sum(b - x_i) / n), so
    Wasserstein-1 is exact wherever the gap keeps its sign inside a bin.

Only the bins left over (D candidates, sign changes) are refined: their values are
grouped and summed in value order like the sorted method, partitioned by bin. Memory
is bounded by those bins, not by the rows.

Values come as relations of (v, n) pairs: raw rows with n = 1, or value counts.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from auditor.sql import Engine

# Counts stay BIGINT (sum() would widen them to HUGEINT) and there is one window, ordered by value:
# the window holds every distinct value of the column, so its row width is what bounds memory.
ECDF_SQL = """WITH value_counts AS (
  SELECT v, sum(n_ref)::BIGINT AS n_ref, sum(n_cur)::BIGINT AS n_cur FROM (
    SELECT v, n AS n_ref, 0 AS n_cur FROM {ref}
    UNION ALL
    SELECT v, 0 AS n_ref, n AS n_cur FROM {cur}
  ) GROUP BY v),
ecdf AS (
  SELECT v, lead(v) OVER w AS next_v, (sum(n_ref) OVER w)::BIGINT AS cum_ref, (sum(n_cur) OVER w)::BIGINT AS cum_cur
  FROM value_counts WINDOW w AS (ORDER BY v ROWS UNBOUNDED PRECEDING)),
gaps AS (SELECT *, cum_ref / ? - cum_cur / ? AS gap FROM ecdf)
SELECT max(abs(gap)) AS ks_statistic,
  coalesce(fsum(abs(gap) * (next_v - v)) FILTER (WHERE next_v IS NOT NULL), 0) AS wasserstein{at_cuts}
FROM gaps"""


def ecdf_sql(reference: tuple[str, tuple], current: tuple[str, tuple], cuts: list[float],
             n_ref: int, n_cur: int) -> tuple[str, list]:
    """Exact KS D, Wasserstein-1 and each side's rows at or below each PSI cut point.

    Both ECDFs are evaluated at every distinct value of the union, as scipy does
    (searchsorted side="right"): D = max |F_ref - F_cur|. Between two values they
    are constant, so Wasserstein-1, the integral of |F_ref - F_cur|, is a sum over
    consecutive values (scipy.stats.wasserstein_distance). The cumulative counts at
    the PSI cut points give the right-closed bins' counts by difference, so PSI
    needs no scan of its own. Both relations are value counts (v, n), as (sql, params).
    """
    at_cuts = "".join(f",\n  coalesce(max(cum_{side}) FILTER (WHERE v <= ?), 0)"
                      for side in ("ref", "cur") for _ in cuts)
    sql = ECDF_SQL.format(ref=reference[0], cur=current[0], at_cuts=at_cuts)
    return sql, [*reference[1], *current[1], float(n_ref), float(n_cur), *cuts, *cuts]


# Pieces per PSI interval: up to 10 intervals, so up to 20,000 bins. A bin must hold less mass than
# the ECDF gap's noise (~1/sqrt(rows)) or most bins straddle a sign change and need refining.
SUB_BINS = 2000


@dataclass(frozen=True)
class FineBins:
    cuts: list[float]  # the interval boundaries (the PSI cut points), sorted and distinct
    lows: list[float]  # left end of each interval's equal-width pieces
    widths: list[float]  # the span those pieces divide (1.0 for a point, where every value is piece 0)
    pieces: int = SUB_BINS

    @classmethod
    def on(cls, cuts: list[float], lo: float | None, hi: float | None, *, pieces: int | None = None) -> FineBins:
        """Pieces of the intervals between the reference's finite min `lo`, its cut points and finite max `hi`."""
        bounds = [lo if lo is not None else (cuts[0] if cuts else 0.0), *cuts,
                  hi if hi is not None else (cuts[-1] if cuts else 0.0)]
        lows = bounds[:-1]
        widths = [(b - a) if b > a else 1.0 for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        return cls(cuts=list(cuts), lows=lows, widths=widths, pieces=pieces or SUB_BINS)

    def sql(self, vn_sql: str) -> tuple[str, list]:
        """(b, v, n) over a (v, n) relation: b = interval * pieces + piece, non-decreasing in v.

        The interval is found by a binary search of CASEs over the cut points (about log2(10)
        comparisons a row, not one per cut point), and each leaf computes its piece with
        scalar parameters: a third less CPU than a sum of comparisons and list lookups.
        """
        expr, params = self._search(0, len(self.cuts) + 1)
        return f"SELECT ({expr})::BIGINT AS b, v, n FROM {vn_sql}", params

    def _search(self, first: int, end: int) -> tuple[str, list]:
        """The bin of v among intervals first..end-1; interval i is (cuts[i-1], cuts[i]]."""
        if end - first == 1:
            leaf = f"{first} * ? + least(greatest(floor(? * (v - ?) / ?), 0), ? - 1)"
            return leaf, [self.pieces, float(self.pieces), self.lows[first], self.widths[first], self.pieces]
        mid = (first + end) // 2
        below, below_params = self._search(first, mid)
        above, above_params = self._search(mid, end)
        return (f"CASE WHEN v <= ? THEN {below} ELSE {above} END",
                [self.cuts[mid - 1], *below_params, *above_params])


BIN_STATS_SQL = "SELECT {index} AS k, b, sum(n)::BIGINT, fsum(v * n), min(v), max(v) FROM ({binned}) GROUP BY b"

REFINE_SQL = """WITH wanted AS (SELECT unnest(?::BIGINT[]) AS b, unnest(?::BIGINT[]) AS off_ref,
                        unnest(?::BIGINT[]) AS off_cur),
ref AS (SELECT b, v, sum(n)::BIGINT AS n FROM ({ref}) SEMI JOIN wanted USING (b) GROUP BY b, v),
cur AS (SELECT b, v, sum(n)::BIGINT AS n FROM ({cur}) SEMI JOIN wanted USING (b) GROUP BY b, v),
merged AS (SELECT b, v, sum(n_ref)::BIGINT AS n_ref, sum(n_cur)::BIGINT AS n_cur FROM (
    SELECT b, v, n AS n_ref, 0 AS n_cur FROM ref UNION ALL SELECT b, v, 0 AS n_ref, n AS n_cur FROM cur)
  GROUP BY b, v),
ecdf AS (SELECT b, v, lead(v) OVER w AS next_v, (sum(n_ref) OVER w)::BIGINT AS cum_ref,
    (sum(n_cur) OVER w)::BIGINT AS cum_cur
  FROM merged WINDOW w AS (PARTITION BY b ORDER BY v ROWS UNBOUNDED PRECEDING)),
gaps AS (SELECT b, v, next_v, (off_ref + cum_ref) / ? - (off_cur + cum_cur) / ? AS gap FROM ecdf JOIN wanted USING (b))
SELECT b, max(abs(gap)), coalesce(fsum(abs(gap) * (next_v - v)) FILTER (WHERE next_v IS NOT NULL), 0)
FROM gaps GROUP BY b"""


@dataclass
class Distances:
    ks_statistic: float
    wasserstein: float | None  # None when a value is infinite
    cum_ref_at_cuts: list[int]  # rows <= each cut point
    cum_cur_at_cuts: list[int]
    refined_bins: int
    sql: list[str]


def bin_stats(engine: Engine, bins: FineBins, vn_sql: str, vn_params: tuple) -> tuple[dict, str]:
    """Per fine bin of a (v, n) relation: (count, sum, min, max)."""
    (found,), query = bin_stats_of(engine, [(bins, vn_sql, vn_params)])
    return found, query


def bin_stats_of(engine: Engine, relations: list[tuple[FineBins, str, tuple]]) -> tuple[list[dict], str]:
    """bin_stats of several (bins, (v, n) relation) at once: one statement, a UNION ALL of one
    grouping each, so DuckDB reads each column once and the run pays one round trip."""
    selects, params = [], []
    for index, (bins, vn_sql, vn_params) in enumerate(relations):
        binned, bin_params = bins.sql(vn_sql)
        selects.append(BIN_STATS_SQL.format(index=index, binned=binned))
        params.extend([*bin_params, *vn_params])
    query = "\nUNION ALL ".join(selects)
    found: list[dict] = [{} for _ in relations]
    for k, b, n, s, lo, hi in engine.query(query, params):
        found[k][int(b)] = (int(n), s, lo, hi)
    return found, query


def distances(engine: Engine, bins: FineBins, ref: tuple[str, tuple], cur: tuple[str, tuple], n: int, m: int,
              *, ref_stats: tuple[dict, str] | None = None, cur_stats: tuple[dict, str] | None = None) -> Distances:
    """Exact D and Wasserstein-1 of two (v, n) relations with n and m values (both > 0); either side's
    bin_stats may be given (counted for several columns at once)."""
    ref_bins, ref_query = ref_stats or bin_stats(engine, bins, *ref)
    cur_bins, cur_query = cur_stats or bin_stats(engine, bins, *cur)
    empty = (0, 0.0, None, None)
    order = sorted(set(ref_bins) | set(cur_bins))
    cum_r = cum_c = 0
    d_edges, rows = 0.0, []
    # A sum that is not finite means an infinite value on that side (tens of thousands of bins: plain
    # comparisons in this loop, no generators).
    finite = all(math.isfinite(v[1]) for side in (ref_bins, cur_bins) for v in side.values())
    for b in order:
        r, s_r, lo_r, hi_r = ref_bins.get(b, empty)
        c, s_c, lo_c, hi_c = cur_bins.get(b, empty)
        before = cum_r / n - cum_c / m
        a = lo_c if lo_r is None else lo_r if lo_c is None else min(lo_r, lo_c)
        z = hi_c if hi_r is None else hi_r if hi_c is None else max(hi_r, hi_c)
        rows.append((b, cum_r, cum_c, before, r, s_r, c, s_c, a, z))
        cum_r, cum_c = cum_r + r, cum_c + c
        end = abs(cum_r / n - cum_c / m)
        if end > d_edges:
            d_edges = end

    refine, integral, prev_end, prev_gap = [], 0.0, None, 0.0
    for b, off_r, off_c, before, r, s_r, c, s_c, a, z in rows:
        # Inside the bin the gap moves between these two, from `before` to the gap at its end.
        low, high = before - c / m, before + r / n
        # A bin of one value (every bin of a discrete column) steps once, from `before` to its end
        # gap: both already weighed, and its width, so its integral, is zero. Nothing to refine.
        refined = a != z and (max(abs(low), abs(high)) > d_edges or low < 0 < high)
        if refined:
            refine.append((b, off_r, off_c))
        if finite:
            if prev_end is not None:
                integral += abs(prev_gap) * (a - prev_end)  # the gap is constant between bins
            if not refined and a != z:
                integral += abs(before * (z - a) + (r * z - s_r) / n - (c * z - s_c) / m)
            prev_end, prev_gap = z, (off_r + r) / n - (off_c + c) / m
    d, sql = d_edges, [ref_query, cur_query]
    if refine:
        binned_ref, params_ref = bins.sql(ref[0])
        binned_cur, params_cur = bins.sql(cur[0])
        query = REFINE_SQL.format(ref=binned_ref, cur=binned_cur)
        params = [[x[0] for x in refine], [x[1] for x in refine], [x[2] for x in refine],
                  *params_ref, *ref[1], *params_cur, *cur[1], float(n), float(m)]
        for _, d_bin, w_bin in engine.query(query, params):
            d = max(d, d_bin)
            integral += w_bin
        sql.append(query)
    cuts_r, cuts_c = _cumulative_at_cuts(bins, ref_bins), _cumulative_at_cuts(bins, cur_bins)
    return Distances(ks_statistic=d, wasserstein=integral if finite and math.isfinite(integral) else None,
                     cum_ref_at_cuts=cuts_r, cum_cur_at_cuts=cuts_c, refined_bins=len(refine), sql=sql)


def _cumulative_at_cuts(bins: FineBins, stats: dict) -> list[int]:
    """Rows at or below each cut point: all bins of the intervals before it (intervals are right-closed)."""
    per_interval = [0] * (len(bins.cuts) + 1)
    for b, (count, *_) in stats.items():
        per_interval[b // bins.pieces] += count
    return list(itertools.accumulate(per_interval))[:-1]
