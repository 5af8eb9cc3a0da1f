"""Many groupings from one: the wanted grouping sets, added up in Python from a few fine ones.

DuckDB runs one hash aggregate over every row per grouping set, so `GROUPING SETS ((a), (b),
(a, b), ())` with twenty aggregates hashes the data four times with twenty aggregates each (10M
rows: 12 CPU s). When the keys have few values, grouping once by all of them brings back a few
hundred rows that add up to every wanted set (10M rows: under 2 CPU s). `covering_sets` packs the
wanted sets into as few fine groupings as stay under MAX_GROUPS estimated groups each; a key with
many values keeps a grouping set of its own, as before.

Counts add up exactly and min / max are exact; sums of floats are added with math.fsum, exactly
rounded (DuckDB's own parallel sum already differs from run to run in the last bits). A NULL key
is a group of its own: GROUPING() tells a real NULL from a rolled-up one in each fine row.

`Measures` says what each group gets: SQL aggregates per fine group and how a wanted group's
fine rows finish into its named values. `cells` are row values grouped by as well (booleans
such as label and prediction): then counts of combinations replace filtered counts, which is
cheaper still (see auditor/metrics/cells.py).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from auditor.engine.base import Engine
from auditor.engine.sql import select_list

# 10M rows, 8 one-key sets packed into 2 sets of up to ~12k estimated groups: as cheap as 4 smaller
# sets (3.5 CPU s), while one set of 376k groups was twice as slow; beyond this a key keeps its own set.
MAX_GROUPS = 20_000
BOOLEAN_VALUES = 3  # true, false and NULL

Row = dict[str, Any]
Key = tuple[str, ...]


@dataclass(frozen=True)
class Measures:
    aggregates: Mapping[str, str]  # SQL aggregates computed per fine group
    finish: Callable[[list[Row]], dict[str, Any]]  # a wanted group's fine rows -> its named values
    cells: tuple[str, ...] = ()  # boolean row values grouped by too
    adds_up: bool = True  # False: every wanted set is grouped as it is, and `finish` gets its one row


def plain(aggregates: Mapping[str, str]) -> Measures:
    """Measures for aggregates as they are: they add up when each is a count, sum, min or max of one
    expression; any other (avg, var_pop, ...) keeps one grouping set per wanted set, as GROUPING SETS."""
    kinds = {name: aggregate_kind(sql) for name, sql in aggregates.items()}
    if any(kind is None for kind in kinds.values()):
        return Measures(dict(aggregates), lambda rows: {name: rows[0][name] for name in aggregates}, adds_up=False)
    return Measures(dict(aggregates), lambda rows: combine(rows, kinds))


def _closing(sql: str, start: int) -> int:
    """Index of the parenthesis closing the one at `start` (quotes are not expected in aggregates)."""
    depth = 0
    for i in range(start, len(sql)):
        depth += {"(": 1, ")": -1}.get(sql[i], 0)
        if depth == 0:
            return i
    return -1


FUNCTION = re.compile(r"\s*(count|sum|min|max)\s*\(", re.IGNORECASE)
FILTER = re.compile(r"\s*FILTER\s*\(", re.IGNORECASE)


def aggregate_kind(sql: str) -> str | None:
    """'count', 'sum', 'min' or 'max' when `sql` is one such call (with an optional FILTER), else None."""
    match = FUNCTION.match(sql)
    if not match:
        return None
    end = _closing(sql, match.end() - 1)
    rest = sql[end + 1:] if end >= 0 else None
    if rest is None:
        return None
    tail = FILTER.match(rest)
    if tail:
        close = _closing(rest, tail.end() - 1)
        rest = rest[close + 1:] if close >= 0 else None
    return match.group(1).lower() if rest is not None and not rest.strip() else None


def add(values: Sequence[Any]) -> Any:
    """SQL sum of partial sums: None when every part is NULL, exact for integers, fsum for floats."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    if all(isinstance(v, int) for v in present):
        return sum(present)
    floats = [float(v) for v in present]
    if not all(math.isfinite(v) for v in floats):
        return sum(floats)  # inf or nan: what SQL gives (fsum raises on inf - inf)
    return math.fsum(floats)


def combine(rows: list[Row], kinds: Mapping[str, str]) -> dict[str, Any]:
    """One group's values from its fine rows; no rows gives what SQL gives on no rows."""
    out: dict[str, Any] = {}
    for name, kind in kinds.items():
        values = [r[name] for r in rows]
        if kind == "count":
            out[name] = sum(int(v) for v in values)
        elif kind == "sum":
            out[name] = add(values)
        else:
            present = [v for v in values if v is not None]
            out[name] = (min if kind == "min" else max)(present) if present else None
    return out


