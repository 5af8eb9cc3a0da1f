"""Modeling: performance against targets and the reference, calibration, slices, champion vs challenger.

Modeling checks read the labelled `current` dataset. For binary classification, performance and
calibration come from the cached modeling scan that the fairness checks share (one grouping
query, rolled up in Python) plus one ranking query (one sort by score); slices are one more scan.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field, model_validator

from auditor.audit.context import CheckContext
from auditor.audit.options import CheckOptions, NonNegative, Rate, Size, ordered
from auditor.audit.registry import check
from auditor.audit.wording import percent
from auditor.config import closest
from auditor.engine.rollup import Measures
from auditor.errors import ConfigError
from auditor.metrics.cells import classification_measures
from auditor.metrics.curves import quality_charts
from auditor.metrics.evaluate import compute_metrics
from auditor.metrics.group_rates import modeling_scan
from auditor.metrics.performance import (
    METRICS,
    TASK_METRICS,
    ModelColumns,
    binary_metrics,
    canonical_metric,
    regression_aggregates,
    regression_metrics,
    worse_by,
)
from auditor.metrics.slices import slice_scan
from auditor.report import CheckResult, Threshold, grade, table, worst


def columns_of(ctx: CheckContext, dataset_name: str) -> ModelColumns | None:
    return ctx.target.columns(ctx.dataset(dataset_name))


def labelled_inputs(ctx: CheckContext) -> tuple[ModelColumns | None, CheckResult | None]:
    """The current data's label, prediction and score, or a skip saying which is missing."""
    cols = columns_of(ctx, "current")
    if cols is None:
        return None, ctx.skip("Skipped: needs rows in datasets.current.")
    if not cols.label:
        why = "a numeric label" if ctx.config.task == "regression" else "a label"
        return None, ctx.skip(f"Skipped: needs columns.label ({why} in current).")
    if not (cols.prediction or cols.score):
        return None, ctx.skip("Skipped: needs columns.prediction or columns.score.")
    return cols, None


def current_metrics(ctx: CheckContext, cols: ModelColumns) -> tuple[dict[str, float | None], list[str], int]:
    """Metrics of the current data, the SQL behind them and the rows they were computed on."""
    task = ctx.config.task
    if task == "binary_classification":
        scan = modeling_scan(ctx.run)
        values, sql = compute_metrics(ctx.engine, ctx.dataset("current").view, cols, task=task,
                                      counts=scan.overall)
        return values, [scan.sql, *sql], int(scan.overall.get("labelled") or 0)
    values, sql = compute_metrics(ctx.engine, ctx.dataset("current").view, cols, task=task)
    return values, sql, ctx.dataset("current").rows


def success_targets(ctx: CheckContext) -> dict[str, float]:
    targets = {}
    for i, m in enumerate(ctx.config.project.success_metrics):
        name = canonical_metric(m.metric)
        if name is None:
            hint = closest(m.metric, METRICS)
            raise ConfigError(f"project.success_metrics[{i}].metric: unknown metric '{m.metric}'"
                              + (f" (did you mean '{hint}'?)" if hint else f"; known: {', '.join(METRICS)}"))
        targets.setdefault(name, m.target)
    return targets


def _fmt(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.4g}"


class PerformanceOptions(CheckOptions):
    near_target: Rate = Field(0.05, description="within this fraction of a success-metric target warns")
    drop_warn: NonNegative | None = Field(0.02, description="a drop against the reference that warns "
                                                            "(points; a fraction of the reference for errors like MAE)")
    drop_fail: NonNegative | None = Field(0.05, description="a drop against the reference that fails")

    @model_validator(mode="after")
    def _drops_in_order(self) -> PerformanceOptions:
        ordered(self.drop_warn, self.drop_fail, "above", names=("drop_warn", "drop_fail"))
        return self


