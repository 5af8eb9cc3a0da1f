"""Groupings rolled up in Python from one fine grouping, against one plain GROUP BY per set."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from auditor.engine.rollup import add, aggregate_kind, covering_sets, plain
from auditor.engine.sql import select_list
from auditor.metrics.cbpe import cbpe_aggregates
from auditor.metrics.cells import classification_measures
from auditor.metrics.evaluate import binary_counts
from auditor.metrics.group_rates import MISSING, run_scan, scan_source
from auditor.metrics.performance import classification_aggregates, model_columns
from tests.modeling_helpers import view_of


def hostile_frame(seed: int = 0, n: int = 400) -> pd.DataFrame:
    """Nulls everywhere, a '<script>' category, a one-value column, scores out of [0, 1] and NaN."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["female", "male", "<script>alert(1)</script>"], n).astype(object)
    sex[rng.random(n) < 0.1] = None
    region = rng.choice(["north", "south"], n).astype(object)
    region[rng.random(n) < 0.05] = None
    label = rng.choice([0.0, 1.0, np.nan], n, p=[0.45, 0.45, 0.1])
    score = rng.random(n)
    score[rng.random(n) < 0.05] = np.nan
    score[:3] = [1.0, 0.0, 0.1]  # on a bin edge and at both ends
    prediction = np.where(rng.random(n) < 0.05, np.nan, (score >= 0.5).astype(float))
    return pd.DataFrame({"sex": sex, "region": region, "one": "only", "label": label, "score": score,
                         "prediction": prediction})


def oracle(engine, source: str, params: dict, keys: tuple[str, ...], aggregates: dict[str, str]) -> dict:
    """One plain GROUP BY of the wanted keys: the obvious SQL."""
    group = f" GROUP BY {', '.join(keys)}" if keys else ""
    sql = f"SELECT {', '.join([*keys, select_list(aggregates)])} FROM ({source}){group}"
    result = engine.execute(sql, params)
    names = [d[0] for d in result.description]
    return {tuple(row[:len(keys)]): dict(zip(names[len(keys):], row[len(keys):], strict=True))
            for row in result.fetchall()}


def assert_same(got: dict, want: dict) -> None:
    assert list(got) == list(want)  # the same names in the same order
    for name, value in want.items():
        if isinstance(value, float):
            assert got[name] == pytest.approx(value, rel=1e-12, abs=1e-12), name
        else:
            assert got[name] == value and type(got[name]) is type(value), name


@pytest.mark.parametrize("sensitive", [["sex", "region"], ["sex"], ["one"], ["sex", "region", "one"], []])
@pytest.mark.parametrize("max_groups", [20_000, 0])  # one fine grouping, or a grouping set per wanted set
def test_modeling_scan_equals_one_group_by_per_set(tmp_path, sensitive, max_groups):
    df = hostile_frame()
    engine, ds = view_of(df, tmp_path)
    cols = model_columns(ds, label="label", prediction="prediction", score="score")
    distinct = {c: df[c].nunique() for c in sensitive}
    scan = run_scan(engine, dataset="current", view=ds.view, cols=cols, sensitive=sensitive, distinct=distinct,
                    max_groups=max_groups)
    source, params = scan_source(ds.view, cols, sensitive)
    aggregates = classification_aggregates("y", "yhat", "s")
    keys = tuple(f"g{i}" for i in range(len(sensitive)))

    assert_same(scan.overall, oracle(engine, source, params, (), aggregates)[()])
    for i, col in enumerate(sensitive):
        want = oracle(engine, source, params, (f"g{i}",), aggregates)
        assert [g.name for g in scan.groups[col]] == sorted(MISSING if v is None else v for (v,) in want)
        for g in scan.groups[col]:
            assert_same(g.counts, want[(None if g.name == MISSING else g.name,)])
    if len(keys) > 1:
        want = oracle(engine, source, params, keys, aggregates)
        assert len(scan.groups["×".join(sensitive)]) == len(want)
        for values, counts in want.items():
            name = "×".join(MISSING if v is None else v for v in values)
            assert_same(next(g for g in scan.groups["×".join(sensitive)] if g.name == name).counts, counts)
    want = oracle(engine, source, params, ("cal",), aggregates)
    assert [b for b, _ in scan.calibration] == sorted(b for (b,) in want if b is not None)
    for b, counts in scan.calibration:
        assert_same(counts, want[(b,)])


def test_missing_group_is_apart_from_rolled_up_rows(tmp_path):
    """A real NULL group is counted once in its own set, never mistaken for another set's total."""
    df = hostile_frame(seed=1)
    engine, ds = view_of(df, tmp_path)
    cols = model_columns(ds, label="label", prediction="prediction", score="score")
    for max_groups in (20_000, 0):
        scan = run_scan(engine, dataset="current", view=ds.view, cols=cols, sensitive=["sex", "region"],
                        distinct={"sex": 3, "region": 2}, max_groups=max_groups)
        missing = next(g for g in scan.groups["sex"] if g.name == MISSING)
        assert missing.rows == int(df.sex.isna().sum())
        assert sum(g.rows for g in scan.groups["sex×region"]) == len(df) == scan.overall["rows"]
        assert sum(g.rows for g in scan.groups["region"]) == len(df)


