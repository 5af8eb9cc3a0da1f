"""Data quality in SQL: subgroup nulls, constant columns, freshness, volume, leakage."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations

from auditor.audit.context import CheckContext
from auditor.audit.registry import check
from auditor.engine.repeats import count_shared
from auditor.engine.sources import Dataset
from auditor.engine.sql import is_float, is_integer, is_numeric, is_temporal, quote_ident
from auditor.engine.summary import ColumnSummary
from auditor.engine.value_counts import countable, value_counts
from auditor.report import CheckResult, Threshold, table, worst

MISSING = "(missing)"


def _null(column: str, duck_type: str) -> str:
    c = quote_ident(column)
    return f"({c} IS NULL OR isnan({c}))" if is_float(duck_type) else f"{c} IS NULL"


# ---------------------------------------------------------------- data.subgroup_null_rate

def subgroup_null_sql(ds: Dataset, features: list[str], groupings: list[tuple[str, ...]]) -> str:
    """ONE scan: rows and nulls of every feature, overall and per group of every grouping set."""
    sensitive = sorted({c for g in groupings for c in g})
    keys = [f"{quote_ident(s)}::VARCHAR" for s in sensitive]
    flags = [f"GROUPING({quote_ident(s)})" for s in sensitive]
    nulls = [f"count(*) FILTER (WHERE {_null(f, ds.column(f).type)})" for f in features]
    sets = ", ".join("(" + ", ".join(quote_ident(c) for c in g) + ")" for g in [(), *groupings])
    return (f"SELECT {', '.join(flags + keys)}, count(*), {', '.join(nulls)} FROM {ds.view} "
            f"GROUP BY GROUPING SETS ({sets})")


def _subgroup_status(rate: float, overall: float, rows: int, opts: dict) -> str:
    if rows < opts["min_group_size"]:
        return "pass"
    excess = rate - overall
    if rate >= opts["fail_factor"] * overall and excess >= opts["fail_points"]:
        return "fail"
    if rate >= opts["warn_factor"] * overall and excess >= opts["warn_points"]:
        return "warn"
    return "pass"


@check("data.subgroup_null_rate", title="Null rate by subgroup",
       defaults={"min_group_size": 30, "warn_factor": 2.0, "warn_points": 0.05, "fail_factor": 3.0,
                 "fail_points": 0.10},
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
            graded = []
            for values, rows, nulls in groups.get(frozenset(grouping), []):
                label = ", ".join(f"{n}={values[n]}" for n in grouping)
                rate = nulls[feature_index] / rows
                graded.append([label, rows, nulls[feature_index], rate,
                               _subgroup_status(rate, base, rows, opts) if rows >= opts["min_group_size"]
                               else f"not graded: under {opts['min_group_size']} rows"])
            graded.sort(key=lambda g: g[0])
            eligible = [g for g in graded if g[1] >= opts["min_group_size"]]
            status = worst([g[4] for g in eligible])
            top = max(eligible, key=lambda g: g[3], default=None)
            if top is None:
                message = f"No group of {name} has {opts['min_group_size']} rows to compare {feature}'s null rate."
            elif status == "pass":
                message = (f"{feature}'s null rate is within bounds in every group of {name} "
                           f"(highest {top[3]:.0%} for {top[0]} vs {base:.0%} overall).")
            else:
                flagged = max((g for g in eligible if g[4] == status), key=lambda g: g[3])
                top = flagged
                message = f"{feature} is {flagged[3]:.0%} null for {flagged[0]} vs {base:.0%} overall."
            yield ctx.result(
                subject=f"{feature} by {name}", status=status, value=top[3] if top else None,
                message=message,
                metrics={"feature": feature, "grouping": name, "overall_null_rate": base,
                         "group": top[0] if top else None, "group_null_rate": top[3] if top else None,
                         "group_rows": top[1] if top else None,
                         "ratio": (top[3] / base if base else None) if top else None,
                         "points": (top[3] - base) if top else None},
                evidence={"tables": [table(f"Null rate of {feature} by {name}",
                                           ["group", "rows", "nulls", "null rate", "verdict"], graded)],
                          "charts": [{"kind": "bars", "title": f"Null rate of {feature} by {name}",
                                      "categories": [g[0] for g in graded],
                                      "series": {"current": [g[3] for g in graded]},
                                      "reference_line": {"value": base, "label": "overall"}, "y_label": "null rate"}],
                          "sql": [sql]},
            )


# ---------------------------------------------------------------- data.constant_columns

def top_value_sql(ds: Dataset, columns: list[str]) -> str:
    """Candidates for each column's most frequent value (space-saving top-k: bounded memory)."""
    parts = [f"approx_top_k({quote_ident(c)}, 1) FILTER (WHERE NOT {_null(c, ds.column(c).type)})" for c in columns]
    return f"SELECT {', '.join(parts)} FROM {ds.view}"