@check("modeling.performance", title="Model performance", options=PerformanceOptions, needs=("current", "target"))
def performance(ctx: CheckContext) -> Iterator[CheckResult]:
    """Metrics on labelled current data, against the project's success-metric targets and the reference."""
    cols, skipped = labelled_inputs(ctx)
    if skipped:
        yield skipped
        return
    task = ctx.config.task
    values, sql, rows = current_metrics(ctx, cols)
    if not rows:
        yield ctx.skip(f"Skipped: '{cols.label_column}' has no value in current yet: no label has arrived.")
        return
    targets = success_targets(ctx)
    ref_cols = columns_of(ctx, "reference")
    reference: dict[str, float | None] = {}
    if ref_cols is not None and ref_cols.label and (ref_cols.prediction or ref_cols.score):
        reference, ref_sql = compute_metrics(ctx.engine, ctx.dataset("reference").view, ref_cols, task=task)
        sql += ref_sql
    scan = modeling_scan(ctx.run) if task == "binary_classification" else None
    charts, chart_sql = quality_charts(
        ctx.engine, task=task, current=(ctx.dataset("current").view, cols),
        reference=(ctx.dataset("reference").view, ref_cols) if ref_cols is not None and ref_cols.label else None,
        overall=scan.overall if scan else None, groups=scan.groups if scan else None)
    summary_rows = []
    for metric in TASK_METRICS[task]:
        value, ref, target = values.get(metric), reference.get(metric), targets.get(metric)
        higher = METRICS[metric].higher_is_better
        if higher is None:  # the positive rate is neither good nor bad: shown, never graded
            summary_rows.append([metric, value, ref, None, None, "neither"])
            continue
        worse = worse_by(metric, value, ref)
        summary_rows.append([metric, value, ref, worse, target, "higher" if higher else "lower"])
        if value is None or (target is None and worse is None):
            if target is not None:
                why = (f"it needs probabilities, and {ctx.target.not_probability()}"
                       if METRICS[metric].kind == "prob" and not ctx.target.probability
                       else "it is undefined on the current data")
                yield ctx.skip(f"Skipped: {metric} has a target of {target:g}, but {why}.", subject=metric)
            continue
        evidence = {"sql": sql + (chart_sql if metric in charts else []), "charts": charts.get(metric, [])}
        yield _metric_result(ctx, metric, value, ref, target, worse, rows, cols, evidence)
    extras = {k: v for k, v in values.items() if k not in TASK_METRICS[task]}
    yield ctx.result(
        subject="all metrics", status="pass", value=None, columns=cols.names,
        message=f"{len(summary_rows)} metrics on {rows:,} labelled current rows"
                + (" against the reference" if reference else "") + (f" ({cols.cut})" if cols.cut else "") + "."
                + (f" Log loss and Brier score are left out: {ctx.target.not_probability()}."
                   if task == "binary_classification" and cols.score and not ctx.target.probability else ""),
        metrics={**{m: values.get(m) for m in TASK_METRICS[task]}, **extras, "rows": rows, "dataset": "current"},
        evidence={"tables": [table("Metrics", ["metric", "current", "reference", "worse_by", "target", "better"],
                                   summary_rows)], "sql": sql},
    )


def _change(metric: str, worse: float) -> str:
    """How a metric moved against the reference, in its own words: an error that grows rose, a score dropped."""
    spec = METRICS[metric]
    size = f"{abs(worse) * 100:.1f} points" if spec.bounded else f"{abs(worse):.1%}"
    if size.startswith("0.0"):  # a change that rounds to nothing (or a last-bit difference) is no change
        return "did not change"
    return f"{'rose' if (worse > 0) != bool(spec.higher_is_better) else 'dropped'} {size}"


def _metric_result(ctx: CheckContext, metric: str, value: float, ref: float | None, target: float | None,
                   worse: float | None, rows: int, cols: ModelColumns, evidence: dict[str, list]) -> CheckResult:
    """One metric graded on its target and on its change against the reference; the value, threshold and
    words shown are the rule that decided the status (the target's on a tie)."""
    spec, near = METRICS[metric], ctx.options.near_target
    rules, target_words = [], None
    if target is not None:
        line = (Threshold(warn=target * (1 + near), fail=target, direction="below") if spec.higher_is_better
                else Threshold(warn=target * (1 - near), fail=target, direction="above"))
        status = grade(value, line)
        target_words = {"fail": f"{'below' if spec.higher_is_better else 'above'} its target of {target:g}",
                        "warn": f"within {near:.0%} of its target of {target:g}",
                        "pass": f"meeting its target of {target:g}"}[status]
        rules.append((status, value, line, None))
    if worse is not None:
        line = Threshold(warn=ctx.options.drop_warn, fail=ctx.options.drop_fail)
        rules.append((grade(worse, line), worse, line, "points" if spec.bounded else "percent"))
    status = worst([r[0] for r in rules])
    _, shown, threshold, unit = next(r for r in rules if r[0] == status)
    if unit is not None:  # the change against the reference decided
        message = f"{metric} {_change(metric, worse)} against the reference ({_fmt(ref)} then, {_fmt(value)} now)"
        if status in ("warn", "fail"):
            crossed = getattr(threshold, status)
            message += f", past the {status} line of {crossed * 100:g} points" if spec.bounded else \
                f", past the {status} line of {crossed:.0%}"
        message += f"; it is {target_words}" if target_words else ""
    else:
        message = f"{metric} is {_fmt(value)}" + (f", {target_words}" if target_words else "")
        message += f"; the reference had {_fmt(ref)} (it {_change(metric, worse)} since)" if worse is not None else ""
    return ctx.result(
        subject=metric, value=shown, threshold=threshold, status=status, unit=unit, columns=cols.names,
        message=message + (f" ({cols.cut})" if cols.cut else "") + ".",
        metrics={"metric": metric, "current": value, "reference": ref, "target": target, "change": worse,
                 "rows": rows, "dataset": "current"},
        evidence=evidence,
    )


