"""DeLong's paired test (auditor.metrics.paired.delong_test) against its definition, O(P·N) with ties, on each
engine: in one window over each model's distinct scores, and ranked per score range in windows of their own
(what an engine without a parallel global sort, Spark, runs beyond `ranking.rows_per_sort` rows)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from auditor.metrics import paired, ranking
from auditor.metrics.performance import model_columns
from tests import modeling_helpers
from tests.engines import new_engine
from tests.modeling_helpers import naive_delong, view_of

# A statement costs Spark a tenth of a second or more: the other shapes run on DuckDB only.
SPARK_ONLY_WITH = {"shape": {"ties"}}
N = 3000


@pytest.fixture(autouse=True)
def engine_under_test(engine_kind, monkeypatch):
    """Every test here runs on each engine: DuckDB, and Spark where it runs."""
    monkeypatch.setattr(modeling_helpers, "Engine", lambda: new_engine(engine_kind))
    return engine_kind


def scores(shape: str, rng: np.random.Generator, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = rng.random(N) * 0.8 + 0.2 * y
    b = a + rng.normal(0, 0.1, N) + 0.02 * y  # a correlated challenger, a little better: the covariance counts
    if shape == "ties":  # many rows share a score, and so straddle any cut unless the cuts keep them together
        a, b = np.round(a, 1), np.round(b, 2)
    elif shape == "few values":  # fewer distinct scores than ranges asked for: repeated cuts
        a, b = np.round(a * 2) / 2, np.round(b * 4) / 4
    elif shape == "constant challenger":  # one model's scores cannot be cut at all
        b = np.full(N, 0.5)
    return a, b


def both_ways(df: pd.DataFrame, tmp_path, monkeypatch, per_sort: int):
    """delong_test in one window per model, then per score range of at most `per_sort` rows (the engine told it
    has no parallel global sort); with the statements of the second."""
    engine, ds = view_of(df, tmp_path)
    cols = model_columns(ds, label="y", prediction=None, score="a")
    kwargs = {"label": cols.label, "score_a": '"a"', "score_b": '"b"', "rows": ds.rows}
    whole, _ = paired.delong_test(engine, ds.view, **kwargs)
    monkeypatch.setattr(ranking, "rows_per_sort", lambda engine: per_sort)
    engine.parallel_global_sort = False
    ranged, statements = paired.delong_test(engine, ds.view, **kwargs)
    return whole, ranged, statements, engine


@pytest.mark.parametrize("shape", ["continuous", "ties", "few values", "constant challenger"])
def test_delong_per_score_range_equals_the_definition_and_the_one_window(tmp_path, monkeypatch, shape):
    rng = np.random.default_rng(31)
    y = (rng.random(N) < 0.35).astype(float)
    a, b = scores(shape, rng, y)
    y[rng.random(N) < 0.03] = np.nan  # rows without a label, or without one model's score, are left out
    a[rng.random(N) < 0.03] = np.nan
    b[rng.random(N) < 0.03] = np.nan
    df = pd.DataFrame({"y": pd.array(y, dtype="Int64"), "a": a, "b": b})
    whole, ranged, statements, engine = both_ways(df, tmp_path, monkeypatch, per_sort=400)

    # Each model cut into ranges and counted per range (a constant model's one cut leaves one range), then one
    # statement with two windows per model, each partitioned by range.
    assert len(statements) == 5 and statements[-1].count("PARTITION BY part") == 4
    ranges = [next(q.rows_fetched for q in engine.log if q.sql == counts) for counts in statements[1:4:2]]
    assert ranges[0] > 1 and (ranges[1] == 1 if shape == "constant challenger" else ranges[1] > 1), ranges

    # The components are whole numbers and halves either way: the same AUCs to the last bit, the same variance.
    assert (ranged["auc_a"], ranged["auc_b"]) == (whole["auc_a"], whole["auc_b"])
    assert ranged["se"] == pytest.approx(whole["se"], rel=1e-12)
    keep = ~np.isnan(y) & ~np.isnan(a) & ~np.isnan(b)
    auc_a, auc_b, se = naive_delong(y[keep], a[keep], b[keep])
    assert ranged["auc_a"] == pytest.approx(auc_a, abs=1e-12) and ranged["auc_b"] == pytest.approx(auc_b, abs=1e-12)
    assert ranged["se"] == pytest.approx(se, rel=1e-9)
    z = abs(auc_b - auc_a) / se
    assert ranged["p_value"] == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-9)
    engine.close()


def test_delong_offsets_count_the_ranges_below_and_above():
    # (range, rows, positives), range 0 the highest scores: negatives 3, 4, 5 from the top down
    offsets = paired.delong_offsets("a", [(2, 6, 1), (0, 5, 2), (1, 4, 0)])
    assert offsets == {"delong_a_parts": [0, 1, 2], "delong_a_below": [9, 5, 0], "delong_a_above": [0, 2, 2]}