def test_empty_data_still_has_its_overall_row(tmp_path):
    df = hostile_frame().iloc[:0]
    engine, ds = view_of(df, tmp_path)
    cols = model_columns(ds, label="label", prediction="prediction", score="score")
    scan = run_scan(engine, dataset="current", view=ds.view, cols=cols, sensitive=["sex"], distinct={"sex": 0})
    assert scan.overall["rows"] == 0 and scan.overall["tp"] == 0 and scan.overall["score_sum"] is None
    assert scan.groups == {"sex": []} and scan.calibration == []


def test_cells_give_every_classification_aggregate(tmp_path):
    """Counts from (label, prediction) cells are classification_aggregates' counts, for every subset of inputs."""
    df = hostile_frame(seed=2)
    engine, ds = view_of(df, tmp_path)
    source = ('SELECT ("label" = 1) AS y, ("prediction" = 1) AS yhat, '
              '(CASE WHEN isnan("score") THEN NULL ELSE "score" END) AS s FROM data')
    for label, pred, score in [("y", "yhat", "s"), ("y", None, "s"), (None, "yhat", None), ("y", "yhat", None)]:
        measures = classification_measures(label, pred, score)
        cells = list(measures.cells)
        group = f" GROUP BY {', '.join(cells)}" if cells else ""
        result = engine.execute(f"SELECT {', '.join([*cells, select_list(measures.aggregates)])} FROM ({source}){group}")
        names = [d[0] for d in result.description]
        rows = [dict(zip(names, r, strict=True)) for r in result.fetchall()]
        want = oracle(engine, source, {}, (), classification_aggregates(label, pred, score))[()]
        assert_same(measures.finish(rows), want)


@pytest.mark.parametrize("rows", [400, 0])
@pytest.mark.parametrize("prediction", ["prediction", None])
def test_binary_counts_equal_the_filtered_aggregates(tmp_path, rows, prediction):
    """binary_counts' cells (CBPE's expected counts included) against one plain aggregate with FILTERs:
    NULL labels and predictions, NaN scores, scores out of [0, 1], a prediction from the score, no rows."""
    df = hostile_frame(seed=5, n=400)
    df.loc[df.index[:5], "score"] = [1.5, -0.2, np.nan, 0.5, 0.5]
    df = df.iloc[:rows]
    engine, ds = view_of(df, tmp_path)
    cols = model_columns(ds, label="label", prediction=prediction, score="score")
    got, sql = binary_counts(engine, ds.view, cols)  # the threshold (0.5) is in cols.params
    aggregates = {**classification_aggregates(cols.label, cols.prediction, cols.score),
                  **cbpe_aggregates(cols.prediction, cols.score)}
    params = cols.params
    assert cols.params == ({"decision_threshold": 0.5} if cols.prediction_from_score else {})
    assert_same(got, oracle(engine, f"SELECT * FROM {ds.view}", params, (), aggregates)[()])
    assert "GROUP BY y, yhat" in sql


@pytest.mark.parametrize("sql,kind", [
    ("count(*)", "count"), ("count(y) FILTER (WHERE y AND (a OR b))", "count"), ("sum((s - y) ** 2)", "sum"),
    ("min(s)", "min"), ("MAX(s) FILTER (WHERE s > 0)", "max"), ("sum(a) / count(*)", None), ("avg(s)", None),
    ("sum(a) + 1", None), ("count(*) FILTER (WHERE a) + 1", None),
])
def test_aggregate_kind(sql, kind):
    assert aggregate_kind(sql) == kind


def test_plain_keeps_sets_apart_when_aggregates_do_not_add_up():
    assert plain({"n": "count(*)", "total": "sum(x)"}).adds_up
    assert not plain({"n": "count(*)", "mean": "avg(x)"}).adds_up


def test_add_is_sql_sum_of_parts():
    assert add([None, None]) is None
    assert add([2, None, 3]) == 5 and isinstance(add([2, 3]), int)
    assert add([0.1] * 10) == 1.0  # exactly rounded, where a running sum gives 0.9999999999999999
    assert add([math.inf, 1.0]) == math.inf and math.isnan(add([math.inf, -math.inf]))


def test_covering_sets():
    sizes = {"a": 3, "b": 5, "cal": 11}
    wanted = [("a",), ("b",), ("a", "b"), ("cal",), ()]
    assert covering_sets(wanted, sizes) == [("a", "b", "cal")]
    assert covering_sets(wanted, sizes, cells=("y", "yhat")) == [("a", "b", "cal", "y", "yhat")]
    # Too many groups together: nested sets still share, the rest keep their own.
    assert covering_sets(wanted, sizes, max_groups=20) == [("a", "b"), ("cal",)]
    # An unknown size is taken as too many.
    assert covering_sets(wanted, {"cal": 11}) == [("a", "b"), ("cal",)]
    # One-key sets packed while the product stays small.
    assert covering_sets([("k0",), ("k1",), ("k2",)], {"k0": 6, "k1": 6, "k2": 6}, max_groups=40) == [
        ("k0", "k1"), ("k2",)]
    assert covering_sets([()], {}) == [()]