def top_count_sql(ds: Dataset, columns: list[str]) -> str:
    """The exact count of each candidate (a value with 99% of the rows is always the candidate)."""
    return f"SELECT {', '.join(f'count(*) FILTER (WHERE {quote_ident(c)} = ?)' for c in columns)} FROM {ds.view}"


EXACT_VALUES_MAX = 10_000  # columns with about this many distinct values or fewer are counted exactly


@check("data.constant_columns", title="Constant columns", defaults={"warn": 0.99}, needs=("current",))
def constant_columns(ctx: CheckContext) -> Iterator[CheckResult]:
    """Features that are all null (fail), constant or nearly so (top value share at least 0.99 warns)."""
    ds = ctx.dataset("current")
    summary = ctx.summary("current")
    features = [f for f in ctx.roles.features if f in summary]
    all_null = [f for f in features if summary[f].nulls == summary[f].rows]
    candidates = [f for f in features if f not in all_null]
    # Few distinct values: exact counts per value (shared with data.profile); many: a top-k candidate, counted.
    exact = [f for f in candidates if countable(summary[f].type) and summary[f].distinct <= EXACT_VALUES_MAX]
    approximate = [f for f in candidates if f not in exact]
    sql, tops = [], {}
    if exact:
        counted, sql = value_counts(ctx.engine, ds, exact, cache=ctx.run.cache)
        for col in exact:
            # The most frequent value; among equally frequent ones the smallest, so the answer is repeatable.
            tops[col] = min(((v, n) for v, n in counted[col].items()), key=lambda vn: (-vn[1], vn[0]), default=(None, 0))
    if approximate:
        first = top_value_sql(ds, approximate)
        candidates_found = [(top or [None])[0] for top in ctx.engine.query_one(first)]
        second = top_count_sql(ds, approximate)
        counts = ctx.engine.query_one(second, candidates_found)
        sql += [first, second]
        tops.update({col: (value, n) for col, value, n in zip(approximate, candidates_found, counts, strict=True)})
    shares = {}
    for col in candidates:
        value, n = tops[col]
        present = summary[col].rows - summary[col].nulls
        shares[col] = (value, n / present if present else None, present)
    threshold = Threshold(warn=ctx.options["warn"])
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


# ---------------------------------------------------------------- data.freshness

FRESHNESS_SQL = "SELECT epoch(max({ts})), max({ts})::VARCHAR FROM {view}"


@check("data.freshness", title="Data freshness", defaults={"warn": 24, "fail": 72}, needs=("current", "timestamp"))
def freshness(ctx: CheckContext) -> Iterator[CheckResult]:
    """Hours between the newest timestamp in current and the run's as-of time: warn 24, fail 72."""
    ds, ts = ctx.dataset("current"), ctx.roles.timestamp
    if ds.column(ts) is None:  # a log-only timestamp: deployment.freshness watches the prediction log
        yield ctx.skip(f"Skipped: current has no '{ts}' column.")
        return
    duck_type = ds.column(ts).type
    if not is_temporal(duck_type):
        yield ctx.skip(f"Skipped: the timestamp column '{ts}' is {duck_type}, not a date or timestamp.")
        return
    sql = FRESHNESS_SQL.format(ts=quote_ident(ts), view=ds.view)
    epoch, newest = ctx.engine.query_one(sql)
    if epoch is None:
        yield ctx.skip(f"Skipped: '{ts}' has no values in current.")
        return
    hours = (ctx.as_of.timestamp() - float(epoch)) / 3600
    metrics = {"newest": newest, "as_of": ctx.as_of.isoformat(), "age_hours": hours}
    if hours < 0:
        yield ctx.result(status="warn", value=hours, metrics=metrics, evidence={"sql": [sql]},
                         message=f"The newest '{ts}' ({newest}) is {-hours:.1f} hours after the as-of time.")
        return
    yield ctx.result(value=hours, threshold=ctx.threshold(), metrics=metrics, evidence={"sql": [sql]},
                     message=f"The newest row of current is {hours:.1f} hours old ({newest}).")


