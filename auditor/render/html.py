"""The HTML report: one self-contained file (inline CSS and SVG, no script, no network).

A Content-Security-Policy meta tag forbids every request, so the file renders the
same offline, from an email attachment or from a CI artefact store.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import Environment

from auditor.render.context import build_context
from auditor.render.filters import STOCK_TEMPLATES, template_environment
from auditor.report import AuditReport

__all__ = ["render_html", "TEMPLATE_DIR"]

TEMPLATE_DIR = STOCK_TEMPLATES / "html"


@lru_cache(maxsize=8)
def environment(templates: Path | None = None) -> Environment:
    """The one Jinja environment for HTML: autoescaped, and an undefined name is an error
    (a typo in a template must fail the tests, not print an empty string)."""
    return template_environment("html", autoescape=True, templates=templates)


def render_html(report: AuditReport, *, templates: Path | None = None) -> str:
    """The report as one HTML page; the same report always gives the same bytes.
    `templates`: a folder searched before report_templates/ (see template_loader)."""
    return environment(templates).get_template("report.html").render(build_context(report, charts=True))
