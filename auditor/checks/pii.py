"""data.pii: personal data in the datasets, found in SQL over every value of every text column.

The scan itself (auditor.audit.personal, auditor.engine.pii) is shared with the report's redaction
and the data dictionary; this module grades it. Only masked examples ever reach the report.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from pydantic import Field

from auditor.audit.context import REFERENCE_PREFIX, CheckContext
from auditor.audit.options import CheckOptions, Rate
from auditor.audit.personal import PersonalColumn, scan_table
from auditor.audit.registry import check
from auditor.engine.pii import HINT_NAMES, KIND_NAMES
from auditor.report import CheckResult, Threshold, table


class PiiOptions(CheckOptions):
    share: Rate = Field(0.05, description="a text column holds personal data when at least this share of its non-null "
                        "values look like one kind (email, phone, card, IBAN, IP, SSN, date of birth)")
    ignore: list[str] = Field(default_factory=list, description="columns known to hold no personal data: "
                              "neither their names nor their values are tested, and their values are shown")
    sensitive_as_feature: Literal["pass", "warn", "fail"] = Field(
        "warn", description="the status of a sensitive attribute (columns.sensitive) that columns.features lists "
        "as a model input")


def _sides(ctx: CheckContext) -> Iterator[tuple[str, str]]:
    """(dataset, subject prefix): current, the reference and a prediction log of its own, with rows."""
    for name, prefix in (("current", ""), ("reference", REFERENCE_PREFIX), ("predictions", "predictions: ")):
        ds = ctx.run.datasets.get(name)
        if ds is not None and ds.rows:
            yield name, prefix


def _evidence_text(found: PersonalColumn, share: float) -> str:
    parts = []
    for kind in found.kinds(share):
        example = found.examples.get(kind)
        parts.append(f"{found.shares[kind]:.1%} of its {found.values:,} values look like {KIND_NAMES[kind]}"
                     + (f" (e.g. {example})" if example else ""))
    if found.hint:
        parts.append(f"its name suggests {HINT_NAMES.get(found.hint, found.hint)}")
    return "; ".join(parts)


def _table(found: PersonalColumn) -> dict:
    rows = [[KIND_NAMES[k], round(found.shares[k] * (found.values or 0)), found.shares[k], found.examples.get(k)]
            for k in sorted(found.shares, key=lambda k: -found.shares[k])]
    if found.hint:
        rows.append([f"column name ({found.hint})", None, None, None])
    return table(f"Personal data in '{found.column}'", ["looks like", "values", "match rate", "masked example"], rows)


@check("data.pii", title="Personal data", options=PiiOptions, needs=("current",))
def personal_data(ctx: CheckContext) -> Iterator[CheckResult]:
    """Text columns whose values look like emails, phones, card numbers (Luhn), IBANs (mod 97), IPs, SSNs or dates of birth, or whose names suggest personal data: warns; a model feature fails."""
    opts = ctx.options
    declared = ctx.config.columns.features
    features = set(declared or ())
    sensitive_features = [c for c in ctx.roles.sensitive if c in features] if declared is not None else []
    threshold = Threshold(warn=opts.share, fail=None)
    for name, prefix in _sides(ctx):
        found, sql = scan_table(ctx.run, name, ignore=opts.ignore)
        scanned = [c for c, f in found.items() if f.values is not None]
        holding = {c: f for c, f in found.items() if f.holds(opts.share)}
        for col, evidence in holding.items():
            is_feature = col in features
            status = "fail" if is_feature and evidence.strong(opts.share) else "warn"
            message = f"'{col}' in {name} holds personal data: {_evidence_text(evidence, opts.share)}."
            if is_feature:
                message += (" It is a model feature (columns.features)." if status == "fail" else
                            " It is a model feature; dates alone are weak evidence, so this warns.")
            elif declared is None:
                message += " columns.features is not set, so whether the model uses it is unknown."
            if name == "current" and col in sensitive_features:
                message += " It is also a sensitive attribute the model uses."
                status = max(status, opts.sensitive_as_feature, key=("pass", "warn", "fail").index)
            yield ctx.result(
                subject=f"{prefix}{col}", status=status, value=evidence.top_share, threshold=threshold,
                message=message, dataset=name, columns=[col],
                metrics={"personal_data": True,
                         "kinds": ", ".join(KIND_NAMES[k] for k in evidence.kinds(opts.share)) or None,
                         "name_suggests": evidence.hint, "values": evidence.values, "model_feature": is_feature,
                         "sensitive_feature": name == "current" and col in sensitive_features,
                         **{f"share_{k}": s for k, s in evidence.shares.items()}},
                evidence={"tables": [_table(evidence)], "sql": sql})
        rows = [[c, found[c].values, found[c].top_share,
                 ", ".join(KIND_NAMES[k] for k in found[c].kinds(opts.share)) or None] for c in scanned]
        where = "" if name == "current" else f" of {name}"
        yield ctx.result(
            subject=f"{prefix}(text columns)", status="pass", value=len(holding), dataset=name, columns=scanned,
            message=(f"{len(holding)} of {len(found)} columns{where} hold personal data ({len(scanned)} text "
                     f"columns scanned, every value)." if holding else
                     f"No column{where} holds personal data ({len(scanned)} text columns scanned, every value)."),
            metrics={"text_columns": len(scanned), "holding": len(holding)},
            evidence={"tables": [table("Text columns scanned", ["column", "values", "highest match rate", "holds"], rows)],
                      "sql": sql})
    current, _ = scan_table(ctx.run, "current", ignore=opts.ignore)
    for col in sensitive_features:
        if col in current and current[col].holds(opts.share):
            continue  # said in its personal-data result above
        yield ctx.result(
            subject=col, status=opts.sensitive_as_feature, dataset="current", columns=[col],
            message=(f"'{col}' is a sensitive attribute (columns.sensitive) and a model feature (columns.features): "
                     "the model can use it directly, whatever the fairness checks find in its outcomes."),
            metrics={"sensitive_feature": True})
