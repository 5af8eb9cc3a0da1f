"""Make matplotlib's SVG output fit inline in an HTML page: small, deterministic, unique ids.

matplotlib writes a standalone document (XML declaration, RDF metadata, a page-wide
<style>, ids like "p1a2b3c", coordinates to 6 decimals). `tidy_svg` turns it into
an element that can sit beside others on one page; `placeholder_svg` is what a
chart that cannot be drawn becomes.
"""

from __future__ import annotations

import re
from html import escape

__all__ = ["tidy_svg", "placeholder_svg", "safe_id", "FONT_STACK"]

FONT_STACK = "DejaVu Sans, Bitstream Vera Sans, Verdana, Arial, sans-serif"

_ID_SAFE = re.compile(r"[^A-Za-z0-9_-]+")
_NUMBER = re.compile(r"-?\d+\.\d{3,}")
_GEOMETRY_ATTR = re.compile(r' (d|x|y|transform|points)="([^"]*)"')


def _round_numbers(text: str) -> str:
    def one(m: re.Match) -> str:
        s = f"{float(m.group(0)):.2f}".rstrip("0").rstrip(".")
        return "0" if s == "-0" else s

    return _NUMBER.sub(one, text)


def tidy_svg(svg: str, figure_id: str, label: str) -> str:
    """Make matplotlib's SVG small, inline-able and unique on a page."""
    svg = svg[svg.index("<svg"):]  # no XML declaration / DOCTYPE: not allowed inline in HTML
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, flags=re.S)  # RDF with external URLs
    # matplotlib's <style>*{stroke-linejoin: round; stroke-linecap: butt}</style> would style the
    # whole HTML page; the same inherited properties go on the root element instead (below).
    svg = re.sub(r"\s*<defs>\s*<style[^>]*>[^<]*</style>\s*</defs>", "", svg)
    # Work on tags only: text content is data (a category may well be called 'url(#x)').
    parts = re.split(r"(<[^>]*>)", svg)
    tags = range(1, len(parts), 2)
    referenced = {ref for i in tags for ref in re.findall(r'(?:href="#|url\(#)([^")]+)', parts[i])}

    def ident(m: re.Match) -> str:
        # Keep only ids something refers to (clip paths, markers), prefixed with the figure id.
        return f' id="{figure_id}-{m.group(1)}"' if m.group(1) in referenced else ""

    for i in tags:
        tag = parts[i].replace(' xmlns:xlink="http://www.w3.org/1999/xlink"', "")
        tag = tag.replace("xlink:href=", "href=")  # SVG 2 / HTML: no xlink namespace needed
        tag = _GEOMETRY_ATTR.sub(lambda m: f' {m.group(1)}="{_round_numbers(" ".join(m.group(2).split()))}"', tag)
        tag = re.sub(r"font-family: [^;\"]*(; )?", "", tag).replace('; "', '"')  # one stack on the root instead
        tag = re.sub(r' transform="rotate\(-?0 [^)]*\)"', "", tag)  # matplotlib writes no-op rotations
        tag = re.sub(r' id="([^"]*)"', ident, tag)
        parts[i] = re.sub(r'(href="#|url\(#)([^")]+)', lambda m: f"{m.group(1)}{figure_id}-{m.group(2)}", tag)
    # Bare <g> wrappers (their ids removed) carry nothing: drop them and their closing tags.
    bare: list[bool] = []
    for i in tags:
        if parts[i] == "<g/>":
            parts[i] = ""
        elif parts[i].startswith(("<g>", "<g ")) and not parts[i].endswith("/>"):
            bare.append(parts[i] == "<g>")
            parts[i] = "" if bare[-1] else parts[i]
        elif parts[i] == "</g>" and bare.pop():
            parts[i] = ""
    out: list[str] = []
    for i, part in enumerate(parts):
        if i % 2 == 0 and not part.strip():  # indentation between tags: one newline at most
            part = "\n" if "\n" in part else part
            if out and out[-1] == "\n":
                continue
        if part:
            out.append(part)
    svg = "".join(out).strip()
    head = (f'<svg class="chart" role="img" aria-label="{escape(label)}" font-family="{escape(FONT_STACK)}" '
            'stroke-linejoin="round" stroke-linecap="butt" ')
    return head + svg[len("<svg "):] + "\n"


def placeholder_svg(message: str) -> str:
    return (
        '<svg class="chart chart-placeholder" role="img" width="396pt" height="30pt" viewBox="0 0 396 30" '
        'xmlns="http://www.w3.org/2000/svg">'
        '<rect x="0.5" y="0.5" width="395" height="29" rx="3" fill="#f6f6f6" stroke="#cccccc"/>'
        f'<text x="10" y="19" font-family="{escape(FONT_STACK)}" font-size="9" fill="#555555">'
        f"{escape(message[:110])}</text></svg>\n"
    )


def safe_id(figure_id: str) -> str:
    """A figure id reduced to [A-Za-z0-9_-] (it prefixes ids inside the SVG)."""
    return _ID_SAFE.sub("-", figure_id).strip("-") or "fig"
