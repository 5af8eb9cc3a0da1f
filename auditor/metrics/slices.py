"""Slices of a dataset for error analysis: every categorical feature's values and every numeric
feature's quintile bins, as SQL key expressions that one scan groups by.

The scan groups by several features at once (and, for classification, by label × prediction
cells) and rolls the small result up to each feature in Python (auditor.engine.rollup): one GROUPING
SETS per feature with nine filtered counts hashed the rows eight times (10M rows: 10 -> 3.5 CPU s).
Numeric bins are grouped by their number (cheaper than the name) and named in Python.

Quintile edges come from the reference when it has the feature (so slices mean the same thing
run after run), else from the current data; auditor.engine.quantiles computes them exactly for all features
in bounded memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from auditor.engine import long_form, quantiles, rollup
from auditor.engine.base import Engine
from auditor.engine.rollup import Measures
from auditor.engine.sources import Dataset
from auditor.engine.sql import bind, is_numeric, quote_ident, select_list
from auditor.metrics.group_rates import MISSING

QUINTILES = [0.2, 0.4, 0.6, 0.8]


@dataclass(frozen=True)
class SliceKey:
    feature: str
    expr: str  # SQL giving the slice name of a row (VARCHAR), or its bin number when `bins` is set
    params: dict[str, Any] = field(default_factory=dict)
    kind: str = "categorical"  # or "quintiles"
    order: tuple[str, ...] = ()  # slice names in their natural order (bins low to high)
    bins: tuple[str, ...] = ()  # the names of bin numbers 0, 1, ...; NULL is MISSING
    size: int | None = None  # how many slices at most (None: unknown)

    def name(self, value: Any) -> str:
        if not self.bins:
            return value
        return MISSING if value is None else self.bins[value]


def _edge(x: float) -> str:
    return f"{x:.6g}"


def numeric_key(feature: str, index: int, edges: list[float], value_sql: str) -> SliceKey:
    """Right-closed bins (−∞, e1], (e1, e2], ..., (ek, ∞) on distinct edges of a DOUBLE value; NULL and NaN
    are '(missing)'."""
    edges = sorted(set(edges))
    names = [f"(-inf, {_edge(edges[0])}]"] if edges else ["all values"]
    names += [f"({_edge(a)}, {_edge(b)}]" for a, b in zip(edges, edges[1:], strict=False)]
    if edges:
        names.append(f"({_edge(edges[-1])}, inf)")
    params = {f"k{index}_e{j}": e for j, e in enumerate(edges)}
    # The bin number is how many edges lie below the value: bin j is (e_j-1, e_j]. The value is written as
    # plainly as it can be: with 500 keys a statement's planning costs more than its rows, and grows with
    # its text (a CASE for NaN in every comparison made the statement three times as slow to plan).
    above = " + ".join(f"({value_sql} > $k{index}_e{j})::INTEGER" for j in range(len(edges))) or "0"
    expr = f"CASE WHEN {value_sql} IS NULL OR isnan({value_sql}) THEN NULL ELSE {above} END"
    return SliceKey(feature, expr, params, "quintiles", tuple(names) + (MISSING,), tuple(names), len(names) + 1)


def categorical_key(feature: str, distinct: int | None = None) -> SliceKey:
    """The feature's values as text, NULL as MISSING; `distinct` (approximate) sizes the grouping."""
    return SliceKey(feature, f"coalesce({quote_ident(feature)}::VARCHAR, '{MISSING}')",
                    size=None if distinct is None else distinct + 1)


def slice_keys(engine: Engine, *, current: Dataset, reference: Dataset | None, features: list[str],
               categorical: set[str], distinct: Mapping[str, int], max_categories: int = 50,
               cache: dict | None = None) -> tuple[list[SliceKey], list[str]]:
    """Slice keys for the features, and the SQL run to find the quintile edges (shared through `cache`,
    the run's, with the other checks that need the reference's quantiles)."""
    keys: list[SliceKey | None] = []
    numeric: list[tuple[int, str, str]] = []  # (position, feature, value sql)
    for feature in features:
        col = current.column(feature)
        if col is None:
            continue
        if feature in categorical:
            if distinct.get(feature, 0) <= max_categories:
                keys.append(categorical_key(feature, distinct.get(feature)))
        elif is_numeric(col.type):
            numeric.append((len(keys), feature, f"{quote_ident(feature)}::DOUBLE"))
            keys.append(None)
    statements = []
    for source in (reference, current):
        todo = [(i, f, v) for i, f, v in numeric if keys[i] is None and source is not None
                and source.column(f) is not None and source.rows]
        if not todo:
            continue
        # Exact quintiles of the finite values without holding the columns (quantile_cont over every
        # feature could not spill: at 10M rows it died under a 512 MB memory_limit).
        found, sql = quantiles.exact_quantiles_of(engine, source, [f for _, f, _ in todo], QUINTILES, cache=cache)
        statements.extend(sql)
        for i, feature, value in todo:
            if feature in found:
                keys[i] = numeric_key(feature, i, found[feature], value)
    return [k for k in keys if k is not None], statements


TOTAL = "(all rows)"


