"""Paired comparison of two models scored on the same rows.

- McNemar's exact test for accuracy, from the two discordant counts (rows only the champion
  gets right, rows only the challenger gets right): a binomial test of b against b + c at 1/2.
- DeLong's test for ROC AUC (DeLong, DeLong & Clarke-Pearson 1988). Each positive's structural
  component is the share of negatives scored below it (ties count one half), each negative's the
  share of positives scored above it; they come from one row per distinct score of each model
  (cumulative sums in SQL), joined back to the rows. The aggregate over rows returns the
  variances and covariances, so nothing row-sized reaches Python.
"""

from __future__ import annotations

import math

from auditor.engine.rollup import Measures, Row

DELONG_SQL = """WITH base AS (
  SELECT y, a, b FROM (SELECT {label} AS y, {score_a} AS a, {score_b} AS b FROM {view})
  WHERE y IS NOT NULL AND a IS NOT NULL AND b IS NOT NULL
), by_a AS (
  SELECT a AS s, count(*) FILTER (WHERE y) AS pos, count(*) FILTER (WHERE NOT y) AS neg FROM base GROUP BY 1
), by_b AS (
  SELECT b AS s, count(*) FILTER (WHERE y) AS pos, count(*) FILTER (WHERE NOT y) AS neg FROM base GROUP BY 1
), comp_a AS (
  SELECT s,
    coalesce(sum(neg) OVER (ORDER BY s ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) + neg / 2.0 AS below,
    coalesce(sum(pos) OVER (ORDER BY s DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) + pos / 2.0 AS above
  FROM by_a
), comp_b AS (
  SELECT s,
    coalesce(sum(neg) OVER (ORDER BY s ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) + neg / 2.0 AS below,
    coalesce(sum(pos) OVER (ORDER BY s DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) + pos / 2.0 AS above
  FROM by_b
), joined AS (
  SELECT base.y, ca.below::DOUBLE AS a10, cb.below::DOUBLE AS b10, ca.above::DOUBLE AS a01, cb.above::DOUBLE AS b01
  FROM base JOIN comp_a ca ON base.a = ca.s JOIN comp_b cb ON base.b = cb.s
)
SELECT count(*) FILTER (WHERE y), count(*) FILTER (WHERE NOT y),
  avg(a10) FILTER (WHERE y), avg(b10) FILTER (WHERE y),
  var_samp(a10) FILTER (WHERE y), var_samp(b10) FILTER (WHERE y), covar_samp(a10, b10) FILTER (WHERE y),
  var_samp(a01) FILTER (WHERE NOT y), var_samp(b01) FILTER (WHERE NOT y), covar_samp(a01, b01) FILTER (WHERE NOT y)
FROM joined"""


def delong_sql(view: str, *, label: str, score_a: str, score_b: str) -> str:
    return DELONG_SQL.format(view=view, label=label, score_a=score_a, score_b=score_b)


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
