"""A column's locating histogram: its finite values counted in equal-width cells, each cell's min and max,
its infinities apart, and the order statistics fetched so far (auditor.engine.quantiles fills it).

Cells are kept as sorted numpy arrays behind a read-only mapping (`CellMap`), not as dicts: 2,048 cells
as Python ints and tuples take ~0.5 MB a column, so the located columns of two 800-column tables held
800 MB; as arrays, 50 KB a column.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from auditor.engine.sql import is_float, quote_ident

LOCATE_BINS = 2048  # cells of the locating histogram: each holds ~rows/2048 values of a smooth column


class CellMap(Mapping):
    """cell -> a value (or a (low, high) pair), read-only, over numpy arrays sorted by cell."""

    def __init__(self, found: Mapping[int, Any]) -> None:
        cells = sorted(found)
        self._keys = np.array(cells, dtype=np.int64)
        first = next(iter(found.values()), 0)
        self._pair = isinstance(first, tuple)
        if self._pair:
            self._low = np.array([found[c][0] for c in cells], dtype=np.float64)
            self._high = np.array([found[c][1] for c in cells], dtype=np.float64)
        else:
            self._values = np.array([found[c] for c in cells], dtype=np.int64)

    @classmethod
    def of_arrays(cls, cells: np.ndarray, values: np.ndarray | None = None, lows: np.ndarray | None = None,
                  highs: np.ndarray | None = None) -> CellMap:
        """From arrays sorted by cell: counts (`values`), or min and max (`lows`, `highs`)."""
        out = cls({})
        out._keys = np.asarray(cells, dtype=np.int64)
        out._pair = values is None
        if out._pair:
            out._low, out._high = np.asarray(lows, dtype=np.float64), np.asarray(highs, dtype=np.float64)
        else:
            out._values = np.asarray(values, dtype=np.int64)
        return out

    def _at(self, i: int) -> Any:
        return (float(self._low[i]), float(self._high[i])) if self._pair else int(self._values[i])

    def __getitem__(self, cell: int) -> Any:
        i = int(np.searchsorted(self._keys, cell))
        if i < len(self._keys) and self._keys[i] == cell:
            return self._at(i)
        raise KeyError(cell)

    def __iter__(self) -> Iterator[int]:
        return iter(self._keys.tolist())

    def __len__(self) -> int:
        return len(self._keys)

    def values(self) -> list:  # type: ignore[override]
        if self._pair:
            return list(zip(self._low.tolist(), self._high.tolist(), strict=True))
        return self._values.tolist()

    def items(self) -> list:  # type: ignore[override]
        return list(zip(self._keys.tolist(), self.values(), strict=True))

    def total(self) -> int:
        """The sum of the values (counts)."""
        return int(self._values.sum()) if len(self._keys) else 0

    def arrays(self) -> tuple[np.ndarray, ...]:
        """(cells, counts), or (cells, lows, highs), sorted by cell: shared, not to be modified."""
        return (self._keys, self._low, self._high) if self._pair else (self._keys, self._values)


def cell_arrays(cells: Mapping[int, Any]) -> tuple[np.ndarray, ...]:
    """`CellMap.arrays` of any cell mapping (a dict while a histogram is being counted)."""
    return (cells if isinstance(cells, CellMap) else CellMap(cells)).arrays()


def finite_condition(col: str, duck_type: str) -> str:
    """SQL true for a value that takes part: not NULL, and finite for floating columns."""
    c = quote_ident(col)
    return f"{c} IS NOT NULL AND isfinite({c})" if is_float(duck_type) else f"{c} IS NOT NULL"


def value_condition(col: str, duck_type: str) -> str:
    """SQL true for a value that is not missing: not NULL, and not NaN for floating columns (±inf kept)."""
    c = quote_ident(col)
    return f"{c} IS NOT NULL AND NOT isnan({c})" if is_float(duck_type) else f"{c} IS NOT NULL"


def bin_expr(c: str) -> str:
    """Bin index on equal-width edges (parameters lo, width, bins), clamped: the top edge is in the last bin."""
    return f"least(greatest(floor(({c}::DOUBLE - ?) / ?), 0), ? - 1)::INTEGER"


def bin_params(lo: float, hi: float, bins: int) -> list:
    return [lo, (hi - lo) / bins if hi > lo else 1.0, bins]


def bin_of(value: float, lo: float, hi: float, bins: int) -> int:
    """`bin_expr` in Python, operation for operation in doubles, so a value lands in the same bin."""
    _, width, _ = bin_params(lo, hi, bins)
    return int(min(max(math.floor((float(value) - lo) / width), 0), bins - 1))


@dataclass
class Located:
    """One column's locating histogram (finite values per cell of an equal-width grid over [lo, hi]),
    its infinite values, and the order statistics of the finite values fetched so far."""

    lo: float
    hi: float
    cells: Mapping[int, int]  # a dict while being counted, a CellMap once compact
    negative_infinite: int = 0
    positive_infinite: int = 0
    extremes: Mapping[int, tuple[float, float]] = field(default_factory=dict)  # cell -> its min and max, if counted
    known: dict[int, float] = field(default_factory=dict)  # rank among the finite values -> value
    whole: dict[int, list[float]] = field(default_factory=dict)  # cell -> its values ascending, when asked whole
    sql: list[str] = field(default_factory=list)  # the statements that located and fetched them

    @property
    def bins(self) -> int:
        return LOCATE_BINS if self.hi > self.lo else 1

    @property
    def finite(self) -> int:
        return self.cells.total() if isinstance(self.cells, CellMap) else sum(self.cells.values())

    def compact(self) -> Located:
        """Keep the cells and their extremes as arrays (once they are all counted)."""
        if not isinstance(self.cells, CellMap):
            self.cells, self.extremes = CellMap(self.cells), CellMap(self.extremes)
        return self

    def values(self, infinite: bool) -> int:
        return self.finite + (self.negative_infinite + self.positive_infinite if infinite else 0)

    def finite_rank(self, rank: int, infinite: bool) -> int | float:
        """The rank among the finite values of a rank among all the values, or the infinity it is."""
        if not infinite:
            return rank
        if rank < self.negative_infinite:
            return -math.inf
        if rank >= self.negative_infinite + self.finite:
            return math.inf
        return rank - self.negative_infinite

    def value(self, rank: int, infinite: bool) -> float:
        at = self.finite_rank(rank, infinite)
        return at if isinstance(at, float) else self.known[at]


def finite_at_most(loc: Located, value: float) -> int | None:
    """How many finite values are at most `value`, from the cells' min and max and the order statistics
    fetched so far; None when that does not tell (no min and max, or a tie run the fetches did not reach).

    Cells hold disjoint, ordered value ranges: every cell lies wholly at or below the value but the one
    cell, at most, whose min is at or below it and whose max above; in that cell, two fetched neighbours
    x[r] <= value < x[r + 1] say that r + 1 values are at most the value."""
    if len(loc.extremes) != len(loc.cells):
        return None
    below = sum(loc.cells[cell] for cell, (_, high) in loc.extremes.items() if high <= value)
    if not any(low <= value < high for low, high in loc.extremes.values()):
        return below
    at_most = max((rank for rank, v in loc.known.items() if v <= value), default=None)
    if at_most is not None and loc.known.get(at_most + 1, -math.inf) > value:
        return at_most + 1
    return None


def located_from_counts(counts: Mapping[float, int], lo: float, hi: float) -> Located:
    """The locating histogram of a column whose value counts are known (finite values -> rows), on the
    grid over [lo, hi] that `locate` would use: the same cells, counts and extremes, read from no data."""
    loc = Located(lo, hi, cells={})
    for value, n in ((float(v), n) for v, n in counts.items()):
        cell = bin_of(value, lo, hi, loc.bins)
        low, high = loc.extremes.get(cell, (value, value))
        loc.cells[cell] = loc.cells.get(cell, 0) + n
        loc.extremes[cell] = (min(low, value), max(high, value))
    return loc.compact()


def located_key(view: str, column: str) -> tuple[str, str, str]:
    """The run-cache key of a column's locating histogram: a check that counted the cells itself
    (data.profile) stores them here, and every later quantile of that column starts from them."""
    return ("quantiles.located", view, column)
