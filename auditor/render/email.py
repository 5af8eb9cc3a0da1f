"""The email report: a MIME message an inbox shows well (stdlib ``email``, no SMTP here).

Shape::

    multipart/mixed
      multipart/alternative
        text/plain                      the same summary as plain text
        multipart/related
          text/html                     table layout, CSS inlined (css-inline)
          image/png  Content-ID <...>   key charts, referenced as cid:...
      text/html attachment report.html  the full report, when small enough

Email clients strip ``<style>``, ignore flexbox and grid, block ``data:`` URIs
and never draw SVG: hence inlined CSS, tables and PNG images by Content-ID.
Gmail clips an HTML part over about 100 KB, so the part is kept under
`max_html_bytes` whatever the size of the audit: failing and warning checks
are listed worst first, cut to what fits, and the email says so.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import css_inline
from jinja2 import Environment, select_autoescape

from auditor.render.charts import chart_png
from auditor.render.context import build_context
from auditor.render.filters import STOCK_TEMPLATES, template_environment
from auditor.render.plots import WIDTH
from auditor.report import AuditReport, CheckResult

__all__ = ["build_email", "render_email", "email_subject", "html_part", "MAX_HTML_BYTES", "TEMPLATE_DIR"]

TEMPLATE_DIR = STOCK_TEMPLATES / "email"
MAX_HTML_BYTES = 90_000
MAX_ATTACHMENT_BYTES = 5_000_000  # a larger report.html is linked instead (mail servers cap messages)
MAX_CHARTS = 4
MAX_CHANGES = 8  # checks named per kind of change since the last run; the rest are counted
CHART_DPI = 100  # 550 x 260 px, ~25 KB each
CHART_WIDTH = round(WIDTH / 72 * CHART_DPI)  # WIDTH is in points; shown at its natural size: a scaled-up PNG looks blurred


@lru_cache(maxsize=8)
def environment(templates: Path | None = None) -> Environment:
    # HTML autoescaped; the plain-text part (report.txt) must not be.
    return template_environment("email", autoescape=select_autoescape(["html"]), templates=templates)


@lru_cache(maxsize=1)
def _inliner() -> css_inline.CSSInliner:
    # keep_at_rules: @media (dark mode, narrow screens) cannot be inlined; clients that
    # honour a <style> use it, the others ignore it. No remote stylesheet is ever fetched.
    return css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False, minify_css=True)


def email_subject(report: AuditReport) -> str:
    """'credit-risk: audit FAIL (3 fail, 6 warn, 5 pass)': the project, the status and the counts."""
    counts = report.counts
    parts = ", ".join(f"{counts[s]} {s}" for s in ("fail", "error", "warn", "pass", "skip") if counts[s])
    name = str((report.project or {}).get("name") or "auditor")
    return f"{name}: audit {report.status.upper()} ({parts or 'no checks'})"


def _key_charts(report: AuditReport, *, limit: int) -> list[tuple[CheckResult, dict[str, Any]]]:
    """The most telling chart of each of the worst findings (as the overview shows them)."""
    checks = {(c.id, c.subject): c for c in report.checks}
    picked = []
    for finding in report.finding_list():
        ref = finding.chart or {}
        check = checks.get((ref.get("id"), ref.get("subject")))
        charts = (check.evidence or {}).get("charts") or [] if check is not None else []
        index = ref.get("index")
        if isinstance(index, int) and 0 <= index < len(charts) and isinstance(charts[index], dict):
            picked.append((check, charts[index]))
        if len(picked) >= limit:
            break
    return picked


def _cid(report: AuditReport, n: int) -> str:
    # Stable per run (same report, same message bytes) and unique across runs.
    run = hashlib.sha256(str((report.run or {}).get("id")).encode()).hexdigest()[:12]
    return f"chart{n}.{run}@auditor"


def _full_report(html_size: int | None, report_url: str | None) -> dict[str, Any]:
    if html_size is not None and html_size <= MAX_ATTACHMENT_BYTES:
        return {"kind": "attachment", "name": "report.html", "url": report_url}
    if report_url:
        return {"kind": "link", "name": None, "url": report_url}
    return {"kind": "none", "name": None, "url": None}


def _changes(history: dict[str, Any] | None) -> list[dict[str, Any]]:
    """'New failures (3): Null rate · income, ...' per kind of change, a few names each."""
    out = []
    for group in (history or {}).get("groups") or []:
        names = [r["title"] + (f" · {r['subject']}" if r["subject"] is not None else "") for r in group["rows"]]
        out.append({"kind": group["kind"], "title": group["title"], "count": len(names),
                    "names": ", ".join(names[:MAX_CHANGES]), "more": max(0, len(names) - MAX_CHANGES)})
    return out


def html_part(ctx: dict[str, Any], *, cap: int | None, templates: Path | None = None) -> str:
    """The inlined HTML with at most `cap` findings listed (None: all)."""
    rows = ctx["findings"][:cap]
    more = len(ctx["findings"]) - len(rows)
    note = ""
    if more:
        note = (f"Trimmed to fit an email: the {len(rows)} worst of {len(ctx['findings'])} findings "
                f"are listed. The full report has every check.")
    view = {**ctx, "rows": rows, "more": more, "trim_note": note}
    html = environment(templates).get_template("report.html").render(view)
    return _inliner().inline(html)


def _fit(ctx: dict[str, Any], max_bytes: int, templates: Path | None = None) -> tuple[str, int | None]:
    """The longest list of checks whose HTML fits `max_bytes` (bisection: size grows with the cap)."""
    html = html_part(ctx, cap=None, templates=templates)
    if len(html.encode()) <= max_bytes:
        return html, None
    lo, hi, best = 0, len(ctx["findings"]) - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        text = html_part(ctx, cap=mid, templates=templates)
        if len(text.encode()) <= max_bytes:
            best, lo = (text, mid), mid + 1
        else:
            hi = mid - 1
    # Even the bare summary is too big (absurdly long names): send it anyway, listing nothing.
    return best or (html_part(ctx, cap=0, templates=templates), 0)


def build_email(report: AuditReport, *, report_html: str | bytes | None = None, report_url: str | None = None,
                sender: str | None = None, to: list[str] | None = None,
                max_html_bytes: int = MAX_HTML_BYTES, max_charts: int = MAX_CHARTS,
                templates: Path | None = None) -> EmailMessage:
    """The report as an email. `report_html` is attached when small enough, else `report_url` is linked."""
    ctx = build_context(report, charts=False)
    charts = _key_charts(report, limit=max_charts)
    images = [{"cid": _cid(report, i + 1), "width": CHART_WIDTH,
               "alt": str(spec.get("title") or check.title),
               "caption": f"{check.title}" + (f" · {check.subject}" if check.subject is not None else "")
               + f" ({check.status})"}
              for i, (check, spec) in enumerate(charts)]
    payload = report_html.encode() if isinstance(report_html, str) else report_html
    full = _full_report(len(payload) if payload is not None else None, report_url)
    ctx = {**ctx, "subject": email_subject(report), "images": images, "full_report": full,
           "changes": _changes(ctx["history"])}
    html, cap = _fit(ctx, max_html_bytes, templates)
    rows = ctx["findings"][:cap]
    text = environment(templates).get_template("report.txt").render(
        {**ctx, "rows": rows, "more": len(ctx["findings"]) - len(rows),
         "trim_note": f"Trimmed: the {len(rows)} worst findings are listed." if cap is not None else ""})

    msg = EmailMessage()
    msg["Subject"] = email_subject(report)
    msg["From"] = sender or Address("auditor", "auditor", "localhost")
    if to:
        msg["To"] = ", ".join(to)
    finished = (report.run or {}).get("finished_at") or (report.run or {}).get("started_at")
    try:
        msg["Date"] = format_datetime(datetime.fromisoformat(str(finished)))
    except (ValueError, TypeError):
        pass
    msg["X-Auditor-Status"] = report.status
    msg.set_content(text, cte="quoted-printable")
    msg.add_alternative(html, subtype="html", cte="quoted-printable")
    html_msg = msg.get_payload()[1]
    for img, (_check, spec) in zip(images, charts, strict=True):
        html_msg.add_related(chart_png(spec, dpi=CHART_DPI), maintype="image", subtype="png",
                             cid=f"<{img['cid']}>", disposition="inline",
                             filename=f"{img['cid'].split('.')[0]}.png")
    if full["kind"] == "attachment":
        msg.add_attachment(payload, maintype="text", subtype="html", filename="report.html",
                           params={"charset": "utf-8"})
    _stable_boundaries(msg, report)
    return msg


def _stable_boundaries(msg: EmailMessage, report: AuditReport) -> None:
    """Deterministic MIME boundaries: the same report gives the same email.eml bytes."""
    seed = hashlib.sha256(str((report.run or {}).get("id")).encode()).hexdigest()[:16]
    for n, part in enumerate(p for p in msg.walk() if p.is_multipart()):
        part.set_boundary(f"=_auditor_{seed}_{n}")


def render_email(report: AuditReport, *, report_url: str | None = None, templates: Path | None = None) -> bytes:
    """email.eml: the message ready to send (no To yet: `auditor send` adds it), report.html attached."""
    from auditor.render.html import render_html

    return bytes(build_email(report, report_html=render_html(report, templates=templates), report_url=report_url,
                             templates=templates))
