"""Data quality in SQL: nulls per subgroup and constant columns."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations

from pydantic import Field, model_validator

from auditor.audit.context import CheckContext
from auditor.audit.failures import ExportOptions
from auditor.audit.options import CheckOptions, Factor, Rate, Size, ordered
from auditor.audit.registry import check
from auditor.engine.sources import Dataset
from auditor.engine.sql import is_float, quote_ident
from auditor.engine.top_values import approximate_top_values, exact_top_values
from auditor.engine.value_counts import HISTOGRAMS_MAX, countable, counted_exactly, value_counts
from auditor.report import MAX_EVIDENCE_ROWS, CheckResult, Threshold, table, worst

MISSING = "(missing)"
# A bar chart shows at most this many groups: those with the highest null rates.
MAX_CHART_GROUPS = 40


def _null(column: str, duck_type: str) -> str:
    c = quote_ident(column)
    return f"({c} IS NULL OR isnan({c}))" if is_float(duck_type) else f"{c} IS NULL"


# ---------------------------------------------------------------- data.subgroup_null_rate

def subgroup_null_sql(ds: Dataset, features: list[str], groupings: list[tuple[str, ...]]) -> str:
    """ONE scan: rows and nulls of every feature, overall and per group of every grouping set."""
    sensitive = sorted({c for g in groupings for c in g})
    keys = [f"{quote_ident(s)}::VARCHAR" for s in sensitive]
    flags = [f"GROUPING({quote_ident(s)})" for s in sensitive]
    nulls = [f"count(CASE WHEN {_null(f, ds.column(f).type)} THEN 1 END)" for f in features]
    sets = ", ".join("(" + ", ".join(quote_ident(c) for c in g) + ")" for g in [(), *groupings])
    return (f"SELECT {', '.join(flags + keys)}, count(*), {', '.join(nulls)} FROM {ds.view} "
            f"GROUP BY GROUPING SETS ({sets})")


class SubgroupNullRateOptions(ExportOptions):
    min_group_size: Size = Field(30, description="groups with fewer rows are not graded")
    warn_factor: Factor = Field(2.0, description="a group's rate at this many times the overall rate...")
    warn_points: Rate = Field(0.05, description="...and this much above it warns")
    fail_factor: Factor = Field(3.0, description="a group's rate at this many times the overall rate...")
    fail_points: Rate = Field(0.10, description="...and this much above it fails")

    @model_validator(mode="after")
    def _fail_beyond_warn(self) -> SubgroupNullRateOptions:
        ordered(self.warn_factor, self.fail_factor, "above", names=("warn_factor", "fail_factor"))
        ordered(self.warn_points, self.fail_points, "above", names=("warn_points", "fail_points"))
        return self


def _in_group(values: dict[str, str]) -> tuple[str, tuple]:
    """SQL true on the rows of one group (its key values compared as text, as the grouping reads them)."""
    parts, params = [], []
    for column, value in sorted(values.items()):
        if value == MISSING:
            parts.append(f"{quote_ident(column)} IS NULL")
        else:
            parts.append(f"CAST({quote_ident(column)} AS VARCHAR) = ?")
            params.append(value)
    return " AND ".join(parts), tuple(params)


def _subgroup_status(rate: float, overall: float, rows: int, opts: SubgroupNullRateOptions) -> str:
    if rows < opts.min_group_size:
        return "pass"
    excess = rate - overall
    if rate >= opts.fail_factor * overall and excess >= opts.fail_points:
        return "fail"
    if rate >= opts.warn_factor * overall and excess >= opts.warn_points:
        return "warn"
    return "pass"


@check("data.subgroup_null_rate", title="Null rate by subgroup", options=SubgroupNullRateOptions,
       needs=("current", "sensitive"))
def subgroup_null_rate(ctx: CheckContext) -> Iterator[CheckResult]:
    """Null rate of each feature within each sensitive group, against its overall rate."""
    ds = ctx.dataset("current")
    sensitive = list(ctx.roles.sensitive)
    summary = ctx.summary("current")
    features = [f for f in ctx.roles.features if f in summary and summary[f].nulls > 0]
    if not features:
        yield ctx.result(status="pass", message="No feature has missing values in current, in any group.")
        return
    groupings = [(s,) for s in sensitive] + list(combinations(sensitive, 2))
    sql = subgroup_null_sql(ds, features, groupings)
    names = sorted(sensitive)
    overall, groups = None, {}
    for row in ctx.engine.query(sql):
        flags, keys, rows, nulls = row[:len(names)], row[len(names):2 * len(names)], row[2 * len(names)], \
            row[2 * len(names) + 1:]
        values = {n: MISSING if k is None else k for n, k, f in zip(names, keys, flags, strict=True) if f == 0}
        if not values:
            overall = (rows, nulls)
            continue
        groups.setdefault(frozenset(values), []).append((values, rows, nulls))
    opts = ctx.options
    for feature_index, feature in enumerate(features):
        total_rows, total_nulls = overall[0], overall[1][feature_index]
        base = total_nulls / total_rows
        for grouping in groupings:
            if feature in grouping:  # a column's own missing group is 100% null by definition
                continue
            name = "×".join(grouping)
            graded, keys = [], {}
            for values, rows, nulls in groups.get(frozenset(grouping), []):
                label = ", ".join(f"{n}={values[n]}" for n in grouping)
                rate = nulls[feature_index] / rows
                keys[label] = values
                graded.append([label, rows, nulls[feature_index], rate,
                               _subgroup_status(rate, base, rows, opts) if rows >= opts.min_group_size
                               else f"not graded: under {opts.min_group_size} rows"])
            graded.sort(key=lambda g: g[0])
            eligible = [g for g in graded if g[1] >= opts.min_group_size]
            status = worst([g[4] for g in eligible])
            top = max(eligible, key=lambda g: g[3], default=None)
            if top is None:
                message = f"No group of {name} has {opts.min_group_size} rows to compare {feature}'s null rate."
            elif status == "pass":
                message = (f"{feature}'s null rate is within bounds in every group of {name} "
                           f"(highest {top[3]:.0%} for {top[0]} vs {base:.0%} overall).")
            else:
                flagged = max((g for g in eligible if g[4] == status), key=lambda g: g[3])
                top = flagged
                message = f"{feature} is {flagged[3]:.0%} null for {flagged[0]} vs {base:.0%} overall."
            for label, _, _, _, verdict in graded:
                if verdict in ("warn", "fail"):
                    where, params = _in_group(keys[label])
                    ctx.export_rows(f"{feature} by {name}", f"{feature} is missing where {label}",
                                    f"{_null(feature, ds.column(feature).type)} AND {where}", params)
            # The chart keeps the groups with the highest null rates (a column of 5,000 groups is no chart).
            charted = sorted(sorted(graded, key=lambda g: -g[3])[:MAX_CHART_GROUPS], key=lambda g: g[0])
            shown = f" ({len(charted)} highest of {len(graded)} groups)" if len(charted) < len(graded) else ""
            yield ctx.result(
                subject=f"{feature} by {name}", status=status, value=top[3] if top else None,
                message=message,
                metrics={"feature": feature, "grouping": name, "overall_null_rate": base,
                         "group": top[0] if top else None, "group_null_rate": top[3] if top else None,
                         "group_rows": top[1] if top else None,
                         "ratio": (top[3] / base if base else None) if top else None,
                         "points": (top[3] - base) if top else None},
                evidence={"tables": [table(f"Null rate of {feature} by {name}",
                                           ["group", "rows", "nulls", "null rate", "verdict"],
                                           graded if len(graded) <= MAX_EVIDENCE_ROWS
                                           else sorted(graded, key=lambda g: -g[3]))],
                          "charts": [{"kind": "bars", "title": f"Null rate of {feature} by {name}{shown}",
                                      "categories": [g[0] for g in charted],
                                      "series": {"current": [g[3] for g in charted]},
                                      "reference_line": {"value": base, "label": "overall"}, "y_label": "null rate"}],
                          "sql": [sql]},
            )


# ---------------------------------------------------------------- data.constant_columns

class ConstantColumnsOptions(CheckOptions):
    warn: Rate = Field(0.99, description="a feature whose most frequent value holds this share of its values warns")


@check("data.constant_columns", title="Constant columns", options=ConstantColumnsOptions, needs=("current",))
def constant_columns(ctx: CheckContext) -> Iterator[CheckResult]:
    """Features that are all null (fail), constant or nearly so (top value share at least 0.99 warns)."""
    ds = ctx.dataset("current")
    summary = ctx.summary("current")
    features = [f for f in ctx.roles.features if f in summary]
    all_null = [f for f in features if summary[f].nulls == summary[f].rows]
    candidates = [f for f in features if f not in all_null]
    # Few distinct values: exact counts per value, shared with data.profile where a histogram per column
    # holds them (a few columns), else the top value counted in SQL; many: a top-k candidate, counted.
    exact = [f for f in candidates if countable(summary[f].type) and counted_exactly(summary[f].distinct)]
    approximate = [f for f in candidates if f not in exact]
    sql, tops = [], {}
    if 0 < len(exact) <= HISTOGRAMS_MAX:
        counted, sql = value_counts(ctx.engine, ds, exact, cache=ctx.run.cache)
        for col in exact:
            # The most frequent value; among equally frequent ones the smallest, so the answer is repeatable.
            tops[col] = min(((v, n) for v, n in counted[col].items()), key=lambda vn: (-vn[1], vn[0]), default=(None, 0))
    elif exact:
        found, sql = exact_top_values(ctx.engine, ds.view, {f: summary[f].type for f in exact})
        tops.update(found)
    if approximate:
        found, more = approximate_top_values(ctx.engine, ds.view, {f: summary[f].type for f in approximate})
        tops.update(found)
        sql += more
    shares = {}
    for col in candidates:
        value, n = tops[col]
        present = summary[col].rows - summary[col].nulls
        shares[col] = (value, n / present if present else None, present)
    threshold = Threshold(warn=ctx.options.warn)
    flagged = 0
    for col in all_null:
        flagged += 1
        yield ctx.result(subject=col, status="fail", value=None, message=f"'{col}' is null in every row of current.",
                         metrics={"rows": summary[col].rows, "nulls": summary[col].nulls}, evidence={"sql": sql})
    for col, (value, share, present) in shares.items():
        if share is None or share < threshold.warn:
            continue
        flagged += 1
        what = "constant" if share == 1 else "nearly constant"
        yield ctx.result(
            subject=col, value=share, threshold=threshold,
            message=f"'{col}' is {what}: {share:.2%} of its {present:,} values are {value!r}.",
            metrics={"top_value": value if isinstance(value, (int, float, str)) else str(value),
                     "top_value_share": share, "values": present}, evidence={"sql": sql})
    rows = [[c, repr(v), s] for c, (v, s, _) in sorted(shares.items(), key=lambda kv: -(kv[1][1] or 0))]
    yield ctx.result(
        subject="(all columns)", status="pass", value=len(features) - flagged,
        message=f"{len(features) - flagged} of {len(features)} features vary (top value under {threshold.warn:.0%}).",
        metrics={"features": len(features), "flagged": flagged},
        evidence={"tables": [table("Most frequent value per feature", ["column", "top value", "share"], rows)],
                  "sql": sql})
