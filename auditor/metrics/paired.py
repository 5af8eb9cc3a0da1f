"""Paired comparison of two models scored on the same rows.

- McNemar's exact test for accuracy, from the two discordant counts (rows only the champion
  gets right, rows only the challenger gets right): a binomial test of b against b + c at 1/2.
- DeLong's test for ROC AUC (DeLong, DeLong & Clarke-Pearson 1988). Each positive's structural
  component is the share of negatives scored below it (ties count one half), each negative's the
  share of positives scored above it; they come from one row per distinct score of each model
  (cumulative sums in SQL), joined back to the rows. The aggregate over rows returns the
  variances and covariances, so nothing row-sized reaches Python. On Spark, a larger table's
  components are ranked per score range in parallel (`delong_test`), with the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from auditor.engine.rollup import Measures, Row
from auditor.engine.sql import bind
from auditor.metrics import ranking

DELONG_SQL = """WITH base AS (
  SELECT y, a, b FROM (SELECT {label} AS y, {score_a} AS a, {score_b} AS b FROM {view})
  WHERE y IS NOT NULL AND a IS NOT NULL AND b IS NOT NULL
), by_a AS (
  SELECT a AS s, count(*) FILTER (WHERE y) AS pos, count(*) FILTER (WHERE NOT y) AS neg FROM base GROUP BY 1
), by_b AS (
  SELECT b AS s, count(*) FILTER (WHERE y) AS pos, count(*) FILTER (WHERE NOT y) AS neg FROM base GROUP BY 1
), comp_a AS (
  {comp_a}
), comp_b AS (
  {comp_b}
), joined AS (
  SELECT base.y, ca.below::DOUBLE AS a10, cb.below::DOUBLE AS b10, ca.above::DOUBLE AS a01, cb.above::DOUBLE AS b01
  FROM base JOIN comp_a ca ON base.a = ca.s JOIN comp_b cb ON base.b = cb.s
)
SELECT count(*) FILTER (WHERE y), count(*) FILTER (WHERE NOT y),
  avg(a10) FILTER (WHERE y), avg(b10) FILTER (WHERE y),
  var_samp(a10) FILTER (WHERE y), var_samp(b10) FILTER (WHERE y), covar_samp(a10, b10) FILTER (WHERE y),
  var_samp(a01) FILTER (WHERE NOT y), var_samp(b01) FILTER (WHERE NOT y), covar_samp(a01, b01) FILTER (WHERE NOT y)
