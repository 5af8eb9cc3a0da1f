"""The ranking query (ROC AUC, average precision) against scikit-learn, whole and per partition.

Ties, one-class partitions, partitions with no scored row, NaN and infinite scores: the SQL
must equal scikit-learn's roc_auc_score and average_precision_score to 1e-9 on the same rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from auditor.engine.duckdb_engine import Engine
from auditor.metrics import ranking
from auditor.metrics.performance import model_columns
from auditor.metrics.ranking import partition_counts_sql, ranking_metrics, ranking_offsets, ranking_sql
from tests import modeling_helpers
from tests.engines import new_engine
from tests.modeling_helpers import view_of


@pytest.fixture(autouse=True)
def engine_under_test(engine_kind, monkeypatch):
    """Every test here runs on each engine: DuckDB, and Spark where it runs."""
    monkeypatch.setattr(modeling_helpers, "Engine", lambda: new_engine(engine_kind))
    return engine_kind

TOL = 1e-9


def ranked(df: pd.DataFrame, tmp_path, *, partition: str | None = None, where: str | None = None):
    engine, ds = view_of(df, tmp_path)
    cols = model_columns(ds, label="label", prediction=None, score="score")
    sql = ranking_sql(ds.view, label=cols.label, score=cols.score, partition=partition, where=where)
    if partition is None:
        return ranking_metrics(engine.query_one(sql))
    counts = engine.query(partition_counts_sql(ds.view, label=cols.label, score=cols.score, partition=partition,
                                               where=where))
    rows = engine.query(sql, ranking_offsets(counts))
    return {row[0]: ranking_metrics(row[1:]) for row in rows}


def oracle(y: np.ndarray, s: np.ndarray) -> dict[str, float | None]:
    """scikit-learn's numbers; None where it warns or raises (one class, no positives)."""
    finite = s.copy()  # both metrics depend on order alone: ±inf become the extremes, finite
    if np.isfinite(s).any():
        lo, hi = s[np.isfinite(s)].min(), s[np.isfinite(s)].max()
        finite[s == np.inf], finite[s == -np.inf] = hi + 1, lo - 1
    return {"roc_auc": skm.roc_auc_score(y, finite) if 0 < y.sum() < len(y) else None,
            "average_precision": skm.average_precision_score(y, finite) if y.sum() else None}


def assert_matches(ours: dict, expected: dict) -> None:
    for name, value in expected.items():
        if value is None:
            assert ours[name] is None, name
        else:
            assert ours[name] == pytest.approx(value, abs=TOL), name


@pytest.mark.parametrize("distinct", [None, 2, 11])
def test_whole_table_matches_sklearn_with_ties(tmp_path, distinct):
    rng = np.random.default_rng(3)
    y = (rng.random(5000) < 0.4).astype(int)
    s = rng.random(5000) * 0.8 + 0.2 * y
    if distinct:
        s = np.round(s * (distinct - 1)) / (distinct - 1)
    assert_matches(ranked(pd.DataFrame({"label": y, "score": s}), tmp_path), oracle(y, s))


def test_nan_null_and_infinite_scores(tmp_path):
    s = np.array([0.3, np.nan, np.inf, 0.3, -np.inf, 0.9, np.inf, 0.1, np.nan, 0.3, -np.inf])
    y = pd.array([1, 0, 1, 0, 0, None, 0, 1, 1, 1, 1], dtype="Int64")
    ours = ranked(pd.DataFrame({"label": y, "score": s}), tmp_path)
    keep = ~np.isnan(s) & ~y.isna()  # NaN is a missing score; a missing label is not ranked
    assert_matches(ours, oracle(y[keep].to_numpy(int), s[keep]))


def test_one_class_and_empty(tmp_path):
    assert ranked(pd.DataFrame({"label": [1, 1, 1], "score": [0.2, 0.5, 0.5]}), tmp_path) == {
        "roc_auc": None, "average_precision": 1.0}
    assert ranked(pd.DataFrame({"label": [0, 0], "score": [0.2, 0.5]}), tmp_path) == {
        "roc_auc": None, "average_precision": None}
    empty = pd.DataFrame({"label": pd.array([None, 1], dtype="Int64"), "score": [0.4, np.nan]})
    assert ranked(empty, tmp_path) == {"roc_auc": None, "average_precision": None}


def test_per_partition_matches_sklearn_per_partition(tmp_path):
    """Partitions of different sizes, heavy ties that cross partitions, a one-class partition, one
    with only NaN scores (no row), one left out by `where`: each equals scikit-learn on its own rows."""
    rng = np.random.default_rng(11)
    n = 6000
    part = rng.choice([0, 1, 2, 3, 4, 5, 6], n, p=[0.3, 0.05, 0.2, 0.15, 0.1, 0.1, 0.1])
    y = (rng.random(n) < np.clip(0.2 + 0.1 * part, 0, 1)).astype(int)
    s = np.round(rng.random(n) * 0.7 + 0.3 * y, 1)  # eleven distinct scores: ties everywhere
    y[part == 3] = 1  # one class: AUC undefined, AP 1
    s[part == 4] = np.nan  # no scored row: no output row
    s[(part == 2) & (rng.random(n) < 0.2)] = np.nan
    s[(part == 5) & (rng.random(n) < 0.1)] = np.inf
    df = pd.DataFrame({"part": part, "label": y, "score": s})
    found = ranked(df, tmp_path, partition='"part"', where='"part" <> 6')
    assert list(found) == [0, 1, 2, 3, 5]
    for p, ours in found.items():
        inside = (part == p) & ~np.isnan(s)
        assert_matches(ours, oracle(y[inside], s[inside]))
    assert found[3] == {"roc_auc": None, "average_precision": 1.0}