class CalibrationOptions(CheckOptions):
    warn: Rate | None = Field(0.05, description="expected calibration error that warns")
    fail: Rate | None = Field(0.10, description="expected calibration error that fails")


@check("modeling.calibration", title="Calibration", options=CalibrationOptions, needs=("current", "target"))
def calibration(ctx: CheckContext) -> Iterator[CheckResult]:
    """Expected calibration error: predicted probability vs observed rate in ten equal-width score bins."""
    if ctx.config.task != "binary_classification":
        yield ctx.skip(f"Skipped: calibration needs task binary_classification (this project is {ctx.config.task}).")
        return
    cols = columns_of(ctx, "current")
    if cols is None or not cols.label or not cols.score:
        yield ctx.skip("Skipped: needs columns.label and columns.score (a probability) in current.")
        return
    scan = modeling_scan(ctx.run)
    overall = scan.overall
    if not overall.get("scored_labelled"):
        yield ctx.skip(f"Skipped: no current row has both '{cols.label_column}' and '{cols.score_column}'.")
        return
    if not ctx.target.probability:
        yield ctx.skip(f"Skipped: calibration compares probabilities with observed rates, and "
                       f"{ctx.target.not_probability()}.")
        return
    rows, predicted, observed, counts = [], [], [], []
    total = overall["scored_labelled"]
    ece = 0.0
    for b, c in scan.calibration:
        n = c.get("scored_labelled") or 0
        if not n:
            continue
        mean, rate = c["scored_labelled_sum"] / n, c["scored_positives"] / n
        ece += n / total * abs(rate - mean)
        rows.append([f"({b / 10:g}, {(b + 1) / 10:g}]" if b else "[0, 0.1]", n, mean, rate, rate - mean])
        predicted.append(mean)
        observed.append(rate)
        counts.append(n)
    worst_bin = max(rows, key=lambda r: abs(r[4]) * r[1])
    yield ctx.result(
        value=ece, threshold=ctx.threshold(), columns=cols.names,
        message=f"Predicted probabilities are off by {ece:.3f} on average (expected calibration error); "
                f"the worst bin {worst_bin[0]} predicts {percent(worst_bin[2])} and observes {percent(worst_bin[3])}.",
        metrics={"expected_calibration_error": ece, "bins": len(rows), "rows": total, "dataset": "current"},
        evidence={"tables": [table("Reliability", ["score_bin", "rows", "mean_score", "observed_rate", "gap"], rows)],
                  "charts": [{"kind": "reliability", "title": "Reliability (10 equal-width bins)",
                              "predicted": predicted, "observed": observed, "counts": counts}],
                  "sql": [scan.sql]},
    )


def primary_metric(ctx: CheckContext) -> str:
    """The first success metric computable per slice, else accuracy (classification) or MAE."""
    task = ctx.config.task
    for m in ctx.config.project.success_metrics:
        name = canonical_metric(m.metric)
        if name in TASK_METRICS[task] and METRICS[name].per_slice:
            return name
    return "mae" if task == "regression" else "accuracy"


def slice_inputs(cols: ModelColumns, task: str, metric: str) -> tuple[list[str], dict[str, str] | Measures]:
    """Row values and the per-slice aggregates the metric needs (fewer aggregates, faster scan);
    classification counts come from label × prediction cells (auditor.metrics.cells)."""
    inner = [f"{cols.label} AS y"]
    if cols.prediction:
        inner.append(f"{cols.prediction} AS yhat")
    if task == "regression":
        return inner, regression_aggregates("y", "yhat")
    if task == "multiclass":
        return inner, {"rows": "count(*)", "labelled": "count(*) FILTER (WHERE y IS NOT NULL AND yhat IS NOT NULL)",
                       "correct": "count(*) FILTER (WHERE y = yhat)"}
    score = cols.score if METRICS[metric].kind == "prob" else None
    if score:
        inner.append(f"{score} AS s")
    return inner, classification_measures("y", "yhat" if cols.prediction else None, "s" if score else None)


