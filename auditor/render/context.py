"""Turn an AuditReport into the template context: every value precomputed, sorted, formatted.

Templates only loop and print; all decisions (order, anchors, truncation, number
formatting, which charts to draw) are made here, so the HTML and Markdown
renderers agree and the templates stay readable.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from markupsafe import Markup

from auditor.render.charts import chart_svg, draw_all, drawn_svg
from auditor.render.filters import (
    UNDEFINED,
    fmt_duration,
    fmt_number,
    fmt_threshold,
    fmt_timestamp,
    fmt_value,
    status_emoji,
)
from auditor.render.overview import findings_view, overview_view
from auditor.render.page_budget import PASSING_CHARTS_MAX, PASSING_DETAILS_MAX, page_budget
from auditor.render.provenance import provenance_view
from auditor.render.trends import Trends
from auditor.report import ATTENTION, SEVERITY, STAGES, AuditReport, CheckResult

__all__ = ["Anchors", "build_context", "check_anchors", "slugify", "sort_checks", "stage_groups", "MAX_TABLE_ROWS", "STAGE_TITLES"]

MAX_TABLE_ROWS = 20
STAGE_TITLES = {"scoping": "Scoping", "data": "Data", "modeling": "Modeling", "deployment": "Deployment"}
EMPTY_STAGE = "No checks ran in this stage."
# Display order of statuses in counts: worst first, like everything else.
STATUS_ORDER = ("error", "fail", "warn", "pass", "skip")

def slugify(text: str) -> str:
    """ASCII, lowercase, `[a-z0-9_-]`: stable across runs and machines (never hash()).

    Accents are dropped (é -> e); any other character separates words (group×region -> group-region).
    """
    text = "".join(ch for ch in unicodedata.normalize("NFKD", str(text)) if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9_]+", "-", text.lower()).strip("-")


def sort_checks(checks: list[CheckResult]) -> list[CheckResult]:
    """Worst first (error > fail > warn > pass > skip), then id, then subject."""
    return sorted(checks, key=lambda c: (-SEVERITY.get(c.status, -1), c.id, c.subject or ""))


class Anchors:
    """Unique anchors in the order they are asked for; collisions get -2, -3, ..."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def unique(self, *parts: Any) -> str:
        """An anchor made of the slugs of `parts`, joined by '-'."""
        base = "-".join(slugify(str(p)) or "x" for p in parts if p is not None)
        anchor, n = base, 1
        while anchor in self.used:
            n += 1
            anchor = f"{base}-{n}"
        self.used.add(anchor)
        return anchor

    def __call__(self, check: CheckResult) -> str:
        """A result's anchor: check-<id>[-<subject>]."""
        subject = check.subject if check.subject is not None and slugify(check.subject) else None
        return self.unique("check", check.id, subject)


_SNAKE = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)+")


def header(name: str) -> str:
    """An evidence table's column name as words: `observed_rate` -> `observed rate` (other names as they are)."""
    return name.replace("_", " ") if _SNAKE.fullmatch(name) else name


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _at(row: Any, i: int, columns: list[str]) -> Any:
    if isinstance(row, dict):
        return row.get(columns[i])
    return row[i] if isinstance(row, (list, tuple)) and i < len(row) else None


def _table(table: Any, max_rows: int) -> dict[str, Any]:
    if not isinstance(table, dict):
        table = {}
    columns = [str(c) for c in table.get("columns") or []]
    # Rows are lists (or dicts by column); anything else is shown as a one-cell row, not dropped.
    rows = [r if isinstance(r, (list, tuple, dict)) else [r] for r in table.get("rows") or []]
    # A row longer than the header still shows all its cells, under numbered headers.
    width = max([len(r) for r in rows[:max_rows] if isinstance(r, (list, tuple))] + [len(columns)])
    columns += [f"({i + 1})" for i in range(len(columns), width)]
    shown = []
    for row in rows[:max_rows]:
        cells = [row.get(c) for c in columns] if isinstance(row, dict) else list(row)
        cells += [None] * (len(columns) - len(cells))  # a short row shows undefined cells
        shown.append([fmt_number(v, columns[i]) for i, v in enumerate(cells)])
    total = table.get("total_rows")
    total = max(total if isinstance(total, int) else 0, len(rows))
    # A column is right-aligned when every defined cell in it is a number.
    numeric = [
        any(_is_number(_at(r, i, columns)) for r in rows[:max_rows])
        and all(_is_number(_at(r, i, columns)) or _at(r, i, columns) is None for r in rows[:max_rows])
        for i in range(len(columns))
    ]
    # Short cells never wrap ("2026-10-16" must not break at its hyphens); a column with
    # long text wraps. One class per cell, decided here so the template only prints it.
    wrap = [any(len(r[i]) > 40 for r in shown) for i in range(len(columns))]
    classes = ["num" if n else "wrap" if w else "" for n, w in zip(numeric, wrap, strict=True)]
    return {
        "name": str(table.get("name") or "table"),
        "columns": [header(c) for c in columns],
        "numeric": numeric,
        "classes": classes,
        "rows": shown,
        "shown": len(shown),
        "total": total,
        "truncated": len(shown) < total,
        "note": f"showing {len(shown):,} of {total:,} rows" if len(shown) < total else f"{total:,} rows",
    }


