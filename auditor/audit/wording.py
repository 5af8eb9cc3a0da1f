"""How checks word their messages: shared so every check says a rate or a list the same way."""

from __future__ import annotations

from collections.abc import Sequence

# A message names at most this many values, then says how many more there are.
MAX_NAMED = 5


def percent(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.1%}"


def some(items: Sequence[str], *, more: int = 0, limit: int = MAX_NAMED) -> str:
    """At most `limit` items, then "and N more" (`more` counts items the caller did not pass):
    'a, b, c, d, e and 42 more'."""
    named = [str(i) for i in items[:limit]]
    rest = len(items) - len(named) + max(more, 0)
    if not named:
        return f"{rest:,} values" if rest else "nothing"
    if rest:
        return f"{', '.join(named)} and {rest:,} more"
    return named[0] if len(named) == 1 else f"{', '.join(named[:-1])} and {named[-1]}"