def _size(keys: Sequence[str], sizes: Mapping[str, int]) -> float:
    return math.prod(max(1, sizes.get(k, math.inf)) for k in keys)


def covering_sets(wanted: Sequence[Key], sizes: Mapping[str, int], *, cells: Key = (),
                  max_groups: int = MAX_GROUPS) -> list[Key]:
    """Fine groupings (each with the cells) that together contain every wanted set.

    Greedy, largest wanted set first (supersets before their subsets): a set joins the first fine grouping that stays under
    `max_groups` estimated groups (the product of its keys' value counts; unknown counts are
    taken as too many), else starts one of its own.
    """
    with_cells = {**sizes, **dict.fromkeys(cells, BOOLEAN_VALUES)}
    covers: list[Key] = []
    for w in sorted(dict.fromkeys(wanted), key=lambda w: (-_size(w, sizes), -len(w))):
        for i, c in enumerate(covers):
            union = c + tuple(k for k in w if k not in c)
            if union == c or _size(union + cells, with_cells) <= max_groups:
                covers[i] = union
                break
        else:
            covers.append(tuple(w))
    return [c + cells for c in covers] or [cells]


def grouping_sql(source: str, keys: Sequence[str], covers: Sequence[Key], aggregates: Mapping[str, str]) -> str:
    """SELECT [GROUPING flags], keys, aggregates FROM (source) GROUP BY the fine groupings."""
    flags = [f"GROUPING({k})" for k in keys] if len(covers) > 1 else []
    selected = ", ".join([*flags, *keys, select_list(aggregates)])
    if len(covers) > 1:
        clause = "\nGROUP BY GROUPING SETS (" + ", ".join(f"({', '.join(c)})" for c in covers) + ")"
    else:
        clause = f"\nGROUP BY {', '.join(covers[0])}" if covers[0] else ""
    return f"SELECT {selected}\nFROM ({source}){clause}"


def roll_up(rows: Sequence[tuple], keys: Sequence[str], covers: Sequence[Key], wanted: Sequence[Key],
            measures: Measures, relabel: Mapping[str, Callable[[Any], Any]] | None = None
            ) -> dict[Key, dict[tuple, dict[str, Any]]]:
    """{wanted set: {its key values: named values}} from the rows of `grouping_sql`.

    `relabel` maps a key's SQL values to the values grouped by (bin numbers to their names): values
    with the same label are one group, as when SQL computed the label.
    The empty set always has its one group, even over no rows (as GROUP BY () does).
    """
    relabel = relabel or {}
    all_keys = list(keys)
    names = [*all_keys, *measures.aggregates]
    flagged = len(covers) > 1
    by_cover: dict[frozenset, list[Row]] = {frozenset(c): [] for c in covers}
    for row in rows:
        values = row[len(all_keys):] if flagged else row
        present = frozenset(k for k, f in zip(all_keys, row, strict=False) if not f) if flagged else frozenset(covers[0])
        by_cover[present].append(dict(zip(names, values, strict=True)))
    out: dict[Key, dict[tuple, dict[str, Any]]] = {}
    for w in wanted:
        exact = [frozenset(c) for c in covers if set(c) == set(w) | set(measures.cells)]
        cover = exact[0] if exact else next(frozenset(c) for c in covers if set(w) <= set(c))
        groups: dict[tuple, list[Row]] = {(): []} if not w else {}
        for r in by_cover[cover]:
            groups.setdefault(tuple(relabel[k](r[k]) if k in relabel else r[k] for k in w), []).append(r)
        out[tuple(w)] = {value: measures.finish(fine) for value, fine in groups.items()}
    return out


def grouped(engine: Engine, source: str, *, keys: Sequence[str], sizes: Mapping[str, int], wanted: Sequence[Key],
            measures: Measures, params: Mapping[str, Any] | None = None, max_groups: int = MAX_GROUPS,
            relabel: Mapping[str, Callable[[Any], Any]] | None = None) -> tuple[dict[Key, dict[tuple, dict[str, Any]]], str]:
    """Every wanted grouping of `source` (a SELECT naming the keys and the cells), and the SQL run."""
    covers = (covering_sets(wanted, sizes, cells=measures.cells, max_groups=max_groups) if measures.adds_up
              else [tuple(w) + measures.cells for w in dict.fromkeys(wanted)])
    all_keys = list(dict.fromkeys([*keys, *measures.cells]))
    sql = grouping_sql(source, all_keys, covers, measures.aggregates)
    rows = engine.query(sql, dict(params or {}))
    return roll_up(rows, all_keys, covers, wanted, measures, relabel), sql
