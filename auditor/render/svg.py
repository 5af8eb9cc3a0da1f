"""What every inline chart shares: the font stack, safe figure ids, and the placeholder a chart that
cannot be drawn becomes."""

from __future__ import annotations

import re
from html import escape

__all__ = ["placeholder_svg", "safe_id", "FONT_STACK"]

FONT_STACK = "DejaVu Sans, Bitstream Vera Sans, Verdana, Arial, sans-serif"

_ID_SAFE = re.compile(r"[^A-Za-z0-9_-]+")


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