# ---------------------------------------------------------------- data.volume

@check("data.volume", title="Data volume",
       defaults={"warn_ratio": [0.5, 2.0], "fail_ratio": [0.2, 5.0], "min_rows": None}, needs=("current",))
def volume(ctx: CheckContext) -> Iterator[CheckResult]:
    """Rows in current against the reference (ratio outside 0.5-2 warns, 0.2-5 fails) and a minimum."""
    cur, ref = ctx.dataset("current"), ctx.dataset("reference")
    opts = ctx.options
    ratio = cur.rows / ref.rows if ref is not None and ref.rows else None
    statuses, reasons = ["pass"], []
    if ratio is not None:
        for status, (low, high) in (("fail", opts["fail_ratio"]), ("warn", opts["warn_ratio"])):
            if not low <= ratio <= high:
                statuses.append(status)
                reasons.append(f"{ratio:.2f}× the reference's {ref.rows:,} rows, outside [{low}, {high}]")
                break
    if opts["min_rows"] is not None and cur.rows < opts["min_rows"]:
        statuses.append("fail")
        reasons.append(f"under the minimum of {opts['min_rows']:,}")
    status = worst(statuses)
    if reasons:
        message = f"current has {cur.rows:,} rows: " + "; ".join(reasons) + "."
    elif ratio is not None:
        message = f"current has {cur.rows:,} rows, {ratio:.2f}× the reference's {ref.rows:,}."
    else:
        message = f"current has {cur.rows:,} rows (no reference to compare with)."
    rows = [[d.name, d.rows] for d in (ref, cur) if d is not None]
    yield ctx.result(status=status, value=ratio if ratio is not None else cur.rows, message=message,
                     metrics={"rows_current": cur.rows, "rows_reference": ref.rows if ref else None, "ratio": ratio,
                              "min_rows": opts["min_rows"]},
                     evidence={"tables": [table("Rows per dataset", ["dataset", "rows"], rows)],
                               "sql": [f"SELECT count(*) FROM {d.view}" for d in (ref, cur) if d is not None]})


# ---------------------------------------------------------------- data.leakage

SHARED_IDS_SQL = """SELECT count(*), min(k, {k}) FROM (
  SELECT {id} AS k FROM {current} WHERE {id} IS NOT NULL INTERSECT SELECT {id} FROM {reference})"""


def label_equality_sql(ds: Dataset, label: str, features: list[str]) -> str:
    """ONE scan: labelled rows, and per feature how many of them carry exactly the label's value."""
    lab = quote_ident(label)
    numeric_label = is_numeric(ds.column(label).type)
    parts = [f"count(*) FILTER (WHERE {lab} IS NOT NULL)"]
    for f in features:
        c = quote_ident(f)
        same = (f"{c}::DOUBLE = {lab}::DOUBLE" if numeric_label and is_numeric(ds.column(f).type)
                else f"{c}::VARCHAR = {lab}::VARCHAR")
        parts.append(f"count(*) FILTER (WHERE {lab} IS NOT NULL AND {same})")
    return f"SELECT {', '.join(parts)} FROM {ds.view}"


def _ranges_apart(feature: ColumnSummary, label: ColumnSummary) -> bool:
    """Whether two numeric columns' ranges show they are equal on no row, as `label_equality_sql` compares
    them (as doubles, which keep the order): no infinities, whose finite bounds would not bound them, and
    not both floating, as DuckDB's NaN equals NaN."""
    return (is_numeric(label.type) and is_numeric(feature.type)
            and all((is_integer(s.type) or is_float(s.type)) and s.min is not None and s.max is not None
                    and not s.infinite for s in (feature, label))
            and not (is_float(feature.type) and is_float(label.type))
            and (feature.max < label.min or feature.min > label.max))


def _values_apart(feature: dict, label: dict, numeric: bool) -> bool:
    """Whether two columns' value counts (integers or text) share no value as `label_equality_sql` compares
    them: as doubles when both are numbers, else as text (integers and text print alike in SQL and Python)."""
    form = float if numeric else str
    return not {form(v) for v in feature} & {form(v) for v in label}


@check("data.leakage", title="Leakage", defaults={"splits": None, "label_fail": 0.99, "sample": 20},
       needs=("current",))
