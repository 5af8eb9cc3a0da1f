"""Drift of features, predictions and labels: reference against current, graded on effect sizes.

A numeric column takes the worse of normalised Wasserstein (warn 0.1, fail 0.2)
and PSI (warn 0.1, fail 0.25); a categorical one the worse of PSI and
Jensen-Shannon distance (warn 0.1, fail 0.2). KS and chi-square p-values are
reported beside them and do not grade large samples: at a million rows every p-value
is tiny. Small samples are the other way round: at 50 rows a side the PSI of two draws
of one distribution is ~0.4, so noise crosses every line. Under `small_sample` values on
a side, a distance past a line counts only where its test is significant (p < alpha);
otherwise the column passes and the message says the distance is within chance.

Options (`DriftOptions`, per check and per column under `columns: {income: {...}}`):
  method: [wasserstein, psi]   which effect sizes grade (psi, js, wasserstein)
  psi / js / wasserstein: {warn, fail}   the lines of one method
  warn, fail                   when set, the lines of every method in use
The more specific setting wins: a column's over the check's, a method's own
lines over the plain warn/fail at the same level.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field

from auditor.audit.context import CheckContext
from auditor.audit.options import CheckOptions, Lines, NonNegative, Probability, Size, Strict
from auditor.audit.registry import check
from auditor.audit.wording import some
from auditor.config import closest
from auditor.engine.sql import is_numeric, is_temporal
from auditor.errors import ConfigError
from auditor.report import CheckResult, Status, Threshold, grade, table, worst
from auditor.stats.column_drift import ColumnDrift, DriftColumn, Kind, Relation, compare
from auditor.stats.distances import proportions

Method = Literal["psi", "js", "wasserstein"]
# One method or several: `method: psi` is `method: [psi]`.
Methods = Annotated[list[Method] | None, BeforeValidator(lambda v: [v] if isinstance(v, str) else v)]
METRIC_OF = {"psi": "psi", "js": "js_distance", "wasserstein": "wasserstein_norm"}
LABEL_OF = {"psi": "PSI", "js": "JS distance", "wasserstein": "normalised Wasserstein"}
DEFAULT_METHODS: dict[Kind, tuple[str, ...]] = {"numeric": ("wasserstein", "psi"), "categorical": ("psi", "js")}
DEFAULT_LINES = {"psi": Lines(warn=0.1, fail=0.25), "js": Lines(warn=0.1, fail=0.2),
                 "wasserstein": Lines(warn=0.1, fail=0.2)}
METHOD_HELP = "which effect sizes grade: psi, js, wasserstein (default: wasserstein and psi for numbers, psi and js for categories)"
# A chart with more bars than this is unreadable and bloats the report: keep the biggest movers.
MAX_CHART_CATEGORIES = 50


class DriftColumnOptions(Strict):
    """What one column may set for itself, under `columns: {income: {...}}`."""

    method: Methods = Field(None, description=METHOD_HELP)
    warn: NonNegative | None = Field(None, description="the warn line of every method in use")
    fail: NonNegative | None = Field(None, description="the fail line of every method in use")
    psi: Lines | None = Field(None, description="PSI lines")
    js: Lines | None = Field(None, description="Jensen-Shannon distance lines")
    wasserstein: Lines | None = Field(None, description="normalised Wasserstein lines")


class DriftOptions(CheckOptions):
    method: Methods = Field(None, description=METHOD_HELP)
    warn: NonNegative | None = Field(None, description="when set, the warn line of every method in use")
    fail: NonNegative | None = Field(None, description="when set, the fail line of every method in use")
    psi: Lines = Field(DEFAULT_LINES["psi"], description="PSI lines")
    js: Lines = Field(DEFAULT_LINES["js"], description="Jensen-Shannon distance lines (base 2)")
    wasserstein: Lines = Field(DEFAULT_LINES["wasserstein"], description="Wasserstein-1 over the reference's std")
    max_categories: Size = Field(1000, description="categorical columns with more distinct values are skipped")
    top_bins: Size = Field(10, description="bins or categories shown in the evidence, the largest PSI terms first")
    small_sample: Size = Field(1000, description="under this many values on a side, a distance past a line counts only "
                               "where the KS or chi-square test is significant (p < alpha): small samples' "
                               "distances are mostly noise")
    alpha: Probability = Field(0.05, description="the significance level of small samples' tests")
    columns: dict[str, DriftColumnOptions] = Field(default_factory=dict, description="per-column overrides")


class FeatureDriftOptions(DriftOptions):
    drifted_share: Lines = Field(Lines(warn=0.25, fail=0.5), description="the share of drifted features that warns / fails")


def _where(ctx: CheckContext, column: str | None) -> str:
    return f"checks.{ctx.spec.id}" + (f".columns.{column}" if column else "")


def _methods(ctx: CheckContext, column: str, kind: Kind) -> tuple[str, ...]:
    per_column = ctx.options.columns.get(column)
    chosen = per_column.method if per_column is not None and per_column.method is not None else ctx.options.method
    if chosen is None:
        return DEFAULT_METHODS[kind]
    names = list(chosen)
    usable = tuple(n for n in names if kind == "numeric" or n != "wasserstein")
    if not usable:
        where = _where(ctx, column if per_column is not None and per_column.method is not None else None)
        raise ConfigError(f"{where}.method: {', '.join(names)} cannot grade the categorical column '{column}'; "
                          "add psi or js")
    return usable


def _set_lines(level: BaseModel | None, method: str) -> dict[str, float]:
    """The lines a config block sets for a method: its plain warn/fail, then the method's own (more specific)."""
    if level is None:
        return {}
    given = {k: getattr(level, k) for k in ("warn", "fail") if k in level.model_fields_set and getattr(level, k) is not None}
    own = getattr(level, method) if method in level.model_fields_set else None
    if own is not None:
        given.update({k: getattr(own, k) for k in own.model_fields_set if getattr(own, k) is not None})
    return given