def slice_scan(engine: Engine, view: str, keys: list[SliceKey], inner: list[str],
               aggregates: Mapping[str, str] | Measures, params: Mapping[str, Any] | None = None, *,
               total: bool = False, max_groups: int = rollup.MAX_GROUPS) -> tuple[dict[str, list[tuple[str, dict]]], str]:
    """One scan: {feature: [(slice, aggregates)]}, plus {TOTAL: [(TOTAL, ...)]} when `total`.

    `inner` names the row values (like `label AS y`) that `aggregates` use; Measures (auditor.metrics.cells)
    may group by some of them as cells. Many keys are stacked in long form (`stacked_slices`).
    """
    measures = aggregates if isinstance(aggregates, Measures) else rollup.plain(aggregates)
    all_params = dict(params or {})
    for k in keys:
        all_params.update(k.params)
    if len(keys) > long_form.NARROW_MAX:
        return stacked_slices(engine, view, keys, inner, measures, all_params, total=total)
    names = [f"k{i}" for i in range(len(keys))]
    source = f"SELECT {', '.join([f'{k.expr} AS k{i}' for i, k in enumerate(keys)] + inner)} FROM {view}"
    wanted = [(n,) for n in names] + [()] * total
    grouped, sql = rollup.grouped(engine, source, keys=names, wanted=wanted, measures=measures,
                                  sizes={n: k.size for n, k in zip(names, keys, strict=True) if k.size is not None},
                                  params=bind(source, all_params), max_groups=max_groups,
                                  relabel={n: k.name for n, k in zip(names, keys, strict=True) if k.bins})
    per_key = {k.feature: [((value,), counts) for (value,), counts in grouped[(n,)].items()]
               for n, k in zip(names, keys, strict=True)}
    out = _in_order(keys, per_key)
    if total:
        out[TOTAL] = [(TOTAL, grouped[()][()])]
    return out, sql


def _in_order(keys: list[SliceKey], per_key: Mapping[str, list[tuple[tuple, dict]]]) -> dict[str, list[tuple[str, dict]]]:
    """Each feature's slices, bins low to high, then categories by name."""
    out: dict[str, list[tuple[str, dict]]] = {}
    for k in keys:
        rank = {name: j for j, name in enumerate(k.order)}
        out[k.feature] = sorted(((value, counts) for (value,), counts in per_key[k.feature]),
                                key=lambda item: (rank.get(item[0], len(rank)), item[0]))
    return out


# Many keys: stacked as (k, slice) rows with the row values beside, grouped by (k, slice) and the cells.
# A key's value is text (a bin number too; '' is a missing value, which UNPIVOT would leave out as NULL).
# One grouping over rows x keys, where grouping sets hashed every row once per set and each set's table
# held a few MB (1,000 features of 20,000 rows ran out of a 488 MiB memory_limit).
STACKED_SQL = "SELECT k, slice{cells}, {aggregates} FROM {stacked} GROUP BY k, slice{cells}"


def stacked_slices(engine: Engine, view: str, keys: list[SliceKey], inner: list[str], measures: Measures,
                   params: Mapping[str, Any], *, total: bool = False) -> tuple[dict[str, list[tuple[str, dict]]], str]:
    """`slice_scan` of many keys in long form, one statement (a branch per MAX_COLUMNS keys)."""
    cells = "".join(f", {c}" for c in measures.cells)
    aggregates = select_list(measures.aggregates)
    branches = []
    read = engine.read_shares(view)
    for batch in long_form.batches(list(range(len(keys))), read=lambda i: read(keys[i].feature)):
        values = [f"coalesce(({keys[i].expr})::VARCHAR, '')" for i in batch]
        stacked = long_form.unpivot(view, values, names=("slice",), keep=inner)
        branch = STACKED_SQL.format(cells=cells, aggregates=aggregates, stacked=stacked)
        branches.append(f"SELECT {batch[0]} + k::INTEGER AS k, * EXCLUDE (k) FROM ({branch})")
    if total:
        source = f"SELECT {', '.join(inner)} FROM {view}"
        branches.append(f"SELECT -1 AS k, '' AS slice{cells}, {aggregates} FROM ({source}){' GROUP BY ' + cells[2:] if cells else ''}")
    # One statement per stack, one after another: stacks side by side read all their columns at once.
    names = ["k", "slice", *measures.cells, *measures.aggregates]
    fine: dict[tuple[int, str], list[dict]] = {}
    for branch in branches:
        for row in engine.query(branch, bind(branch, params)):
            found = dict(zip(names, row, strict=True))
            fine.setdefault((found["k"], found["slice"]), []).append(found)
    sql = "\n;\n".join(branches)
    per_key: dict[str, list[tuple[tuple, dict]]] = {k.feature: [] for k in keys}
    for (index, text), rows in fine.items():
        if index < 0:
            continue
        key = keys[index]
        value = (int(text) if text else None) if key.bins else text
        per_key[key.feature].append(((key.name(value),), measures.finish(rows)))
    out = _in_order(keys, per_key)
    if total:
        out[TOTAL] = [(TOTAL, measures.finish(fine.get((-1, ""), [])))]
    return out, sql
