"""Two audits compared: what a pull request changed (`auditor diff BASE HEAD`).

Results are matched by (check id, subject). Each pair is classified with the change kinds the
history uses (`new_failure`, `new_warning`, `recovered`, `improved`: auditor.report.change_kind),
plus `removed` (a result BASE had and HEAD lacks: a failure that vanished is not a recovery until a
person says so) and `changed` (same status, another value). Values that moved across a warn or fail
line are marked with the line they crossed. The diff is plain JSON-native data; the Markdown is
auditor.render.diff's.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from auditor.errors import ConfigError, DataError
from auditor.report import SEVERITY, AuditReport, CheckResult, Threshold, change_kind, grade

__all__ = ["load_side", "compare_reports", "KIND_ORDER"]

# Worst first: how the changes are listed.
KIND_ORDER = ("new_failure", "new_warning", "removed", "changed", "recovered", "improved")


def load_side(path: Path) -> AuditReport:
    """A report.json, or a run folder (or history root's latest/) holding one."""
    file = path / "report.json" if path.is_dir() else path
    if path.is_dir() and not file.is_file() and (path / "latest" / "report.json").is_file():
        file = path / "latest" / "report.json"
    if not file.is_file():
        raise ConfigError(f"{path}: no report.json there (give a report.json or a run folder)")
    try:
        return AuditReport.from_dict(json.loads(file.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{file}: not an auditor report.json ({exc})") from None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def crossed(before: float | None, after: float | None, threshold: Threshold | None) -> list[dict[str, Any]]:
    """The warn and fail lines a value moved across, e.g. [{"line": "fail", "at": 0.25, "way": "worse"}]."""
    if before is None or after is None or threshold is None:
        return []
    out = []
    for line in ("warn", "fail"):
        at = getattr(threshold, line)
        if at is None:
            continue
        one = Threshold(**{line: at}, direction=threshold.direction)
        was, now = grade(before, one), grade(after, one)
        if was != now:
            out.append({"line": line, "at": at, "way": "worse" if now == line else "better"})
    return out


def _side(report: AuditReport) -> dict[str, Any]:
    run = report.run or {}
    return {"run_id": run.get("id"), "started_at": run.get("started_at"), "status": report.status,
            "counts": report.counts, "project": (report.project or {}).get("name")}


def _entry(base: CheckResult | None, head: CheckResult | None) -> dict[str, Any] | None:
    result = head or base
    assert result is not None
    if head is None:
        kind = "removed" if base.status != "skip" else None  # type: ignore[union-attr]
    else:
        # A result HEAD adds is judged as if it had passed before: failing is new, and so is warning.
        kind = change_kind(base.status if base else "pass", head.status)
    before = _number(base.value) if base else None
    after = _number(head.value) if head else None
    delta = after - before if before is not None and after is not None else None
    if kind is None and head is not None and base is not None and delta not in (None, 0.0) and head.status != "skip":
        kind = "changed"
    if kind is None:
        return None
    threshold = (head or base).threshold  # type: ignore[union-attr]
    return {
        "id": result.id, "stage": result.stage, "title": result.title, "subject": result.subject, "kind": kind,
        "base_status": base.status if base else None, "head_status": head.status if head else None,
        "base_value": before, "head_value": after, "delta": delta,
        "relative_delta": delta / abs(before) if delta is not None and before else None,
        "crossed": crossed(before, after, threshold),
        "threshold": threshold.to_dict() if threshold else None,
        "message": (head or base).message,  # type: ignore[union-attr]
    }


def _rank(entry: dict[str, Any]) -> tuple:
    status = entry["head_status"] or entry["base_status"]
    size = abs(entry["relative_delta"]) if entry["relative_delta"] is not None else 0.0
    return (KIND_ORDER.index(entry["kind"]), -SEVERITY.get(status, 0), -bool(entry["crossed"]), -size,
            entry["id"], entry["subject"] or "")


def compare_reports(base: AuditReport, head: AuditReport) -> dict[str, Any]:
    """What HEAD changed against BASE: the changes worst first, counted by kind.

    `adds_failure` is true when HEAD has a failing or error result that BASE did not have failing:
    `auditor diff` exits 1 then.
    """
    before = {(c.id, c.subject or ""): c for c in base.checks}
    after = {(c.id, c.subject or ""): c for c in head.checks}
    keys = list(after) + [k for k in before if k not in after]
    changes = [e for e in (_entry(before.get(k), after.get(k)) for k in keys) if e is not None]
    changes.sort(key=_rank)
    counts = {kind: sum(1 for e in changes if e["kind"] == kind) for kind in KIND_ORDER}
    counts["crossed"] = sum(1 for e in changes if e["crossed"])
    counts["added"] = sum(1 for k in after if k not in before)
    return {"base": _side(base), "head": _side(head), "counts": counts, "changes": changes,
            "adds_failure": counts["new_failure"] > 0}
