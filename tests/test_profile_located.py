"""data.profile hands its locating cells to the run's quantile cache: later quantiles (the drift checks'
deciles, ±inf ranked) need no locating scan and equal numpy's."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from auditor.checks.profile import QUANTILES, _profiles
from auditor.engine import quantiles
from auditor.engine.duckdb_engine import Engine
from auditor.engine.sources import Column, Dataset
from auditor.engine.sql import quote_literal
from auditor.stats import distances as stats

rng = np.random.default_rng(5)


def _numpy_with_infinities(values: np.ndarray, probabilities) -> list[float]:
    """numpy's linear quantiles over the non-NaN values, ±inf included and ranked at the ends."""
    kept = np.sort(values[~np.isnan(values)])
    n = len(kept)
    out = []
    for q in probabilities:
        virtual = (n - 1) * q
        below = min(int(np.floor(virtual)), n - 1)
        above = min(below + 1, n - 1)
        out.append(stats.lerp(float(kept[below]), float(kept[above]), virtual - below))
    return out


@pytest.mark.parametrize("outlier", [False, True])
def test_cells_from_the_profile_serve_later_quantiles(tmp_path, outlier):
    x = np.concatenate([rng.normal(size=2000), [np.inf, -np.inf, np.inf, np.nan, np.nan]])
    if outlier:
        x = np.append(x, 1e12)
    n = pa.array(list(rng.integers(-5, 40, 999)) + [None], type=pa.int64())
    path = tmp_path / "d.parquet"
    rows = len(x)
    pq.write_table(pa.table({"x": x, "n": pa.concat_arrays([n, n, n])[:rows]}), path)
    engine = Engine()
    engine.execute(f"CREATE VIEW d AS SELECT * FROM read_parquet({quote_literal(str(path))})")
    ds = Dataset(name="d", view="d", source=str(path), rows=rows,
                 columns=tuple(Column(r[0], str(r[1])) for r in engine.query("DESCRIBE d")))
    cache: dict = {}
    finite = x[np.isfinite(x)]
    # Chart edges wider than the data (another side's range): the cells still use each column's own range.
    profiles, _, _ = _profiles(engine, ds, {"x": (-50.0, 60.0, 20), "n": (-100.0, 100.0, 20)}, [], cache=cache)
    assert profiles["quantiles"]["x"] == pytest.approx(list(np.quantile(finite, QUANTILES)), rel=1e-12, abs=0)
    chart = [profiles["histograms"]["x"].get(i, 0) for i in range(20)]
    assert chart == list(np.histogram(np.clip(finite, -50, 60), bins=np.linspace(-50.0, 60.0, 21))[0])
    before = len(engine.log)
    deciles, _ = quantiles.quantiles(engine, "d", {"x": "DOUBLE", "n": "BIGINT"}, stats.DECILES, cache=cache,
                                     infinite=True)
    located_again = [q.sql for q in engine.log[before:] if "count(*) AS n" in q.sql]
    assert not located_again
    assert deciles["x"] == pytest.approx(_numpy_with_infinities(x, stats.DECILES), rel=1e-12, abs=0)
    ints = np.asarray(pq.read_table(path)["n"].to_pandas().dropna(), dtype=float)
    assert deciles["n"] == pytest.approx(list(np.quantile(ints, stats.DECILES)), rel=1e-12, abs=0)
    engine.close()


def test_few_valued_integers_are_profiled_from_value_counts_as_from_the_grouping(tmp_path):
    """An integer column spanning fewer values than the grid has cells: its chart, cells and quantiles from
    its value counts equal those of the grouping scan (nulls, negatives, ties, a lone outlier, one value)."""
    from auditor.checks.profile import _locate_with_chart
    from auditor.engine.summary import summarize

    age = pa.array(list(rng.integers(18, 95, 3000)) + [None, -1, 2000, None], type=pa.int64())
    same = pa.array([7] * 3004, type=pa.int32())
    months = pa.array(list(rng.integers(-600, 600, 3004)), type=pa.int64())
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"age": age, "same": same, "months": months}), path)
    engine = Engine()
    engine.execute(f"CREATE VIEW d AS SELECT * FROM read_parquet({quote_literal(str(path))})")
    ds = Dataset(name="d", view="d", source=str(path), rows=3004,
                 columns=tuple(Column(r[0], str(r[1])) for r in engine.query("DESCRIBE d")))
    summaries = summarize(engine, ds)
    # Chart edges wider than the column (another side's range), as data.profile shares them.
    edges = {"age": (-5.0, 2001.0, 20), "same": (7.0, 7.0, 1), "months": (-600.0, 700.0, 20)}
    cache: dict = {}
    profiles, _, sql = _profiles(engine, ds, edges, [], cache=cache, summaries=summaries)
    assert all("histogram(" in q for q in sql[:1]) and not any("GROUP BY ALL" in q for q in sql)
    scanned: dict = {}
    finite = {c: (summaries[c].min, summaries[c].max) for c in edges}
    charts, _ = _locate_with_chart(engine, ds, edges, finite, scanned)
    for col in edges:
        assert profiles["histograms"][col] == charts[col], col
        mine, theirs = cache[quantiles.located_key("d", col)], scanned[quantiles.located_key("d", col)]
        assert (mine.lo, mine.hi, mine.cells, mine.extremes) == (theirs.lo, theirs.hi, theirs.cells, theirs.extremes)
        values = np.asarray(pq.read_table(path)[col].drop_null().to_numpy(), dtype=float)
        assert profiles["quantiles"][col] == list(np.quantile(values, QUANTILES)), col  # bit for bit
        deciles, _ = quantiles.quantiles(engine, "d", {col: ds.column(col).type}, stats.DECILES, cache=cache)
        assert deciles[col] == list(np.quantile(values, stats.DECILES)), col
    engine.close()


