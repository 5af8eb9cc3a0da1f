"""Exact KS statistic, Wasserstein-1 and the PSI bins' counts of many columns at once: both sides'
columns stacked in long form (auditor.engine.long_form), one sort per batch of columns.

`ecdf.ecdf_sql` takes a statement per column: 800 columns, 800 statements. Here both sides' values
are stacked as (k, v, r, c) rows (a value of the reference counts 1 in r, of the current 1 in c;
value counts known already come bound, with their counts) and sorted once by (k, v). With a RANGE
frame a row's running counts include every row of its value (its tie run), so at any row

    gap = (reference rows <= v) / n - (current rows <= v) / m

is the gap of the two ECDFs at v: D is its largest absolute value, as scipy's ks_2samp measures it.
Between a row and the next one the ECDFs are constant, so Wasserstein-1, the integral of |gap|, is
the sum over rows of |gap| times the step to the next row's value (zero inside a tie run), as
scipy's wasserstein_distance computes it. The rows at or below each PSI cut point are the running
counts of the last row at or below it. The same numbers as the
per-column statement, term for term; ±infinity are values, NaN and NULL are left out.

A batch holds at most ROWS_MAX stacked rows (values of both sides), sized for the sort to stay in
memory or spill: 100 columns of 20,000 rows a side took 1.4 CPU s and 254 MB.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from auditor.engine import long_form
from auditor.engine.base import Engine
from auditor.engine.sql import is_float, quote_ident

ROWS_MAX = 4_000_000

STACKED_ECDF_SQL = """WITH stacked AS ({sides}),
totals AS (SELECT unnest(?::INTEGER[]) AS k, unnest(?::DOUBLE[]) AS n, unnest(?::DOUBLE[]) AS m,
  unnest(?::DOUBLE[][]) AS cuts),
running AS (
  SELECT k, v, lead(v) OVER (PARTITION BY k ORDER BY v ROWS UNBOUNDED PRECEDING) AS next_v,
    (sum(r) OVER w)::BIGINT AS cum_ref, (sum(c) OVER w)::BIGINT AS cum_cur
  FROM stacked WINDOW w AS (PARTITION BY k ORDER BY v RANGE UNBOUNDED PRECEDING)),
gaps AS (SELECT running.*, cum_ref / n - cum_cur / m AS gap, {cut_columns} FROM running JOIN totals USING (k))
SELECT k, max(abs(gap)), coalesce(fsum(abs(gap) * (next_v - v)) FILTER (WHERE next_v IS NOT NULL), 0),
  arg_max(cum_ref, [abs(gap), -v]), arg_max(cum_cur, [abs(gap), -v]), {at_cuts}
FROM gaps GROUP BY k"""
# The widest gap's running counts: at tied gaps, those of the smallest value (deterministic on every engine).
# Rows at or below a cut point: the running counts of the last row at or below it.
CUT_COLUMN = "cuts[{j}] AS cut_{j}"
AT_CUT = "coalesce(max(cum_ref) FILTER (WHERE v <= cut_{j}), 0), coalesce(max(cum_cur) FILTER (WHERE v <= cut_{j}), 0)"


# A side's rows: its values stacked (each row one value), or value counts known already, bound as lists.
RAW_SIDE = "SELECT {k} AS k, v, {r} AS r, {c} AS c FROM {stacked}"
COUNTED_SIDE = ("SELECT unnest(?::INTEGER[]) AS k, unnest(?::DOUBLE[]) AS v, unnest(?::BIGINT[]) AS r, "
                "unnest(?::BIGINT[]) AS c")


def _value(column: str, duck_type: str) -> str:
    c = quote_ident(column)
    return f"CASE WHEN isnan({c}) THEN NULL ELSE {c}::DOUBLE END" if is_float(duck_type) else f"{c}::DOUBLE"


def stacked_distances(engine: Engine, reference: str, current: str, types: Mapping[str, tuple[str, str]],
                      cuts: Mapping[str, Sequence[float]], values: Mapping[str, tuple[int, int]],
                      known: Mapping[str, tuple[Mapping[float, int] | None, Mapping[float, int] | None]] | None = None,
                      ) -> dict[str, tuple[float, float, list[int], str, tuple[int, int]]]:
    """Per column: (D, Wasserstein-1, rows <= each cut point on the reference side then the current side,
    the statement, the reference and current rows at or below the value where the gap is widest). `types`
    gives each column's type in the reference and in the current view, `values` its non-missing values on
    each side (both > 0), `known` value counts of either side known already (bound, not read)."""
    known = known or {}
    out: dict[str, tuple[float, float, list[int], str, tuple[int, int]]] = {}
    read = engine.read_shares(reference, current)
    for batch in long_form.batches(list(types), weight=lambda c: sum(values[c]), budget=ROWS_MAX, read=read):
        sides, params = [], []
        counted: list[tuple[int, float, int, int]] = []  # (k, v, reference rows, current rows)
        for side, view in ((0, reference), (1, current)):
            raw = [i for i, c in enumerate(batch) if (known.get(c) or (None, None))[side] is None]
            for i, c in enumerate(batch):
                found = (known.get(c) or (None, None))[side]
                counted += [(i, float(v), int(n) * (1 - side), int(n) * side) for v, n in (found or {}).items()]
            if raw:  # one stack per run of raw columns, numbered as in the batch
                stacked = long_form.unpivot(view, [_value(batch[i], types[batch[i]][side]) for i in raw])
                k = "k::INTEGER" if raw == list(range(len(batch))) else f"[{', '.join(map(str, raw))}][k::INTEGER + 1]"
                sides.append(RAW_SIDE.format(k=k, r=1 - side, c=side, stacked=stacked))
        if counted:
            sides.append(COUNTED_SIDE)
            params += [[x[0] for x in counted], [x[1] for x in counted], [x[2] for x in counted], [x[3] for x in counted]]
        most = max(len(cuts[c]) for c in batch)
        sql = STACKED_ECDF_SQL.format(sides="\n  UNION ALL ".join(sides),
                                      cut_columns=", ".join(CUT_COLUMN.format(j=j + 1) for j in range(most)) or "NULL",
                                      at_cuts=", ".join(AT_CUT.format(j=j + 1) for j in range(most)) or "NULL")
        params += [list(range(len(batch))), [float(values[c][0]) for c in batch], [float(values[c][1]) for c in batch],
                   [[float(x) for x in cuts[c]] for c in batch]]
        for k, d, w, widest_ref, widest_cur, *at in engine.query(sql, params):
            col = batch[k]
            count = len(cuts[col])
            at_ref, at_cur = [int(x) for x in at[0:2 * count:2]], [int(x) for x in at[1:2 * count:2]]
            out[col] = (d, w, [*at_ref, *at_cur], sql, (int(widest_ref), int(widest_cur)))
    return out
