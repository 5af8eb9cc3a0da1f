"""Fairness: per-group rates and their gaps, with fairlearn's names and definitions.

All four checks read one cached scan of the current data (`auditor.metrics.group_rates.modeling_scan`):
one query grouping by every sensitive column together, rolled up to each column and their
intersection (auditor.engine.rollup). A gap past
the fail line fails only when the two groups behind it differ significantly (two-proportion
z-test, Holm-corrected over every pair compared, alpha 0.05): many small cells otherwise
make false alarms. Without labels (a prediction log), only selection rates are graded.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from pydantic import Field

from auditor.audit.context import CheckContext
from auditor.audit.options import CheckOptions, Direction, Probability, Rate, Size
from auditor.audit.registry import check
from auditor.audit.wording import percent
from auditor.errors import ConfigError
from auditor.metrics.group_rates import (
    MISSING,
    Gap,
    Group,
    GroupScan,
    gap,
    modeling_scan,
    pair_pvalue,
    pairwise_pvalues,
    wilson_interval,
)
from auditor.report import CheckResult, Threshold, grade, table


class FairnessOptions(CheckOptions):
    """What every fairness check takes: the group size that counts and the significance test."""

    min_group_size: Size = Field(30, description="groups with fewer rows are marked insufficient, not graded")
    alpha: Probability = Field(0.05, description="a gap past the fail line fails only when its two groups differ "
                                                 "significantly at this level (Holm-corrected z-test); else it warns")
    decision_threshold: float = Field(0.5, description="prediction = score >= this, when there is no prediction column")


class GapOptions(FairnessOptions):
    warn: Rate | None = Field(0.05, description="a gap (max - min over groups) that warns")
    fail: Rate | None = Field(0.10, description="a gap that fails (when significant)")


class DisparateImpactOptions(FairnessOptions):
    direction: ClassVar[Direction] = "below"

    warn: Rate | None = Field(None, description="an impact ratio under this warns")
    fail: Rate | None = Field(0.8, description="an impact ratio under this fails (the four-fifths rule)")
    reference_group: str | dict[str, str] | None = Field(
        None, description="also compare with this group (or a group per sensitive column: {sex: male})")
    outcome: str = Field("selected", description="the word for a positive prediction in messages, like approved")
SHORT = {"selection_rate": "selection rate", "true_positive_rate": "true positive rate",
         "false_positive_rate": "false positive rate"}
GROUP_COLUMNS = ["group", "rows", "graded", "selection_rate", "selection_rate_low", "selection_rate_high",
                 "true_positive_rate", "true_positive_rate_low", "true_positive_rate_high",
                 "false_positive_rate", "false_positive_rate_low", "false_positive_rate_high",
                 "false_negative_rate", "precision", "accuracy", "mean_score"]


def fairness_scan(ctx: CheckContext, *, needs_labels: bool) -> tuple[GroupScan | None, CheckResult | None]:
    """The cached scan, or a skip saying which input is missing."""
    if ctx.config.task != "binary_classification":
        return None, ctx.skip(f"Skipped: fairness rates need task binary_classification (this project is {ctx.config.task}).")
    if not ctx.roles.sensitive:
        return None, ctx.skip("Skipped: needs columns.sensitive (the columns whose groups are compared).")
    if not (ctx.roles.prediction or ctx.roles.score):
        return None, ctx.skip("Skipped: needs columns.prediction or columns.score.")
    scan = modeling_scan(ctx.run, decision_threshold=ctx.options.decision_threshold)
    if needs_labels and not scan.labelled:
        why = "columns.label is not set" if not ctx.roles.label else f"'{ctx.roles.label}' is empty in current"
        return None, ctx.skip(f"Skipped: needs labels and {why}; label-free mode grades selection rates only "
                              "(modeling.demographic_parity, modeling.disparate_impact).")
    return scan, None


def group_table(groups: list[Group], *, min_group_size: int, extra: dict[str, dict[str, Any]] | None = None) -> dict:
    rows = []
    for g in groups:
        r = g.rates
        row = [g.name, g.rows, "yes" if g.rows >= min_group_size else f"no: under {min_group_size} rows"]
        for rate in ("selection_rate", "true_positive_rate", "false_positive_rate"):
            row += [r[rate], *wilson_interval(*g.successes(rate))]
        row += [r["false_negative_rate"], r["precision"], r["accuracy"], r["mean_score"]]
        row += list((extra or {}).get(g.name, {}).values())
        rows.append(row)
    extra_columns = list(next(iter((extra or {}).values()), {}).keys())
    return table("Rates per group", GROUP_COLUMNS + extra_columns, rows)


def interval_chart(groups: list[Group], rate: str, attribute: str, *, four_fifths: bool = False) -> dict:
    values, lower, upper = [], [], []
    for g in groups:
        values.append(g.rates[rate])
        lo, hi = wilson_interval(*g.successes(rate))
        lower.append(lo)
        upper.append(hi)
    top = max((v for v in values if v is not None), default=None)
    line = {"value": 0.8 * top, "label": "four-fifths of the highest rate"} if four_fifths and top else None
    return {"kind": "interval", "title": f"{SHORT[rate].capitalize()} by {attribute} (95% Wilson intervals)",
            "categories": [g.name for g in groups], "values": values, "lower": lower, "upper": upper,
            "reference_line": line, "x_label": SHORT[rate]}


def significance(status: str, groups: list[Group], worst: Gap, rates: list[str], *, ctx: CheckContext,
                 a: str | None = None, b: str | None = None) -> tuple[str, float | None, str]:
    """Demote a fail to warn when the two groups behind the gap do not differ significantly."""
    adjusted = pairwise_pvalues(groups, rates, min_group_size=ctx.options.min_group_size)
    p = pair_pvalue(adjusted, worst.rate, a or worst.max_group, b or worst.min_group)
    if status == "fail" and (p is None or p >= ctx.options.alpha):
        shown = "untestable" if p is None else f"Holm-adjusted p = {p:.2g}"
        return "warn", p, (f" It warns instead of failing: the gap is not statistically significant "
                           f"({shown} over {len(adjusted)} pairs).")
    return status, p, ""


def gap_results(ctx: CheckContext, rates: list[str], prefix: str, noun: str, *, needs_labels: bool) -> Iterator[CheckResult]:
    """One result per sensitive attribute: the worst max − min gap of `rates`, with both parts shown."""
    scan, skipped = fairness_scan(ctx, needs_labels=needs_labels)
    if skipped:
        yield skipped
        return
    minimum = ctx.options.min_group_size
    threshold = ctx.threshold()
    for attribute, groups in scan.groups.items():
        gaps = [gap(groups, r, min_group_size=minimum) for r in rates]
        eligible = [g for g in groups if g.rows >= minimum]
        tables = [group_table(groups, min_group_size=minimum)]
        charts = [interval_chart(groups, r, attribute, four_fifths=r == "selection_rate") for r in rates]
        evidence = {"tables": tables, "charts": charts, "sql": [scan.sql]}
        if len(eligible) < 2 or any(g.difference is None for g in gaps):
            yield ctx.result(subject=attribute, status="skip", evidence=evidence,
                             message=f"Skipped: '{attribute}' has fewer than two groups of at least {minimum} rows "
                                     f"with a defined {' and '.join(SHORT[r] for r in rates)}.")
            continue
        worst = max(gaps, key=lambda g: g.difference)
        ratios = [g.ratio for g in gaps if g.ratio is not None]
        value = worst.difference
        status, p, note = significance(grade(value, threshold), groups, worst, rates, ctx=ctx)
        metrics: dict[str, Any] = {f"{prefix}_difference": value, f"{prefix}_ratio": min(ratios) if ratios else None}
        for g in gaps:
            metrics[f"{g.rate}_difference"] = g.difference
            metrics[f"{g.rate}_ratio"] = g.ratio
        metrics.update({"rate": worst.rate, "max_group": worst.max_group, "min_group": worst.min_group,
                        "max_rate": worst.max_rate, "min_rate": worst.min_rate, "p_value_holm": p,
                        "groups": len(groups), "groups_insufficient": len(groups) - len(eligible),
                        "dataset": scan.dataset})
        message = (f"{noun} of '{attribute}' differ by {value * 100:.1f} points: {worst.max_group} "
                   f"{percent(worst.max_rate)} vs {worst.min_group} {percent(worst.min_rate)}"
                   f"{f' ({SHORT[worst.rate]})' if len(rates) > 1 else ''}.{note}")
        yield ctx.result(subject=attribute, value=value, threshold=threshold, status=status, metrics=metrics,
                         message=message, evidence=evidence)


@check("modeling.demographic_parity", title="Demographic parity", options=GapOptions, needs=("current",))
def demographic_parity(ctx: CheckContext) -> Iterator[CheckResult]:
    """Selection rates per sensitive group: max − min difference and min / max ratio (needs no labels)."""
    yield from gap_results(ctx, ["selection_rate"], "demographic_parity", "Selection rates", needs_labels=False)


@check("modeling.equal_opportunity", title="Equal opportunity", options=GapOptions, needs=("current",))
def equal_opportunity(ctx: CheckContext) -> Iterator[CheckResult]:
    """True positive rates per sensitive group: qualified people should get the same chance in every group."""
    yield from gap_results(ctx, ["true_positive_rate"], "equal_opportunity", "True positive rates",
                           needs_labels=True)


@check("modeling.equalized_odds", title="Equalized odds", options=GapOptions, needs=("current",))
def equalized_odds(ctx: CheckContext) -> Iterator[CheckResult]:
    """The worse of the true and false positive rate gaps between sensitive groups (fairlearn's equalized odds)."""
    yield from gap_results(ctx, ["true_positive_rate", "false_positive_rate"], "equalized_odds",
                           "Error rates", needs_labels=True)


def _reference_group(option: Any, attribute: str) -> str | None:
    if isinstance(option, dict):
        return option.get(attribute)
    return option


@check("modeling.disparate_impact", title="Disparate impact", options=DisparateImpactOptions, needs=("current",))
def disparate_impact(ctx: CheckContext) -> Iterator[CheckResult]:
    """Each group's selection rate over the highest group's (four-fifths rule), and over a reference group."""
    scan, skipped = fairness_scan(ctx, needs_labels=False)
    if skipped:
        yield skipped
        return
    minimum = ctx.options.min_group_size
    threshold = ctx.threshold()
    for attribute, groups in scan.groups.items():
        comparisons = [(None, gap(groups, "selection_rate", min_group_size=minimum))]
        ref = _reference_group(ctx.options.reference_group, attribute)
        if ref is not None:
            names = [g.name for g in groups]
            if ref not in names:
                if isinstance(ctx.options.reference_group, dict):
                    raise ConfigError(f"checks.modeling.disparate_impact.reference_group: '{ref}' is not a group "
                                      f"of '{attribute}' (groups: {', '.join(names)})")
            else:
                comparisons.append((ref, _versus(groups, ref, minimum)))
        for versus, g in comparisons:
            yield _impact_result(ctx, scan, attribute, groups, g, versus, threshold)


def _versus(groups: list[Group], ref: str, minimum: int) -> Gap:
    """The lowest selection rate of the other groups against the reference group's."""
    base = next(g for g in groups if g.name == ref)
    rate = base.rates["selection_rate"]
    others = [(g.rates["selection_rate"], g.name) for g in sorted(groups, key=lambda g: g.name)
              if g.name != ref and g.rows >= minimum and g.rates["selection_rate"] is not None]
    if base.rows < minimum or rate is None or not others:
        return Gap("selection_rate", None, None, ref, None, rate, None)
    low = min(others, key=lambda v: v[0])
    return Gap("selection_rate", rate - low[0], low[0] / rate if rate else None, ref, low[1], rate, low[0])


def _impact_result(ctx: CheckContext, scan: GroupScan, attribute: str, groups: list[Group], g: Gap,
                   versus: str | None, threshold: Threshold) -> CheckResult:
    minimum = ctx.options.min_group_size
    top = g.max_rate
    impact = {grp.name: {"impact_ratio": (grp.rates["selection_rate"] / top
                                          if top and grp.rates["selection_rate"] is not None else None)}
              for grp in groups}
    evidence = {"tables": [group_table(groups, min_group_size=minimum, extra=impact)],
                "charts": [interval_chart(groups, "selection_rate", attribute, four_fifths=True)], "sql": [scan.sql]}
    subject = attribute if versus is None else f"{attribute} vs {versus}"
    against = "the highest-rate group" if versus is None else f"reference group {versus}"
    if g.ratio is None:
        return ctx.result(subject=subject, status="skip", evidence=evidence,
                          message=f"Skipped: no impact ratio for '{attribute}' against {against} (needs groups of at "
                                  f"least {minimum} rows with a positive selection rate).")
    status, p, note = significance(grade(g.ratio, threshold), groups, g, ["selection_rate"], ctx=ctx)
    line = threshold.fail
    side = ("under the four-fifths line" if line == 0.8 else f"under the {line:g} line") \
        if line is not None and g.ratio < line else "within the four-fifths rule" if line == 0.8 else "above the line"
    outcome = ctx.options.outcome
    message = (f"{g.min_group} are {outcome} at {g.ratio:.2f}× the rate of {g.max_group} "
               f"({percent(g.min_rate)} vs {percent(g.max_rate)}), {side}")
    if g.max_group == MISSING and versus is None:
        # People who did not state the attribute are a group, but a reviewer also wants a named one.
        named = gap([x for x in groups if x.name != MISSING], "selection_rate", min_group_size=minimum)
        if named.ratio is not None and named.min_group == g.min_group and named.max_group != g.min_group:
            message += (f"; against {named.max_group} it is {named.ratio:.2f}× "
                        f"({percent(named.min_rate)} vs {percent(named.max_rate)})")
    message += f".{note}"
    metrics = {"impact_ratio": g.ratio, "demographic_parity_ratio": g.ratio if versus is None else None,
               "demographic_parity_difference": g.difference if versus is None else None,
               "disadvantaged_group": g.min_group, "comparison_group": g.max_group,
               "max_group": g.max_group, "min_group": g.min_group, "max_rate": g.max_rate, "min_rate": g.min_rate,
               "p_value_holm": p, "reference_group": versus, "dataset": scan.dataset}
    return ctx.result(subject=subject, value=g.ratio, threshold=threshold, status=status, metrics=metrics,
                      message=message, evidence=evidence)
