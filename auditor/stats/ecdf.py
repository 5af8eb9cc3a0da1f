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
is bounded by those bins, not by the rows. A bin's values lie between its min and max,
so the refine statement reads a few value ranges and bins only the rows inside them.

Values come as relations of (v, n) pairs: raw rows with n = 1, or value counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from auditor.engine.base import Engine

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
# the ECDF gap's noise (~1/sqrt(rows)) or most bins straddle a sign change and need refining; more
# bins than that only make the grouping slower (its hash table outgrows the cache).
SUB_BINS = 2000
MIN_SUB_BINS = 64


def pieces_for(values: int) -> int:
    """Pieces per interval for a reference of `values` values: a bin holds about a quarter of the gap's
    noise, 1/(10 * pieces) = 1/(4 * sqrt(values)); 400 at a million values, SUB_BINS from 25 million on
    (at a million, a fifth of the bins of SUB_BINS: half the grouping's CPU, a few more bins refined)."""
    return max(1, min(SUB_BINS, max(MIN_SUB_BINS, math.ceil(math.sqrt(values) / 2.5))))


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


BIN_STATS_SQL = "SELECT {index} AS k, b, {count} AS n, {total} AS s, min(v) AS lo, max(v) AS hi FROM ({binned}) GROUP BY b"
# Raw rows (every n is 1) are counted and summed without n: a tenth less CPU than the weighted
# aggregates (DuckDB does not see that n is constant), and v * 1 is v, so the same numbers.
WEIGHTED = ("sum(n)::BIGINT", "fsum(v * n)")
UNIT = ("count(*)", "fsum(v)")

# The refine query bins and joins only the rows in a few value ranges around the refined bins, not every
# row. Each range costs a test a row (about a fifth of the binning), so neighbouring runs of refined bins
# share a range when fewer than 1/REFINE_MERGE_BELOW of the rows lie between them, and there are at most
# REFINE_MAX_RANGES (merged across the fewest rows). Rows a range takes in are binned and dropped by the
# join: memory stays bounded by the refined bins whatever the ranges.
REFINE_MAX_RANGES = 4
REFINE_MERGE_BELOW = 16

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
FROM gaps GROUP BY b ORDER BY b"""


@dataclass(frozen=True)
class BinStats:
    """One side's fine bins that hold values, in bin order, as numpy arrays."""

    bins: np.ndarray  # bin numbers (int64), increasing
    counts: np.ndarray  # values in each bin (int64)
    sums: np.ndarray  # their sum (float64)
    lows: np.ndarray  # their min
    highs: np.ndarray  # their max


@dataclass
class Distances:
    ks_statistic: float
    wasserstein: float | None  # None when a value is infinite
    cum_ref_at_cuts: list[int]  # rows <= each cut point
    cum_cur_at_cuts: list[int]
    refined_bins: int
    sql: list[str]


def bin_stats(engine: Engine, bins: FineBins, vn_sql: str, vn_params: tuple) -> tuple[BinStats, str]:
    """Per fine bin of a (v, n) relation: count, sum, min and max."""
    (found,), query = bin_stats_of(engine, [(bins, vn_sql, vn_params, False)])
    return found, query


def bin_stats_of(engine: Engine, relations: list[tuple[FineBins, str, tuple, bool]]) -> tuple[list[BinStats], str]:
    """bin_stats of several (bins, (v, n) relation, whether every n is 1) at once: one statement, a
    UNION ALL of one grouping each, so DuckDB reads each column once and the run pays one round trip.
    Tens of thousands of bins come back as arrays (no tuple per bin)."""
    selects, params = [], []
    for index, (bins, vn_sql, vn_params, unit) in enumerate(relations):
        binned, bin_params = bins.sql(vn_sql)
        count, total = UNIT if unit else WEIGHTED
        selects.append(BIN_STATS_SQL.format(index=index, count=count, total=total, binned=binned))
        params.extend([*bin_params, *vn_params])
    query = "\nUNION ALL ".join(selects)
    found = engine.query_arrays(query, params)
    order = np.lexsort((found["b"], found["k"]))  # by relation, then by bin
    k, b = found["k"][order], found["b"][order].astype(np.int64)
    out = []
    for index in range(len(relations)):
        first, end = np.searchsorted(k, index, side="left"), np.searchsorted(k, index, side="right")
        part = order[first:end]
        out.append(BinStats(bins=b[first:end], counts=found["n"][part].astype(np.int64),
                            sums=found["s"][part].astype(np.float64), lows=found["lo"][part].astype(np.float64),
                            highs=found["hi"][part].astype(np.float64)))
    return out, query


def distances(engine: Engine, bins: FineBins, ref: tuple[str, tuple], cur: tuple[str, tuple], n: int, m: int,
              *, ref_stats: tuple[BinStats, str] | None = None,
              cur_stats: tuple[BinStats, str] | None = None) -> Distances:
    """Exact D and Wasserstein-1 of two (v, n) relations with n and m values (both > 0); either side's
    bin_stats may be given (counted for several columns at once).

    The bin walk is vectorised over the union of both sides' bins, operation for operation as a loop
    would do it in bin order (the integral is a sequential running sum), so the numbers do not
    depend on how it is computed.
    """
    ref_bins, ref_query = ref_stats or bin_stats(engine, bins, *ref)
    cur_bins, cur_query = cur_stats or bin_stats(engine, bins, *cur)
    walk = _BinWalk(ref_bins, cur_bins, n, m)
    d, integral, sql = walk.d_edges, walk.integral, list(dict.fromkeys([ref_query, cur_query]))  # often one statement
    refine = np.flatnonzero(walk.refined)
    if len(refine):
        ranges = walk.value_ranges(refine, REFINE_MAX_RANGES, REFINE_MERGE_BELOW)
        binned_ref, params_ref = bins.sql(_within(ref[0], len(ranges)))
        binned_cur, params_cur = bins.sql(_within(cur[0], len(ranges)))
        query = REFINE_SQL.format(ref=binned_ref, cur=binned_cur)
        bounds = [x for low_high in ranges for x in low_high]
        params = [walk.order[refine].tolist(), walk.cum_r_before[refine].tolist(), walk.cum_c_before[refine].tolist(),
                  *params_ref, *ref[1], *bounds, *params_cur, *cur[1], *bounds, float(n), float(m)]
        for _, d_bin, w_bin in engine.query(query, params):
            d = max(d, d_bin)
            integral += w_bin
        sql.append(query)
    return Distances(ks_statistic=d, wasserstein=integral if walk.finite and math.isfinite(integral) else None,
                     cum_ref_at_cuts=_cumulative_at_cuts(bins, ref_bins), cum_cur_at_cuts=_cumulative_at_cuts(bins, cur_bins),
                     refined_bins=len(refine), sql=sql)