def test_partitions_equal_the_whole_query_on_each_partition(tmp_path):
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"part": rng.integers(0, 4, 800), "label": rng.integers(0, 2, 800),
                       "score": np.round(rng.random(800), 2)})
    found = ranked(df, tmp_path, partition='"part"')
    for p in range(4):
        alone = ranked(df, tmp_path, where=f'"part" = {p}')
        assert found[p]["roc_auc"] == pytest.approx(alone["roc_auc"], abs=1e-12)
        assert found[p]["average_precision"] == pytest.approx(alone["average_precision"], abs=1e-12)


def test_every_score_tied_and_single_row_partitions(tmp_path):
    """All pairs tied: AUC one half and AP the positive share; partitions of one row each."""
    df = pd.DataFrame({"part": [0, 0, 0, 0, 1, 2], "label": [1, 0, 1, 1, 1, 0], "score": [0.7] * 6})
    whole = ranked(df, tmp_path, where='"part" = 0')
    assert_matches(whole, oracle(np.array([1, 0, 1, 1]), np.full(4, 0.7)))
    assert whole["roc_auc"] == 0.5 and whole["average_precision"] == 0.75
    found = ranked(df, tmp_path, partition='"part"')
    assert found[1] == {"roc_auc": None, "average_precision": 1.0}
    assert found[2] == {"roc_auc": None, "average_precision": None}


def test_ranking_offsets_count_the_partitions_before_in_order():
    offsets = ranking_offsets([(2, 5, 1), (0, 3, 2), (1, 4, 4)])
    assert offsets == {"ranking_parts": [0, 1, 2], "rows_before": [0, 3, 7], "positives_before": [0, 2, 6]}


# --- rankings split to stay within a sort's memory -----------------------------------------------

def split_ranking(df: pd.DataFrame, tmp_path, monkeypatch, per_sort: int, **kwargs):
    """`rank_whole` with sorts of at most `per_sort` rows, and how many ranges it ranked (DuckDB: a sort
    each; Spark: a window partition each, in one statement returning a row per range)."""
    monkeypatch.setattr(ranking, "rows_per_sort", lambda engine: per_sort)
    engine, ds = view_of(df, tmp_path)
    cols = model_columns(ds, label="label", prediction=None, score="score")
    rows = engine.query_one(f"SELECT count(*) FROM {ds.view} WHERE {cols.label} IS NOT NULL AND {cols.score} IS NOT NULL")[0]
    found, statements = ranking.rank_whole(engine, ds.view, label=cols.label, score=cols.score, rows=rows, **kwargs)
    ran = [q for q in engine.log if q.sql == statements[-1]]
    return found, (len(ran) if engine.parallel_global_sort else ran[-1].rows_fetched)


@pytest.mark.parametrize("distinct", [None, 3, 40])
def test_ranking_in_score_ranges_matches_sklearn(tmp_path, monkeypatch, distinct):
    """Split into ranges of at most 700 rows, with ties that a cut must not separate: the same
    numbers as scikit-learn, and AUC to the last bit of the one-sort answer."""
    rng = np.random.default_rng(5)
    y = (rng.random(5000) < 0.3).astype(int)
    s = rng.random(5000) * 0.7 + 0.3 * y
    if distinct:
        s = np.round(s * (distinct - 1)) / (distinct - 1)
    df = pd.DataFrame({"label": y, "score": s})
    found, sorts = split_ranking(df, tmp_path, monkeypatch, 700)
    assert sorts >= (2 if distinct == 3 else 7)
    assert_matches(found, oracle(y, s))
    (tmp_path / "one").mkdir()
    assert found["roc_auc"] == ranked(df, tmp_path / "one")["roc_auc"]


def test_ranking_in_score_ranges_with_nan_infinite_and_missing(tmp_path, monkeypatch):
    rng = np.random.default_rng(8)
    s = np.round(rng.random(3000), 2)
    s[rng.random(3000) < 0.05] = np.nan
    s[rng.random(3000) < 0.05] = np.inf
    s[rng.random(3000) < 0.05] = -np.inf
    y = pd.array((rng.random(3000) < 0.5).astype(int), dtype="Int64")
    y[rng.random(3000) < 0.05] = None
    found, sorts = split_ranking(pd.DataFrame({"label": y, "score": s}), tmp_path, monkeypatch, 400)
    assert sorts > 1
    keep = ~np.isnan(s) & ~y.isna()
    assert_matches(found, oracle(y[keep].to_numpy(int), s[keep]))


