"""Scoping: is the project card complete, and does the data to support it exist?"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from auditor.audit.context import CheckContext
from auditor.audit.options import CheckOptions, Rate, Size
from auditor.audit.registry import check
from auditor.audit.wording import some
from auditor.config import CARD_FIELDS
from auditor.engine.sql import quote_ident
from auditor.report import CheckResult, Threshold, table


def _filled(value: object) -> bool:
    """Present and not a placeholder: `auditor init` writes 'TODO: ...' for a person to replace."""
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip()) and not value.strip().upper().startswith("TODO")
    if isinstance(value, (list, dict)):
        return bool(value)
    return True


@check("scoping.project_card", title="Project card")
def project_card(ctx: CheckContext) -> Iterator[CheckResult]:
    """The project card is complete: a problem statement, an owner, intended use, success metrics, deployment."""
    card = ctx.config.project.model_dump(mode="json")
    rows, missing = [], {"fail": [], "warn": [], "info": []}
    for name, meaning, severity in CARD_FIELDS:
        present = _filled(card.get(name))
        rows.append([name, "present" if present else "missing", meaning])
        if not present:
            missing[severity].append(name)
    filled = sum(r[1] == "present" for r in rows)
    status = "fail" if missing["fail"] else "warn" if missing["warn"] else "pass"
    if status == "pass":
        message = f"The project card has all {len(CARD_FIELDS) - len(missing['info'])} required fields."
    else:
        message = "The project card lacks " + ", ".join(missing["fail"] + missing["warn"]) + "."
    if missing["info"]:
        message += " Also worth adding: " + ", ".join(missing["info"]) + "."
    yield ctx.result(
        status=status, value=filled / len(CARD_FIELDS), message=message,
        metrics={"fields_filled": filled, "fields_total": len(CARD_FIELDS),
                 "missing_required": ", ".join(missing["fail"] + missing["warn"]) or None},
        evidence={"tables": [table("Card fields", ["field", "state", "what it says"], rows)]},
    )


# Roles a training/reference set is not expected to carry: logs have them, training data does not.
LOG_ONLY_ROLES = {"latency", "model_version", "timestamp", "prediction", "score"}

GROUP_SIZES_SQL = "SELECT {col}::VARCHAR AS grp, count(*) AS n FROM {view} GROUP BY ALL ORDER BY n, grp"
LABEL_COVERAGE_SQL = "SELECT count({label}), count(*) FROM {view}"


class DataAvailabilityOptions(CheckOptions):
    min_group_size: Size = Field(30, description="a sensitive group with fewer rows warns")
    min_label_coverage: Rate = Field(0.5, description="a smaller share of labelled rows in current warns")


@check("scoping.data_availability", title="Data availability", options=DataAvailabilityOptions, needs=("current",))
def data_availability(ctx: CheckContext) -> Iterator[CheckResult]:
    """Every dataset exists and has rows, role columns exist, labels are there, sensitive groups are large enough."""
    yield from _datasets(ctx)
    yield from _label_coverage(ctx)
    for col in ctx.roles.sensitive:
        yield _group_sizes(ctx, col)


def _datasets(ctx: CheckContext) -> Iterator[CheckResult]:
    rows, problems, notes = [], [], []
    roles = ctx.roles.role_columns
    for name, ds in ctx.run.datasets.items():
        absent = [f"{role} ({col})" for role, col in roles.items() if ds.column(col) is None]
        rows.append([name, ds.source, ds.rows, len(ds.columns), ", ".join(absent) or "—"])
        if ds.rows == 0:
            problems.append(f"dataset '{name}' is empty")
        critical = [a for a in absent if name == "predictions" and a.split(" ")[0] in ("timestamp", "score", "prediction")]
        if critical:
            problems.append(f"'{name}' lacks {', '.join(critical)}")
        elif absent and name == "reference":
            expected = [a for a in absent if a.split(" ")[0] not in LOG_ONLY_ROLES]
            if expected:
                notes.append(f"'reference' lacks {', '.join(expected)}: comparisons with it will skip")
    status = "fail" if problems else "warn" if notes else "pass"
    message = "; ".join(problems + notes) + "." if problems or notes else \
        f"All {len(ctx.run.datasets)} datasets have rows and the declared role columns."
    yield ctx.result(
        subject="datasets", status=status, value=len(problems), message=message[0].upper() + message[1:],
        metrics={f"rows_{n}": d.rows for n, d in ctx.run.datasets.items()},
        evidence={"tables": [table("Datasets", ["dataset", "source", "rows", "columns", "missing role columns"], rows)]},
    )


def _label_coverage(ctx: CheckContext) -> Iterator[CheckResult]:
    label = ctx.roles.label
    if not label:
        return
    threshold = Threshold(warn=ctx.options.min_label_coverage, fail=None, direction="below")
    metrics, sql = {}, []
    for name in ("current", "predictions", "reference"):
        ds = ctx.run.datasets.get(name)
        if ds is None or ds.column(label) is None or ds.rows == 0:
            continue
        query = LABEL_COVERAGE_SQL.format(label=quote_ident(label), view=ds.view)
        labelled, total = ctx.engine.query_one(query)
        metrics[f"label_coverage_{name}"] = labelled / total
        sql.append(query)
    value = metrics.get("label_coverage_current")
    pct = f"{value:.1%}" if value is not None else "unknown"
    yield ctx.result(
        subject="label coverage", value=value, threshold=threshold, metrics=metrics,
        message=f"{pct} of current rows have a label ('{label}').", evidence={"sql": sql},
    )


def _group_sizes(ctx: CheckContext, col: str) -> CheckResult:
    ds = ctx.dataset("current")
    query = GROUP_SIZES_SQL.format(col=quote_ident(col), view=ds.view)
    groups = [("(missing)" if g is None else g, n) for g, n in ctx.engine.query(query)]
    minimum = ctx.options.min_group_size
    small = [g for g, n in groups if n < minimum]
    smallest = min((n for _, n in groups), default=0)
    threshold = Threshold(warn=minimum, fail=None, direction="below")
    message = (f"{len(small)} of {len(groups)} groups of '{col}' have fewer than {minimum} rows "
               f"({some([str(g) for g in small])}): their fairness results are not graded."
               if small else f"All {len(groups)} groups of '{col}' have at least {minimum} rows (smallest: {smallest}).")
    return ctx.result(
        subject=col, value=smallest, threshold=threshold, message=message,
        metrics={"groups": len(groups), "groups_below_minimum": len(small), "smallest_group_rows": smallest},
        evidence={"tables": [table(f"Rows per group of {col}", ["group", "rows"], [list(g) for g in groups])],
                  "sql": [query]},
    )