def _threshold(ctx: CheckContext, column: str, method: str) -> Threshold:
    """Default lines, then the check's warn/fail, its method lines, the column's warn/fail, its method lines:
    only what the config sets, so a default method line never overrides a warn/fail set for the whole check."""
    default = DEFAULT_LINES[method]
    lines = {"warn": default.warn, "fail": default.fail}
    lines.update(_set_lines(ctx.options, method))
    lines.update(_set_lines(ctx.options.columns.get(column), method))
    return Threshold(warn=lines["warn"], fail=lines["fail"], direction="above")


def _validate_columns(ctx: CheckContext, known: list[str]) -> None:
    for name in ctx.options.columns:
        if name not in known:
            hint = closest(str(name), known)
            raise ConfigError(f"{_where(ctx, None)}.columns.{name}: not a column this check compares"
                              + (f" (did you mean '{hint}'?)" if hint else f"; it compares {some(known)}"))


def _fmt(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.3g}"


def _fmt_p(value: float | None) -> str:
    # A p-value under the smallest double is stored as 0.0 (as scipy gives it); say so rather than "0".
    return "below 1e-300" if value == 0 else _fmt(value)


def _grade(ctx: CheckContext, drift: ColumnDrift) -> tuple[Status, str | None, float | None, Threshold | None]:
    """The worse of the chosen methods: (status, deciding method, its value, its threshold)."""
    col, kind = drift.column.name, drift.column.kind
    graded = []
    for method in _methods(ctx, col, kind):
        value = drift.metrics[METRIC_OF[method]]
        threshold = _threshold(ctx, col, method)
        if value is not None:
            graded.append((grade(value, threshold), method, value, threshold))
    if not graded:
        return "skip", None, None, None
    status = worst([g[0] for g in graded])
    return next(g for g in graded if g[0] == status)


def _message(col: str, status: Status, drift: ColumnDrift, method: str | None, threshold: Threshold | None) -> str:
    m = drift.metrics
    if status == "skip":
        reason = "; ".join(drift.notes) or "no effect size could be computed"
        return f"'{col}' cannot be compared: {reason}."
    if drift.column.kind == "numeric":
        parts = [f"normalised Wasserstein {_fmt(m['wasserstein_norm'])}", f"PSI {_fmt(m['psi'])}",
                 f"KS p-value {_fmt_p(m['ks_pvalue'])}"]
    else:
        parts = [f"PSI {_fmt(m['psi'])}", f"JS distance {_fmt(m['js_distance'])}",
                 f"chi-square p-value {_fmt_p(m['chi2_pvalue'])}"]
        if m.get("new_categories"):
            parts.append(f"new categories: {m['new_category_names']}")
    verdict = {"pass": "has not drifted", "warn": "has drifted somewhat", "fail": "has drifted"}[status]
    line = threshold.fail if status == "fail" else threshold.warn if status == "warn" else None
    because = f" ({LABEL_OF[method]} at or over {line:g})" if line is not None else ""
    return f"'{col}' {verdict}{because}: {', '.join(parts)}."