def leakage(ctx: CheckContext) -> Iterator[CheckResult]:
    """Ids shared by reference and current (warn; fail for train/test splits) and features equal to the label."""
    cur, ref = ctx.dataset("current"), ctx.dataset("reference")
    id_col, label = ctx.roles.id, ctx.roles.label
    if ctx.options["splits"] not in (None, "train_test"):
        from auditor.errors import ConfigError

        raise ConfigError(f"checks.data.leakage.splits: {ctx.options['splits']!r} is not one of: train_test")
    if id_col and ref is not None and ref.rows and ref.column(id_col) and cur.column(id_col):
        # Bitmaps of the two id ranges tell how many ids are shared without grouping 10M ids; only
        # when some are (or the ids are not small integers) does the intersection run, for its sample.
        shared, statements = count_shared(ctx.engine, cur, ref, id_col, current_summary=ctx.summary("current").get(id_col),
                                          reference_summary=ctx.summary("reference").get(id_col))
        sample = None
        if shared is None or shared:
            sql = SHARED_IDS_SQL.format(id=quote_ident(id_col), current=cur.view, reference=ref.view,
                                        k=int(ctx.options["sample"]))
            shared, sample = ctx.engine.query_one(sql)
            statements.append(sql)
        train_test = ctx.options["splits"] == "train_test"
        status = "pass" if not shared else "fail" if train_test else "warn"
        what = "the training and test sets" if train_test else "reference and current"
        yield ctx.result(
            subject=id_col, status=status, value=shared,
            message=(f"{shared:,} '{id_col}' values appear in both {what}, e.g. "
                     f"{', '.join(map(str, (sample or [])[:5]))}." if shared
                     else f"No '{id_col}' appears in both {what}."),
            metrics={"shared_ids": shared, "splits": ctx.options["splits"]},
            evidence={"tables": [table("Ids in both datasets", [id_col], [[v] for v in sample or []],
                                       total_rows=shared)] if shared else [], "sql": statements})
    if label and cur.column(label):
        features = [f for f in ctx.roles.features if f != label and cur.column(f)]
        if not features:
            return
        # A feature that the summaries show never equals the label is not compared row by row: at 10M
        # rows the comparison costs ~0.15 CPU s a feature, and most features' values never meet the label's.
        summary = ctx.summary("current")
        statements = [q for q in [summary[label].sql] if q]
        apart = {f for f in features if _ranges_apart(summary[f], summary[label])}
        counted = [c for c in [label, *(f for f in features if f not in apart)]
                   if countable(summary[c].type) and summary[c].distinct <= EXACT_VALUES_MAX]
        if counted[:1] == [label] and len(counted) > 1:
            found, more = value_counts(ctx.engine, cur, counted, cache=ctx.run.cache)
            statements += more
            numeric_label = is_numeric(summary[label].type)
            apart |= {f for f in counted[1:]
                      if _values_apart(found[f], found[label], numeric_label and is_numeric(summary[f].type))}
        compared = [f for f in features if f not in apart]
        equal = dict.fromkeys(apart, 0)
        if compared or is_float(summary[label].type):  # a floating label's NaNs count as labelled in SQL
            sql = label_equality_sql(cur, label, compared)
            row = ctx.engine.query_one(sql)
            labelled = row[0]
            equal.update(zip(compared, row[1:], strict=True))
            statements.append(sql)
        else:
            labelled = summary[label].rows - summary[label].nulls
        line = ctx.options["label_fail"]
        shares = [(f, equal[f] / labelled if labelled else None) for f in features]
        leaking = [(f, s) for f, s in shares if s is not None and s >= line]
        for f, share in leaking:
            yield ctx.result(subject=f, value=share, threshold=Threshold(fail=line), evidence={"sql": statements},
                             message=f"'{f}' equals the label '{label}' on {share:.1%} of {labelled:,} labelled rows.",
                             metrics={"label": label, "equal_share": share, "labelled_rows": labelled})
        ranked = sorted(shares, key=lambda fs: -(fs[1] or 0))
        yield ctx.result(
            subject="(features vs label)", status="pass", value=len(features) - len(leaking),
            message=(f"No feature equals the label '{label}' on {line:.0%} of labelled rows." if not leaking else
                     f"{len(leaking)} of {len(features)} features equal the label (reported separately)."),
            metrics={"label": label, "labelled_rows": labelled, "features": len(features)},
            evidence={"tables": [table("Share of labelled rows where the feature equals the label",
                                       ["feature", "equal share"], [list(r) for r in ranked])], "sql": statements})
