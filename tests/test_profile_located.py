"""data.profile hands its locating cells to the run's quantile cache: later quantiles (the drift checks'
deciles, ±inf ranked) need no locating scan and equal numpy's."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from auditor import quantiles, stats
from auditor.checks.profile import QUANTILES, _profiles
from auditor.sources import Column, Dataset
from auditor.sql import Engine, quote_literal

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