def _evidence(drift: ColumnDrift, top: int) -> dict[str, list]:
    col = drift.column.name
    ref_share = proportions(drift.reference_counts) if drift.reference_counts else None
    cur_share = proportions(drift.current_counts) if drift.current_counts else None
    ref_share = [float(x) for x in ref_share] if ref_share is not None else [None] * len(drift.bin_labels)
    cur_share = [float(x) for x in cur_share] if cur_share is not None else [None] * len(drift.bin_labels)
    contrib = drift.contributions or [None] * len(drift.bin_labels)
    rows = [[label, drift.reference_counts[i], ref_share[i], drift.current_counts[i], cur_share[i], contrib[i]]
            for i, label in enumerate(drift.bin_labels)]
    ranked = sorted(rows, key=lambda r: -(r[5] or 0.0))
    what = "bins" if drift.column.kind == "numeric" else "categories"
    tables = [table(f"Top contributing {what} of '{col}' (PSI)",
                    ["bin" if what == "bins" else "category", "reference rows", "reference share",
                     "current rows", "current share", "psi_contribution"], ranked[:top], total_rows=len(rows))]
    series = {"reference": ref_share, "current": cur_share}
    if drift.column.kind == "numeric":
        chart = {"kind": "histogram", "title": f"{col}: reference vs current on the PSI bins",
                 "edges": drift.edges, "series": series, "x_label": col}
    else:
        keep = sorted(range(len(rows)), key=lambda i: -(contrib[i] or 0.0))[:MAX_CHART_CATEGORIES]
        keep = sorted(keep) if len(rows) > MAX_CHART_CATEGORIES else list(range(len(rows)))
        more = f" ({len(keep)} of {len(rows)} categories that moved most)" if len(rows) > len(keep) else ""
        chart = {"kind": "bars", "title": f"{col}: reference vs current{more}",
                 "categories": [drift.bin_labels[i] for i in keep],
                 "series": {k: [v[i] for i in keep] for k, v in series.items()}, "y_label": "share of rows"}
    return {"tables": tables, "charts": [chart], "sql": list(drift.sql)}


def drift_results(ctx: CheckContext, columns: list[tuple[str, Kind]], *, reference: str = "reference",
                  current: str = "current") -> list[CheckResult]:
    """One graded result per column: the shared machinery of the three drift checks."""
    _validate_columns(ctx, [c for c, _ in columns])
    ref_ds, cur_ds = ctx.dataset(reference), ctx.dataset(current)
    out, comparable = [], []
    for name, kind in columns:
        ref_col, cur_col = ref_ds.column(name), cur_ds.column(name)
        if ref_col is None:
            out.append(ctx.skip(f"'{name}' is not in the {reference} data, so its drift cannot be measured.",
                                subject=name))
        elif is_temporal(cur_col.type):
            out.append(ctx.skip(f"'{name}' is a date or time ({cur_col.type}); drift is not measured on "
                                "timestamps, which always move.", subject=name))
        elif kind == "numeric" and not (is_numeric(ref_col.type) and is_numeric(cur_col.type)):
            out.append(ctx.skip(f"'{name}' is {ref_col.type} in the {reference} data and {cur_col.type} in the "
                                f"{current} data, so it cannot be compared as numbers.", subject=name))
        elif kind == "categorical" and _too_many_categories(ctx, name, [c for c, k in columns if k == kind],
                                                             reference, current):
            out.append(ctx.skip(f"'{name}' has more than {ctx.options.max_categories:,} distinct values "
                                "(max_categories); category drift is not meaningful there.", subject=name))
        else:
            comparable.append(DriftColumn(name, cur_col.type, kind))
            _methods(ctx, name, kind)  # a bad method is a config error before any scan
    if comparable:
        measured = compare(ctx.engine, Relation(ref_ds.view), Relation(cur_ds.view), comparable,
                           cache=ctx.run.cache)
        for col in comparable:
            out.append(_result(ctx, measured[col.name]))
    order = {name: i for i, (name, _) in enumerate(columns)}
    return sorted(out, key=lambda r: order.get(r.subject, len(order)))


def _too_many_categories(ctx: CheckContext, column: str, categorical: list[str], reference: str,
                         current: str) -> bool:
    limit = ctx.options.max_categories
    found = ctx.distinct_values([reference, current], categorical)
    return any(found[ds].get(column, 0) > limit for ds in (reference, current))


def _within_chance(ctx: CheckContext, drift: ColumnDrift) -> tuple[int, float] | None:
    """(values on the smaller side, the test's p-value) when the sample is small and its test does not
    tell the two sides apart: a distance past a line is then noise, not drift."""
    m = drift.metrics
    fewest = min(m.get("values_reference") or 0, m.get("values_current") or 0)
    p = m.get("ks_pvalue") if drift.column.kind == "numeric" else m.get("chi2_pvalue")
    if fewest < ctx.options.small_sample and p is not None and p >= ctx.options.alpha:
        return fewest, p
    return None


