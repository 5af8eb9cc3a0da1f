"""Which columns are missing together: one grouping of the table by its columns' missing flags.

Only columns that have missing values take part (the summary says which), at most `MAX_COLUMNS` of
them, the most often missing first; the result is the most frequent patterns and their rows, so it
stays small at any width and length (a pattern is a handful of booleans).
"""

from __future__ import annotations

from auditor.engine.base import Engine
from auditor.engine.sql import is_float, quote_ident

__all__ = ["missing_patterns", "MAX_COLUMNS", "MAX_PATTERNS"]

MAX_COLUMNS = 12
MAX_PATTERNS = 10
PATTERNS_SQL = """SELECT {flags}, count(*) AS n FROM {view} GROUP BY ALL ORDER BY n DESC, {names} LIMIT $limit"""


def missing_condition(name: str, duck_type: str) -> str:
    """SQL true for a missing value: NULL, and NaN for floating columns (as the summary counts them)."""
    c = quote_ident(name)
    return f"({c} IS NULL OR isnan({c}))" if is_float(duck_type) else f"({c} IS NULL)"


def missing_patterns(engine: Engine, view: str, columns: list[tuple[str, str]], *, limit: int = MAX_PATTERNS
                     ) -> tuple[list[tuple[tuple[bool, ...], int]], str]:
    """The `limit` most frequent (missing flags, rows) over `columns` ((name, type), in that order), and the SQL."""
    flags = ", ".join(f"{missing_condition(name, duck_type)} AS {quote_ident('m' + str(i))}"
                      for i, (name, duck_type) in enumerate(columns))
    names = ", ".join(quote_ident("m" + str(i)) for i in range(len(columns)))  # ties in a stable order
    sql = PATTERNS_SQL.format(flags=flags, view=view, names=names)
    rows = engine.query(sql, {"limit": limit})
    return [(tuple(bool(v) for v in r[:-1]), int(r[-1])) for r in rows], sql