def _dataset(engine: Engine, path) -> Dataset:
    engine.execute(f"CREATE VIEW d AS SELECT * FROM read_parquet({quote_literal(str(path))})")
    rows = engine.query_one("SELECT count(*) FROM d")[0]
    return Dataset(name="d", view="d", source=str(path), rows=rows,
                   columns=tuple(Column(r[0], str(r[1])) for r in engine.query("DESCRIBE d")))


@pytest.mark.parametrize("fetch_max", [quantiles.FETCH_MAX, 3])
def test_charts_from_cells_equal_the_grouping_with_the_chart_key(tmp_path, monkeypatch, fetch_max):
    """The chart taken from the located cells (cells straddling a chart edge fetched whole and binned in
    numpy) equals the one grouping by chart bin in SQL: values on the edges, ties across an edge, ±inf,
    NaN, nulls, an outlier, a wide integer column, a constant and an empty column. With a tiny FETCH_MAX
    the straddling cells are too full to fetch and the grouping with the chart key answers instead."""
    from auditor.checks.profile import _locate_with_chart
    from auditor.engine.summary import summarize

    monkeypatch.setattr(quantiles, "FETCH_MAX", fetch_max)
    n = 4000
    on_edges = np.linspace(-50.0, 60.0, 21)
    x = np.concatenate([rng.normal(size=n - 57), on_edges, [5.5] * 20, [np.inf, -np.inf, np.nan, 1e6] * 4])
    assert len(x) == n
    wide = pa.array(list(rng.integers(-10**9, 10**9, n - 1)) + [None], type=pa.int64())
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"x": x, "wide": wide, "same": np.full(n, 2.5),
                             "empty": pa.nulls(n, type=pa.float64())}), path)
    engine = Engine()
    ds = _dataset(engine, path)
    summaries = summarize(engine, ds)
    # Chart edges as data.profile shares them: wider than the column (another side's range), or its own.
    edges = {"x": (-50.0, 60.0, 20), "wide": (-2.0e9, 1.5e9, 20), "same": (2.5, 2.5, 1), "empty": (0.0, 1.0, 20)}
    cache: dict = {}
    profiles, _, sql = _profiles(engine, ds, edges, [], cache=cache, summaries=summaries)
    finite = {c: (summaries[c].min, summaries[c].max) for c in edges}
    charts, _ = _locate_with_chart(engine, ds, edges, finite, {})
    for col in edges:
        assert profiles["histograms"][col] == charts[col], col
        assert not any(loc.whole for loc in [cache[quantiles.located_key("d", col)]]), "fetched cells not kept"
    finite_x = x[np.isfinite(x)]
    assert sum(profiles["histograms"]["x"].values()) == len(finite_x)
    assert profiles["quantiles"]["x"] == list(np.quantile(finite_x, QUANTILES))
    # The grouping with the chart key only as the fallback.
    assert any(" AS chart, " in q for q in sql) == (fetch_max == 3)
    engine.close()


def test_a_cached_grid_without_extremes_falls_back_to_the_grouping(tmp_path):
    """Cells located elsewhere without their min and max cannot place a cell in a chart bin."""
    from auditor.checks.profile import _locate_with_chart
    from auditor.engine.summary import summarize

    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"x": rng.normal(size=3000)}), path)
    engine = Engine()
    ds = _dataset(engine, path)
    summaries = summarize(engine, ds)
    edges = {"x": (-6.0, 6.0, 20)}
    cache: dict = {}
    loc = quantiles.locate(engine, "d", {"x": "DOUBLE"}, cache=cache)["x"]
    loc.extremes = {}
    profiles, _, _ = _profiles(engine, ds, edges, [], cache=cache, summaries=summaries)
    charts, _ = _locate_with_chart(engine, ds, edges, {"x": (summaries["x"].min, summaries["x"].max)}, {})
    assert profiles["histograms"]["x"] == charts["x"]
    engine.close()