def _result(ctx: CheckContext, drift: ColumnDrift) -> CheckResult:
    col = drift.column.name
    status, method, value, threshold = _grade(ctx, drift)
    metrics = {**drift.metrics, "kind": drift.column.kind, "method": method,
               "methods": ", ".join(_methods(ctx, col, drift.column.kind)),
               "notes": "; ".join(drift.notes) or None}
    message = _message(col, status, drift, method, threshold)
    chance = _within_chance(ctx, drift) if status in ("warn", "fail") else None
    if chance is not None:
        fewest, p = chance
        test = "KS" if drift.column.kind == "numeric" else "chi-square"
        line = threshold.fail if status == "fail" else threshold.warn
        metrics["within_chance"] = True
        message = (f"'{col}' has not drifted beyond chance: {LABEL_OF[method]} {_fmt(value)} is past {line:g}, but "
                   f"with {fewest:,} values on a side the {test} test does not tell the two apart "
                   f"(p-value {_fmt_p(p)}, alpha {ctx.options.alpha:g}; small_sample {ctx.options.small_sample:,}).")
        status = "pass"
    return ctx.result(subject=col, status=status, value=value, threshold=threshold, metrics=metrics,
                      message=message, evidence=_evidence(drift, ctx.options.top_bins))


def _kind(ctx: CheckContext, column: str) -> Kind:
    col = ctx.dataset("current").column(column)
    if ctx.roles.is_categorical(column) or not is_numeric(col.type):
        return "categorical"
    return "numeric"


@check("deployment.feature_drift", title="Feature drift", options=FeatureDriftOptions, needs=("reference", "current"))
def feature_drift(ctx: CheckContext) -> Iterator[CheckResult]:
    """Distribution change of each feature, reference vs current (Wasserstein, PSI, JS; KS and chi-square beside)."""
    skip_roles = {ctx.roles.id, ctx.roles.timestamp} - {None}
    features = [f for f in ctx.roles.features if f not in skip_roles and ctx.dataset("current").column(f)]
    if not features:
        yield ctx.skip("Skipped: there are no feature columns to compare.")
        return
    results = drift_results(ctx, [(f, _kind(ctx, f)) for f in features])
    yield from results
    yield _summary(ctx, results)


def _summary(ctx: CheckContext, results: list[CheckResult]) -> CheckResult:
    graded = [r for r in results if r.status in ("pass", "warn", "fail")]
    drifted = [r.subject for r in graded if r.status == "fail"]
    warned = [r.subject for r in graded if r.status == "warn"]
    lines = ctx.options.drifted_share
    threshold = Threshold(warn=lines.warn, fail=lines.fail)
    share = len(drifted) / len(graded) if graded else None
    metrics = {"features": len(results), "features_graded": len(graded), "features_drifted": len(drifted),
               "features_warned": len(warned), "drifted_share": share,
               "drifted_features": some(drifted) if drifted else None,
               "warned_features": some(warned) if warned else None}
    if share is None:
        message = "No feature could be graded for drift."
    elif drifted:
        message = (f"{len(drifted)} of {len(graded)} features drifted ({share:.0%}): {some(drifted)}.")
    else:
        message = f"None of the {len(graded)} features drifted past its fail line."
    rows = [[r.subject, r.status, r.metrics.get("method"), r.value] for r in results]
    # About the features that drifted: the finding of each drifted feature includes this summary.
    return ctx.result(subject="(all features)", value=share, threshold=threshold, metrics=metrics, message=message,
                      columns=drifted + warned,
                      evidence={"tables": [table("Drift per feature", ["feature", "status", "method", "value"], rows)]})


@check("deployment.prediction_drift", title="Prediction drift", options=DriftOptions,
       needs=("reference", "current"))
def prediction_drift(ctx: CheckContext) -> Iterator[CheckResult]:
    """Distribution change of the model's score (numeric) and predicted class, reference vs current."""
    columns: list[tuple[str, Kind]] = []
    if ctx.roles.score:
        columns.append((ctx.roles.score, "numeric"))
    if ctx.roles.prediction:
        kind: Kind = "numeric" if ctx.config.task == "regression" else "categorical"
        columns.append((ctx.roles.prediction, kind))
    if not columns:
        yield ctx.skip("Skipped: needs columns.score or columns.prediction.")
        return
    yield from drift_results(ctx, columns)


@check("deployment.label_drift", title="Label drift", options=DriftOptions, needs=("reference", "current", "label"))
def label_drift(ctx: CheckContext) -> Iterator[CheckResult]:
    """Distribution change of the label (the outcome), when both reference and current have labels."""
    label = ctx.roles.label
    for name in ("reference", "current"):
        summary = ctx.summary(name).get(label)
        if summary is None or summary.rows == summary.nulls:
            yield ctx.skip(f"Skipped: the {name} data has no labels in '{label}' yet.", subject=label)
            return
    kind: Kind = "numeric" if ctx.config.task == "regression" else "categorical"
    yield from drift_results(ctx, [(label, kind)])