class _Figures:
    """Page-wide figure ids (fig1, fig2, ...): unique, and unlike check anchors they
    can never collide with another id on the page. A spec shown twice (a finding's chart in the
    overview, then beside its check) is drawn once."""

    def __init__(self, draw: bool, specs: list[Any] = ()) -> None:
        self.draw = draw
        self.n = 0
        # Every chart of the page laid out up front, once (render.charts.draw_all).
        specs = list(specs) if draw else []
        self.drawn: dict[int, tuple[Any, tuple[Any, str | None]]] = {
            id(spec): (spec, d) for spec, d in zip(specs, draw_all(specs), strict=True)}

    def __call__(self, spec: Any) -> dict[str, Any]:
        self.n += 1
        title = str(spec.get("title") or "") if isinstance(spec, dict) else ""
        if not self.draw:
            return {"title": title, "svg": Markup("")}
        if id(spec) not in self.drawn:  # the spec is kept alongside: its id stays its own
            self.drawn[id(spec)] = (spec, drawn_svg(spec))
        return {"title": title, "svg": Markup(chart_svg(spec, figure_id=f"fig{self.n}", drawn=self.drawn[id(spec)][1]))}


class _Queries:
    """SQL shown once per page: checks fused into one scan share a query, and repeating
    it under each of them would make up a third of the page. Later uses link to the first."""

    def __init__(self) -> None:
        self.seen: dict[str, tuple[str, str]] = {}

    def __call__(self, text: str, owner: str) -> dict[str, Any]:
        if text in self.seen:
            qid, first = self.seen[text]
            return {"text": None, "id": None, "ref": qid, "label": f"The same query as {first}"}
        qid = f"sql-{len(self.seen) + 1}"
        self.seen[text] = (qid, owner)
        return {"text": text, "id": qid, "ref": None, "label": qid}


def _check(check: CheckResult, anchor: str, figures: _Figures, queries: _Queries,
           detailed: bool = True, charted: bool = True) -> dict[str, Any]:
    name = check.id.rsplit(".", 1)[-1]  # the value is named like its check: null_rate is a rate
    threshold = check.threshold.to_dict() if check.threshold else None
    evidence = check.evidence or {}
    metrics = check.metrics or {}
    sql = [str(q).strip() for q in evidence.get("sql") or []]
    owner = f"{check.title or check.id}" + (f" · {check.subject}" if check.subject is not None else "")
    return {
        "anchor": anchor,
        "id": check.id,
        "stage": check.stage,
        "title": check.title or check.id,
        "subject": check.subject,
        "status": check.status,
        "emoji": status_emoji(check.status),
        "message": check.message or "",
        "value": fmt_value(check.value, name, check.unit),
        "has_value": check.value is not None,
        "threshold": fmt_threshold(threshold, name, check.unit),
        "metrics": [{"name": str(k), "value": fmt_number(v, str(k))} for k, v in metrics.items()],
        "tables": [_table(t, MAX_TABLE_ROWS) for t in evidence.get("tables") or []],
        "charts": [figures(spec) for spec in evidence.get("charts") or []] if charted else [],
        "charts_left_out": 0 if charted else len(evidence.get("charts") or []),
        # Only where the details are shown: a later result links to the first showing of a shared statement.
        "sql": [queries(q, owner) for q in sql] if detailed else [],
        "sql_summary": f"SQL ({len(sql)} {'query' if len(sql) == 1 else 'queries'})",
        "compact": check.status in ("pass", "skip"),
        "files": [_failing_rows(f) for f in evidence.get("files") or []],
        "has_detail": detailed and bool(metrics or evidence.get("tables") or evidence.get("charts")
                                        or evidence.get("sql") or evidence.get("files")),
    }


