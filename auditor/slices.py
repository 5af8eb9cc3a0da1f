"""Slices of a dataset for error analysis: every categorical feature's values and every numeric
feature's quintile bins, as SQL key expressions that one GROUPING SETS scan can group by.

Quintile edges come from the reference when it has the feature (so slices mean the same thing
run after run), else from the current data; auditor.quantiles computes them exactly for all features
in bounded memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from auditor import quantiles
from auditor.fairness import MISSING
from auditor.metrics import bind, select_list
from auditor.sources import Dataset
from auditor.sql import Engine, is_numeric, quote_ident

QUINTILES = [0.2, 0.4, 0.6, 0.8]


@dataclass(frozen=True)
class SliceKey:
    feature: str
    expr: str  # SQL giving the slice name of a row (VARCHAR)
    params: dict[str, Any] = field(default_factory=dict)
    kind: str = "categorical"  # or "quintiles"
    order: tuple[str, ...] = ()  # slice names in their natural order (bins low to high)


def _edge(x: float) -> str:
    return f"{x:.6g}"


def numeric_key(feature: str, index: int, edges: list[float], value_sql: str) -> SliceKey:
    """Right-closed bins (−∞, e1], (e1, e2], ..., (ek, ∞) on distinct edges; NULL is '(missing)'."""
    edges = sorted(set(edges))
    names = [f"(-inf, {_edge(edges[0])}]"] if edges else ["all values"]
    names += [f"({_edge(a)}, {_edge(b)}]" for a, b in zip(edges, edges[1:], strict=False)]
    if edges:
        names.append(f"({_edge(edges[-1])}, inf)")
    params = {f"k{index}_e{j}": e for j, e in enumerate(edges)}
    params.update({f"k{index}_n{j}": n for j, n in enumerate(names)})
    whens = " ".join(f"WHEN {value_sql} <= $k{index}_e{j} THEN $k{index}_n{j}" for j in range(len(edges)))
    expr = (f"CASE WHEN {value_sql} IS NULL THEN '{MISSING}' {whens} "
            f"ELSE $k{index}_n{len(edges)} END")
    return SliceKey(feature, expr, params, "quintiles", tuple(names) + (MISSING,))


def categorical_key(feature: str) -> SliceKey:
    return SliceKey(feature, f"coalesce({quote_ident(feature)}::VARCHAR, '{MISSING}')")


def slice_keys(engine: Engine, *, current: Dataset, reference: Dataset | None, features: list[str],
               categorical: set[str], distinct: Mapping[str, int], max_categories: int = 50
               ) -> tuple[list[SliceKey], list[str]]:
    """Slice keys for the features, and the SQL run to find the quintile edges."""
    keys: list[SliceKey | None] = []
    numeric: list[tuple[int, str, str]] = []  # (position, feature, value sql)
    for feature in features:
        col = current.column(feature)
        if col is None:
            continue
        if feature in categorical:
            if distinct.get(feature, 0) <= max_categories:
                keys.append(categorical_key(feature))
        elif is_numeric(col.type):
            value = f"(CASE WHEN isnan({quote_ident(feature)}::DOUBLE) THEN NULL ELSE {quote_ident(feature)}::DOUBLE END)"
            numeric.append((len(keys), feature, value))
            keys.append(None)
    statements = []
    for source in (reference, current):
        todo = [(i, f, v) for i, f, v in numeric if keys[i] is None and source is not None
                and source.column(f) is not None and source.rows]
        if not todo:
            continue
        # Exact quintiles of the finite values without holding the columns (quantile_cont over every
        # feature could not spill: at 10M rows it died under a 512 MB memory_limit).
        found, sql = quantiles.exact_quantiles_of(engine, source, [f for _, f, _ in todo], QUINTILES)
        statements.extend(sql)
        for i, feature, value in todo:
            if feature in found:
                keys[i] = numeric_key(feature, i, found[feature], value)
    return [k for k in keys if k is not None], statements


TOTAL = "(all rows)"


def slice_scan(engine: Engine, view: str, keys: list[SliceKey], inner: list[str], aggregates: dict[str, str],
               params: Mapping[str, Any] | None = None, *, total: bool = False
               ) -> tuple[dict[str, list[tuple[str, dict]]], str]:
    """One GROUPING SETS scan: {feature: [(slice, aggregates)]}, plus {TOTAL: [(TOTAL, ...)]} when
    `total`. `inner` names the row values (like `label AS y`) that `aggregates` use."""
    projections = [f"{k.expr} AS k{i}" for i, k in enumerate(keys)] + inner
    selected = [f"GROUPING(k{i}) AS f{i}" for i in range(len(keys))] + [f"k{i}" for i in range(len(keys))]
    sql = (f"SELECT {', '.join([*selected, select_list(aggregates)])}\n"
           f"FROM (SELECT {', '.join(projections)} FROM {view})\n"
           f"GROUP BY GROUPING SETS ({', '.join([f'(k{i})' for i in range(len(keys))] + ['()'] * total)})")
    all_params = dict(params or {})
    for k in keys:
        all_params.update(k.params)
    result = engine.execute(sql, bind(sql, all_params))
    names = [d[0] for d in result.description]
    n = len(keys)
    out: dict[str, list[tuple[str, dict]]] = {k.feature: [] for k in keys}
    for row in result.fetchall():
        counts = dict(zip(names[2 * n:], row[2 * n:], strict=True))
        if all(row[:n]):
            out[TOTAL] = [(TOTAL, counts)]
            continue
        i = list(row[:n]).index(0)
        out[keys[i].feature].append((row[n + i], counts))
    for k in keys:  # bins low to high, then categories by name
        rank = {name: j for j, name in enumerate(k.order)}
        out[k.feature].sort(key=lambda item: (rank.get(item[0], len(rank)), item[0]))
    return out, sql
