"""Champion vs challenger: should the retrained model replace the one in production?

Both models are scored on the same current rows (`columns.prediction`/`score` for the champion,
`columns.challenger_prediction`/`challenger_score` for the challenger). The primary metric is
ROC AUC when it is the first success metric and both models have scores (DeLong's paired test),
else accuracy (McNemar's exact test). Accuracy is also compared per sensitive group and per slice
in one scan (auditor.metrics.slices), Holm-corrected over the groups compared: a challenger that is better
overall but significantly worse for a group is not promoted without a human decision.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from auditor.audit.context import CheckContext
from auditor.audit.options import CheckOptions, Probability, Size
from auditor.audit.registry import check
from auditor.errors import DataError
from auditor.metrics.group_rates import holm
from auditor.metrics.paired import delong_test, mcnemar, mcnemar_measures
from auditor.metrics.performance import canonical_metric
from auditor.metrics.slices import TOTAL, categorical_key, slice_scan
from auditor.report import CheckResult, table


class ChampionChallengerOptions(CheckOptions):
    alpha: Probability = Field(0.05, description="significance level of DeLong's or McNemar's test")
    min_slice_size: Size = Field(100, description="smaller slices are not compared")
    max_categories: Size = Field(50, description="categorical features with more values are not sliced")


@check("modeling.champion_challenger", title="Champion vs challenger", options=ChampionChallengerOptions,
       needs=("current", "target"))
def champion_challenger(ctx: CheckContext) -> Iterator[CheckResult]:
    """Whether the challenger model beats the champion on the same rows (DeLong for AUC, McNemar for accuracy)."""
    cfg = ctx.config.columns
    if ctx.config.task != "binary_classification":
        yield ctx.skip(f"Skipped: the paired comparison needs task binary_classification (this is {ctx.config.task}).")
        return
    if not (cfg.challenger_prediction or cfg.challenger_score):
        yield ctx.skip("Skipped: needs columns.challenger_prediction or columns.challenger_score "
                       "(the second model's output on the same rows).")
        return
    current = ctx.dataset("current")
    for key in ("challenger_prediction", "challenger_score"):
        name = getattr(cfg, key)
        if name and current.column(name) is None:
            raise DataError(f"columns.{key}: column '{name}' does not exist in dataset 'current'")
    r = ctx.roles
    champion = ctx.target.columns(current)
    challenger = ctx.target.columns(current, prediction=cfg.challenger_prediction, score=cfg.challenger_score,
                                    challenger=True)
    if not champion.label:
        yield ctx.skip("Skipped: needs columns.label to compare the two models.")
        return
    if not champion.prediction:
        yield ctx.skip("Skipped: needs columns.prediction or columns.score for the champion.")
        return
    # The two models read by the same rule: their expressions bind the same parameters, with the same values.
    params = {**champion.params, **challenger.params}
    firsts = [canonical_metric(m.metric) for m in ctx.config.project.success_metrics]
    use_auc = bool(firsts) and firsts[0] == "roc_auc" and champion.score and challenger.score
    alpha = ctx.options.alpha

    summary = ctx.summary("current")
    keys = [categorical_key(c, summary[c].distinct if c in summary else None) for c in r.sensitive]
    slice_keys, key_sql = ctx.model_slice_keys()
    keys += [k for k in slice_keys if k.feature not in r.sensitive]
    inner = [f"{champion.label} AS y", f"{champion.prediction} AS pa", f"{challenger.prediction} AS pb"]
    groups, sql = slice_scan(ctx.engine, current.view, keys, inner, mcnemar_measures("y", "pa", "pb"), params,
                             total=True)
    statements = [*key_sql, sql]
    overall = mcnemar(groups[TOTAL][0][1])
    if use_auc:
        primary, more = delong_test(ctx.engine, current.view, label=champion.label, score_a=champion.score,
                                    score_b=challenger.score, rows=current.rows, params=params)
        statements += more
        metric, test, a, b = "roc_auc", "DeLong", primary["auc_a"], primary["auc_b"]
    else:
        primary = overall
        metric, test, a, b = "accuracy", "McNemar", overall["accuracy_a"], overall["accuracy_b"]
    if primary["difference"] is None:
        yield ctx.skip(f"Skipped: {metric} cannot be compared (too few labelled rows with both models' outputs).")
        return

    rows, tested = [], []
    for feature, slices in groups.items():
        if feature == TOTAL:
            continue
        for name, counts in slices:
            m = mcnemar(counts)
            rows.append([feature, name, counts["compared"], m["accuracy_a"], m["accuracy_b"], m["difference"],
                         m["p_value"], None])
            if counts["compared"] >= ctx.options.min_slice_size and m["p_value"] is not None:
                tested.append(len(rows) - 1)
    for i, p in zip(tested, holm([rows[i][6] for i in tested]), strict=True):
        rows[i][7] = p
    hurt = [rows[i] for i in tested if rows[i][5] < 0 and rows[i][7] < alpha]
    hurt.sort(key=lambda row: row[5])
    diff, p = primary["difference"], primary["p_value"]
    better = diff > 0 and p < alpha
    promote = better and not hurt
    shown = f"{metric} {b:.4f} vs {a:.4f} ({diff:+.4f}, {test} p = {p:.2g})"
    if promote:
        message = f"Promote the challenger: {shown}, and no group or slice is significantly worse."
    elif better:
        f, s, _, _, _, d, _, ph = hurt[0]
        message = (f"Do not promote yet: the challenger is better overall ({shown}) but significantly worse "
                   f"where {f} is {s} (accuracy {d * 100:+.1f} points, Holm p = {ph:.2g}).")
    elif diff < 0 and p < alpha:
        message = f"Keep the champion: the challenger is significantly worse, {shown}."
    else:
        message = f"Keep the champion: the challenger is not significantly better, {shown}."
    cuts = [c for c in (champion.cut, challenger.cut and "the challenger's " + challenger.cut) if c]
    if cuts:
        message = message[:-1] + f" ({'; '.join(cuts)})."
    yield ctx.result(
        value=diff, status="warn" if better and hurt else "pass", message=message,
        metrics={"metric": metric, "test": test, "champion": a, "challenger": b, "difference": diff, "p_value": p,
                 "promote": promote, "groups_worse": len(hurt), "rows": overall.get("compared") if not use_auc else None,
                 "accuracy_champion": overall["accuracy_a"], "accuracy_challenger": overall["accuracy_b"],
                 "mcnemar_p_value": overall["p_value"], "dataset": "current"},
        evidence={"tables": [table("Accuracy by group and slice (McNemar, Holm-corrected)",
                                   ["feature", "slice", "rows", "champion", "challenger", "difference", "p_value",
                                    "p_value_holm"], rows)],
                  "sql": statements},
    )
