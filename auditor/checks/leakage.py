"""data.leakage: ids shared by reference and current, and features that equal the label."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from pydantic import Field

from auditor.audit.context import CheckContext
from auditor.audit.options import CheckOptions, Count, Rate
from auditor.audit.registry import check
from auditor.engine import long_form
from auditor.engine.repeats import count_shared
from auditor.engine.sources import Dataset
from auditor.engine.sql import is_float, is_integer, is_numeric, quote_ident
from auditor.engine.summary import ColumnSummary
from auditor.engine.value_counts import countable, counted_exactly, value_counts
from auditor.report import CheckResult, Threshold, table

# ---------------------------------------------------------------- data.leakage

SHARED_IDS_SQL = """SELECT count(*), min(k, {k}) FROM (
  SELECT {id} AS k FROM {current} WHERE {id} IS NOT NULL INTERSECT SELECT {id} FROM {reference})"""


def label_equality_sql(ds: Dataset, label: str, features: list[str]) -> str:
    """ONE scan: labelled rows, and per feature how many of them carry exactly the label's value. Counts of
    CASE rather than FILTER clauses: a thousand FILTERs in one aggregate slow down faster than they grow."""
    lab = quote_ident(label)
    numeric_label = is_numeric(ds.column(label).type)
    parts = [f"count({lab})"]
    for f in features:
        c = quote_ident(f)
        same = (f"{c}::DOUBLE = {lab}::DOUBLE" if numeric_label and is_numeric(ds.column(f).type)
                else f"{c}::VARCHAR = {lab}::VARCHAR")
        parts.append(f"count(CASE WHEN {same} THEN 1 END)")
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


class LeakageOptions(CheckOptions):
    splits: Literal["train_test"] | None = Field(
        None, description="train_test: reference and current are a train/test split, so a shared id fails")
    label_fail: Rate = Field(0.99, description="a feature equal to the label on this share of labelled rows fails")
    sample: Count = Field(20, description="shared ids shown in the evidence")


@check("data.leakage", title="Leakage", options=LeakageOptions, needs=("current",))
def leakage(ctx: CheckContext) -> Iterator[CheckResult]:
    """Ids shared by reference and current (warn; fail for train/test splits) and features equal to the label."""
    cur, ref = ctx.dataset("current"), ctx.dataset("reference")
    id_col, label = ctx.roles.id, ctx.roles.label
    if id_col and ref is not None and ref.rows and ref.column(id_col) and cur.column(id_col):
        # Bitmaps of the two id ranges tell how many ids are shared without grouping 10M ids; only
        # when some are (or the ids are not small integers) does the intersection run, for its sample.
        shared, statements = count_shared(ctx.engine, cur, ref, id_col, current_summary=ctx.summary("current").get(id_col),
                                          reference_summary=ctx.summary("reference").get(id_col))
        sample = None
        if shared is None or shared:
            sql = SHARED_IDS_SQL.format(id=quote_ident(id_col), current=cur.view, reference=ref.view,
                                        k=ctx.options.sample)
            shared, sample = ctx.engine.query_one(sql)
            statements.append(sql)
        train_test = ctx.options.splits == "train_test"
        status = "pass" if not shared else "fail" if train_test else "warn"
        what = "the training and test sets" if train_test else "reference and current"
        yield ctx.result(
            subject=id_col, status=status, value=shared,
            message=(f"{shared:,} '{id_col}' values appear in both {what}, e.g. "
                     f"{', '.join(map(str, (sample or [])[:5]))}." if shared
                     else f"No '{id_col}' appears in both {what}."),
            metrics={"shared_ids": shared, "splits": ctx.options.splits},
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
                   if countable(summary[c].type) and counted_exactly(summary[c].distinct)]
        if counted[:1] == [label] and len(counted) > 1:
            found, more = value_counts(ctx.engine, cur, counted, cache=ctx.run.cache,
                                       sizes={c: summary[c].distinct for c in counted})
            statements += more
            numeric_label = is_numeric(summary[label].type)
            apart |= {f for f in counted[1:]
                      if _values_apart(found[f], found[label], numeric_label and is_numeric(summary[f].type))}
        compared = [f for f in features if f not in apart]
        equal = dict.fromkeys(apart, 0)
        if compared or is_float(summary[label].type):  # a floating label's NaNs count as labelled in SQL
            # At most MAX_COLUMNS features a statement, fewer when reading them would not fit: one reading
            # 2,000 columns at once ran out of memory.
            for batch in long_form.batches(compared, read=ctx.engine.read_shares(cur.view)) or [[]]:
                sql = label_equality_sql(cur, label, batch)
                row = ctx.engine.query_one(sql)
                labelled = row[0]
                equal.update(zip(batch, row[1:], strict=True))
                statements.append(sql)
        else:
            labelled = summary[label].rows - summary[label].nulls
        line = ctx.options.label_fail
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
