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
from auditor.audit.wording import percent, some
from auditor.errors import ConfigError
from auditor.metrics.group_rates import (
    MISSING,
    Gap,
    Group,
    GroupScan,
    gap,
    holm_pair,
    modeling_scan,
    wilson_interval,
)
from auditor.report import MAX_EVIDENCE_ROWS, CheckResult, Threshold, grade, table


class FairnessOptions(CheckOptions):
    """What every fairness check takes: the group size that counts and the significance test."""

    min_group_size: Size = Field(30, description="groups with fewer rows are marked insufficient, not graded")
    alpha: Probability = Field(0.05, description="a gap past the fail line fails only when its two groups differ "
                                                 "significantly at this level (Holm-corrected z-test); else it warns")


class GapOptions(FairnessOptions):
    warn: Rate | None = Field(0.05, description="a gap (max - min over groups) that warns")
    fail: Rate | None = Field(0.10, description="a gap that fails (when significant)")


class DisparateImpactOptions(FairnessOptions):
    direction: ClassVar[Direction] = "below"

    warn: Rate | None = Field(None, description="an impact ratio under this warns")
    fail: Rate | None = Field(0.8, description="an impact ratio under this fails (the four-fifths rule)")
    reference_group: str | dict[str, str] | None = Field(
        None, description="also compare with this group (or a group per sensitive column: {sex: male})")
    outcome: str | None = Field(None, description="the word for a positive prediction in messages, like approved or "
                                                  "flagged as high risk (default: selected; flagged when "
                                                  "target.favorable_outcome is negative)")
SHORT = {"selection_rate": "selection rate", "true_positive_rate": "true positive rate",
         "false_positive_rate": "false positive rate", "non_selection_rate": "favorable rate (negative predictions)"}
# An interval chart shows at most this many groups: those behind the gap, then the largest.
MAX_CHART_GROUPS = 40
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
    scan = modeling_scan(ctx.run)
    if needs_labels and not scan.labelled:
        why = "columns.label is not set" if not ctx.roles.label else f"'{ctx.roles.label}' has no value in current yet"
        return None, ctx.skip(f"Skipped: needs labels and {why}; without labels only selection rates are graded "
                              "(modeling.demographic_parity, modeling.disparate_impact).")
    return scan, None


def cut_note(scan: GroupScan) -> str:
    """' (prediction = decile_score ≥ 5)' when the predictions were cut from the score, else ''."""
    return f" ({scan.columns.cut})" if scan.columns.cut else ""


def group_table(groups: list[Group], *, min_group_size: int, extra: dict[str, dict[str, Any]] | None = None) -> dict:
    if len(groups) > MAX_EVIDENCE_ROWS:  # kept rows: the graded groups, largest first
        groups = sorted(groups, key=lambda g: (g.rows < min_group_size, -g.rows, g.name))
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


def charted(groups: list[Group], *, keep: tuple[str | None, ...] = ()) -> list[Group]:
    """At most MAX_CHART_GROUPS groups, in name order: those named in `keep` (behind the gap), then the largest."""
    if len(groups) <= MAX_CHART_GROUPS:
        return groups
    ranked = sorted(groups, key=lambda g: (g.name not in keep, -g.rows, g.name))[:MAX_CHART_GROUPS]
    return sorted(ranked, key=lambda g: g.name)


def interval_chart(groups: list[Group], rate: str, attribute: str, *, four_fifths: bool = False,
                   keep: tuple[str | None, ...] = ()) -> dict:
    """A rate per group with its Wilson interval; at most MAX_CHART_GROUPS groups (`keep` among them)."""
    top = max((g.rates[rate] for g in groups if g.rates[rate] is not None), default=None)
    shown = charted(groups, keep=keep)
    values, lower, upper = [], [], []
    for g in shown:
        values.append(g.rates[rate])
        lo, hi = wilson_interval(*g.successes(rate))
        lower.append(lo)
        upper.append(hi)
    line = {"value": 0.8 * top, "label": "four-fifths of the highest rate"} if four_fifths and top else None
    of = f", {len(shown)} of {len(groups)} groups" if len(shown) < len(groups) else ""
    return {"kind": "interval", "title": f"{SHORT[rate].capitalize()} by {attribute} (95% Wilson intervals{of})",
            "categories": [g.name for g in shown], "values": values, "lower": lower, "upper": upper,
            "reference_line": line, "x_label": SHORT[rate]}