def slice_metric(metric: str, task: str, counts: dict) -> float | None:
    if task == "regression":
        return regression_metrics(counts)[metric]
    if task == "multiclass":
        return counts["correct"] / counts["labelled"] if counts["labelled"] else None
    return binary_metrics(counts)[metric]


class SlicesOptions(CheckOptions):
    warn: NonNegative | None = Field(0.05, description="a slice this many points worse than overall warns (bounded metrics)")
    fail: NonNegative | None = Field(0.10, description="a slice this many points worse than overall fails")
    relative_warn: NonNegative | None = Field(0.25, description="for errors like MAE: a slice this fraction worse warns")
    relative_fail: NonNegative | None = Field(0.5, description="for errors like MAE: a slice this fraction worse fails")
    min_slice_size: Size = Field(100, description="smaller slices are not graded")
    max_categories: Size = Field(50, description="categorical features with more values are not sliced")

    @model_validator(mode="after")
    def _relative_in_order(self) -> SlicesOptions:
        ordered(self.relative_warn, self.relative_fail, "above", names=("relative_warn", "relative_fail"))
        return self


@check("modeling.slices", title="Error analysis by slice", options=SlicesOptions, needs=("current", "target"))
def slices(ctx: CheckContext) -> Iterator[CheckResult]:
    """The primary metric per value of each categorical feature and per quintile of each numeric feature."""
    cols, skipped = labelled_inputs(ctx)
    if skipped:
        yield skipped
        return
    task = ctx.config.task
    if task != "binary_classification" and not cols.prediction:
        yield ctx.skip("Skipped: needs columns.prediction.")
        return
    metric = primary_metric(ctx)
    overall_values, overall_sql, rows = current_metrics(ctx, cols)
    overall = overall_values.get(metric)
    if not rows or overall is None:
        yield ctx.skip(f"Skipped: {metric} is undefined on current (no labelled rows with a prediction).")
        return
    keys, key_sql = ctx.model_slice_keys()
    if not keys:
        yield ctx.skip("Skipped: no categorical or numeric feature to slice by.")
        return
    inner, aggregates = slice_inputs(cols, task, metric)
    scanned, sql = slice_scan(ctx.engine, ctx.dataset("current").view, keys, inner, aggregates, cols.params)
    spec = METRICS[metric]
    threshold = ctx.threshold() if spec.bounded else ctx.threshold(warn="relative_warn", fail="relative_fail")
    minimum = ctx.options.min_slice_size
    statements = [*overall_sql, *key_sql, sql]
    for feature, groups in scanned.items():
        rows_out, eligible = [], []
        for name, counts in groups:
            value = slice_metric(metric, task, counts)
            worse = worse_by(metric, value, overall)
            big = (counts.get("labelled") or 0) >= minimum
            rows_out.append([name, counts["rows"], counts.get("labelled"), value, worse, "yes" if big else "no"])
            if big and worse is not None:
                eligible.append((worse, name, value, counts.get("labelled")))
        evidence = {"tables": [table(f"{metric} by {feature}", ["slice", "rows", "labelled", metric,
                                                                  "worse_than_overall", "graded"], rows_out)],
                    "charts": [{"kind": "bars", "title": f"{metric} by {feature} (overall {_fmt(overall)})",
                                "categories": [r[0] for r in rows_out], "series": {metric: [r[3] for r in rows_out]},
                                "y_label": metric}],
                    "sql": statements}
        if not eligible:
            yield ctx.result(subject=feature, status="skip", evidence=evidence,
                             message=f"Skipped: no slice of '{feature}' has {minimum} labelled rows.")
            continue
        worse, name, value, n = max(eligible)
        how = f"{abs(worse) * 100:.1f} points" if spec.bounded else f"{abs(worse):.0%}"
        yield ctx.result(
            subject=feature, value=worse, threshold=threshold, unit="points" if spec.bounded else "percent",
            message=f"{metric} is worst where {feature} is {name}: {_fmt(value)} on {n:,} rows, "
                    f"{how} {'worse' if worse > 0 else 'better'} than overall ({_fmt(overall)})"
                    + (f" ({cols.cut})" if cols.cut else "") + ".",
            metrics={"metric": metric, "overall": overall, "worst_slice": name, "worst_value": value,
                     "worst_rows": n, "gap": worse, "slices": len(groups), "slices_graded": len(eligible),
                     "dataset": "current"},
            evidence=evidence,
        )
