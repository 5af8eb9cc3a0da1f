"""How checks word their messages: shared so every check says a rate or a list the same way."""

from __future__ import annotations


def percent(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.1%}"
