"""Each column's most frequent value and the rows holding it, computed in SQL for any number of columns:
one row per column comes back, never the values themselves.

Columns are stacked in long form (auditor.engine.long_form) by type family: integer and temporal types as
themselves, other numbers as DOUBLE (NaN as missing), text and booleans as VARCHAR.
- `exact_top_values`: every (column, value) counted in one hash table that spills, the most frequent
  value picked in SQL (the smallest of equally frequent ones, so the answer is repeatable). For columns
  of a few thousand values.
- `approximate_top_values`: a candidate per column from `approx_top_k` (space-saving, bounded memory per
  column; a value holding more than half the rows is always the candidate), then the candidate's exact
  count in one more statement. For columns of many values, and types not counted exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from auditor.engine import long_form
from auditor.engine.base import Engine
from auditor.engine.sql import is_float, is_integer, is_numeric, is_temporal, quote_ident

# Each family's values come back in a column of their own type (a UNION ALL would make them all text).
EXACT_SQL = """SELECT {batch} AS batch, k, max(n) AS n, {tops}
FROM (SELECT k, v, count(*) AS n FROM {stacked} GROUP BY k, v) GROUP BY k"""
EXACT_TOP = "first(v ORDER BY n DESC, v)"
CANDIDATE_SQL = "SELECT {batch} AS batch, k, 0 AS n, {tops} FROM {stacked} GROUP BY k"
CANDIDATE_TOP = "approx_top_k(v, 1)[1]"
COUNT_SQL = """SELECT {batch} AS batch, s.k, count(*) FROM {stacked} AS s
JOIN (SELECT unnest(?::VARCHAR[]) AS k, unnest(?::{kind}[]) AS top) AS c ON s.k = c.k AND s.v = c.top GROUP BY s.k"""


def stacked_as(duck_type: str) -> str:
    """The SQL type a column's values are stacked as: integers and temporal types as themselves (an integer
    comes back as an int), other numbers as DOUBLE, anything else as text."""
    if is_integer(duck_type) or is_temporal(duck_type):
        return duck_type.upper()
    return "DOUBLE" if is_numeric(duck_type) else "VARCHAR"


def _value(column: str, duck_type: str) -> str:
    c = quote_ident(column)
    if is_float(duck_type):
        return f"CASE WHEN isnan({c}) THEN NULL ELSE {c}::DOUBLE END"  # NaN is missing, as NULL is
    return f"{c}::{stacked_as(duck_type)}"


def _plans(engine: Engine, view: str, types: Mapping[str, str]) -> list[tuple[str, list[str]]]:
    """(stacked type, columns) per branch: one family at a time, at most MAX_COLUMNS columns each (fewer
    when reading them would not fit)."""
    families: dict[str, list[str]] = {}
    for col, duck_type in types.items():
        families.setdefault(stacked_as(duck_type), []).append(col)
    read = engine.read_shares(view)
    return [(kind, batch) for kind, members in families.items() for batch in long_form.batches(members, read=read)]


def _stack(view: str, types: Mapping[str, str], columns: list[str]) -> str:
    return long_form.unpivot(view, [_value(c, types[c]) for c in columns])


def _branches(template: str, top: str, view: str, types: Mapping[str, str], plans: list[tuple[str, list[str]]]) -> str:
    """One branch per plan, each with a `top` column per family: its own, and NULLs of the others' types."""
    kinds = list(dict.fromkeys(kind for kind, _ in plans))
    branches = []
    for i, (kind, cols) in enumerate(plans):
        tops = ", ".join(top if other == kind else f"NULL::{other}" for other in kinds)
        branches.append(template.format(batch=i, tops=tops, stacked=_stack(view, types, cols)))
    return "\nUNION ALL ".join(branches)


def _rows(engine: Engine, sql: str, plans: list[tuple[str, list[str]]]):
    """(column, its top value, n) per row of a `_branches` statement."""
    kinds = list(dict.fromkeys(kind for kind, _ in plans))
    for batch, k, n, *tops in engine.query(sql):
        kind, cols = plans[batch]
        yield cols[long_form.position(k)], tops[kinds.index(kind)], n