def _failing_rows(entry: dict[str, Any]) -> dict[str, Any]:
    """An exported failing-rows file as a link and a line: what it holds, and whether it was cut."""
    rows, total = int(entry.get("rows") or 0), int(entry.get("total") or 0)
    if not entry.get("path"):
        text = f"{total:,} rows break “{entry.get('rule')}”; {entry.get('note') or 'not written'}."
    elif entry.get("capped"):
        text = f"{rows:,} of the {total:,} rows that break “{entry.get('rule')}” (the file was cut at export_max_rows)."
    else:
        text = f"{rows:,} rows that break “{entry.get('rule')}”."
    return {"href": entry.get("path"), "text": text}


def _text_items(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [fmt_number(v) for v in value if v not in (None, "")]
    return [fmt_number(value)] if value not in (None, "") else []


def _card_kind(value: Any) -> str:
    """How a card value reads: a mapping (the deployment), a list of mappings (success metrics), a list, text."""
    if isinstance(value, dict):
        return "deployment"
    if isinstance(value, list):
        return "metrics" if any(isinstance(v, dict) for v in value) else "list"
    return "text"


def _project_field(key: str, label: str, kind: str, value: Any) -> dict[str, Any]:
    text: str | None = None
    items: list[str] = []
    if kind == "text" and value not in (None, "", [], {}):
        text = fmt_number(value)
    elif kind == "list":
        items = _text_items(value)
    elif kind == "metrics" and isinstance(value, list):
        for m in value:
            if isinstance(m, dict):
                target = m.get("target")
                items.append(f"{fmt_number(m.get('metric'))}: target {fmt_number(target, str(m.get('metric')))}")
            elif m not in (None, ""):
                items.append(fmt_number(m))
    elif kind == "deployment" and isinstance(value, dict) and value:
        parts = []
        if value.get("mode") not in (None, ""):
            parts.append(f"mode: {fmt_number(value['mode'])}")
        if value.get("latency_budget_ms") is not None:
            parts.append(f"latency budget: {fmt_number(value['latency_budget_ms'])} ms")
        parts += [f"{k}: {fmt_number(v)}" for k, v in sorted(value.items()) if k not in ("mode", "latency_budget_ms")]
        text = " · ".join(parts)
    elif kind == "other" and value not in (None, "", [], {}):
        items = _text_items(value) if isinstance(value, list) else []
        text = None if items else fmt_number(value)
    if not text and not items and value not in (None, "", [], {}):
        text = fmt_number(value)  # an unexpected shape is still shown, as compact JSON
    return {"key": key, "label": label, "text": text, "entries": items, "missing": not text and not items}


def _project(project: dict[str, Any]) -> dict[str, Any]:
    # Every field of the card in report.json's order (the config declares them); how a value reads
    # follows its shape, so a field the card grows is shown without a change here.
    fields = [_project_field(k, k.replace("_", " ").capitalize(), _card_kind(v), v)
              for k, v in project.items() if k != "name"]
    return {
        "name": fmt_number(project.get("name")) if project.get("name") else "Untitled project",
        "fields": fields,
        "missing": [f["label"] for f in fields if f["missing"]],
    }


def _dataset(ds: Any) -> dict[str, Any]:
    ds = ds if isinstance(ds, dict) else {}
    columns = [c for c in ds.get("columns") or [] if isinstance(c, dict)]
    return {
        "name": fmt_number(ds.get("name")),
        "source": fmt_number(ds.get("source")),
        "rows": fmt_number(ds.get("rows")),
        "n_columns": f"{len(columns):,}",
        "columns": [{"name": fmt_number(c.get("name")), "type": fmt_number(c.get("type"))} for c in columns],
        # Columns role inference kept out of the default features, and why ("looks like an id (99.9% distinct)").
        "left_out": [{"name": fmt_number(name), "reason": fmt_number(reason)}
                     for name, reason in (ds.get("left_out") or {}).items()],
    }


def _counts_line(counts: dict[str, int]) -> str:
    return " · ".join(f"{counts[s]} {s}" for s in STATUS_ORDER if counts.get(s))


def stage_groups(report: AuditReport) -> list[tuple[str, list[CheckResult]]]:
    """The results by stage as report.html lists them: known stages in lifecycle order (an unknown
    one last, never dropped), worst first within each."""
    by_stage: dict[str, list[CheckResult]] = {}
    for c in report.checks:
        by_stage.setdefault(c.stage, []).append(c)
    stage_ids = list(STAGES) + sorted(s for s in by_stage if s not in STAGES)
    return [(sid, sort_checks(by_stage.get(sid, []))) for sid in stage_ids]


def check_anchors(report: AuditReport) -> list[tuple[CheckResult, str]]:
    """Each result with its anchor in report.html, assigned in the page's order (so links land)."""
    anchors = Anchors()
    return [(c, anchors(c)) for _, checks in stage_groups(report) for c in checks]


def build_context(report: AuditReport, *, charts: bool = True) -> dict[str, Any]:
    """Everything the templates need. `charts=False` skips drawing SVGs (Markdown has none)."""
    grouped = stage_groups(report)
    detailed, charted = page_budget(grouped)
    specs = [spec for c in report.checks if id(c) in charted for spec in (c.evidence or {}).get("charts") or []]
    anchors, figures, queries = Anchors(), _Figures(charts, specs), _Queries()
    stage_ids = [sid for sid, _ in grouped]
    stages, checks_by_anchor = [], []
    trends = Trends(report.run or {})  # run["history"] of a history-enabled run (auditor.delivery.history)
    for sid, in_stage in grouped:
        checks = [{**_check(c, anchors(c), figures, queries, id(c) in detailed, id(c) in charted), "trend": trends.check(c.id, c.subject)}
                  for c in in_stage]
        checks_by_anchor += checks
        counts = {s: sum(1 for c in checks if c["status"] == s) for s in STATUS_ORDER}
        stages.append({
            "id": sid,
            "anchor": "stage-" + (slugify(sid) or "other"),
            "title": STAGE_TITLES.get(sid, sid.capitalize() or "Other"),
            "checks": checks,
            "empty": not checks,
            "empty_message": EMPTY_STAGE,
            "details_left_out": sum(1 for c in in_stage if id(c) not in detailed),
            "counts": [{"status": s, "count": counts[s], "emoji": status_emoji(s)} for s in STATUS_ORDER if counts[s]],
            "counts_line": _counts_line(counts) or "no checks",
            "size": f"{len(checks)} check{'' if len(checks) == 1 else 's'}",
            "status": _stage_status(checks),
        })
    stage_rank = {sid: i for i, sid in enumerate(stage_ids)}
    history = trends.summary({(c["id"], c["subject"]): c for c in checks_by_anchor})
    findings = findings_view(report, {(c["id"], c["subject"]): c for c in checks_by_anchor})
    overview = overview_view(stages, findings, history)
    for f in overview["top"]:  # only the top findings carry their chart (drawn once, shared with the check)
        f["chart"] = figures(f["chart_spec"]) if f["chart_spec"] is not None and charts else None
    attention = sorted(
        (c for c in checks_by_anchor if c["status"] in ATTENTION),
        key=lambda c: (-SEVERITY[c["status"]], stage_rank[c["stage"]], c["id"], c["subject"] or ""),
    )
    counts = report.counts
    project = _project(report.project or {})
    run = report.run or {}
    tool = report.tool or {}
    status = report.status
    return {
        "title": f"{project['name']}: audit {status}",
        "status": status,
        "status_emoji": status_emoji(status),
        "counts": [{"status": s, "count": counts.get(s, 0), "emoji": status_emoji(s)} for s in STATUS_ORDER],
        "counts_line": _counts_line(counts) or "no checks",
        "total": len(report.checks),
        "attention": attention,
        "findings": findings,
        "overview": overview,
        "history": history,
        "project": project,
        "datasets": [_dataset(d) for d in report.datasets or []],
        "stages": stages,
        "passing_charts_max": PASSING_CHARTS_MAX,
        "passing_details_max": PASSING_DETAILS_MAX,
        "run": {
            "id": fmt_number(run.get("id")) if run.get("id") is not None else UNDEFINED,
            "started_at": fmt_timestamp(run.get("started_at")),
            "finished_at": fmt_timestamp(run.get("finished_at")),
            "duration": fmt_duration(run.get("duration_s")),
            "config_path": fmt_number(run.get("config_path")),
            "config_sha256": str(run.get("config_sha256") or "")[:12] or UNDEFINED,
        },
        "tool": {"name": str(tool.get("name") or "auditor"), "version": str(tool.get("version") or UNDEFINED)},
        "schema_version": report.schema_version,
        "provenance": provenance_view(run),
    }


def _stage_status(checks: list[dict[str, Any]]) -> str:
    graded = [c["status"] for c in checks if c["status"] != "skip"]
    return max(graded, key=lambda s: SEVERITY.get(s, -1)) if graded else ("skip" if checks else "empty")
