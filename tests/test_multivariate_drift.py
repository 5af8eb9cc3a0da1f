"""deployment.multivariate_drift: NannyML's PCA reconstruction error, from SQL aggregates, against scikit-learn."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import StandardScaler

from auditor import load_config
from auditor.audit.runner import run_audit
from tests.conftest import results

N = 6000
START = datetime(2026, 1, 1)


def butterfly(seed: int, *, flipped: bool, nulls: bool = False) -> dict[str, np.ndarray]:
    """NannyML's butterfly: x1 and x2 follow one signal (or, flipped, opposite ones); every marginal is the same."""
    rng = np.random.default_rng(seed)
    s = rng.standard_normal(N)
    x1 = 10 + 3 * (s + rng.standard_normal(N) / 8)
    x2 = 100 + 20 * ((-s if flipped else s) + rng.standard_normal(N) / 8)
    x3 = rng.standard_normal(N) / 8
    if nulls:
        x1[rng.random(N) < 0.05] = np.nan
    return {"x1": x1, "x2": x2, "x3": x3}


def write(path: Path, cols: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ts = [START + timedelta(minutes=10 * i) for i in range(N)]
    arrays = {"id": pa.array(np.arange(N)), "ts": pa.array(ts, pa.timestamp("us")),
              **{k: pa.array(v, from_pandas=True) for k, v in cols.items()}}
    pq.write_table(pa.table(arrays), path)


def run(tmp_path: Path, reference: dict, current: dict, timestamp: bool = True, **options):
    write(tmp_path / "reference.parquet", reference)
    write(tmp_path / "current.parquet", current)
    cfg = {"version": 1, "project": {"name": "butterfly"},
           "datasets": {"reference": {"path": "reference.parquet"}, "current": {"path": "current.parquet"}},
           "columns": {"id": "id", **({"timestamp": "ts"} if timestamp else {}), "features": list(reference)},
           "checks": {"deployment.multivariate_drift": options} if options else {}}
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(cfg))
    return run_audit(load_config(tmp_path / "audit.yaml"), stages=["deployment"])


def oracle(reference: dict, current: dict, variance: float = 0.65, chunks: int = 10):
    """scikit-learn's pipeline, as NannyML runs it: mean imputation, standard scaling, PCA; errors per row."""
    ref = np.column_stack(list(reference.values()))
    cur = np.column_stack(list(current.values()))
    imputer = SimpleImputer(strategy="mean").fit(ref)
    scaler = StandardScaler().fit(imputer.transform(ref))
    pca = PCA(n_components=variance).fit(scaler.transform(imputer.transform(ref)))

    def errors(x: np.ndarray) -> np.ndarray:
        z = scaler.transform(imputer.transform(x))
        return np.linalg.norm(z - pca.inverse_transform(pca.transform(z)), axis=1)

    # the check's reference chunks: equal spans of the timestamp, from the first to the last row
    t = np.arange(N) * 600_000_000  # 10 minutes in microseconds
    chunk = np.minimum(np.floor(t * chunks / (t[-1] + 1)).astype(int), chunks - 1)
    ref_errors = errors(ref)
    chunk_means = np.array([ref_errors[chunk == c].mean() for c in range(chunks)])
    return pca.n_components_, errors(cur).mean(), chunk_means


def test_butterfly_passes_every_feature_and_fails_multivariate(tmp_path):
    reference, current = butterfly(1, flipped=False), butterfly(2, flipped=True)
    report = run(tmp_path, reference, current)
    drift = results(report, "deployment.feature_drift")
    assert {drift[c].status for c in ("x1", "x2", "x3")} == {"pass"}
    result = results(report, "deployment.multivariate_drift")["current"]
    assert result.status == "fail" and result.value > 6
    assert set(result.columns) == {"x1", "x2", "x3"}
    # and the report's findings name it
    assert any(("deployment.multivariate_drift", "current") in f.results for f in report.findings)


def test_same_structure_passes(tmp_path):
    report = run(tmp_path, butterfly(1, flipped=False), butterfly(2, flipped=False))
    result = results(report, "deployment.multivariate_drift")["current"]
    assert result.status == "pass" and result.value < 3


@pytest.mark.parametrize("nulls", [False, True])
def test_numbers_match_scikit_learn(tmp_path, nulls):
    reference, current = butterfly(3, flipped=False, nulls=nulls), butterfly(4, flipped=True, nulls=nulls)
    report = run(tmp_path, reference, current)
    m = results(report, "deployment.multivariate_drift")["current"].metrics
    kept, current_error, chunk_means = oracle(reference, current)
    assert m["components"] == kept
    assert m["current_error"] == pytest.approx(current_error, rel=1e-9)
    assert m["reference_error_mean"] == pytest.approx(chunk_means.mean(), rel=1e-9)
    assert m["reference_error_sd"] == pytest.approx(chunk_means.std(ddof=1), rel=1e-7)
    # the band is scaled to current's rows: a chunk holds a tenth of them
    scale = np.sqrt((N / 10) / N)
    assert m["upper_threshold"] == pytest.approx(chunk_means.mean() + 3 * chunk_means.std(ddof=1) * scale, rel=1e-7)


