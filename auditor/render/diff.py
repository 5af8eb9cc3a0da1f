"""`auditor diff` as Markdown: a pull-request comment saying what the change did to the audit.

It reads only the diff (auditor.diff.compare_reports, plain data) and stays under `max_chars`
(GitHub's comment limit is 65,536): the less severe sections lose rows first, and the comment
says how many it left out. The first line is the hidden marker CI finds its sticky comment by.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from auditor.render.filters import fmt_number, fmt_threshold, template_environment

__all__ = ["render_diff_markdown", "DIFF_MARKER"]

DIFF_MARKER = "<!-- auditor-diff -->"

SECTIONS = (  # (kind, heading, open): the order a reviewer reads them in
    ("new_failure", "New failures", True),
    ("new_warning", "New warnings", True),
    ("removed", "No longer reported", True),
    ("changed", "Values that moved (same status)", False),
    ("recovered", "Recovered", False),
    ("improved", "Improved", False),
)


def _change_text(entry: dict[str, Any]) -> str:
    """'0.08 → 0.31 (+0.23, crossed fail 0.25)' in the metric's own units."""
    name = entry["subject"] if entry["subject"] and "rate" in str(entry["subject"]) else entry["id"].split(".")[-1]
    before, after = fmt_number(entry["base_value"], name), fmt_number(entry["head_value"], name)
    parts = []
    if entry["delta"] is not None:
        sign = "+" if entry["delta"] > 0 else "−" if entry["delta"] < 0 else "±"
        parts.append(f"{sign}{fmt_number(abs(entry['delta']), name)}")
    for line in entry["crossed"]:
        parts.append(f"crossed {line['line']} {fmt_number(line['at'], name)}")
    return f"{before} → {after}" + (f" ({', '.join(parts)})" if parts else "")


def _rows(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**e, "change": _change_text(e), "threshold_text": fmt_threshold(e["threshold"])} for e in entries]


def render_diff_markdown(diff: dict[str, Any], *, max_chars: int = 60000, report_url: str | None = None,
                         templates: Path | None = None) -> str:
    env = template_environment("md", autoescape=False, templates=templates)
    template = env.get_template("diff.md")
    grouped = {kind: _rows([e for e in diff["changes"] if e["kind"] == kind]) for kind, _, _ in SECTIONS}
    caps = {kind: len(rows) for kind, rows in grouped.items()}

    def draw() -> str:
        sections = [{"kind": kind, "heading": heading, "open": is_open, "rows": grouped[kind][:caps[kind]],
                     "left_out": len(grouped[kind]) - caps[kind]} for kind, heading, is_open in SECTIONS]
        return template.render(diff=diff, sections=sections, marker=DIFF_MARKER, report_url=report_url)

    text = draw()
    # Trim the least severe sections first, halving their rows until the comment fits.
    for kind, _, _ in reversed(SECTIONS):
        while len(text) > max_chars and caps[kind] > 0:
            caps[kind] //= 2
            text = draw()
    return text
