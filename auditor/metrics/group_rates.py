"""Per-group rates and their gaps, with fairlearn's names and definitions.

One DuckDB scan yields, for every sensitive column, for their intersection (`sex×region`),
for ten calibration bins and for the whole dataset, the sizes, confusion counts and score
sums that every modeling check needs; `modeling_scan` caches it per run. The scan groups
once by every key together (and label × prediction cells) and rolls the few hundred rows
up in Python (auditor.engine.rollup): a GROUPING SETS per wanted set hashed the rows five times.
From those counts:

- rates as fairlearn defines them (selection rate, TPR, FPR, FNR, precision,
  accuracy, mean score), except that an undefined rate is None: fairlearn's
  `true_positive_rate` on a group without positives returns 0, silently (it
  normalises scikit-learn's confusion matrix, which turns 0/0 into 0; verified
  with fairlearn 0.15, no warning is raised);
- `difference` = max − min and `ratio` = min / max over the groups that are
  large enough (`min_group_size` rows) and whose rate is defined;
- Wilson score intervals (95%), and two-proportion z-tests between groups,
  Holm-corrected over the pairs compared, to tell a real gap from small-cell noise.
Missing sensitive values form their own "(missing)" group.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from auditor.engine import rollup
from auditor.engine.base import Engine
from auditor.engine.binning import bin_search
from auditor.engine.rollup import MAX_GROUPS
from auditor.engine.sql import bind, quote_ident
from auditor.metrics.cells import classification_measures
from auditor.metrics.performance import ModelColumns, rates

MISSING = "(missing)"
CROSS = "×"
Z95 = 1.959963984540054  # scipy.stats.norm.ppf(0.975)
CALIBRATION_BINS = 10

# rate -> (numerator, denominator) in the group's counts; what the z-tests compare.
RATE_COUNTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "selection_rate": ("selected", ("predicted",)),
    "non_selection_rate": ("predicted", ("predicted",)),  # numerator subtracts selected below
    "true_positive_rate": ("tp", ("tp", "fn")),
    "false_positive_rate": ("fp", ("fp", "tn")),
    "false_negative_rate": ("fn", ("tp", "fn")),
    "precision": ("tp", ("tp", "fp")),
    "accuracy": ("tp", ("tp", "fp", "fn", "tn")),  # numerator adds tn below
}


@dataclass(frozen=True)
class Group:
    attribute: str  # a sensitive column, or the intersection "sex×region"
    name: str
    counts: dict[str, Any]

    @property
    def rows(self) -> int:
        return int(self.counts.get("rows") or 0)

    @property
    def rates(self) -> dict[str, float | None]:
        return rates(self.counts)

    def successes(self, rate: str) -> tuple[int, int]:
        """(numerator, denominator) of a rate in this group."""
        num, dens = RATE_COUNTS[rate]
        x = int(self.counts.get(num) or 0) + (int(self.counts.get("tn") or 0) if rate == "accuracy" else 0)
        x -= int(self.counts.get("selected") or 0) if rate == "non_selection_rate" else 0
        return x, sum(int(self.counts.get(d) or 0) for d in dens)


@dataclass
class GroupScan:
    """The result of the one modeling scan of a dataset."""

    dataset: str
    columns: ModelColumns
    overall: dict[str, Any]
    groups: dict[str, list[Group]] = field(default_factory=dict)
    calibration: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    sql: str = ""

    @property
    def labelled(self) -> bool:
        return bool(self.overall.get("labelled"))


def attribute_name(columns: list[str] | tuple[str, ...]) -> str:
    return CROSS.join(columns)


def calibration_edges(bins: int = CALIBRATION_BINS) -> list[float]:
    """numpy.linspace(0, 1, bins + 1)[1:-1], the interior edges scikit-learn's calibration_curve uses."""
    return [float(x) for x in np.linspace(0.0, 1.0, bins + 1)[1:-1]]