def significance(status: str, groups: list[Group], worst: Gap, rates: list[str], *, ctx: CheckContext,
                 a: str | None = None, b: str | None = None) -> tuple[str, float | None, str]:
    """Demote a fail to warn when the two groups behind the gap do not differ significantly."""
    p, pairs = holm_pair(groups, rates, worst.rate, a or worst.max_group, b or worst.min_group,
                         min_group_size=ctx.options.min_group_size)
    if status == "fail" and (p is None or p >= ctx.options.alpha):
        shown = "untestable" if p is None else f"Holm-adjusted p = {p:.2g}"
        return "warn", p, (f" It warns instead of failing: the gap is not statistically significant "
                           f"({shown} over {pairs:,} pairs).")
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
        if len(eligible) < 2 or any(g.difference is None for g in gaps):
            yield ctx.skip(f"Skipped: '{attribute}' has fewer than two groups of at least {minimum} rows "
                           f"with a defined {' and '.join(SHORT[r] for r in rates)}.", subject=attribute)
            continue
        keep = tuple(name for g in gaps for name in (g.max_group, g.min_group))
        evidence = {"tables": [group_table(groups, min_group_size=minimum)], "sql": [scan.sql],
                    "charts": [interval_chart(groups, r, attribute, four_fifths=r == "selection_rate", keep=keep)
                               for r in rates]}
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
                   f"{f' ({SHORT[worst.rate]})' if len(rates) > 1 else ''}{cut_note(scan)}.{note}")
        yield ctx.result(subject=attribute, value=value, threshold=threshold, status=status, metrics=metrics,
                         message=message, evidence=evidence, unit="points")


@check("modeling.demographic_parity", title="Demographic parity", options=GapOptions, needs=("current", "target"))
def demographic_parity(ctx: CheckContext) -> Iterator[CheckResult]:
    """Selection rates per sensitive group: max − min difference and min / max ratio (needs no labels)."""
    yield from gap_results(ctx, ["selection_rate"], "demographic_parity", "Selection rates", needs_labels=False)


@check("modeling.equal_opportunity", title="Equal opportunity", options=GapOptions, needs=("current", "target"))
def equal_opportunity(ctx: CheckContext) -> Iterator[CheckResult]:
    """True positive rates per sensitive group: qualified people should get the same chance in every group."""
    yield from gap_results(ctx, ["true_positive_rate"], "equal_opportunity", "True positive rates",
                           needs_labels=True)


@check("modeling.equalized_odds", title="Equalized odds", options=GapOptions, needs=("current", "target"))
def equalized_odds(ctx: CheckContext) -> Iterator[CheckResult]:
    """The worse of the true and false positive rate gaps between sensitive groups (fairlearn's equalized odds)."""
    yield from gap_results(ctx, ["true_positive_rate", "false_positive_rate"], "equalized_odds",
                           "Error rates", needs_labels=True)


def _reference_group(option: Any, attribute: str) -> str | None:
    if isinstance(option, dict):
        return option.get(attribute)
    return option


@check("modeling.disparate_impact", title="Disparate impact", options=DisparateImpactOptions, needs=("current", "target"))
def disparate_impact(ctx: CheckContext) -> Iterator[CheckResult]:
    """Each group's rate of the favorable outcome over the highest group's (four-fifths rule), and over a reference group."""
    scan, skipped = fairness_scan(ctx, needs_labels=False)
    if skipped:
        yield skipped
        return
    minimum = ctx.options.min_group_size
    threshold = ctx.threshold()
    rate = favorable_rate(ctx)
    for attribute, groups in scan.groups.items():
        comparisons = [(None, gap(groups, rate, min_group_size=minimum))]
        ref = _reference_group(ctx.options.reference_group, attribute)
        if ref is not None:
            names = [g.name for g in groups]
            if ref not in names:
                if isinstance(ctx.options.reference_group, dict):
                    raise ConfigError(f"checks.modeling.disparate_impact.reference_group: '{ref}' is not a group "
                                      f"of '{attribute}' (groups: {some(names)})")
            else:
                comparisons.append((ref, _versus(groups, ref, minimum, rate)))
        for versus, g in comparisons:
            yield _impact_result(ctx, scan, attribute, groups, g, versus, threshold)


