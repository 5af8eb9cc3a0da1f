"""The Markdown report, for pull-request comments and CI summaries (GitHub-flavoured).

GitHub rejects comments over 65,536 characters, so the report is made to fit
`max_chars` whatever the size of the audit: it is rendered with less and less
detail until it fits, in this order: evidence tables get shorter, passing checks
lose their evidence, then their other detail (metrics); then failing checks lose
their evidence; then details and lists are cut, worst checks kept. The report
says what was trimmed. Failing checks are the last thing to go.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment

from auditor.render.context import build_context
from auditor.render.filters import STOCK_TEMPLATES, template_environment
from auditor.report import AuditReport

__all__ = ["render_markdown", "MARKER", "TEMPLATE_DIR"]

TEMPLATE_DIR = STOCK_TEMPLATES / "md"
# First line of every Markdown report: lets a CI job find and update its own comment.
MARKER = "<!-- auditor-report -->"
MAX_COLUMNS = 8  # evidence tables wider than this lose their rightmost columns in Markdown
CELL_CHARS = 80
MESSAGE_CHARS = 300
RESULTS_PER_FINDING = 10  # results named under a finding; the rest are counted


@dataclass(frozen=True)
class _Plan:
    """How much detail one rendering attempt keeps."""

    evidence_rows: int = 10  # rows per evidence table; 0 leaves the tables out
    pass_evidence: bool = True  # evidence tables of passing and skipped checks
    pass_detail: bool = True  # metrics and evidence of passing and skipped checks
    detail_cap: int | None = None  # checks per stage that keep their detail; None: all
    list_cap: int | None = None  # checks listed per stage and in the summary; None: all


# Tried in order until one fits; then lists are cut by bisection (see render_markdown).
PLANS = (
    _Plan(),
    _Plan(evidence_rows=3),
    _Plan(evidence_rows=3, pass_evidence=False),
    # Failing checks keep their 3 rows of evidence longer than passing checks keep their metrics.
    _Plan(evidence_rows=3, pass_evidence=False, pass_detail=False),
    _Plan(evidence_rows=0, pass_detail=False),
    *(_Plan(evidence_rows=0, pass_detail=False, detail_cap=cap) for cap in (50, 20, 5, 0)),
)


@lru_cache(maxsize=8)
def environment(templates: Path | None = None) -> Environment:
    """Markdown has its own environment: no HTML autoescaping (the `md` filter escapes)."""
    return template_environment("md", autoescape=False, templates=templates)


def _md_table(table: dict[str, Any], rows: int) -> dict[str, Any]:
    columns = table["columns"][:MAX_COLUMNS]
    dropped = len(table["columns"]) - len(columns)
    shown = [r[:MAX_COLUMNS] for r in table["rows"][:rows]]
    note = f"showing {len(shown):,} of {table['total']:,} rows" if len(shown) < table["total"] else f"{table['total']:,} rows"
    if dropped:
        note += f", first {MAX_COLUMNS} of {len(table['columns'])} columns"
    return {
        "name": table["name"],
        "columns": columns,
        "align": ["---:" if num else "---" for num in table["numeric"][:MAX_COLUMNS]],
        "rows": shown,
        "note": note,
    }


def _detail(check: dict[str, Any], plan: _Plan) -> dict[str, Any] | None:
    show = plan.evidence_rows and (plan.pass_evidence or not check["compact"])
    tables = [_md_table(t, plan.evidence_rows) for t in check["tables"]] if show else []
    if not check["metrics"] and not tables and not check["files"]:
        return None  # the stage table already says everything else
    return {"check": check, "tables": tables}


def _view(ctx: dict[str, Any], plan: _Plan, max_chars: int, report_url: str | None = None) -> dict[str, Any]:
    """The template context for one plan, with a note saying what the plan left out."""
    all_checks = [c for stage in ctx["stages"] for c in stage["checks"]]
    trimmed = []
    if plan.evidence_rows < PLANS[0].evidence_rows and any(len(t["rows"]) > plan.evidence_rows
                                                             for c in all_checks for t in c["tables"]):
        trimmed.append(f"evidence tables cut to {plan.evidence_rows} rows" if plan.evidence_rows
                       else "evidence tables left out")
    if plan.evidence_rows and not plan.pass_evidence and any(c["tables"] for c in all_checks if c["compact"]):
        trimmed.append("evidence of passing and skipped checks left out")
    quiet = sum(1 for c in all_checks if c["compact"] and c["has_detail"])
    if not plan.pass_detail and quiet:
        trimmed.append(f"details of {quiet} passing or skipped checks left out")
    if plan.detail_cap is not None:
        trimmed.append(f"details kept for the {plan.detail_cap} worst checks of each stage" if plan.detail_cap
                       else "check details left out")
    if plan.list_cap is not None:
        trimmed.append(f"lists cut to the {plan.list_cap} worst checks" if plan.list_cap else "check lists left out")
    stages = []
    for stage in ctx["stages"]:
        rows = stage["checks"][: plan.list_cap]  # a None cap slices nothing off
        detailed = [c for c in rows if plan.pass_detail or not c["compact"]][: plan.detail_cap]
        details = [d for d in (_detail(c, plan) for c in detailed) if d is not None]
        stages.append({**stage, "rows": rows, "more": len(stage["checks"]) - len(rows), "details": details})
    attention = ctx["attention"][: plan.list_cap]
    findings = ctx["findings"][: plan.list_cap]
    return {
        **ctx,
        "marker": MARKER,
        "stages": stages,
        "attention": attention,
        "attention_more": len(ctx["attention"]) - len(attention),
        "attention_total": len(ctx["attention"]),
        "findings": findings,
        "findings_more": len(ctx["findings"]) - len(findings),
        "findings_total": len(ctx["findings"]),
        "trim_note": f"Trimmed to fit {max_chars:,} characters: {'; '.join(trimmed)}." if trimmed else "",
        "report_url": report_url,
        "cell_chars": CELL_CHARS,
        "message_chars": MESSAGE_CHARS,
        "results_cap": RESULTS_PER_FINDING,
    }


def render_markdown(report: AuditReport, *, max_chars: int = 60000, report_url: str | None = None,
                    templates: Path | None = None) -> str:
    """The report as GitHub-flavoured Markdown of at most `max_chars` characters.

    The first line is always the hidden marker ``<!-- auditor-report -->``. With `report_url`
    (where report.html is published) the status line and the trimming note link to it.
    """
    ctx = build_context(report, charts=False)
    template = environment(templates).get_template("report.md")

    def attempt(plan: _Plan) -> str | None:
        # Stream, and give up as soon as the text is too long: a 3,000-check audit
        # would otherwise render megabytes per attempt.
        parts, size = [], 0
        for part in template.generate(_view(ctx, plan, max_chars, report_url)):
            parts.append(part)
            size += len(part)
            if size > max_chars:
                return None
        return "".join(parts)

    for plan in PLANS:
        if (text := attempt(plan)) is not None:
            return text
    # Cut the lists: the longest cap that fits, by bisection (the text grows with the cap).
    last = PLANS[-1]
    lo, hi = 0, max([len(ctx["attention"]), len(ctx["findings"])] + [len(s["checks"]) for s in ctx["stages"]]) - 1
    best = None
    while lo <= hi:
        mid = (lo + hi) // 2
        text = attempt(_Plan(evidence_rows=0, pass_detail=False, detail_cap=last.detail_cap, list_cap=mid))
        if text is None:
            hi = mid - 1
        else:
            best, lo = text, mid + 1
    if best is not None:
        return best
    # Even the bare summary is too long (a tiny max_chars or huge names): cut the text.
    text = template.render(_view(ctx, _Plan(evidence_rows=0, pass_detail=False, detail_cap=0, list_cap=0), max_chars,
                                 report_url))
    tail = f"\n\n… cut at {max_chars:,} characters.\n"
    if max_chars < len(MARKER) + 1 + len(tail):
        return text[:max_chars]
    return text[: max_chars - len(tail)] + tail
