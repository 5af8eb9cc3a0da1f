"""Formatting shared by the renderers (registered as Jinja filters).

Numbers are full precision in report.json; rounding happens only here, so every
format shows the same digits for the same value.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader, StrictUndefined

import report_templates

__all__ = [
    "UNDEFINED",
    "fmt_number",
    "fmt_threshold",
    "fmt_value",
    "fmt_duration",
    "fmt_timestamp",
    "is_rate",
    "status_emoji",
    "status_badge",
    "md_escape",
    "md_html",
    "FILTERS",
]

# None in a report means "undefined" (an empty group's rate, a NaN statistic): never 0.
UNDEFINED = "—"

STATUS_EMOJI = {"pass": "✅", "warn": "⚠️", "fail": "❌", "error": "💥", "skip": "⏭️"}

# `null_rate`, its per-side forms (`null_rate_reference`), its interval bounds
# (`selection_rate_low`), and the spaced column names of evidence tables ("null rate").
_RATE = re.compile(r"(^|[_ ])rate([_ ](reference|current|low|high|lower|upper))?$")
# Integers that are labels, not quantities: 2,000,000,434 is no way to write an id (or a year).
_LABEL = re.compile(r"(^|[_ ])(id|year|code)$")


def is_rate(name: str | None) -> bool:
    """Whether a metric or column name holds a rate in [0, 1] (shown as a percentage)."""
    return bool(name) and bool(_RATE.search(str(name).lower()))


def _sig(value: float) -> str:
    """A float with 4 significant digits, without exponents for everyday magnitudes."""
    if value == 0:
        return "0"
    a = abs(value)
    if a >= 1e15 or a < 1e-4:
        mantissa, exponent = f"{value:.3e}".split("e")  # 4 significant digits: p-values like 1.234e-12
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
    if a >= 1000:
        return f"{value:,.0f}"  # more digits than 4, but rounding 12,345 to 12,350 helps nobody
    return f"{value:.4g}"


def fmt_number(value: Any, name: str | None = None) -> str:
    """Format one value for display; `name` (metric or column) marks rates.

    ints get thousands separators (not ids or years), floats 4 significant
    digits, rates (names ending in ``_rate``) a percentage, None the em dash
    meaning undefined.
    Strings pass through; lists and dicts become compact JSON.
    """
    if value is None:
        return UNDEFINED
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if is_rate(name) and value in (0, 1):
            return f"{value * 100}%"
        return str(value) if name and _LABEL.search(str(name).lower()) else f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return UNDEFINED
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        if is_rate(name):
            return _sig(value * 100) + "%"
        return _sig(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def fmt_value(value: Any, name: str | None = None, unit: str | None = None) -> str:
    """A result's value in its unit: "points" (0.141 is '14.1 pts', percentage points), "percent" (0.051 is
    '5.1%'), else as `fmt_number` reads the name."""
    if unit in ("points", "percent") and isinstance(value, (int, float)) and not isinstance(value, bool) \
            and math.isfinite(value):
        shown = _sig(value * 100)
        return f"{shown} pts" if unit == "points" else f"{shown}%"
    return fmt_number(value, name)


def fmt_threshold(threshold: dict[str, Any] | None, name: str | None = None, unit: str | None = None) -> str:
    """Where a check turns warn and fail, e.g. 'warn ≥ 5% · fail ≥ 20%' ('' when ungraded)."""
    if not threshold:
        return ""
    op = "<" if threshold.get("direction") == "below" else "≥"
    parts = [f"{level} {op} {fmt_value(threshold[level], name, unit)}" for level in ("warn", "fail")
             if threshold.get(level) is not None]
    return " · ".join(parts)


def fmt_duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not math.isfinite(seconds):
        return UNDEFINED
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {secs} s"


def fmt_timestamp(value: Any) -> str:
    """An ISO timestamp from report.run, shown to the second with its UTC offset."""
    if not value:
        return UNDEFINED
    try:
        ts = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)  # show what the report says rather than guess
    text = ts.strftime("%Y-%m-%d %H:%M:%S")
    if ts.utcoffset() is not None:
        offset = ts.strftime("%z")
        text += " UTC" if offset == "+0000" else f" {offset[:3]}:{offset[3:]}"
    return text


def status_emoji(status: str) -> str:
    return STATUS_EMOJI.get(status, "❔")


def status_badge(status: str) -> str:
    """Markdown badge: emoji and word, e.g. '❌ fail' (the word keeps it readable without emoji)."""
    return f"{status_emoji(status)} {status}"


# Characters GitHub Markdown would act on inside a table cell or a line of text.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~#])")


def md_escape(value: Any, limit: int | None = None) -> str:
    """Text for a Markdown table cell or line: shown literally on GitHub, never as HTML.

    Markup characters are backslash-escaped (a pipe would end the cell), `< > &`
    become entities (GitHub would otherwise pass tags through), and newlines
    become `<br>` so a cell stays on its row. `limit` caps the length first.
    """
    text = value if isinstance(value, str) else fmt_number(value)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return re.sub(r"\r\n|\r|\n", "<br>", text)


def md_html(value: Any) -> str:
    """Text inside raw HTML in Markdown (e.g. `<summary>`): entities only, since backslash
    escapes are not processed there and would show."""
    text = value if isinstance(value, str) else fmt_number(value)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")


STOCK_TEMPLATES = Path(report_templates.__file__).resolve().parent  # the top-level report_templates/

FILTERS = {
    "num": fmt_number,
    "threshold": fmt_threshold,
    "duration": fmt_duration,
    "timestamp": fmt_timestamp,
    "emoji": status_emoji,
    "badge": status_badge,
    "md": md_escape,
    "md_html": md_html,
}


def template_loader(kind: str, templates: Path | None = None) -> ChoiceLoader:
    """Where a renderer of `kind` (html, md, email) finds a template name.

    A team's folder (`outputs.templates`, `--templates`) mirrors report_templates/ and is searched
    first, so `DIR/html/_header.html` replaces the stock header even where a stock template
    includes it. `default:html/report.html` always names the stock file, so an override can
    `{% extends "default:html/report.html" %}` and change one block (datasette's convention).
    """
    stock = PrefixLoader({"default": FileSystemLoader(STOCK_TEMPLATES)}, delimiter=":")
    folders = ([FileSystemLoader(Path(templates) / kind)] if templates is not None else [])
    return ChoiceLoader([stock, *folders, FileSystemLoader(STOCK_TEMPLATES / kind)])


def template_environment(kind: str, *, autoescape: bool | Callable[[str | None], bool],
                         templates: Path | None = None) -> Environment:
    """A Jinja environment as every renderer wants it: an undefined name is an error (a typo in a
    template must fail the tests, not print an empty string), block tags leave no stray
    whitespace, and the shared filters are registered."""
    env = Environment(loader=template_loader(kind, templates), autoescape=autoescape, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(FILTERS)
    return env
