"""ROC AUC and average precision from a sort of the labelled, scored rows, in DuckDB.

The sort is the one operator of an audit whose memory grows with the rows: DuckDB's window holds
more than its memory_limit lets the buffer pool hold (at 100M rows it took a run from 385 MB to
1081 MB under a 512 MB limit). So a sort never takes more than `rows_per_sort` rows: a larger table
is ranked in score ranges, highest first, each range's counts offset by the rows and positives of
the ranges above it (`rank_whole`), and time windows are ranked in groups of consecutive windows
(`rank_partitions`). The sums are whole numbers, so AUC is the same to the last bit however the rows
are split; average precision's float sum is added across ranges with `math.fsum`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from auditor.engine.sql import bind

# What a ranked row costs the sort: the score, the label, the partition and the window's two counts,
# plus the sort's own keys and pointers. A 10M-row ranking sort grew the process by 418 MB (about 42
# bytes a row); 48 keeps a sort's rows a little inside the memory_limit.
BYTES_PER_RANKED_ROW = 48


# On an engine that sorts a window without PARTITION BY in one task (Spark), a larger table is ranked in
# score ranges of about this many rows, in parallel.
ROWS_PER_RANGE = 1_000_000


def rows_per_sort(engine) -> int:
    """The most rows one ranking sort takes under the engine's memory_limit (at least a million)."""
    if not engine.parallel_global_sort:
        return ROWS_PER_RANGE
    return max(1_000_000, engine.memory_limit_bytes() // BYTES_PER_RANKED_ROW)


# ROC AUC and average precision from one sort of the labelled, scored rows, highest score first,
# equal scores (peers) taken together by the RANGE frame, so ties count as scikit-learn counts them:
#   ge = rows scoring >= s (the frame's size), tp = positives scoring >= s.
# Average precision is the mean over positive rows of tp / ge, the precision at their own score
# (scikit-learn's step-wise precision-recall curve). ROC AUC is Mann-Whitney's, from two sums of
# whole numbers: A = sum over positives of the negatives scoring >= it (ge - tp), B = sum over
# negatives of the positives scoring >= it (tp). A counts every misordered (positive, negative) pair
# once and every tied pair once, B every well-ordered pair and every tied pair once, so with P N
# pairs in all the misordered count with ties as halves is U = (P N + A - B) / 2 and
# AUC = 1 - U / (P N) = (P N - A + B) / (2 P N). Ties need no rank(): one window function fewer.
# No GROUP BY over distinct scores (a hash table as large as the data) and no total taken with
# OVER () (which DuckDB runs on one thread).
#
# With a partition (a time window), one window sorts by (partition, score) rather than
# PARTITION BY, which DuckDB runs twice as slowly under a 512 MB memory_limit. The counts then run
# on across partitions: the rows and positives of the partitions before are taken off. Those offsets
# are bound as parameters (`ranking_offsets`, from counts the caller has or one GROUP BY) and joined
# on the partition: windows over (ORDER BY partition) to find them cost a fifth of the query.
# The partition values must not be NULL. The sums take CASEs rather than FILTERs (a tenth cheaper;
# adding 0.0 leaves a float sum as it was). The precisions are summed with fsum: a plain float sum
# depends on the order DuckDB's threads add them in, so average precision moved in its last digits
# from one run to the next.
RANKING_SQL = """WITH scored AS (
  SELECT {part_expr}{score} AS s, {label} AS y
  FROM {view} WHERE {where}{label} IS NOT NULL AND {score} IS NOT NULL
), ranked AS (
  SELECT {part}y, count(*) OVER w AS ge, sum(y::INTEGER) OVER w AS tp
  FROM scored WINDOW w AS ({order} RANGE UNBOUNDED PRECEDING)
){offsets}
SELECT {part}count(*) AS ranked, sum(y::INTEGER) AS positives,
  sum(CASE WHEN y THEN {negatives_above} ELSE 0 END) AS negatives_above,
  sum(CASE WHEN y THEN 0 ELSE {positives_above} END) AS positives_above,
  fsum(CASE WHEN y THEN {precision} ELSE 0 END) AS precision_sum
FROM ranked{join}{group_by}"""
PARTITIONED = {
    "part": "part, ",
    "offsets": """, offsets AS (
  SELECT unnest($ranking_parts) AS part, unnest($rows_before::BIGINT[]) AS rows_before,
    unnest($positives_before::BIGINT[]) AS tp_before
)""",
    "negatives_above": "ge - rows_before - (tp - tp_before)",
    "positives_above": "tp - tp_before",
    "precision": "(tp - tp_before) / (ge - rows_before)",
    "join": " JOIN offsets USING (part)",
    "group_by": " GROUP BY part ORDER BY part",
    "order": "ORDER BY part, s DESC",
}
WHOLE = {"part": "", "offsets": "", "negatives_above": "ge - tp", "positives_above": "tp", "precision": "tp / ge",
         "join": "", "group_by": "", "order": "ORDER BY s DESC"}
# An engine whose sort of every row runs as one task (Spark: a window without PARTITION BY) ranks each
# partition in a window of its own, in parallel: the counts start again in each, so nothing is taken off.
SPLIT = {**WHOLE, "part": "part, ", "group_by": " GROUP BY part ORDER BY part", "order": "PARTITION BY part ORDER BY s DESC"}
# The score ranges of one ranking, each in a window of its own: the rows and positives of the ranges
# above (scoring higher) are added on.
SPLIT_RANGES = {**PARTITIONED, "order": "PARTITION BY part ORDER BY s DESC",
                "negatives_above": "ge + rows_before - (tp + tp_before)", "positives_above": "tp + tp_before",
                "precision": "(tp + tp_before) / (ge + rows_before)"}
# The labelled, scored rows and positives per partition, when the caller has not counted them.
PARTITION_COUNTS_SQL = """SELECT {partition} AS part, count(*), count(*) FILTER (WHERE {label})
FROM {view} WHERE {where}{label} IS NOT NULL AND {score} IS NOT NULL
GROUP BY 1 ORDER BY 1"""


def ranking_sql(view: str, *, label: str, score: str, partition: str | None = None, where: str | None = None,
                split: dict[str, str] | None = None) -> str:
    """The ranking query of `view`: one row (ranked, positives, negatives_above, positives_above,
    precision_sum) for `ranking_metrics`; with `partition` (a SQL expression, e.g. a window's
    position) one such row per partition value, that value first, in order, and the parameters of
    `ranking_offsets` to bind (with `split=SPLIT`, a window per partition and no parameters). `where`
    keeps only the rows it is true for."""
    parts = (PARTITIONED if split is None else split) if partition else WHOLE
    return RANKING_SQL.format(view=view, label=label, score=score, where=f"{where} AND " if where else "",
                              part_expr=f"{partition} AS part, " if partition else "", **parts)


def ranking_offsets(counts: Sequence[tuple[Any, int, int]]) -> dict[str, list]:
    """The partitioned ranking's parameters from (partition value, labelled scored rows, positives among
    them) of every partition: the rows and positives of the partitions sorted before each."""
    parts, rows_before, positives_before = [], [], []
    rows = positives = 0
    for part, n, p in sorted(counts, key=lambda c: c[0]):
        parts.append(part)
        rows_before.append(rows)
        positives_before.append(positives)
        rows, positives = rows + int(n), positives + int(p)
    return {"ranking_parts": parts, "rows_before": rows_before, "positives_before": positives_before}


def partition_counts_sql(view: str, *, label: str, score: str, partition: str, where: str | None = None) -> str:
    """(partition value, labelled scored rows, positives) per partition, for `ranking_offsets`."""
    return PARTITION_COUNTS_SQL.format(view=view, label=label, score=score, partition=partition,
                                       where=f"{where} AND " if where else "")


def ranking_metrics(row: tuple) -> dict[str, float | None]:
    """ROC AUC and average precision from one row of `ranking_sql` (its partition value left off)."""
    ranked, pos, negatives_above, positives_above, precision_sum = row
    pos = int(pos or 0)
    neg = int(ranked) - pos
    pairs = pos * neg
    return {
        # Whole numbers up to here: one division, exact to the last bit.
        "roc_auc": (pairs - int(negatives_above) + int(positives_above)) / (2 * pairs) if pairs else None,
        "average_precision": precision_sum / pos if pos else None,
    }


# A score range of the whole ranking: the rows of the ranges above are bound as offsets.
IN_RANGE = "($from IS NULL OR {score} >= $from) AND ($below IS NULL OR {score} < $below)"
OFFSET = {"part": "", "offsets": "", "order": "ORDER BY s DESC",
          "negatives_above": "ge + $rows_before::BIGINT - tp - $positives_before::BIGINT",
          "positives_above": "tp + $positives_before::BIGINT",
          "precision": "(tp + $positives_before::BIGINT) / (ge + $rows_before::BIGINT)",
          "join": "", "group_by": ""}
# Approximate quantiles are enough for the cuts: ties and order are exact whatever the cuts are,
# since equal scores always fall in the same range; the cuts only balance the ranges' sizes.
CUTS_SQL = """SELECT approx_quantile({score}, $fractions::FLOAT[])
FROM {view} WHERE {where}{label} IS NOT NULL AND {score} IS NOT NULL"""


@dataclass(frozen=True)
class ScoreRanges:
    """A score cut into ranges at approximate quantiles, highest first: range 0 holds the highest scores.
    Equal scores always share a range, whatever the cuts, so rankings per range add up exactly."""

    cuts: list  # distinct, highest first
    sql: str  # the statement that found them
    prefix: str = "cut"  # the cuts are bound as $cut0, $cut1...

    def of(self, value: str) -> str:
        """SQL: the range of `value` (a score expression), 0 to len(cuts)."""
        whens = " ".join(f"WHEN {value} >= ${self.prefix}{i} THEN {i}" for i in range(len(self.cuts)))
        return f"CASE {whens} ELSE {len(self.cuts)} END"

    @property
    def params(self) -> dict[str, Any]:
        return {f"{self.prefix}{i}": cut for i, cut in enumerate(self.cuts)}


def score_ranges(engine, view: str, *, label: str, score: str, rows: int, where: str | None = None,
                 params: Mapping[str, Any] | None = None, prefix: str = "cut") -> ScoreRanges | None:
    """Ranges of `view`'s labelled scores of about `rows_per_sort` rows each (of `rows` in all), from one scan;
    None when one sort takes them all, or every score is the same."""
    per_sort = rows_per_sort(engine)
    if rows <= per_sort:
        return None
    ranges = math.ceil(rows / per_sort)
    cuts_sql = CUTS_SQL.format(score=score, view=view, label=label, where=f"{where} AND " if where else "")
    fractions = [i / ranges for i in range(ranges - 1, 0, -1)]  # highest first
    (cuts,) = engine.query_one(cuts_sql, bind(cuts_sql, {**(params or {}), "fractions": fractions}))
    # Highest first, each once: equal cuts (many tied scores) would make empty ranges, and cuts out of
    # order would count the rows between them twice.
    cuts = sorted({c for c in cuts or [] if c is not None}, reverse=True)
    return ScoreRanges(cuts, cuts_sql, prefix) if cuts else None


def rank_whole(engine, view: str, *, label: str, score: str, rows: int, where: str | None = None,
               params: Mapping[str, Any] | None = None) -> tuple[dict[str, float | None], list[str]]:
    """ROC AUC and average precision of `view`'s `rows` labelled, scored rows, and the SQL run.

    Up to `rows_per_sort` rows, one sort. Beyond, ranges of scores cut at approximate quantiles,
    ranked highest first: one scan for the cuts and one sort of a range's rows per range.
    """
    params = params or {}
    ranges = score_ranges(engine, view, label=label, score=score, rows=rows, where=where, params=params)
    if ranges is None:
        sql = ranking_sql(view, label=label, score=score, where=where)
        return ranking_metrics(engine.query_one(sql, bind(sql, params) or None)), [sql]
    if not engine.parallel_global_sort:
        return _rank_ranges_at_once(engine, view, label=label, score=score, where=where, params=params, ranges=ranges)
    bounds = list(zip([None, *ranges.cuts], [*ranges.cuts, None], strict=True))  # (below, from), highest first
    filters = f"{where} AND " if where else ""
    in_range = IN_RANGE.format(score=score)
    sql = RANKING_SQL.format(view=view, label=label, score=score, part_expr="",
                             where=f"{filters}{in_range} AND ", **OFFSET)
    ranked = positives = negatives_above = positives_above = 0
    precision_sums = []
    for below, start in bounds:
        row = engine.query_one(sql, bind(sql, {**params, "from": start, "below": below, "rows_before": ranked,
                                                "positives_before": positives}))
        ranked += int(row[0] or 0)
        positives += int(row[1] or 0)
        negatives_above += int(row[2] or 0)
        positives_above += int(row[3] or 0)
        precision_sums.append(float(row[4] or 0.0))
    return (ranking_metrics((ranked, positives, negatives_above, positives_above, math.fsum(precision_sums))),
            [ranges.sql, sql])


def range_counts(engine, view: str, *, label: str, score: str, ranges: ScoreRanges, where: str | None = None,
                 params: Mapping[str, Any] | None = None) -> tuple[list[tuple], str]:
    """(range, labelled scored rows, positives) of every range that holds a row, and the statement."""
    sql = partition_counts_sql(view, label=label, score=score, partition=ranges.of(score), where=where)
    return engine.query(sql, bind(sql, {**(params or {}), **ranges.params})), sql


def _rank_ranges_at_once(engine, view: str, *, label: str, score: str, where: str | None, params: Mapping[str, Any],
                         ranges: ScoreRanges) -> tuple[dict[str, float | None], list[str]]:
    """`rank_whole`'s score ranges as the partitions of one statement, each sorted in a window of its own
    (in parallel on Spark), the ranges above added on: the same whole-number sums, so the same AUC."""
    counts, counts_sql = range_counts(engine, view, label=label, score=score, ranges=ranges, where=where, params=params)
    sql = ranking_sql(view, label=label, score=score, partition=ranges.of(score), where=where, split=SPLIT_RANGES)
    rows = engine.query(sql, bind(sql, {**params, **ranges.params, **ranking_offsets(counts)}))
    totals = [sum(int(r[i] or 0) for r in rows) for i in (1, 2, 3, 4)]
    found = ranking_metrics((*totals, math.fsum(float(r[5] or 0.0) for r in rows)))
    return found, [ranges.sql, counts_sql, sql]


def partition_groups(counts: Sequence[tuple[Any, int, int]], per_sort: int) -> list[list[tuple[Any, int, int]]]:
    """(partition value, rows, positives) of every partition, in order, grouped so that a group's rows
    stay within `per_sort` (a partition with more is a group of its own)."""
    groups: list[list[tuple[Any, int, int]]] = []
    held = per_sort
    for count in sorted(counts, key=lambda c: c[0]):
        if held + int(count[1]) > per_sort:
            groups.append([])
            held = 0
        groups[-1].append(count)
        held += int(count[1])
    return groups


def rank_partitions(engine, view: str, *, label: str, score: str, partition: str, counts: Sequence[tuple[Any, int, int]],
                    where: str | None = None, params: Mapping[str, Any] | None = None, between: str | None = None
                    ) -> tuple[dict[Any, dict[str, float | None]], list[str]]:
    """ROC AUC and average precision per partition value, from its (value, rows, positives) `counts`.

    Partitions are ranked together in groups of at most `rows_per_sort` rows (a sort per group),
    or all in one sort when they fit. `between` is SQL true for the rows of the partitions
    `$first_part` to `$last_part` (by default `partition BETWEEN` them): a caller that can say it
    in terms the Parquet reader can prune by (a time window's timestamps) saves a full read per group.
    """
    params = params or {}
    if not engine.parallel_global_sort:  # a window per partition, all at once
        sql = ranking_sql(view, label=label, score=score, partition=partition, where=where, split=SPLIT)
        return {row[0]: ranking_metrics(row[1:]) for row in engine.query(sql, bind(sql, params) or None)}, [sql]
    groups = partition_groups([c for c in counts if c[1]], rows_per_sort(engine))
    if len(groups) > 1:
        between = between or f"{partition} BETWEEN $first_part AND $last_part"
        where = f"{where} AND {between}" if where else between
    sql = ranking_sql(view, label=label, score=score, partition=partition, where=where)
    found = {}
    for group in groups:
        extra = {"first_part": group[0][0], "last_part": group[-1][0], **ranking_offsets(group)}
        for row in engine.query(sql, bind(sql, {**params, **extra})):
            found[row[0]] = ranking_metrics(row[1:])
    return found, [sql]
