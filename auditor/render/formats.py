"""The output formats, declared once: name, file written, renderer, and whether it links to the full report.

The config's `outputs.formats`, the command line's `--format`, the files written and the renderer
chain all read this table. Renderers are named, not imported, so asking for one format loads only
its renderer.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OutputFormat:
    name: str
    filename: str
    renderer: str  # "module:function", imported when the format is asked for
    links_report: bool = False  # takes report_url= (where report.html is published) and links to it
    templated: bool = False  # drawn from report_templates/, so takes templates= (a team's override folder)
    description: str = ""
    also: tuple[str, ...] = ()  # more files it writes: its renderer then returns {file name: payload}

    @property
    def filenames(self) -> tuple[str, ...]:
        return (self.filename, *self.also)

    def files(self, payload: str | bytes | dict[str, str | bytes]) -> dict[str, str | bytes]:
        """{file name: payload} of what its renderer returned."""
        return dict(payload) if isinstance(payload, dict) else {self.filename: payload}

    def render_function(self) -> Callable[..., str | bytes]:
        module, _, function = self.renderer.partition(":")
        return getattr(importlib.import_module(module), function)


FORMATS: dict[str, OutputFormat] = {f.name: f for f in (
    OutputFormat("json", "report.json", "auditor.render.json_report:render_json",
                 description="the source of truth (always written); `auditor render` re-renders it"),
    OutputFormat("html", "report.html", "auditor.render.html:render_html", templated=True,
                 description="one self-contained page: inline CSS and SVG, no request, print and dark CSS"),
    OutputFormat("md", "report.md", "auditor.render.markdown:render_markdown", links_report=True, templated=True,
                 description="a pull-request comment or CI job summary, under 60,000 characters"),
    OutputFormat("email", "email.eml", "auditor.render.email:render_email", links_report=True, templated=True,
                 description="multipart/alternative: plain text and table-layout HTML, key charts as images"),
    OutputFormat("junit", "junit.xml", "auditor.render.junit:render_junit",
                 description="CI test widgets: a test case per check result"),
    OutputFormat("dictionary", "dictionary.html", "auditor.render.dictionary_pages:render_dictionary",
                 links_report=True, templated=True, also=("dictionary.md", "dictionary.json"),
                 description="the data dictionary: every field's description, measures and quality indicator"),
)}
FORMAT_NAMES: tuple[str, ...] = tuple(FORMATS)


def render(fmt: str, report: Any, **options: Any) -> str | bytes | dict[str, str | bytes]:
    """Render `report` in one format (a format of several files gives {file name: payload});
    `report_url` reaches only the formats that link to the report, `templates` only those drawn
    from templates."""
    spec = FORMATS[fmt]
    if not spec.links_report or options.get("report_url") is None:
        options.pop("report_url", None)
    if not spec.templated or options.get("templates") is None:
        options.pop("templates", None)
    return spec.render_function()(report, **options)