def scan_source(view: str, cols: ModelColumns, sensitive: list[str] | tuple[str, ...]) -> tuple[str, dict]:
    """The rows the modeling scan groups (keys g0.., cal; cells y, yhat; score s) and their parameters."""
    inner = [f"{quote_ident(c)}::VARCHAR AS g{i}" for i, c in enumerate(sensitive)]
    if cols.label:
        inner.append(f"{cols.label} AS y")
    if cols.prediction:
        inner.append(f"{cols.prediction} AS yhat")
    params: dict[str, Any] = {}
    if cols.score:
        inner.append(f"{cols.score} AS s")
        # Bin k holds scores in (e_k, e_k+1] like numpy.searchsorted(edges, s), scikit-learn's rule
        # (a binary search of CASEs: cheaper than summing nine comparisons).
        edges = calibration_edges()
        params.update({f"e{i}": e for i, e in enumerate(edges)})
        inner.append(f"CASE WHEN s >= 0 AND s <= 1 THEN {bin_search('s', [f'e{i}' for i in range(len(edges))])} END AS cal")
    else:
        inner.append("NULL::INTEGER AS cal")  # one all-NULL bin, ignored
    params.update(cols.params)  # the positive label, the decision threshold
    return f"SELECT {', '.join(inner)} FROM {view}", params


def run_scan(engine: Engine, *, dataset: str, view: str, cols: ModelColumns, sensitive: list[str] | tuple[str, ...],
             distinct: Mapping[str, int] | None = None, max_groups: int = MAX_GROUPS) -> GroupScan:
    """Per sensitive column, their intersection, calibration bin and overall: one grouping of the rows.

    `distinct` (approximate distinct values per sensitive column) says whether every group fits in
    one fine grouping rolled up in Python; a column not in it keeps a grouping set of its own.
    """
    source, params = scan_source(view, cols, sensitive)
    params = bind(source, params)
    k = len(sensitive)
    keys = [f"g{i}" for i in range(k)]
    sizes = {f"g{i}": distinct[c] + 1 for i, c in enumerate(sensitive) if c in (distinct or {})}  # + NULL
    sizes["cal"] = CALIBRATION_BINS + 1 if cols.score else 1
    wanted: list[tuple[str, ...]] = [(g,) for g in keys] + ([tuple(keys)] if k > 1 else []) + [("cal",), ()]
    measures = classification_measures("y" if cols.label else None, "yhat" if cols.prediction else None,
                                       "s" if cols.score else None)
    grouped, sql = rollup.grouped(engine, source, keys=[*keys, "cal"], sizes=sizes, wanted=wanted,
                                  measures=measures, params=params, max_groups=max_groups)
    scan = GroupScan(dataset=dataset, columns=cols, overall=grouped[()][()], sql=sql)
    for i, col in enumerate(sensitive):
        groups = [Group(col, MISSING if v is None else v, c) for (v,), c in grouped[(f"g{i}",)].items()]
        scan.groups[col] = sorted(groups, key=lambda g: g.name)
    if k > 1:
        groups = [Group(attribute_name(sensitive), CROSS.join(MISSING if v is None else v for v in values), c)
                  for values, c in grouped[tuple(keys)].items()]
        scan.groups[attribute_name(sensitive)] = sorted(groups, key=lambda g: g.name)
    scan.calibration = sorted((int(b), c) for (b,), c in grouped[("cal",)].items() if b is not None)
    return scan


# --- statistics on the group counts ------------------------------------------------------------

def wilson_interval(successes: int, n: int, *, z: float = Z95) -> tuple[float | None, float | None]:
    """Wilson score interval for a proportion (scipy's binomtest(...).proportion_ci('wilson'))."""
    if n <= 0:
        return None, None
    p = successes / n
    denom = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, center - half), min(1.0, center + half)


def two_proportion_pvalue(x1: int, n1: int, x2: int, n2: int) -> float | None:
    """Two-sided pooled z-test of p1 = p2 (the square of z is the uncorrected 2×2 chi-square)."""
    if n1 <= 0 or n2 <= 0:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if variance <= 0:
        return 1.0  # both proportions are 0 (or both 1): no difference to test
    z = (x1 / n1 - x2 / n2) / math.sqrt(variance)
    return math.erfc(abs(z) / math.sqrt(2))


