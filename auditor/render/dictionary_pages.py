"""The `dictionary` format: dictionary.html, dictionary.md and dictionary.json, from report.json alone.

The JSON is auditor.render.dictionary's document; the pages show it for people: what needs attention
first (fields whose checks fail or warn, fields that changed since the last run), then every table
with its rows, size, freshness, source and fingerprint, and every field with its description, owner,
roles, measures, quality indicator (linked to the checks in report.html) and an example query.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment

from auditor.render.context import Anchors
from auditor.render.dictionary import build_dictionary
from auditor.render.filters import UNDEFINED, fmt_number, fmt_timestamp, status_emoji, template_environment
from auditor.render.provenance import fmt_bytes
from auditor.report import SEVERITY, AuditReport
from auditor.version import __version__

FILES = ("dictionary.html", "dictionary.md", "dictionary.json")
STATUSES = ("error", "fail", "warn", "pass")
MAX_ATTENTION = 200  # fields listed under "needs attention"; the tables below show every one
TOP_SHOWN = 5


@lru_cache(maxsize=8)
def environment(kind: str, templates: Path | None = None) -> Environment:
    return template_environment(kind, autoescape=kind == "html", templates=templates)


def fmt_hours(hours: Any) -> str:
    """How old the newest row is: '12 min', '5.2 h', '18 days'."""
    if not isinstance(hours, (int, float)) or isinstance(hours, bool):
        return UNDEFINED
    if hours < 0:
        return f"{fmt_hours(-hours)} in the future"
    if hours < 1:
        return "under a minute" if hours < 1 / 60 else f"{hours * 60:.0f} min"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:,.0f} days"


def _values(f: dict[str, Any], rows: Any) -> str:
    """Range or top values, as one line: '20 – 69', 'south 25% · west 25%', or why none is shown."""
    if f.get("personal_data"):
        return "hidden: personal data"
    tops = f.get("top_values") or []
    if tops:
        present = (rows or 0) * (1 - (f.get("null_rate") or 0))
        shown = [f"{fmt_number(t.get('value'), 'id')} ({t['rows'] / present:.0%})" if present else
                 fmt_number(t.get("value"), "id") for t in tops[:TOP_SHOWN]]
        more = (f.get("distinct") or 0) - len(shown)
        return " · ".join(shown) + (f" · ~{more:,} more" if more > 0 else "")
    if f.get("min") is not None or f.get("max") is not None:
        low, high = (fmt_number(f.get(k), f.get("name")) for k in ("min", "max"))
        return low if low == high else f"{low} – {high}"
    return UNDEFINED


def _when(text: Any) -> str:
    """A newest value as stored: a date stays a date, a timestamp is shown to the second."""
    if not text:
        return ""
    return fmt_timestamp(text) if any(sep in str(text) for sep in ("T", " ")) else str(text)


def _field(f: dict[str, Any], table: dict[str, Any], anchor: str) -> dict[str, Any]:
    personal = f.get("personal_data") or {}
    kinds = [*([f"looks like {', '.join(personal['looks_like'])}"] if personal.get("looks_like") else []),
             *([f"the name suggests {personal['name_suggests']}"] if personal.get("name_suggests") else [])]
    return {
        "name": fmt_number(f.get("name")), "anchor": anchor, "type": fmt_number(f.get("type")),
        "description": f.get("description"), "owner": f.get("owner"), "roles": f.get("roles") or [],
        "personal": "; ".join(kinds) or "personal data" if personal else None,
        "nulls": fmt_number(f.get("null_rate"), "null_rate"), "distinct": fmt_number(f.get("distinct")),
        "measure": _values(f, table.get("rows")), "newest": _when(f.get("newest")),
        "indicator": f.get("indicator"), "emoji": status_emoji(f["indicator"]) if f.get("indicator") else "",
        "checks": f.get("checks") or [], "example_sql": f.get("example_sql"),
        "changed": f.get("changed"), "previous": f.get("previous_indicator"),
    }


def dictionary_view(doc: dict[str, Any], report: AuditReport) -> dict[str, Any]:
    """The template context of dictionary.html and dictionary.md."""
    anchors = Anchors()
    tables, attention, changed, personal_fields = [], [], [], []
    counts = dict.fromkeys((*STATUSES, "none"), 0)
    for t in doc["tables"]:
        table_anchor = anchors.unique("table", t["name"])
        fields = [_field(f, t, anchors.unique("field", t["name"], f["name"])) for f in t["fields"]]
        for f in fields:
            counts[f["indicator"] or "none"] += 1
            row = {"table": fmt_number(t["name"]), "field": f}
            if f["personal"]:
                personal_fields.append(row)
            if f["indicator"] in ("error", "fail", "warn"):
                attention.append(row)
            if f["changed"]:
                changed.append(row)
        tables.append({
            "name": fmt_number(t["name"]), "anchor": table_anchor, "kind": t.get("kind"), "source": t.get("source"),
            "description": t.get("description"), "rows": fmt_number(t.get("rows")), "size": fmt_bytes(t.get("bytes")),
            "newest": _when(t.get("newest")) or UNDEFINED,
            "freshness": fmt_hours(t.get("freshness_hours")), "fingerprint": t.get("fingerprint"),
            "indicator": t.get("indicator"), "emoji": status_emoji(t["indicator"]) if t.get("indicator") else "",
            "checks": t.get("checks") or [], "fields": fields, "n_fields": f"{len(fields):,}",
        })
    attention.sort(key=lambda r: -SEVERITY[r["field"]["indicator"]])
    project = (report.project or {}).get("name") or "Untitled project"
    run = report.run or {}
    return {
        "title": f"{project}: data dictionary", "project": fmt_number(project),
        "run": {"id": fmt_number(run.get("id")), "as_of": fmt_timestamp(run.get("as_of"))},
        "tool": {"name": "auditor", "version": (report.tool or {}).get("version") or __version__},
        "counts": [{"status": s, "count": counts[s], "emoji": status_emoji(s)} for s in STATUSES],
        "unchecked": counts["none"], "n_fields": sum(counts.values()), "personal": len(personal_fields),
        "personal_fields": personal_fields,
        "attention": attention[:MAX_ATTENTION], "attention_more": max(0, len(attention) - MAX_ATTENTION),
        "changed": changed, "history": doc["run"].get("history"), "tables": tables,
    }


def render_dictionary(report: AuditReport, *, report_url: str | None = None,
                      templates: Path | None = None) -> dict[str, str]:
    """{file name: text} of the three dictionary files; links go to report.html (or `report_url`)."""
    doc = build_dictionary(report, report_url=report_url)
    view = dictionary_view(doc, report)
    return {
        "dictionary.html": environment("html", templates).get_template("dictionary.html").render(view),
        "dictionary.md": environment("md", templates).get_template("dictionary.md").render(view),
        "dictionary.json": json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False) + "\n",
    }