def exact_top_values(engine: Engine, view: str, types: Mapping[str, str]) -> tuple[dict[str, tuple[Any, int]], list[str]]:
    """{column: (most frequent non-missing value, its rows)} (None, 0) for a column without values; one
    statement per stack, one after another (stacks side by side in one statement read their columns at once)."""
    out: dict[str, tuple[Any, int]] = dict.fromkeys(types, (None, 0))
    statements = []
    for plan in _plans(engine, view, types):
        sql = _branches(EXACT_SQL, EXACT_TOP, view, types, [plan])
        for col, top, n in _rows(engine, sql, [plan]):
            out[col] = (top, int(n))
        statements.append(sql)
    return out, statements


def approximate_top_values(engine: Engine, view: str, types: Mapping[str, str]
                           ) -> tuple[dict[str, tuple[Any, int]], list[str]]:
    """{column: (its approximate most frequent value, that value's exact rows)}; two statements per stack."""
    out: dict[str, tuple[Any, int]] = {}
    statements = []
    for plan in _plans(engine, view, types):
        kind, cols = plan
        first = _branches(CANDIDATE_SQL, CANDIDATE_TOP, view, types, [plan])
        candidates: dict[str, Any] = dict.fromkeys(cols)
        for col, top, _ in _rows(engine, first, [plan]):
            candidates[col] = top
        out.update({c: (candidates[c], 0) for c in cols})
        statements.append(first)
        listed = [(str(j), candidates[c]) for j, c in enumerate(cols) if candidates[c] is not None]
        if listed:
            second = COUNT_SQL.format(batch=0, stacked=_stack(view, types, cols), kind=kind)
            for _, k, n in engine.query(second, [[k for k, _ in listed], [v for _, v in listed]]):
                col = cols[long_form.position(k)]
                out[col] = (candidates[col], int(n))
            statements.append(second)
    return out, statements


# Free text and other columns of many values: never counted value by value. approx_top_k's candidates
# (bounded memory per column) with the lengths in one grouping, then the candidates' exact rows in one more.
TEXT_CANDIDATES_SQL = """SELECT k, approx_top_k(v, ?) AS tops, min(length(v)) AS shortest, avg(length(v)) AS mean_length,
  max(length(v)) AS longest FROM {stacked} GROUP BY k"""
TEXT_COUNTS_SQL = """SELECT s.k, s.v, count(*) FROM {stacked} AS s
SEMI JOIN (SELECT unnest(?::VARCHAR[]) AS k, unnest(?::VARCHAR[]) AS v) AS c ON s.k = c.k AND s.v = c.v
GROUP BY s.k, s.v"""


def frequent_texts(engine: Engine, view: str, columns: list[str], top: int) -> tuple[dict[str, dict], list[str]]:
    """Per text column: its (approximately) `top` most frequent values with their exact rows, most first,
    and the shortest, mean and longest length of its values (in characters). Two statements per
    MAX_COLUMNS columns, whatever the number of values."""
    out: dict[str, dict] = {}
    statements = []
    for batch in long_form.batches(columns, read=engine.read_shares(view)):
        stacked = long_form.unpivot(view, [f"{quote_ident(c)}::VARCHAR" for c in batch])
        first = TEXT_CANDIDATES_SQL.format(stacked=stacked)
        pairs = []
        for k, tops, shortest, mean_length, longest in engine.query(first, [int(top)]):
            col = batch[long_form.position(k)]
            out[col] = {"top": [], "length_min": shortest, "length_mean": mean_length, "length_max": longest}
            pairs += [(k, v) for v in tops or []]
        statements.append(first)
        if pairs:
            second = TEXT_COUNTS_SQL.format(stacked=stacked)
            for k, value, n in engine.query(second, [[p[0] for p in pairs], [p[1] for p in pairs]]):
                out[batch[long_form.position(k)]]["top"].append((value, int(n)))
            statements.append(second)
    for found in out.values():
        found["top"].sort(key=lambda vn: (-vn[1], vn[0]))
    return out, statements