def favorable_rate(ctx: CheckContext) -> str:
    """The rate of the outcome that benefits a person: selected, or not selected (target.favorable_outcome)."""
    return "selection_rate" if ctx.target.favorable_outcome == "positive" else "non_selection_rate"


def _versus(groups: list[Group], ref: str, minimum: int, rate_name: str) -> Gap:
    """The lowest favorable rate of the other groups against the reference group's."""
    base = next(g for g in groups if g.name == ref)
    rate = base.rates[rate_name]
    others = [(g.rates[rate_name], g.name) for g in sorted(groups, key=lambda g: g.name)
              if g.name != ref and g.rows >= minimum and g.rates[rate_name] is not None]
    if base.rows < minimum or rate is None or not others:
        return Gap(rate_name, None, None, ref, None, rate, None)
    low = min(others, key=lambda v: v[0])
    return Gap(rate_name, rate - low[0], low[0] / rate if rate else None, ref, low[1], rate, low[0])


def _impact_words(ctx: CheckContext, g: Gap) -> str:
    """'{group} are approved at 0.62× the rate of {group}', or for a favorable negative outcome
    '{group} are not flagged as high risk at 0.62× the rate of {group}'."""
    positive = ctx.target.favorable_outcome == "positive"
    outcome = ctx.options.outcome or ("selected" if positive else "flagged")
    verb = outcome if positive else f"not {outcome}"
    return f"{g.min_group} are {verb} at {g.ratio:.2f}× the rate of {g.max_group}"


def _impact_result(ctx: CheckContext, scan: GroupScan, attribute: str, groups: list[Group], g: Gap,
                   versus: str | None, threshold: Threshold) -> CheckResult:
    minimum, rate = ctx.options.min_group_size, g.rate
    top = g.max_rate
    impact = {grp.name: {**({"favorable_rate": grp.rates[rate]} if rate != "selection_rate" else {}),
                         "impact_ratio": grp.rates[rate] / top if top and grp.rates[rate] is not None else None}
              for grp in groups}
    subject = attribute if versus is None else f"{attribute} vs {versus}"
    against = "the highest-rate group" if versus is None else f"reference group {versus}"
    if g.ratio is None:
        return ctx.skip(f"Skipped: no impact ratio for '{attribute}' against {against} (needs groups of at "
                        f"least {minimum} rows with a positive {SHORT[rate]}).", subject=subject)
    evidence = {"tables": [group_table(groups, min_group_size=minimum, extra=impact)], "sql": [scan.sql],
                "charts": [interval_chart(groups, rate, attribute, four_fifths=True, keep=(g.max_group, g.min_group))]}
    status, p, note = significance(grade(g.ratio, threshold), groups, g, [rate], ctx=ctx)
    line = threshold.fail
    side = ("under the four-fifths line" if line == 0.8 else f"under the {line:g} line") \
        if line is not None and g.ratio < line else "within the four-fifths rule" if line == 0.8 else "above the line"
    message = f"{_impact_words(ctx, g)} ({percent(g.min_rate)} vs {percent(g.max_rate)}), {side}"
    if g.max_group == MISSING and versus is None:
        # People who did not state the attribute are a group, but a reviewer also wants a named one.
        named = gap([x for x in groups if x.name != MISSING], rate, min_group_size=minimum)
        if named.ratio is not None and named.min_group == g.min_group and named.max_group != g.min_group:
            message += (f"; against {named.max_group} it is {named.ratio:.2f}× "
                        f"({percent(named.min_rate)} vs {percent(named.max_rate)})")
    message += f"{cut_note(scan)}.{note}"
    parity = gap(groups, "selection_rate", min_group_size=minimum)  # fairlearn's, on selection rates
    metrics = {"impact_ratio": g.ratio, "favorable_outcome": ctx.target.favorable_outcome,
               "demographic_parity_ratio": parity.ratio if versus is None else None,
               "demographic_parity_difference": parity.difference if versus is None else None,
               "disadvantaged_group": g.min_group, "comparison_group": g.max_group,
               "max_group": g.max_group, "min_group": g.min_group, "max_rate": g.max_rate, "min_rate": g.min_rate,
               "p_value_holm": p, "reference_group": versus, "dataset": scan.dataset}
    return ctx.result(subject=subject, value=g.ratio, threshold=threshold, status=status, metrics=metrics,
                      message=message, evidence=evidence)
