"""Deployment: performance per window as labels arrive, with the label-free CBPE estimate beside it.

One GROUP BY over the window position gives every window's confusion counts (or regression
sums), its label coverage and its CBPE sums; ROC AUC and average precision take one more
query, one sort by score within each window. The reference's metric is the
baseline. What is graded: the mean of the primary metric over the latest `recent_windows`
windows that have enough labels (a window is graded when at least `min_labelled` rows
and `min_label_coverage` of its rows carry a label: the newest windows, whose outcomes
have not arrived yet, are shown but never graded). Its drop against the reference warns
at 0.02 and fails at 0.05, as modeling.performance; for unbounded metrics (MAE, RMSE,
log loss) the drop is relative to the reference's value.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import Field

from auditor.audit.context import CheckContext
from auditor.audit.options import NonNegative, Rate, Size
from auditor.audit.registry import check
from auditor.audit.windowed import (
    WindowedOptions,
    latest,
    line_chart,
    over_windows,
    query_windows,
    reference_end,
    window_table,
)
from auditor.engine import rollup
from auditor.engine.sources import Dataset
from auditor.engine.sql import bind, select_list
from auditor.engine.windows import WindowRange
from auditor.metrics.cbpe import CBPE_METRICS, expected_metrics
from auditor.metrics.cells import binary_measures, binary_names, binary_source
from auditor.metrics.evaluate import binary_counts, compute_metrics
from auditor.metrics.performance import (
    METRICS,
    ModelColumns,
    binary_metrics,
    canonical_metric,
    ratio,
    regression_aggregates,
    regression_metrics,
    worse_by,
)
from auditor.metrics.ranking import rank_partitions
from auditor.report import CheckResult, grade

PERFORMANCE_SQL = """SELECT {position} AS window_index, {aggregates}
FROM {view} WHERE {in_range}
GROUP BY 1 ORDER BY 1"""


def primary_metric(ctx: CheckContext, mc: ModelColumns) -> str:
    """The first success metric this log can compute; else accuracy (MAE for regression)."""
    task = ctx.config.task
    for wanted in ctx.config.project.success_metrics:
        name = canonical_metric(wanted.metric)
        if name is None:
            continue
        kind = METRICS[name].kind
        if task == "regression" and kind == "regression":
            return name
        if task == "binary_classification" and (
                (kind == "count" and mc.prediction) or (kind in ("rank", "prob") and mc.score)):
            return name
        if task == "multiclass" and name == "accuracy":
            return name
    return "mae" if task == "regression" else "accuracy"


def aggregates(task: str, mc: ModelColumns) -> dict[str, str]:
    """The named aggregates of one window for regression or multiclass (binary windows are cells)."""
    if task == "regression":
        return regression_aggregates(mc.label, mc.prediction)
    both = f"{mc.label} IS NOT NULL AND {mc.prediction} IS NOT NULL"
    return {"rows": "count(*)", "labelled": f"count({mc.label})",
            "classified": f"count(*) FILTER (WHERE {both})",
            "correct": f"count(*) FILTER (WHERE {both} AND {mc.label}::VARCHAR = {mc.prediction}::VARCHAR)"}


def metrics_of(task: str, sums: dict[str, Any], ranking: dict | None = None) -> dict[str, float | None]:
    if task == "regression":
        return regression_metrics(sums)
    if task == "multiclass":
        return {"accuracy": ratio(sums.get("correct") or 0, sums.get("classified") or 0)}
    return {**binary_metrics(sums, ranking), **expected_metrics(sums)}


def _fmt(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.3f}"


def measure_windows(ctx: CheckContext, log: Dataset, wr: WindowRange, mc: ModelColumns, metric: str,
                    extra: dict[str, Any]) -> tuple[list[dict], list[dict], list[str]]:
    """Per window: the aggregates (one GROUP BY) and the metrics (plus one ranked query for AUC/AP)."""
    task = ctx.config.task
    sums: list[dict] = [{} for _ in wr.starts]
    if task == "binary_classification":
        # Grouped by (window, label, prediction) cells and added up: half the CPU of filtered counts.
        source = binary_source(log.view, mc, position=wr.position(), where=wr.filter())
        found, sql = rollup.grouped(ctx.engine, source, keys=["window_index"], sizes={"window_index": len(wr.starts)},
                                    wanted=[("window_index",)], measures=binary_measures(*binary_names(mc)),
                                    params=bind(source, {**wr.params, **extra}))
        for (i,), values in found[("window_index",)].items():
            sums[i] = values
    else:
        aggs = aggregates(task, mc)
        sql = PERFORMANCE_SQL.format(position=wr.position(), aggregates=select_list(aggs), view=log.view,
                                     in_range=wr.filter())
        for row in query_windows(ctx, wr, sql, **extra):
            sums[row[0]] = dict(zip(aggs, row[1:], strict=True))
    statements = [sql]
    rankings: list[dict | None] = [None] * len(wr.starts)
    if METRICS[metric].kind == "rank":
        # The windows' labelled, scored rows and positives are counted above: the ranking's offsets.
        counts = [(i, s["scored_labelled"], s["scored_positives"]) for i, s in enumerate(sums) if s.get("scored_labelled")]
        found, rank_sql = rank_partitions(ctx.engine, log.view, label=mc.label, score=mc.score, partition=wr.position(),
                                          counts=counts, where=wr.filter(), params={**wr.params, **extra},
                                          between=wr.between_positions())
        statements.extend(rank_sql)
        for i, ranking in found.items():
            rankings[i] = ranking
    per_window = [metrics_of(task, s, r) if s else {} for s, r in zip(sums, rankings, strict=True)]
    return sums, per_window, statements


def evidence_of(wr: WindowRange, metric: str, per_window: list[dict], rows: dict[str, list], opts: dict[str, Any],
                ref_value: float | None, statements: list[str]) -> dict[str, list]:
    """The line chart (realised beside CBPE-expected, label coverage) and the per-window table."""
    labels = wr.labels()
    series: dict[str, list] = {f"{metric} (realised)": rows[metric]}
    if metric != "accuracy" and any(m.get("accuracy") is not None for m in per_window):
        series["accuracy (realised)"] = [m.get("accuracy") for m in per_window]
    if any(m.get("expected_accuracy") is not None for m in per_window):
        series["accuracy (CBPE expected)"] = [m.get("expected_accuracy") for m in per_window]
    series["label coverage"] = rows["label_coverage"]
    thresholds = []
    if ref_value is not None and METRICS[metric].bounded:
        sign = -1 if METRICS[metric].higher_is_better else 1
        thresholds = [{"value": ref_value, "label": f"reference {metric}"},
                      {"value": ref_value + sign * opts.fail, "label": f"fail ({opts.fail:g} worse)"}]
    chart = line_chart(f"{metric} per {wr.window} window, as labels arrive", wr, series, thresholds=thresholds,
                       shown=opts.max_windows, combine="mean")
    columns = ["window", "rows", "labelled", "label_coverage", metric, "drop", "status", "accuracy", *CBPE_METRICS]
    table_rows = [[labels[i], rows["rows"][i], rows["labelled"][i], rows["label_coverage"][i], rows[metric][i],
                   rows["drop"][i], rows["status"][i] or "not graded", per_window[i].get("accuracy"),
                   *[per_window[i].get(k) for k in CBPE_METRICS]] for i in range(len(labels))]
    return {"charts": [chart], "sql": statements,
            "tables": [window_table(f"{metric} per window", columns, table_rows, shown=opts.max_windows)]}


class PerformanceOverTimeOptions(WindowedOptions):
    warn: NonNegative | None = Field(0.02, description="a drop against the reference that warns "
                                                       "(points; a fraction of the reference for errors like MAE)")
    fail: NonNegative | None = Field(0.05, description="a drop against the reference that fails")
    recent_windows: Size = Field(3, description="the latest labelled windows graded together")
    min_labelled: Size = Field(100, description="windows with fewer labelled rows are not graded")
    min_label_coverage: Rate = Field(0.5, description="windows with a smaller labelled share are not graded")


@check("deployment.performance_over_time", title="Performance over time", options=PerformanceOverTimeOptions,
       needs=("predictions", "label", "target"))
@over_windows
def performance_over_time(ctx: CheckContext, log: Dataset, wr: WindowRange) -> Iterator[CheckResult]:
    """The primary metric per window on rows whose labels arrived, label coverage, the drop against the reference, CBPE."""
    task, opts = ctx.config.task, ctx.options
    mc = ctx.target.columns(log)
    if mc.label is None or mc.prediction is None:
        yield ctx.skip("Skipped: the log needs a label and a prediction (or a score) column.")
        return
    metric = primary_metric(ctx, mc)
    sums, per_window, statements = measure_windows(ctx, log, wr, mc, metric, mc.params)
    reference, ref_sql = reference_metrics(ctx, task)
    ref_value = reference.get(metric)
    labels = wr.labels()
    rows = {"rows": [int(s.get("rows") or 0) for s in sums], "labelled": [int(s.get("labelled") or 0) for s in sums],
            metric: [m.get(metric) for m in per_window]}
    rows["label_coverage"] = [ratio(lab, n) for lab, n in zip(rows["labelled"], rows["rows"], strict=True)]
    # Windows of the reference's period are shown, never graded as the current state.
    newer = wr.since(reference_end(ctx))
    graded = [i for i, v in enumerate(rows[metric]) if i >= newer and v is not None
              and rows["labelled"][i] >= opts.min_labelled and (rows["label_coverage"][i] or 0) >= opts.min_label_coverage]
    rows["drop"] = [worse_by(metric, rows[metric][i], ref_value) if i in graded else None for i in range(len(labels))]
    threshold = ctx.threshold()
    rows["status"] = [grade(d, threshold) if d is not None else None for d in rows["drop"]]
    first_fail = next((labels[i] for i in graded if rows["status"][i] == "fail"), None)
    first_warn = next((labels[i] for i in graded if rows["status"][i] in ("warn", "fail")), None)
    recent = graded[-int(opts.recent_windows):]
    value = sum(rows[metric][i] for i in recent) / len(recent) if recent else None
    last = latest([s or None for s in sums])
    cbpe_latest = {f"{k}_latest": per_window[last].get(k) if last is not None else None for k in CBPE_METRICS}
    ref_accuracy, ref_expected = reference.get("accuracy"), reference.get("expected_accuracy")
    metrics = {"metric": metric, "value": value, "reference_value": ref_value,
               "drop": worse_by(metric, value, ref_value),
               "recent_windows": ", ".join(labels[i] for i in recent) or None, "graded_windows": len(graded),
               "windows": len(labels), "last_labelled_window": labels[graded[-1]] if graded else None,
               "first_warn_window": first_warn, "first_fail_window": first_fail,
               "label_coverage_latest": rows["label_coverage"][last] if last is not None else None,
               "reference_accuracy": ref_accuracy, "reference_expected_accuracy": ref_expected,
               "calibration_gap": ref_expected - ref_accuracy if None not in (ref_expected, ref_accuracy) else None,
               **cbpe_latest}
    evidence = evidence_of(wr, metric, per_window, rows, opts, ref_value, [*wr.sql, *statements, *ref_sql])
    if value is None:
        why = (f"no window{' after the reference period' if newer else ''} has at least {opts.min_labelled} "
               f"labelled rows and {opts.min_label_coverage:.0%} label coverage yet")
        yield ctx.result(subject=metric, status="skip", metrics=metrics, evidence=evidence,
                         message=f"{metric} cannot be graded over time: {why}.")
        return
    span = labels[recent[0]] if len(recent) == 1 else f"{labels[recent[0]]} to {labels[recent[-1]]}"
    message = f"{metric} was {_fmt(value)} over the latest labelled windows ({span})"
    if ref_value is None:
        yield ctx.result(subject=metric, status="skip", metrics=metrics, evidence=evidence,
                         message=message + "; the reference has no labels to compare it with.")
        return
    message += f", against {_fmt(ref_value)} in the reference"
    if first_fail:
        moved = "dropped" if METRICS[metric].higher_is_better else "rose"
        message += f"; it first {moved} past the fail line in the window of {first_fail}"
    if graded[-1] < len(labels) - 1:
        message += f"; windows after {labels[graded[-1]]} have too few labels to grade"
    if cbpe_latest["expected_accuracy_latest"] is not None:
        message += f" (CBPE expects accuracy {_fmt(cbpe_latest['expected_accuracy_latest'])} in {labels[last]})"
    if mc.cut:
        message += f" ({mc.cut})"
    yield ctx.result(subject=metric, value=metrics["drop"], threshold=threshold, metrics=metrics,
                     unit="points" if METRICS[metric].bounded else "percent",
                     evidence=evidence, message=message + ".")


def reference_metrics(ctx: CheckContext, task: str) -> tuple[dict[str, float | None], list[str]]:
    """The reference's metrics on its labelled rows, CBPE's expectation included; cached per run."""
    ref = ctx.dataset("reference")
    if ref is None or ref.rows == 0:
        return {}, []
    mc = ctx.target.columns(ref)
    if mc.label is None or mc.prediction is None:
        return {}, []
    key = ("deployment.reference_metrics", task)
    if key not in ctx.run.cache:
        statements, sums = [], None
        if task == "binary_classification":
            # One scan gives the counts of every count metric and CBPE's sums; compute_metrics adds the ranking.
            # It is modeling.performance's scan of the reference too (same SQL): the engine runs it once.
            sums, sql = binary_counts(ctx.engine, ref.view, mc)
            statements.append(sql)
        found, more = compute_metrics(ctx.engine, ref.view, mc, task=task, counts=sums)
        if sums is not None:
            found.update(expected_metrics(sums))
        ctx.run.cache[key] = (found, statements + more)
    return ctx.run.cache[key]