def holm(pvalues: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


@dataclass(frozen=True)
class Gap:
    """max − min and min / max of one rate over the eligible groups of one attribute."""

    rate: str
    difference: float | None
    ratio: float | None
    max_group: str | None
    min_group: str | None
    max_rate: float | None
    min_rate: float | None


def gap(groups: list[Group], rate: str, *, min_group_size: int) -> Gap:
    values = [(g.rates[rate], g.name) for g in groups if g.rows >= min_group_size and g.rates[rate] is not None]
    if not values:
        return Gap(rate, None, None, None, None, None, None)
    values.sort(key=lambda v: v[1])  # ties go to the first name: deterministic
    hi = max(values, key=lambda v: v[0])
    lo = min(values, key=lambda v: v[0])
    return Gap(rate, hi[0] - lo[0], lo[0] / hi[0] if hi[0] else None, hi[1], lo[1], hi[0], lo[0])


# Groups whose pairs holm_pair computes at once: a block of 256 against 5,000 groups is 10 MB of doubles.
PAIR_BLOCK = 256


def holm_pair(groups: list[Group], rates_compared: list[str], rate: str, a: str | None, b: str | None, *,
              min_group_size: int) -> tuple[float | None, int]:
    """The Holm-adjusted p-value of the pair (a, b) on `rate`, in the family of every pair of eligible groups
    (at least `min_group_size` rows, the rate defined) on every rate compared; and the family's size.

    Holm's adjusted value of a p-value p0 depends only on the m p-values of the family below it: with
    those sorted, p_(1..L), it is min(1, max((m - k + 1) p_(k) for k <= L, (m - L) p0)) (tied p-values
    share it). So the family's p-values are computed a group at a time, vectorised, keeping only those
    under p0: 5,000 groups are 12.5 million pairs a rate, never held at once.
    """
    from scipy.special import erfc, erfcinv

    target, family = None, 0
    blocks = []
    for r in rates_compared:
        eligible = sorted((g for g in groups if g.rows >= min_group_size and g.rates[r] is not None),
                          key=lambda g: g.name)
        counts = np.array([g.successes(r) for g in eligible], dtype=np.float64).reshape(-1, 2)
        blocks.append((r, [g.name for g in eligible], counts[:, 0], counts[:, 1]))
        family += len(eligible) * (len(eligible) - 1) // 2
        if r == rate and a in (names := [g.name for g in eligible]) and b in names and a != b:
            i, j = names.index(a), names.index(b)
            target = two_proportion_pvalue(*(int(v) for v in counts[i]), *(int(v) for v in counts[j]))
    if target is None:
        return None, family
    # p < p0 exactly where |z| > z0 (erfc falls as |z| grows): the family is read as z statistics, and only
    # the few p-values that matter are computed. A first pass counts them; when (m - L) p0 reaches 1 the
    # adjusted value is 1 whatever they are (a gap that is not significant: the common case), else a second
    # pass takes them.
    z0 = math.sqrt(2) * float(erfcinv(target)) if target < 1 else 0.0
    below = sum(int(np.count_nonzero(z > z0)) for z in _pair_z(blocks))
    if (family - below) * target >= 1:
        return 1.0, family
    smaller = np.sort(erfc(np.concatenate([z[z > z0] for z in _pair_z(blocks)] or [np.empty(0)]) / math.sqrt(2)))
    steps = (family - np.arange(len(smaller))) * smaller
    return float(min(1.0, max(float(steps.max(initial=0.0)), (family - len(smaller)) * target))), family


def _pair_z(blocks: list[tuple[str, list[str], np.ndarray, np.ndarray]]) -> Iterator[np.ndarray]:
    """|z| of the two-proportion test of every pair in each block of groups (NaN where it is undefined)."""
    for _, _, x, n in blocks:
        for start in range(0, len(x), PAIR_BLOCK):  # a block of groups against all groups after each
            i = np.arange(start, min(start + PAIR_BLOCK, len(x)))[:, None]
            x1, n1 = x[i], n[i]
            pooled = (x1 + x) / (n1 + n)
            variance = pooled * (1 - pooled) * (1 / n1 + 1 / n)
            with np.errstate(divide="ignore", invalid="ignore"):
                z = np.abs(x1 / n1 - x / n) / np.sqrt(variance)
            yield np.where((np.arange(len(x))[None, :] > i) & (variance > 0), z, np.nan)


def modeling_scan(run: Any) -> GroupScan:
    """The modeling scan of the `current` dataset, computed once per run.

    `run` is the RunState; every modeling and fairness check reads this one cached result, its label,
    prediction and score read by the run's target (auditor.audit.target).
    """
    dataset = run.datasets["current"]
    key = ("modeling_scan", dataset.name)
    if key not in run.cache:
        roles = run.roles
        cols = run.target.columns(dataset)
        summary = run.summary(dataset.name)
        run.cache[key] = run_scan(run.engine, dataset=dataset.name, view=dataset.view, cols=cols,
                                  sensitive=roles.sensitive,
                                  distinct={c: summary[c].distinct for c in roles.sensitive if c in summary})
    return run.cache[key]