def test_ranking_in_score_ranges_keeps_the_where(tmp_path, monkeypatch):
    rng = np.random.default_rng(9)
    df = pd.DataFrame({"g": rng.integers(0, 3, 4000), "label": rng.integers(0, 2, 4000), "score": rng.random(4000)})
    found, sorts = split_ranking(df, tmp_path, monkeypatch, 500, where='"g" = $g', params={"g": 1, "unused": 2})
    inside = df[df.g == 1]
    assert sorts > 1
    assert_matches(found, oracle(inside.label.to_numpy(), inside.score.to_numpy()))


def test_partitions_ranked_in_groups_match_sklearn(tmp_path, monkeypatch):
    """Windows grouped into sorts of at most 900 rows (one window larger than that alone); on Spark, every
    window ranked in a window function partition of its own, in one statement."""
    rng = np.random.default_rng(12)
    n = 6000
    part = rng.choice(range(8), n, p=[0.3, 0.05, 0.1, 0.15, 0.1, 0.1, 0.1, 0.1])
    y = (rng.random(n) < 0.4).astype(int)
    s = np.round(rng.random(n) * 0.7 + 0.3 * y, 2)
    s[part == 4] = np.nan
    df = pd.DataFrame({"part": part, "label": y, "score": s})
    engine, ds = view_of(df, tmp_path)
    cols = model_columns(ds, label="label", prediction=None, score="score")
    counts = engine.query(partition_counts_sql(ds.view, label=cols.label, score=cols.score, partition='"part"'))
    monkeypatch.setattr(ranking, "rows_per_sort", lambda engine: 900)
    found, (sql,) = ranking.rank_partitions(engine, ds.view, label=cols.label, score=cols.score, partition='"part"',
                                           counts=counts)
    sorts = len(ranking.partition_groups(counts, 900)) if engine.parallel_global_sort else 1
    assert sum(1 for q in engine.log if q.sql == sql) == sorts and len(ranking.partition_groups(counts, 900)) > 3
    assert list(found) == [0, 1, 2, 3, 5, 6, 7]
    for p, ours in found.items():
        inside = (part == p) & ~np.isnan(s)
        assert_matches(ours, oracle(y[inside], s[inside]))


def test_partition_groups_stay_within_the_budget_in_order():
    counts = [(3, 400, 1), (0, 500, 2), (1, 300, 0), (2, 1500, 9), (4, 100, 1), (5, 0, 0)]
    groups = ranking.partition_groups(counts, 900)
    assert [[c[0] for c in g] for g in groups] == [[0, 1], [2], [3, 4, 5]]
    assert ranking.partition_groups([], 900) == []


def test_rows_per_sort_follows_the_memory_limit():
    small, large = Engine(memory_limit="512MB"), Engine(memory_limit="4GB")
    assert small.memory_limit_bytes() == pytest.approx(512e6, rel=1e-3)
    assert ranking.rows_per_sort(large) == pytest.approx(ranking.rows_per_sort(small) * 4e9 / 512e6, rel=1e-2)
    assert ranking.rows_per_sort(Engine(memory_limit="1MB")) == 1_000_000


def test_ranking_in_score_ranges_whatever_order_the_cuts_come_in(tmp_path, monkeypatch):
    """Cuts are put highest first and each kept once: given ascending cuts with a repeat, every row is
    still ranked exactly once."""
    rng = np.random.default_rng(21)
    df = pd.DataFrame({"label": rng.integers(0, 2, 3000), "score": np.round(rng.random(3000), 1)})
    engine, ds = view_of(df, tmp_path)
    cols = model_columns(ds, label="label", prediction=None, score="score")
    monkeypatch.setattr(ranking, "rows_per_sort", lambda engine: 500)
    real = engine.query_one

    def shuffled_cuts(sql, params=None):
        row = real(sql, params)
        return ([*sorted(row[0]), row[0][0]],) if sql.startswith("SELECT approx_quantile") else row

    monkeypatch.setattr(engine, "query_one", shuffled_cuts)
    found, _ = ranking.rank_whole(engine, ds.view, label=cols.label, score=cols.score, rows=3000)
    assert_matches(found, oracle(df.label.to_numpy(), df.score.to_numpy()))


@pytest.mark.parametrize("dtype", ["int32", "float32", "int64"])
def test_ranking_in_score_ranges_of_integer_and_single_precision_scores(tmp_path, monkeypatch, dtype):
    """Cuts come back in the score's own type (approx_quantile keeps it) and bind against it."""
    rng = np.random.default_rng(17)
    y = (rng.random(4000) < 0.35).astype(int)
    s = (rng.random(4000) * 700 + 300 * y).astype(dtype)
    found, sorts = split_ranking(pd.DataFrame({"label": y, "score": s}), tmp_path, monkeypatch, 600)
    assert sorts >= 6
    assert_matches(found, oracle(y, s.astype(float)))
