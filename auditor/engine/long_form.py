"""Many columns in one statement: the columns stacked into (column, value) rows with UNPIVOT, in
batches of at most MAX_COLUMNS columns, or fewer where the memory limit calls for it (what the batch's
hash table or sort holds, and what reading its columns holds: a Parquet row group's chunk of each).

A statement per column, or a UNION ALL of one narrow aggregate per column, scans the table once per
column: 1,000 columns took 24 CPU s and 1.4 GB for a 20,000-row summary. One wide aggregate over
every column slows down faster than it grows (800 columns with shared CASE expressions: 5.8 s
against 0.24 s for 100), and its chunks are as wide as the table. UNPIVOT turns the columns into
rows (`k`, the column's position as text, and one or more values), so one GROUP BY k (or k and a
bin, or k and a value) gives every column's aggregates in one scan with one hash table, which
spills like any other. DuckDB plans UNPIVOT as a list per row that is unnested, without carrying the
other columns along (500 columns of 20,000 rows: 0.33 CPU s, half the cost of the same unnest
written by hand). On a tall table of a few columns it costs about a fifth more CPU than one narrow
aggregate per column (10M rows, six columns: 1.48 against 1.22 CPU s), in one scan instead of six.

`UNPIVOT ... ON COLUMNS(*)` leaves out rows whose (first) value is NULL: a column's missing values
are never rows, so an aggregate counts non-missing values, and the rows it lacks are the nulls.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from auditor.engine.sql import quote_ident

T = TypeVar("T")

# Columns stacked by one UNPIVOT at most. Past this, a row's list grows long enough that unnesting
# it costs more per value (800 numbers: 1.5 CPU s in one list, 0.7 in four lists of 200).
MAX_COLUMNS = 500
# Up to this many columns, a structure of their own per column (a `histogram`, a grouping set) costs
# less CPU than stacking them (10M rows, four text columns counted: 0.19 against 1.36 CPU s); each
# holds a few MB however few its values, so more of them would not fit the memory limit.
NARROW_MAX = 24


def batches(items: Sequence[T], *, weight: Callable[[T], float] | None = None, budget: float | None = None,
            most: int = MAX_COLUMNS, read: Callable[[T], float] | None = None) -> list[list[T]]:
    """The items in order, in consecutive batches of at most `most`, whose weights (what a batch holds
    in memory: groups, rows) add up to at most `budget`, and whose `read` shares (what reading an item's
    column holds: `Engine.read_shares`) add up to at most 1; an item over either goes alone."""
    out: list[list[T]] = []
    current: list[T] = []
    held = reading = 0.0
    for item in items:
        w = weight(item) if weight is not None and budget is not None else 0.0
        r = read(item) if read is not None else 0.0
        if current and (len(current) >= most or (budget is not None and held + w > budget) or reading + r > 1.0):
            out.append(current)
            current, held, reading = [], 0.0, 0.0
        current.append(item)
        held += w
        reading += r
    if current:
        out.append(current)
    return out


def unpivot(view: str, values: Sequence[str] | Sequence[Sequence[str]], *, names: Sequence[str] = ("v",),
            keep: Sequence[str] = (), where: str | None = None) -> str:
    """SQL rows (k, names..., keep...) of `view`: one row per row and per entry of `values`, whose k is
    the entry's position as text ('0', '1', ...). An entry is one SQL expression, or one per name (a
    value and its bin, say), of the same types across entries; a row whose first value is NULL is
    left out. `keep` (select items, like `label AS y`) carries per-row values along; `where` filters the rows first."""
    entries = [[v] if isinstance(v, str) else list(v) for v in values]
    assert entries and all(len(e) == len(names) for e in entries), "one expression per name in every entry"
    select = list(keep)
    on = []
    for i, exprs in enumerate(entries):
        aliases = [f"{i}" if len(names) == 1 else f"{i}_{j}" for j in range(len(names))]
        select += [f"{sql} AS {quote_ident(a)}" for sql, a in zip(exprs, aliases, strict=True)]
        on.append(quote_ident(aliases[0]) if len(names) == 1
                  else f"({', '.join(quote_ident(a) for a in aliases)}) AS {quote_ident(str(i))}")
    source = f"SELECT {', '.join(select)} FROM {view}" + (f" WHERE {where}" if where else "")
    value_names = ", ".join(quote_ident(n) for n in names)
    return f"(UNPIVOT ({source}) ON {', '.join(on)} INTO NAME k VALUE {value_names})"


def position(k: str) -> int:
    """The entry a long row came from (its k), as `unpivot` numbered them."""
    return int(k)