def test_without_a_timestamp_rows_are_chunked_by_a_hash_of_their_values_that_numpy_reproduces(tmp_path):
    """The chunks: each standardised value in millionths, folded modulo a prime (auditor.checks.multivariate's
    SPREAD_CHUNK) in numpy, from the check's own means and scales; every chunk's mean error equals
    scikit-learn's errors averaged over it, and the chunks hold about a tenth of the rows each (the fold
    spreads them; a sum past 2^53 would have lost its last digits and put rows in even chunks only)."""
    from auditor.checks.multivariate import SPREAD_BASE, SPREAD_PRIME

    reference, current = butterfly(3, flipped=False, nulls=True), butterfly(4, flipped=True)
    reference["x3"][:2] = [np.inf, -np.inf]  # like NULL, the mean: 0 once standardised
    report = run(tmp_path, reference, current, timestamp=False)
    result = results(report, "deployment.multivariate_drift")["current"]
    assert result.metrics["chunking"] == "10 chunks of rows spread by a hash of their values"
    features = {row[0]: (row[1], row[2]) for row in result.evidence["tables"][0]["rows"]}
    z = np.column_stack([np.where(np.isfinite(reference[name]), (reference[name] - mean) / scale, 0.0)
                         for name, (mean, scale) in features.items()])
    terms = np.fmod(np.floor(np.clip(z, -1e9, 1e9) * 1e6), SPREAD_PRIME)
    folded = terms[:, 0]
    for j in range(1, z.shape[1]):
        folded = np.fmod(folded * SPREAD_BASE + terms[:, j], SPREAD_PRIME)
    chunk = np.fmod(np.abs(folded), 10).astype(int)
    sizes = np.bincount(chunk, minlength=10)
    assert sizes.min() > 0.08 * N and sizes.max() < 0.12 * N, sizes
    pca = PCA(n_components=result.metrics["components"]).fit(z)
    errors = np.linalg.norm(z - pca.inverse_transform(pca.transform(z)), axis=1)
    chart = result.evidence["charts"][0]["series"]["mean error"][:10]
    assert chart == pytest.approx([errors[chunk == c].mean() for c in range(10)], rel=1e-9)


def test_variance_kept_is_an_option(tmp_path):
    reference, current = butterfly(3, flipped=False), butterfly(4, flipped=False)
    report = run(tmp_path, reference, current, variance_kept=0.999)
    kept, *_ = oracle(reference, current, variance=0.999)
    assert results(report, "deployment.multivariate_drift")["current"].metrics["components"] == kept == 3


def test_the_features_of_largest_variance_are_used(tmp_path):
    rng = np.random.default_rng(5)
    cols = {f"f{i:02d}": rng.standard_normal(N) * (i + 1) for i in range(12)}
    cols["constant"] = np.ones(N)
    report = run(tmp_path, cols, cols, max_features=5)
    result = results(report, "deployment.multivariate_drift")["current"]
    assert result.columns == ("f11", "f10", "f09", "f08", "f07")
    assert result.status == "pass"


def test_one_numeric_feature_is_a_skip(tmp_path):
    report = run(tmp_path, {"x1": np.arange(N, dtype=float)}, {"x1": np.arange(N, dtype=float)})
    assert results(report, "deployment.multivariate_drift")[None].status == "skip"


def test_over_time_names_the_first_window_whose_structure_changed(tmp_path):
    reference, current = butterfly(1, flipped=False), butterfly(2, flipped=False)
    write(tmp_path / "reference.parquet", reference)
    write(tmp_path / "current.parquet", current)
    # The log: 6,000 rows over 10 days (ten minutes apart is 41 days: use 2.4 minutes), flipped from day 6 on.
    rng = np.random.default_rng(9)
    s = rng.standard_normal(N)
    day = np.arange(N) // 600
    sign = np.where(day >= 6, -1.0, 1.0)
    log = {"x1": 10 + 3 * (s + rng.standard_normal(N) / 8), "x2": 100 + 20 * (sign * s + rng.standard_normal(N) / 8),
           "x3": rng.standard_normal(N) / 8}
    ts = [START + timedelta(seconds=144 * i) for i in range(N)]
    pq.write_table(pa.table({"id": pa.array(np.arange(N) + N), "ts": pa.array(ts, pa.timestamp("us")),
                             **{k: pa.array(v) for k, v in log.items()}}), tmp_path / "log.parquet")
    cfg = {"version": 1, "project": {"name": "butterfly"}, "monitoring": {"window": "1d"},
           "datasets": {"reference": {"path": "reference.parquet"}, "current": {"path": "current.parquet"},
                        "predictions": {"path": "log.parquet"}},
           "columns": {"id": "id", "timestamp": "ts", "features": ["x1", "x2", "x3"]}}
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(cfg))
    report = run_audit(load_config(tmp_path / "audit.yaml"), stages=["deployment"],
                       as_of=START + timedelta(days=10))
    found = results(report, "deployment.multivariate_drift")
    assert found["current"].status == "pass"
    over = found["over time"]
    assert over.status == "fail" and over.dataset == "predictions"
    assert over.metrics["first_crossed_window"] == "2026-01-07"  # day 6, counted from 0
    rows = over.evidence["tables"][0]["rows"]
    assert [r[4] for r in rows[:6]] == ["pass"] * 6