FROM joined"""
# A model's components per distinct score s (by_a, by_b): the negatives scored below s and the positives
# above it, ties as halves, from one window over the distinct scores in order. On an engine that runs such a
# window as one task (Spark), the scores are ranked per score range (ranking.score_ranges) in windows of
# their own, the negatives of the ranges below and the positives of the ranges above bound and added on:
# whole numbers and halves either way, so the same components to the last bit.
COMPONENTS_SQL = """SELECT s,
    coalesce(sum(neg) OVER ({over}ORDER BY s ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) + neg / 2.0{below} AS below,
    coalesce(sum(pos) OVER ({over}ORDER BY s DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) + pos / 2.0{above} AS above
  FROM {source}"""
RANGED = """(SELECT by_{m}.*, {part} AS part FROM by_{m})
    JOIN (SELECT unnest($delong_{m}_parts) AS part, unnest($delong_{m}_below::BIGINT[]) AS neg_below,
      unnest($delong_{m}_above::BIGINT[]) AS pos_above) USING (part)"""


def delong_sql(view: str, *, label: str, score_a: str, score_b: str,
               ranges: Mapping[str, ranking.ScoreRanges | None] | None = None) -> str:
    """DeLong's aggregates over the rows of `view`; with `ranges` of a model ("a", "b"), its components are
    ranked per range (their offsets bound by `delong_offsets`)."""
    comps = {}
    for m in ("a", "b"):
        r = (ranges or {}).get(m)
        comps[f"comp_{m}"] = (COMPONENTS_SQL.format(over="", below="", above="", source=f"by_{m}") if r is None else
                              COMPONENTS_SQL.format(over="PARTITION BY part ", below=" + neg_below", above=" + pos_above",
                                                    source=RANGED.format(m=m, part=r.of("s"))))
    return DELONG_SQL.format(view=view, label=label, score_a=score_a, score_b=score_b, **comps)


def delong_offsets(model: str, counts: Sequence[tuple]) -> dict[str, list]:
    """From (range, rows, positives) of a model's ranges (`ranking.range_counts`): per range, the negatives
    of the ranges below it (scored lower) and the positives of the ranges above it, to bind."""
    before = ranking.ranking_offsets(counts)  # ranges in order, highest scores first
    ordered = sorted(counts, key=lambda c: c[0])
    negatives = sum(int(n) - int(p) for _, n, p in ordered)
    below = [negatives - (rows - pos) - (int(n) - int(p))
             for rows, pos, (_, n, p) in zip(before["rows_before"], before["positives_before"], ordered, strict=True)]
    return {f"delong_{model}_parts": before["ranking_parts"], f"delong_{model}_below": below,
            f"delong_{model}_above": before["positives_before"]}


def delong_test(engine, view: str, *, label: str, score_a: str, score_b: str, rows: int,
                params: Mapping[str, Any] | None = None) -> tuple[dict[str, float | None], list[str]]:
    """`delong` of the two models over `view` (of at most `rows` rows), and the statements run. Beyond what one
    sort takes (`ranking.rows_per_sort`), on an engine without a parallel global sort, each model's scores are
    cut into ranges at approximate quantiles and counted per range first: two more statements a model."""
    params = dict(params or {})
    ranges: dict[str, ranking.ScoreRanges | None] = {}
    statements = []
    if not engine.parallel_global_sort:
        for m, score, other in (("a", score_a, score_b), ("b", score_b, score_a)):
            found = ranking.score_ranges(engine, view, label=label, score=score, rows=rows, where=f"{other} IS NOT NULL",
                                         params=params, prefix=f"delong_{m}_cut")
            if found is not None:
                counts, counts_sql = ranking.range_counts(engine, view, label=label, score=score, ranges=found,
                                                          where=f"{other} IS NOT NULL", params=params)
                params.update({**found.params, **delong_offsets(m, counts)})
                statements += [found.sql, counts_sql]
            ranges[m] = found
    sql = delong_sql(view, label=label, score_a=score_a, score_b=score_b, ranges=ranges)
    return delong(engine.query_one(sql, bind(sql, params) or None)), [*statements, sql]


def delong(row: tuple) -> dict[str, float | None]:
    """AUCs of both models, the difference (b − a), its standard error and two-sided p-value."""
    pos, neg, mean_a, mean_b, var_a10, var_b10, cov10, var_a01, var_b01, cov01 = row
    if not pos or not neg or pos < 2 or neg < 2:
        return {"auc_a": None, "auc_b": None, "difference": None, "se": None, "p_value": None}
    auc_a, auc_b = mean_a / neg, mean_b / neg
    # Components are counts here; the structural components divide them by neg (V10) and pos (V01).
    variance = ((var_a10 + var_b10 - 2 * cov10) / neg**2) / pos + ((var_a01 + var_b01 - 2 * cov01) / pos**2) / neg
    difference = auc_b - auc_a
    if variance <= 0:
        p = 1.0 if difference == 0 else 0.0
        return {"auc_a": auc_a, "auc_b": auc_b, "difference": difference, "se": 0.0, "p_value": p}
    se = math.sqrt(variance)
    return {"auc_a": auc_a, "auc_b": auc_b, "difference": difference, "se": se,
            "p_value": math.erfc(abs(difference / se) / math.sqrt(2))}


def mcnemar_aggregates(label: str, pred_a: str, pred_b: str) -> dict[str, str]:
    """Named counts for McNemar's test and both accuracies on rows where all three are known."""
    known = f"{label} IS NOT NULL AND {pred_a} IS NOT NULL AND {pred_b} IS NOT NULL"
    right_a, right_b = f"({pred_a} = {label})", f"({pred_b} = {label})"
    return {
        "rows": "count(*)",
        "compared": f"count(*) FILTER (WHERE {known})",
        "a_right": f"count(*) FILTER (WHERE {known} AND {right_a})",
        "b_right": f"count(*) FILTER (WHERE {known} AND {right_b})",
        "only_a_right": f"count(*) FILTER (WHERE {known} AND {right_a} AND NOT {right_b})",
        "only_b_right": f"count(*) FILTER (WHERE {known} AND {right_b} AND NOT {right_a})",
    }


def mcnemar_measures(label: str, pred_a: str, pred_b: str) -> Measures:
    """mcnemar_aggregates from (label, a, b) cells: one count per combination instead of six filtered counts."""

    def finish(rows: list[Row]) -> dict[str, int]:
        known = [r for r in rows if r[label] is not None and r[pred_a] is not None and r[pred_b] is not None]

        def count(where) -> int:
            return sum(int(r["rows"]) for r in known if where(r[pred_a] == r[label], r[pred_b] == r[label]))

        return {"rows": sum(int(r["rows"]) for r in rows), "compared": count(lambda a, b: True),
                "a_right": count(lambda a, b: a), "b_right": count(lambda a, b: b),
                "only_a_right": count(lambda a, b: a and not b), "only_b_right": count(lambda a, b: b and not a)}

    return Measures({"rows": "count(*)"}, finish, (label, pred_a, pred_b))


def mcnemar(counts: dict) -> dict[str, float | None]:
    """Accuracies of both models, the difference (b − a) and McNemar's exact two-sided p-value."""
    n = counts.get("compared") or 0
    if not n:
        return {"accuracy_a": None, "accuracy_b": None, "difference": None, "p_value": None}
    only_a, only_b = int(counts["only_a_right"]), int(counts["only_b_right"])
    discordant = only_a + only_b
    from scipy.stats import binomtest  # here, not at import: scipy.stats takes a second to load

    p = binomtest(min(only_a, only_b), discordant, 0.5).pvalue if discordant else 1.0
    acc_a, acc_b = counts["a_right"] / n, counts["b_right"] / n
    return {"accuracy_a": acc_a, "accuracy_b": acc_b, "difference": acc_b - acc_a, "p_value": float(p)}