def _within(vn_sql: str, ranges: int) -> str:
    """The (v, n) relation's rows whose value lies in one of `ranges` closed ranges (bound as parameters)."""
    test = " OR ".join(["v BETWEEN ? AND ?"] * ranges)
    return f"(SELECT v, n FROM {vn_sql} WHERE {test})"


class _BinWalk:
    """Both ECDFs bin by bin: exact gaps at the bins' ends, the bins that need refining, and the
    Wasserstein integral over every other bin and between bins."""

    def __init__(self, ref: BinStats, cur: BinStats, n: int, m: int) -> None:
        self.order = np.union1d(ref.bins, cur.bins)
        size = len(self.order)
        at_r, at_c = np.searchsorted(self.order, ref.bins), np.searchsorted(self.order, cur.bins)
        r, c = np.zeros(size, np.int64), np.zeros(size, np.int64)
        s_r, s_c = np.zeros(size), np.zeros(size)
        lo_r, lo_c, hi_r, hi_c = (np.full(size, np.nan) for _ in range(4))
        r[at_r], s_r[at_r], lo_r[at_r], hi_r[at_r] = ref.counts, ref.sums, ref.lows, ref.highs
        c[at_c], s_c[at_c], lo_c[at_c], hi_c[at_c] = cur.counts, cur.sums, cur.lows, cur.highs
        # Every bin has values on one side at least: fmin/fmax skip the side that has none (NaN).
        a, z = np.fmin(lo_r, lo_c), np.fmax(hi_r, hi_c)
        cum_r, cum_c = np.cumsum(r), np.cumsum(c)
        self.cum_r_before, self.cum_c_before = cum_r - r, cum_c - c
        self.cum_before = self.cum_r_before + self.cum_c_before
        self.cum_after = cum_r + cum_c
        self.a, self.z = a, z
        before = self.cum_r_before / n - self.cum_c_before / m
        end_gap = cum_r / n - cum_c / m
        self.d_edges = max(0.0, float(np.max(np.abs(end_gap)))) if size else 0.0
        # Inside a bin the gap moves between these two, from `before` to the gap at its end.
        low, high = before - c / m, before + r / n
        # A bin of one value (every bin of a discrete column) steps once, from `before` to its end
        # gap: both already weighed, and its width, so its integral, is zero. Nothing to refine.
        self.refined = (a != z) & ((np.maximum(np.abs(low), np.abs(high)) > self.d_edges) | ((low < 0) & (0 < high)))
        # A sum that is not finite means an infinite value on that side.
        self.finite = bool(np.isfinite(ref.sums).all() and np.isfinite(cur.sums).all())
        self.integral = 0.0
        if self.finite and size:
            # Between bins the gap is constant (the gap at the previous bin's end); inside a bin that keeps its
            # sign the integral is exact from counts and sums. Summed in bin order, one term after another.
            between = np.abs(end_gap[:-1]) * (a[1:] - z[:-1])
            inside = np.where(~self.refined & (a != z),
                              np.abs(before * (z - a) + (r * z - s_r) / n - (c * z - s_c) / m), 0.0)
            terms = np.empty(2 * size - 1)
            terms[0::2], terms[1::2] = inside, between
            self.integral = float(np.cumsum(terms)[-1])

    def value_ranges(self, refine: np.ndarray, most: int, merge_below: int) -> list[tuple[float, float]]:
        """At most `most` closed value ranges holding every refined bin (positions in `order`): runs of
        neighbouring refined bins, merged where fewer than 1/merge_below of all rows lie between them,
        then across the fewest rows until `most` are left."""
        starts = refine[np.r_[True, np.diff(refine) > 1]]
        ends = refine[np.r_[np.diff(refine) > 1, True]]
        between = self.cum_before[starts[1:]] - self.cum_after[ends[:-1]]
        splits = np.flatnonzero(between * merge_below >= self.cum_after[-1])
        if len(splits) > most - 1:
            splits = np.sort(splits[np.argsort(between[splits], kind="stable")[len(splits) - (most - 1):]])
        starts, ends = starts[np.r_[0, splits + 1]], ends[np.r_[splits, len(ends) - 1]]
        return [(float(self.a[s]), float(self.z[e])) for s, e in zip(starts, ends, strict=True)]


def _cumulative_at_cuts(bins: FineBins, stats: BinStats) -> list[int]:
    """Rows at or below each cut point: all bins of the intervals before it (intervals are right-closed)."""
    cum = np.r_[0, np.cumsum(stats.counts)]
    ends = np.searchsorted(stats.bins, np.arange(1, len(bins.cuts) + 1) * bins.pieces)  # bins below each interval
    return [int(x) for x in cum[ends]]
