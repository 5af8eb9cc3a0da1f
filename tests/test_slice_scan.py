"""The slices scan (several features per grouping, label × prediction cells, bins by number) against pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from auditor.engine.sql import quote_ident
from auditor.metrics.cells import classification_measures
from auditor.metrics.group_rates import MISSING
from auditor.metrics.paired import mcnemar_measures
from auditor.metrics.performance import regression_aggregates
from auditor.metrics.slices import TOTAL, categorical_key, numeric_key, slice_scan
from tests.modeling_helpers import view_of

EDGES = {"x": [-1.0, 0.0, 0.5, 1.0], "k": [2.0, 2.0, 5.0]}  # k: a repeated edge


def frame(seed: int = 0, n: int = 500) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    x[rng.random(n) < 0.05] = np.nan
    x[:4] = [np.inf, -np.inf, 0.0, 1.0]  # both infinities and values on edges
    cat = rng.choice(["a", "b", "<script>alert(1)</script>"], n).astype(object)
    cat[rng.random(n) < 0.1] = None
    label = rng.choice([0.0, 1.0, np.nan], n, p=[0.45, 0.45, 0.1])
    pred = rng.choice([0.0, 1.0, np.nan], n, p=[0.45, 0.5, 0.05])
    other = np.where(rng.random(n) < 0.8, pred, 1 - np.nan_to_num(pred))
    score = rng.random(n)
    return pd.DataFrame({"x": x, "k": rng.integers(0, 8, n).astype(float), "cat": cat, "one": "only",
                         "label": label, "prediction": pred, "other": other, "score": score})


def keys_of(df: pd.DataFrame):
    keys = []
    for i, f in enumerate(["x", "k"]):
        c = quote_ident(f)
        keys.append(numeric_key(f, i, EDGES[f], f"{c}::DOUBLE"))
    keys += [categorical_key("cat", 3), categorical_key("one", 1), categorical_key("label")]  # label: size unknown
    return keys


def pandas_names(df: pd.DataFrame, key) -> pd.Series:
    if not key.bins:
        return df[key.feature].astype(object).map(lambda v: MISSING if v is None or v != v else str(v))
    edges = sorted(set(EDGES[key.feature]))
    index = np.searchsorted(edges, df[key.feature].to_numpy(), side="left")  # edges below the value
    return pd.Series([MISSING if np.isnan(v) else key.bins[j] for v, j in zip(df[key.feature], index, strict=True)])


def expected_counts(part: pd.DataFrame) -> dict:
    y, p = part.label, part.prediction
    return {"rows": len(part), "predicted": int(p.notna().sum()), "selected": int((p == 1).sum()),
            "labelled": int(y.notna().sum()), "positives": int((y == 1).sum()),
            "tp": int(((y == 1) & (p == 1)).sum()), "fp": int(((y == 0) & (p == 1)).sum()),
            "fn": int(((y == 1) & (p == 0)).sum()), "tn": int(((y == 0) & (p == 0)).sum()),
            "scored": int(part.score.notna().sum()), "score_sum": part.score.sum()}


@pytest.mark.parametrize("max_groups", [20_000, 30, 0, "stacked"])  # all in one grouping, some, one each; long form
def test_classification_slices_match_pandas(tmp_path, max_groups, monkeypatch):
    if max_groups == "stacked":
        monkeypatch.setattr("auditor.engine.long_form.NARROW_MAX", 0)
        max_groups = 20_000
    df = frame()
    engine, ds = view_of(df, tmp_path)
    keys = keys_of(df)
    inner = ['("label" = 1) AS y', '("prediction" = 1) AS yhat', '"score" AS s']
    scanned, _ = slice_scan(engine, ds.view, keys, inner, classification_measures("y", "yhat", "s"),
                            total=True, max_groups=max_groups)
    for key in keys:
        names = pandas_names(df, key)
        want = {name: expected_counts(df[names == name]) for name in names.unique()}
        got = dict(scanned[key.feature])
        assert set(got) == set(want), key.feature
        for name, counts in want.items():
            for k, v in counts.items():
                assert got[name][k] == pytest.approx(v, rel=1e-12), (key.feature, name, k)
        rank = {n: j for j, n in enumerate(key.order)}
        assert [n for n, _ in scanned[key.feature]] == sorted(got, key=lambda n: (rank.get(n, len(rank)), n))
    (name, total), = scanned[TOTAL]
    assert name == TOTAL and total["rows"] == len(df) and total["tp"] == expected_counts(df)["tp"]


def test_bins_are_named_low_to_high_and_missing_last(tmp_path):
    df = frame(seed=1)
    engine, ds = view_of(df, tmp_path)
    keys = keys_of(df)[:2]
    scanned, sql = slice_scan(engine, ds.view, keys, ['("label" = 1) AS y'], {"rows": "count(*)"})
    assert [n for n, _ in scanned["x"]] == ["(-inf, -1]", "(-1, 0]", "(0, 0.5]", "(0.5, 1]", "(1, inf)", MISSING]
    assert [n for n, _ in scanned["k"]] == ["(-inf, 2]", "(2, 5]", "(5, inf)"]  # the repeated edge counts once
    assert "GROUPING SETS" not in sql  # both features in one grouping


@pytest.mark.parametrize("stacked", [False, True])
def test_aggregates_that_do_not_add_up_keep_one_set_per_feature(tmp_path, monkeypatch, stacked):
    """var_pop cannot be rolled up: each feature keeps its own grouping set, as before, or its own
    groups of the stacked keys."""
    if stacked:
        monkeypatch.setattr("auditor.engine.long_form.NARROW_MAX", 0)
    df = frame(seed=2)
    engine, ds = view_of(df, tmp_path)
    keys = keys_of(df)[:3]
    scanned, sql = slice_scan(engine, ds.view, keys, ['"label" AS y', '"score" AS yhat'],
                              regression_aggregates("y", "yhat"), total=True)
    assert ("GROUPING SETS" in sql) != stacked and ("UNPIVOT" in sql) == stacked
    both = df[df.label.notna() & df.score.notna()]
    for key in keys:
        names = pandas_names(df, key)
        for name, counts in scanned[key.feature]:
            part = both[names[both.index] == name]
            assert counts["rows"] == int((names == name).sum())
            assert counts["labelled"] == len(part)
            if len(part):
                assert counts["label_var"] == pytest.approx(part.label.var(ddof=0), rel=1e-9, abs=1e-12)
                assert counts["abs_error_sum"] == pytest.approx((part.label - part.score).abs().sum(), rel=1e-12)
    assert scanned[TOTAL][0][1]["labelled"] == len(both)


@pytest.mark.parametrize("stacked", [False, True])
def test_mcnemar_cells_match_pandas(tmp_path, monkeypatch, stacked):
    if stacked:
        monkeypatch.setattr("auditor.engine.long_form.NARROW_MAX", 0)
    df = frame(seed=3)
    engine, ds = view_of(df, tmp_path)
    keys = [categorical_key("cat", 3)]
    inner = ['("label" = 1) AS y', '("prediction" = 1) AS pa', '("other" = 1) AS pb']
    scanned, _ = slice_scan(engine, ds.view, keys, inner, mcnemar_measures("y", "pa", "pb"), total=True)
    for name, counts in scanned[TOTAL] + scanned["cat"]:
        part = df if name == TOTAL else df[pandas_names(df, keys[0]) == name]
        known = part.label.notna() & part.prediction.notna() & part.other.notna()
        ra, rb = known & (part.prediction == part.label), known & (part.other == part.label)
        assert counts == {"rows": len(part), "compared": int(known.sum()), "a_right": int(ra.sum()),
                          "b_right": int(rb.sum()), "only_a_right": int((ra & ~rb).sum()),
                          "only_b_right": int((rb & ~ra).sum())}
