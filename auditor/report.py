"""The results of an audit as plain, JSON-native data.

`AuditReport.to_dict()` is exactly `report.json`; `AuditReport.from_dict()` reads
it back, so renderers can work from a saved report without touching data.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal

SCHEMA_VERSION = 1

Stage = Literal["scoping", "data", "modeling", "deployment"]
STAGES: tuple[Stage, ...] = ("scoping", "data", "modeling", "deployment")

Status = Literal["pass", "warn", "fail", "error", "skip"]
STATUSES: tuple[Status, ...] = ("pass", "warn", "fail", "error", "skip")

# Worst first: renderers sort by this, and the overall status is the worst graded one.
SEVERITY: dict[str, int] = {"error": 4, "fail": 3, "warn": 2, "pass": 1, "skip": 0}

Direction = Literal["above", "below"]
# How a result's value and threshold read: "points" (a difference of two rates, 0.141 is 14.1 points) or
# "percent" (a relative change, 0.051 is 5.1%); None: as the value's name says (rates as percentages).
Unit = Literal["points", "percent"]


def json_number(value: Any) -> Any:
    """NaN and infinities are not JSON: they become None (documented as 'undefined')."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalar
        return json_number(value.item())
    return value


def json_clean(value: Any) -> Any:
    """Recursively turn a value into JSON-native data (lists, dicts, str, numbers, None)."""
    if isinstance(value, dict):
        return {str(k): json_clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_clean(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return json_number(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return json_number(value.item())
    return str(value)


@dataclass(frozen=True)
class Threshold:
    """Where a measured value turns warn and fail.

    direction "above": the value is bad when it reaches the line (value >= warn);
    direction "below": the value is bad when it falls under the line (value < warn).
    Either line may be None (that status is never given).
    """

    warn: float | None = None
    fail: float | None = None
    direction: Direction = "above"

    def to_dict(self) -> dict[str, Any]:
        return {"warn": self.warn, "fail": self.fail, "direction": self.direction}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Threshold | None:
        if data is None:
            return None
        return cls(warn=data.get("warn"), fail=data.get("fail"), direction=data.get("direction", "above"))


def grade(value: float | None, threshold: Threshold | None) -> Status:
    """Pure grading of a measured value. An undefined value cannot be graded: skip."""
    if threshold is None:
        return "pass"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "skip"

    def past(line: float | None) -> bool:
        if line is None:
            return False
        return value >= line if threshold.direction == "above" else value < line

    if past(threshold.fail):
        return "fail"
    if past(threshold.warn):
        return "warn"
    return "pass"


def worst(statuses: list[str]) -> Status:
    """The worst of a list of statuses by SEVERITY; an empty list passes."""
    graded = [s for s in statuses if s != "skip"]
    if not graded:
        return "pass"
    return max(graded, key=lambda s: SEVERITY[s])  # type: ignore[return-value]


# Where exported failing rows sit beside report.json (`evidence.files[].path` is relative to it).
FAILURES_FOLDER = "failures"


def change_kind(before: str | None, now: str) -> str | None:
    """How a result moved between two runs: `new_failure`, `new_warning`, `recovered`, `improved`,
    or None when it did not (or either side is a skip). A result absent before (`before` None) that
    fails now is a new failure."""
    bad = ("fail", "error")
    if now == "skip" or before == "skip":
        return None
    if now in bad and before not in bad:
        return "new_failure"
    if now == "warn" and before == "pass":
        return "new_warning"
    if before in bad and now in ("pass", "warn"):
        return "recovered"
    if before == "warn" and now == "pass":
        return "improved"
    return None


def empty_evidence() -> dict[str, list]:
    return {"tables": [], "charts": [], "sql": []}


# An evidence table keeps at most this many rows (the first ones: checks put what matters first);
# `total_rows` says how many there were. Bounds report.json whatever the data's cardinality.
MAX_EVIDENCE_ROWS = 100


def table(name: str, columns: list[str], rows: list[list[Any]], *, total_rows: int | None = None) -> dict[str, Any]:
    """An evidence table: named columns and at most MAX_EVIDENCE_ROWS rows of JSON-native cells."""
    return {
        "name": name,
        "columns": list(columns),
        "rows": [json_clean(list(r)) for r in rows[:MAX_EVIDENCE_ROWS]],
        "total_rows": len(rows) if total_rows is None else int(total_rows),
    }


@dataclass(frozen=True)
class CheckResult:
    id: str
    stage: str
    title: str
    status: Status
    message: str
    subject: str | None = None
    value: float | int | str | None = None
    threshold: Threshold | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    evidence: dict[str, list] = field(default_factory=empty_evidence)
    # What the result is about: the dataset it measured and the columns it names (findings and the
    # data dictionary group results by these, not by parsing `subject`).
    dataset: str | None = None
    columns: tuple[str, ...] = ()
    unit: Unit | None = None

    def to_dict(self) -> dict[str, Any]:
        evidence = empty_evidence()
        evidence.update(self.evidence)
        return {
            "id": self.id,
            "stage": self.stage,
            "title": self.title,
            "subject": self.subject,
            "dataset": self.dataset,
            "columns": list(self.columns),
            "status": self.status,
            "value": json_number(self.value),
            "unit": self.unit,
            "threshold": self.threshold.to_dict() if self.threshold else None,
            "message": self.message,
            "metrics": json_clean(self.metrics),
            "evidence": json_clean(evidence),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        return cls(
            id=data["id"],
            stage=data["stage"],
            title=data["title"],
            subject=data.get("subject"),
            dataset=data.get("dataset"),
            columns=tuple(data.get("columns") or ()),
            status=data["status"],
            value=data.get("value"),
            unit=data.get("unit"),
            threshold=Threshold.from_dict(data.get("threshold")),
            message=data["message"],
            metrics=dict(data.get("metrics") or {}),
            evidence=dict(data.get("evidence") or empty_evidence()),
        )


# Bounds on report.json, whatever the data's width or cardinality (docs/report-json.md): a statement is
# cut at MAX_SQL_CHARS. While the report would pass REPORT_BYTES, then, one step after the other: a
# statement a check already showed in an earlier result is left out, statements are cut at SHORT_SQL_CHARS,
# passing results lose their tables and charts, then their metrics (largest first). Failing, warning and
# error results keep everything.
MAX_SQL_CHARS = 20_000
SHORT_SQL_CHARS = 2_000
REPORT_BYTES = 4_500_000


def _cut(sql: str, limit: int = MAX_SQL_CHARS) -> str:
    if len(sql) <= limit:
        return sql
    whole = sql.rsplit("\n-- cut: the first ", 1)
    total = int(whole[1].split(" of ")[1].split(" ")[0].replace(",", "")) if len(whole) == 2 else len(sql)
    return whole[0][:limit] + f"\n-- cut: the first {limit:,} of {total:,} characters"


def _size(result: CheckResult) -> int:
    """The bytes of a result in report.json (its dict is JSON-native already)."""
    return len(json.dumps(result.to_dict(), ensure_ascii=False, separators=(",", ":")))


def bound_results(checks: list[CheckResult], *, budget: int = REPORT_BYTES, other_bytes: int = 0
                  ) -> list[CheckResult]:
    """The results, bounded as REPORT_BYTES says; `other_bytes` is the size of the rest of the report.
    A report under the budget keeps every statement (each at most MAX_SQL_CHARS), table, chart and metric."""
    out = [replace(c, evidence={**empty_evidence(), **c.evidence,
                                "sql": [_cut(str(q)) for q in c.evidence.get("sql") or []]}) for c in checks]
    sizes = [_size(c) for c in out]
    total = other_bytes + sum(sizes)
    shown: set[tuple[str, str]] = set()

    def unseen(c: CheckResult) -> CheckResult:
        sql = [q for q in c.evidence["sql"] if (c.id, q) not in shown]
        shown.update((c.id, q) for q in sql)
        return replace(c, evidence={**c.evidence, "sql": sql})

    def shorter(c: CheckResult) -> CheckResult:
        return replace(c, evidence={**c.evidence, "sql": [_cut(q, SHORT_SQL_CHARS) for q in c.evidence["sql"]]})

    def plain(c: CheckResult) -> CheckResult:
        return replace(c, evidence={**c.evidence, "tables": [], "charts": []})

    def bare(c: CheckResult) -> CheckResult:
        return replace(c, metrics={})

    steps = [(unseen, False), (shorter, True), (plain, True), (bare, True)]
    for step, passing_only in steps:
        if total <= budget:
            break
        order = sorted((i for i, c in enumerate(out) if not passing_only or c.status == "pass"),
                       key=(lambda i: -sizes[i]) if passing_only else (lambda i: i))
        for i in order:
            if total <= budget:
                break
            out[i] = step(out[i])
            before, sizes[i] = sizes[i], _size(out[i])
            total -= before - sizes[i]
    return out


@dataclass(frozen=True)
class Finding:
    """One problem, seen by one or more failing, warning or error results (auditor.audit.findings groups
    them). `results` names each by (check id, subject); `chart` points at its most telling chart:
    ``{"id", "subject", "index"}`` into that result's ``evidence.charts``, or None."""

    title: str
    status: Status
    stage: str
    summary: str
    results: tuple[tuple[str, str | None], ...]
    columns: tuple[str, ...] = ()
    chart: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "status": self.status, "stage": self.stage, "summary": self.summary,
                "columns": list(self.columns), "chart": json_clean(self.chart),
                "results": [{"id": i, "subject": s} for i, s in self.results]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        return cls(title=data["title"], status=data["status"], stage=data["stage"], summary=data["summary"],
                   results=tuple((r["id"], r.get("subject")) for r in data.get("results") or ()),
                   columns=tuple(data.get("columns") or ()), chart=data.get("chart"))

    @classmethod
    def of(cls, result: CheckResult) -> Finding:
        """A finding of one result alone (what a report written before findings existed shows)."""
        charts = (result.evidence or {}).get("charts") or []
        return cls(title=result.title + (f": {result.subject}" if result.subject is not None else ""),
                   status=result.status, stage=result.stage, summary=result.message,
                   results=((result.id, result.subject),), columns=result.columns,
                   chart={"id": result.id, "subject": result.subject, "index": 0} if charts else None)


# The statuses a finding is made of: every such result belongs to exactly one finding.
ATTENTION: tuple[Status, ...] = ("error", "fail", "warn")


@dataclass(frozen=True)
class AuditReport:
    """One audit's results. `run` carries `provenance` (what the report was made from: fingerprints of
    the data, the config, package versions) and may carry `history` (runs recorded with --history): the
    previous runs, each check's values and statuses across them, and the changes since the last run, as
    auditor.delivery.history.attach_history documents; renderers draw trends from it."""

    tool: dict[str, Any]
    run: dict[str, Any]
    project: dict[str, Any]
    datasets: list[dict[str, Any]]
    checks: list[CheckResult]
    schema_version: int = SCHEMA_VERSION
    # Computed when the report is built (auditor.audit.findings); None for a report built by hand or
    # read from a report.json older than findings: `finding_list` then gives one per result.
    findings: list[Finding] | None = None
    # The data dictionary's measures: {"tables": [...]} (auditor.audit.dictionary; docs/report-json.md).
    dictionary: dict[str, Any] = field(default_factory=dict)

    def finding_list(self) -> list[Finding]:
        """The findings, worst first; without computed ones, each failing, warning or error result alone."""
        if self.findings is not None:
            return list(self.findings)
        alone = [Finding.of(c) for c in self.checks if c.status in ATTENTION]
        order = {s: i for i, s in enumerate(STAGES)}
        return sorted(alone, key=lambda f: (-SEVERITY[f.status], order.get(f.stage, len(order))))

    @property
    def counts(self) -> dict[str, int]:
        counts = {s: 0 for s in STATUSES}
        for c in self.checks:
            counts[c.status] += 1
        return counts

    @property
    def status(self) -> Status:
        return worst([c.status for c in self.checks])

    def failed(self) -> list[CheckResult]:
        """The results that failed or raised (`error`), in report order."""
        return [c for c in self.checks if c.status in ("fail", "error")]

    def render(self, fmt: str, **options: Any) -> str | bytes | dict[str, str | bytes]:
        """This report in one output format (auditor.render.formats names them), in memory; a format
        of several files (`dictionary`) gives {file name: text}."""
        from auditor.render.formats import render

        return render(fmt, self, **options)

    def to_html(self) -> str:
        """The self-contained HTML report, as `report.html` holds it."""
        return str(self.render("html"))

    def to_markdown(self, *, report_url: str | None = None) -> str:
        """The Markdown report (a pull-request comment), as `report.md` holds it."""
        return str(self.render("md", report_url=report_url))

    def _repr_html_(self) -> str:
        """A notebook cell shows the report in a frame of its own, so its styles stay inside it."""
        page = html.escape(self.to_html(), quote=True)
        return (f'<iframe srcdoc="{page}" title="auditor report" '
                'style="width: 100%; height: 720px; border: 1px solid #ccc;"></iframe>')

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "tool": json_clean(self.tool),
            "run": json_clean(self.run),
            "project": json_clean(self.project),
            "datasets": json_clean(self.datasets),
            "status": self.status,
            "counts": self.counts,
            "findings": [f.to_dict() for f in self.finding_list()],
            "checks": [c.to_dict() for c in self.checks],
            "dictionary": json_clean(self.dictionary),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditReport:
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ValueError(f"unsupported report schema_version {version!r} (this auditor reads {SCHEMA_VERSION})")
        return cls(
            schema_version=version,
            tool=data["tool"],
            run=data["run"],
            project=data.get("project") or {},
            datasets=data.get("datasets") or [],
            checks=[CheckResult.from_dict(c) for c in data["checks"]],
            findings=[Finding.from_dict(f) for f in data["findings"]] if "findings" in data else None,
            dictionary=data.get("dictionary") or {},
        )
