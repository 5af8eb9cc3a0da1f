"""The deployment stage over windows of the prediction log: the example's planted changes land in the
right window, and every check has pass, warn and fail cases from literal rows."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import yaml

from auditor import load_config
from auditor.audit.runner import run_audit
from auditor.errors import ConfigError
from auditor.metrics import ranking
from auditor.stats import distances as stats
from tests.conftest import BASE_SELECT, results, write_parquet

ROOT = Path(__file__).resolve().parents[1]
AS_OF = datetime(2026, 11, 27, tzinfo=UTC)


# --- the example project: each planted change in its window (dates from examples/credit_scoring/generate.py) ---

@pytest.fixture(scope="module")
def example_config(tmp_path_factory):
    out = tmp_path_factory.mktemp("credit")
    subprocess.run([sys.executable, str(ROOT / "examples/credit_scoring/generate.py"), "--rows", "20000",
                    "--log-rows", "100000", "--out", str(out)], check=True, capture_output=True)
    cfg = yaml.safe_load((ROOT / "examples/credit_scoring/audit.yaml").read_text())
    cfg["datasets"] = {name: {"path": str(out / f"{name}.parquet")} for name in ("reference", "current", "predictions")}
    cfg.pop("schema", None)
    cfg.pop("catalog", None)  # the dictionary's extra tables: not what these checks look at
    path = out / "audit.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="module")
def example(example_config):
    return run_audit(load_config(example_config), stages=["deployment"], as_of=AS_OF)


def test_example_new_model_version_in_its_window(example):
    found = results(example, "deployment.model_versions")
    assert found["v2"].status == "warn" and found["v2"].metrics["first_seen_window"] == "2026-11-06"
    assert found["v2"].metrics["in_reference"] is False and found["v2"].value == 1.0
    assert found["v1"].status == "pass" and found["v1"].metrics["last_seen_window"] == "2026-11-05"


def test_example_latency_over_budget_from_its_window(example):
    result = results(example, "deployment.latency")[None]
    assert result.status == "fail" and 250 < result.value < 275
    assert result.metrics["first_over_budget_window"] == "2026-11-13"
    assert result.metrics["first_warn_window"] == "2026-11-13"
    assert result.metrics["windows_over_budget"] == 14  # 11-13 ... 11-26


def test_example_income_drift_from_its_window(example):
    found = results(example, "deployment.drift_over_time")
    assert found["income"].status in ("warn", "fail")
    assert found["income"].metrics["first_crossed_window"] == "2026-11-16"
    assert found["income"].evidence["charts"][0]["kind"] == "heatmap"
    for stable in ("age", "debt_ratio", "credit_history_months", "num_accounts", "employment_type", "region", "sex"):
        assert found[stable].status == "pass", stable
        assert found[stable].metrics["first_crossed_window"] is None, stable
    # The small outage window (about 120 rows) is shown but not graded: its PSI is mostly noise.
    rows = {r[0]: r for r in found["income"].evidence["tables"][0]["rows"]}
    assert rows["2026-11-01"][4] == "not graded"


def test_example_volume_dip_in_its_window(example):
    result = results(example, "deployment.volume")[None]
    assert result.status == "fail"
    assert result.metrics["first_flagged_window"] == "2026-11-01" == result.metrics["worst_window"]
    assert result.metrics["flagged_windows"] == 1 and result.value < 0.1


def test_example_performance_drop_after_concept_drift(example):
    result = results(example, "deployment.performance_over_time")["roc_auc"]
    assert result.status == "fail"
    assert result.metrics["first_warn_window"] == "2026-11-16" == result.metrics["first_fail_window"]
    assert result.metrics["last_labelled_window"] == "2026-11-19"  # labels stop on 2026-11-20
    assert result.metrics["recent_windows"] == "2026-11-17, 2026-11-18, 2026-11-19"
    rows = {r[0]: r for r in result.evidence["tables"][0]["rows"]}
    assert rows["2026-11-22"][2] == 0 and rows["2026-11-22"][6] == "not graded"
    # CBPE still estimates the unlabelled windows, from scores alone.
    assert 0.7 < result.metrics["expected_accuracy_latest"] < 1
    assert abs(result.metrics["calibration_gap"]) < 0.05


def test_performance_over_time_ranked_in_groups_of_windows(example, example_config, monkeypatch):
    """With sorts of at most 3,000 rows (about a day of the log), windows are ranked a few at a
    time, each group read by its timestamps: every window's AUC is the one of a single sort."""
    monkeypatch.setattr(ranking, "rows_per_sort", lambda engine: 3000)
    split = run_audit(load_config(example_config), stages=["deployment"], as_of=AS_OF)
    ours, whole = (results(r, "deployment.performance_over_time")["roc_auc"] for r in (split, example))
    assert ours.evidence["tables"][0]["rows"] == whole.evidence["tables"][0]["rows"]
    assert ours.metrics == whole.metrics and ours.status == whole.status


def test_example_freshness(example):
    result = results(example, "deployment.freshness")[None]
    assert result.status == "pass" and 0 <= result.value < 1


def test_windowed_checks_take_a_bounded_number_of_queries(tmp_path, monkeypatch, example):
    """Queries per check do not grow with the number of windows (1w: 7 windows, 1d: 42, 6h: 168, all analysed)."""
    cfg = yaml.safe_load(Path(example.run["config_path"]).read_text())
    counts = []
    for window in ("1w", "1d", "6h"):
        cfg["monitoring"] = {"window": window}
        path = tmp_path / f"audit_{window}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        log = tmp_path / f"log_{window}.json"
        monkeypatch.setenv("AUDITOR_QUERY_LOG", str(log))
        run_audit(load_config(path), stages=["deployment"], as_of=AS_OF)
        queries = json.loads(log.read_text())["queries"]
        per_check, log_scans = {}, {}
        for q in queries:
            if q["check"] and q["check"].split(".")[1] in WINDOWED:
                per_check[q["check"]] = per_check.get(q["check"], 0) + 1
                if '"predictions"' in q["sql"]:
                    log_scans[q["check"]] = log_scans.get(q["check"], 0) + 1
        counts.append(per_check)
        # The log is scanned at most twice per check: the shared timestamp range, then one GROUP BY.
        assert max(log_scans.values()) <= 2, log_scans
    assert counts[0] == counts[1] == counts[2]


WINDOWED = ("drift_over_time", "performance_over_time", "latency", "volume", "model_versions", "freshness")


# --- literal logs ----------------------------------------------------------------------------------------

LOG_COLUMNS = """ts, i AS id, 20 + (i * 7) % 50 AS age, 1000.0 + (i * 37) % 500 AS income,
  ['north', 'south', 'east', 'west'][1 + i % 4] AS region, ['female', 'male'][1 + (i // 3) % 2] AS sex,
  i % 2 AS label, CASE WHEN i % 10 = 0 THEN 1 - i % 2 ELSE i % 2 END AS prediction,
  CASE WHEN i % 10 = 0 THEN 1 - i % 2 ELSE i % 2 END * 0.6 + 0.2 AS score, 100.0 AS latency_ms, 'v1' AS model_version"""
# Reference for the literal logs: accuracy 0.9 (every tenth prediction wrong), income uniform on 1000..1499.
REFERENCE = "SELECT " + LOG_COLUMNS.replace("ts, ", "", 1) + " FROM range(500) t(i)"


def log_sql(rows_per_day: dict[str, int], columns: str = LOG_COLUMNS) -> str:
    """A log with the given rows per day, spread evenly over each day; `i` numbers rows within a day."""
    parts = [f"SELECT TIMESTAMP '{day}' + to_microseconds(i * {86_400_000_000 // n}) AS ts, i FROM range({n}) t(i)"
             for day, n in rows_per_day.items() if n]
    return f"SELECT {columns} FROM ({' UNION ALL '.join(parts)})"


DAYS = [f"2026-11-{d:02d}" for d in range(1, 11)]


def run_log(project, tmp_path, log: str, *, as_of=datetime(2026, 11, 11, tzinfo=UTC), reference: str = REFERENCE,
            checks: dict | None = None, project_card: dict | None = None):
    write_parquet(tmp_path / "data" / "predictions.parquet", log)
    config = {
        "datasets": {"reference": {"path": "data/reference.parquet"}, "current": {"path": "data/current.parquet"},
                     "predictions": {"path": "data/predictions.parquet"}},
        "columns": {"id": "id", "label": "label", "score": "score", "prediction": "prediction", "sensitive": ["sex"],
                    "timestamp": "ts", "latency": "latency_ms", "model_version": "model_version",
                    "features": ["age", "income", "region"]},
        "checks": checks or {},
    }
    if project_card is not None:
        config["project"] = project_card
    path = project(reference=reference, current=BASE_SELECT.format(n=500), config=config)
    return run_audit(load_config(path), stages=["deployment"], as_of=as_of)


def with_column(name: str, expr: str) -> str:
    """LOG_COLUMNS with one column's expression replaced (`ts` and `i` are in scope)."""
    lines = {"latency_ms": "100.0 AS latency_ms", "model_version": "'v1' AS model_version",
             "income": "1000.0 + (i * 37) % 500 AS income",
             "region": "['north', 'south', 'east', 'west'][1 + i % 4] AS region",
             "prediction": "CASE WHEN i % 10 = 0 THEN 1 - i % 2 ELSE i % 2 END AS prediction"}
    return LOG_COLUMNS.replace(lines[name], f"{expr} AS {name}")


EVEN = dict.fromkeys(DAYS, 500)


@pytest.mark.parametrize(("late_latency", "status"), [(150.0, "pass"), (170.0, "warn"), (250.0, "fail")])
def test_latency(project, tmp_path, late_latency, status):
    log = log_sql(EVEN, with_column("latency_ms", f"CASE WHEN ts >= TIMESTAMP '2026-11-07' THEN {late_latency} "
                                                  "ELSE 100.0 END"))
    result = results(run_log(project, tmp_path, log), "deployment.latency")[None]
    assert result.status == status and result.value == pytest.approx(late_latency)
    assert result.metrics["first_over_budget_window"] == ("2026-11-07" if status == "fail" else None)
    assert result.metrics["first_warn_window"] == (None if status == "pass" else "2026-11-07")
    chart = result.evidence["charts"][0]
    assert chart["x"] == DAYS and chart["thresholds"][0]["value"] == 200


def test_latency_quantiles_match_numpy(project, tmp_path):
    log = log_sql(EVEN, with_column("latency_ms", "(i * 7919) % 1000 / 3.0"))
    result = results(run_log(project, tmp_path, log), "deployment.latency")[None]
    values = np.array([(i * 7919) % 1000 / 3.0 for i in range(500)])
    assert result.value == pytest.approx(np.quantile(values, 0.95), rel=1e-12)
    assert result.metrics["p99_latest"] == pytest.approx(np.quantile(values, 0.99), rel=1e-12)


@pytest.mark.parametrize("spread", [1000.0, None])  # nearly every value distinct, or 13 values tied in runs
def test_latency_quantiles_of_every_window_match_numpy(project, tmp_path, spread):
    # Windows of 1, 2, 7 and 500 rows, one empty, ties (i % 13), NaN and null latencies left out.
    sizes = {DAYS[0]: 1, DAYS[1]: 2, DAYS[2]: 7, DAYS[4]: 500, DAYS[5]: 500}
    extra = f" + i / {spread}" if spread else ""
    latency = f"CASE WHEN i % 17 = 5 THEN 'NaN'::DOUBLE WHEN i % 19 = 3 THEN NULL ELSE (i % 13) * 2.5{extra} END"
    result = results(run_log(project, tmp_path, log_sql(sizes, with_column("latency_ms", latency))),
                     "deployment.latency")[None]
    rows = {row[0]: row for row in result.evidence["tables"][0]["rows"]}
    for day, n in sizes.items():
        values = np.array([(i % 13) * 2.5 + (i / spread if spread else 0.0) for i in range(n)
                           if i % 17 != 5 and i % 19 != 3])
        _, count, *quantiles, _status = rows[day]
        assert count == len(values)
        assert quantiles == np.quantile(values, [0.5, 0.95, 0.99]).tolist()  # bit for bit
    assert rows[DAYS[3]][1:5] == [None, None, None, None]


def test_latency_skips_without_a_budget(project, tmp_path):
    result = results(run_log(project, tmp_path, log_sql(EVEN), project_card={"name": "x"}), "deployment.latency")
    assert result[None].status == "skip" and "budget" in result[None].message


@pytest.mark.parametrize(("rows_on_the_5th", "status", "flagged"), [
    (500, "pass", 0), (450, "pass", 0), (200, "warn", 1), (80, "fail", 1), (0, "fail", 1), (2000, "warn", 1),
])
def test_volume(project, tmp_path, rows_on_the_5th, status, flagged):
    days = {**EVEN, "2026-11-05": rows_on_the_5th}
    result = results(run_log(project, tmp_path, log_sql(days)), "deployment.volume")[None]
    assert result.status == status
    assert result.metrics["typical_rows"] == 500 and result.metrics["flagged_windows"] == flagged
    rows = {r[0]: r for r in result.evidence["tables"][0]["rows"]}
    assert rows["2026-11-05"][1] == rows_on_the_5th  # an empty window is still listed, with 0 rows
    assert result.metrics["gaps"] == (1 if rows_on_the_5th == 0 else 0)
    if flagged:
        assert result.metrics["first_flagged_window"] == "2026-11-05"


def test_volume_adds_up_the_rows_per_model_version(project, tmp_path):
    """With a model version column, volume adds up model_versions' rows per (window, version) (one
    statement for both checks), NULL versions included: every window's rows, empty ones as 0."""
    days = {**EVEN, "2026-11-05": 120, "2026-11-06": 0}
    versions = "CASE WHEN i % 3 = 0 THEN NULL WHEN i % 3 = 1 THEN 'v1' ELSE 'v2' END"
    report = run_log(project, tmp_path, log_sql(days, with_column("model_version", versions)))
    volume = results(report, "deployment.volume")[None]
    rows = {r[0]: r[1] for r in volume.evidence["tables"][0]["rows"]}
    assert rows == {day: days.get(day, 500) for day in DAYS}
    assert volume.evidence["sql"][-1] == results(report, "deployment.model_versions")["v1"].evidence["sql"][-2]


def test_volume_scales_a_window_cut_by_as_of(project, tmp_path):
    # As of noon on the 10th, the 10th holds half a day: 250 rows there are normal, not a dip.
    result = results(run_log(project, tmp_path, log_sql(EVEN), as_of=datetime(2026, 11, 10, 12, tzinfo=UTC)),
                     "deployment.volume")[None]
    assert result.status == "pass" and result.metrics["latest_rows"] == 250
    assert result.metrics["latest_ratio"] == pytest.approx(1.0)


def test_model_versions_against_a_reference_with_versions(project, tmp_path):
    log = log_sql(EVEN, with_column("model_version", "CASE WHEN ts >= TIMESTAMP '2026-11-04' THEN 'v2' ELSE 'v1' END"))
    found = results(run_log(project, tmp_path, log), "deployment.model_versions")
    assert found["v1"].status == "pass" and found["v1"].value == 0.0
    assert found["v2"].status == "warn" and found["v2"].metrics["first_seen_window"] == "2026-11-04"
    assert "appeared in the window of 2026-11-04" in found["v2"].message


def test_model_versions_without_reference_versions(project, tmp_path):
    log = log_sql(EVEN, with_column("model_version", "CASE WHEN i % 2 = 0 THEN 'a' "
                                                     "WHEN ts >= TIMESTAMP '2026-11-08' THEN 'c' ELSE 'b' END"))
    reference = REFERENCE.replace(", 'v1' AS model_version", "")
    found = results(run_log(project, tmp_path, log, reference=reference), "deployment.model_versions")
    assert found["a"].status == "pass" and found["b"].status == "pass"  # there from the first window
    assert found["c"].status == "warn" and found["c"].metrics["first_seen_window"] == "2026-11-08"
    assert found["a"].value == pytest.approx(0.5) and found["c"].metrics["in_reference"] is None


@pytest.mark.parametrize(("as_of", "status"), [
    (datetime(2026, 11, 11, tzinfo=UTC), "pass"), (datetime(2026, 11, 12, 12, tzinfo=UTC), "warn"),
    (datetime(2026, 11, 15, tzinfo=UTC), "fail"),
])
def test_freshness(project, tmp_path, as_of, status):
    result = results(run_log(project, tmp_path, log_sql(EVEN), as_of=as_of), "deployment.freshness")[None]
    newest = datetime(2026, 11, 10) + timedelta(microseconds=499 * 172_800_000)  # the 10th's last row
    assert result.status == status
    assert result.value == pytest.approx((as_of.replace(tzinfo=None) - newest).total_seconds() / 3600)


def test_freshness_leaves_out_rows_after_as_of(project, tmp_path):
    result = results(run_log(project, tmp_path, log_sql(EVEN), as_of=datetime(2026, 11, 5, tzinfo=UTC)),
                     "deployment.freshness")[None]
    assert result.metrics["newest"].startswith("2026-11-04T23:57") and result.metrics["rows_after_as_of"] == 3000


@pytest.mark.parametrize(("wrong_per_100", "status"), [(10, "pass"), (13, "warn"), (20, "fail")])
def test_performance_over_time(project, tmp_path, wrong_per_100, status):
    prediction = (f"CASE WHEN (ts < TIMESTAMP '2026-11-06' AND i % 10 = 0) OR "
                  f"(ts >= TIMESTAMP '2026-11-06' AND i % 100 < {wrong_per_100}) THEN 1 - i % 2 ELSE i % 2 END")
    columns = with_column("prediction", prediction).replace(" AS label,", " AS label_,")
    columns += ", CASE WHEN ts < TIMESTAMP '2026-11-09' THEN i % 2 END AS label"  # no labels yet from the 9th
    result = results(run_log(project, tmp_path, log_sql(EVEN, columns)), "deployment.performance_over_time")
    result = result["accuracy"]
    assert result.status == status
    assert result.metrics["reference_value"] == pytest.approx(0.9)
    assert result.metrics["value"] == pytest.approx(1 - wrong_per_100 / 100)
    assert result.value == pytest.approx(wrong_per_100 / 100 - 0.1)
    assert result.metrics["last_labelled_window"] == "2026-11-08"
    assert result.metrics["recent_windows"] == "2026-11-06, 2026-11-07, 2026-11-08"
    assert result.metrics["first_fail_window"] == ("2026-11-06" if status == "fail" else None)
    assert result.metrics["label_coverage_latest"] == 0


def test_performance_over_time_cbpe_beside_the_realised_metric(project, tmp_path):
    result = results(run_log(project, tmp_path, log_sql(EVEN)), "deployment.performance_over_time")["accuracy"]
    # Scores 0.8 for predicted 1 and 0.2 for predicted 0: CBPE expects accuracy 0.8 wherever they come from.
    assert result.metrics["expected_accuracy_latest"] == pytest.approx(0.8)
    assert result.metrics["reference_expected_accuracy"] == pytest.approx(0.8)
    assert result.metrics["calibration_gap"] == pytest.approx(0.8 - 0.9)
    series = result.evidence["charts"][0]["series"]
    assert series["accuracy (CBPE expected)"] == pytest.approx([0.8] * 10)


def reference_psi(window_values: np.ndarray) -> float:
    """Oracle: numpy deciles of the reference (linear), right-closed bins, then stats.psi."""
    ref = 1000.0 + (np.arange(500) * 37) % 500
    cuts = sorted(set(np.quantile(ref, np.arange(1, 10) / 10)))
    ref_counts = np.bincount(stats.bin_index(ref, cuts), minlength=len(cuts) + 1)
    cur_counts = np.bincount(stats.bin_index(window_values, cuts), minlength=len(cuts) + 1)
    return stats.psi(ref_counts, cur_counts)


@pytest.mark.parametrize(("shift", "status"), [(0.0, "pass"), (40.0, "warn"), (250.0, "fail")])
def test_drift_over_time(project, tmp_path, shift, status):
    log = log_sql(EVEN, with_column("income", f"1000.0 + (i * 37) % 500 + CASE WHEN ts >= TIMESTAMP '2026-11-06' "
                                              f"THEN {shift} ELSE 0 END"))
    found = results(run_log(project, tmp_path, log), "deployment.drift_over_time")
    income = found["income"]
    expected = reference_psi(1000.0 + (np.arange(500) * 37) % 500 + shift)
    assert income.status == status and income.value == pytest.approx(expected, rel=1e-9)
    assert income.metrics["first_crossed_window"] == (None if status == "pass" else "2026-11-06")
    rows = {r[0]: r for r in income.evidence["tables"][0]["rows"]}
    assert rows["2026-11-05"][2] == pytest.approx(0.0, abs=1e-12)
    assert found["age"].status == "pass" and found["region"].status == "pass"


def test_drift_over_time_categorical_and_small_windows(project, tmp_path):
    region = "CASE WHEN ts >= TIMESTAMP '2026-11-08' THEN 'north' ELSE ['north', 'south', 'east', 'west'][1 + i % 4] END"
    days = {**EVEN, "2026-11-03": 50}  # too few rows to grade
    found = results(run_log(project, tmp_path, log_sql(days, with_column("region", region))),
                    "deployment.drift_over_time")
    region_result = found["region"]
    assert region_result.status == "fail" and region_result.metrics["first_fail_window"] == "2026-11-08"
    # All 'north' against four equal regions: JS distance (base 2) as scipy defines it.
    from scipy.spatial.distance import jensenshannon
    assert region_result.metrics["js_distance_latest"] == pytest.approx(
        jensenshannon([0.25] * 4, [1, 0, 0, 0], base=2), rel=1e-9)
    rows = {r[0]: r for r in region_result.evidence["tables"][0]["rows"]}
    assert rows["2026-11-03"][4] == "not graded"
    assert any(c["kind"] == "heatmap" for c in region_result.evidence["charts"])  # the overview sits on the worst


def test_performance_checks_scan_the_reference_once(project, tmp_path, monkeypatch):
    """modeling.performance and deployment.performance_over_time both need the reference's counts
    and ranking: each is one query, asked with the same SQL, run once."""
    from auditor.engine.duckdb_engine import Engine

    statements: list[str] = []
    original = Engine.execute
    monkeypatch.setattr(Engine, "execute", lambda self, sql, params=None: statements.append(sql) or
                        original(self, sql, params))
    run_log(project, tmp_path, log_sql(EVEN))  # writes data and config
    from auditor.audit.registry import REGISTRY
    from auditor.checks import catalogue

    catalogue()
    wanted = ("modeling.performance", "deployment.performance_over_time")
    only = {c: {"enabled": False} for c in REGISTRY if c not in wanted}
    cfg = yaml.safe_load((tmp_path / "audit.yaml").read_text())
    cfg["checks"] = only
    cfg["project"] = {"name": "x", "success_metrics": [{"metric": "roc_auc", "target": 0.5}]}
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(cfg))
    statements.clear()
    report = run_audit(load_config(tmp_path / "audit.yaml"), stages=["modeling", "deployment"],
                       as_of=datetime(2026, 11, 11, tzinfo=UTC))
    assert results(report, "modeling.performance") and results(report, "deployment.performance_over_time")
    on_reference = [s for s in statements if "score_complement_sum" in s and 'FROM "reference"' in s]
    assert len(on_reference) == 1 and "GROUP BY y, yhat" in on_reference[0]  # counts and CBPE's sums
    assert len([s for s in statements if "precision_sum" in s and '"reference"' in s]) == 1


def test_performance_per_window_matches_scikit_learn(project, tmp_path):
    """ROC AUC, average precision and accuracy of every window, ties in scores included, against scikit-learn."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from sklearn.metrics import accuracy_score, average_precision_score, roc_auc_score

    rng = np.random.default_rng(5)
    n = 3000
    day = rng.integers(0, 5, n)
    ts = np.datetime64("2026-11-01") + day.astype("timedelta64[D]") + rng.integers(0, 86400, n).astype("timedelta64[s]")
    score = np.round(rng.random(n), 2)  # many ties
    label = (rng.random(n) < np.clip(score + (day - 2) * 0.1, 0, 1)).astype(int)
    prediction = (score >= 0.5).astype(int)
    src = tmp_path / "src.parquet"
    pq.write_table(pa.table({"ts": ts.astype("datetime64[us]"), "i": np.arange(n), "label": label, "score": score,
                             "prediction": prediction}), src)
    columns = LOG_COLUMNS.replace("i % 2 AS label", "label").replace(
        "CASE WHEN i % 10 = 0 THEN 1 - i % 2 ELSE i % 2 END AS prediction", "prediction").replace(
        "CASE WHEN i % 10 = 0 THEN 1 - i % 2 ELSE i % 2 END * 0.6 + 0.2 AS score", "score")
    card = {"name": "x", "success_metrics": [{"metric": "average_precision", "target": 0.5}]}
    for metric, oracle in (("average_precision", average_precision_score), ("roc_auc", roc_auc_score)):
        card["success_metrics"][0]["metric"] = metric
        report = run_log(project, tmp_path, f"SELECT {columns} FROM read_parquet('{src}')", project_card=card,
                         checks={"deployment.performance_over_time": {"min_labelled": 10}},
                         as_of=datetime(2026, 11, 6, tzinfo=UTC))
        result = results(report, "deployment.performance_over_time")[metric]
        rows = result.evidence["tables"][0]["rows"][::-1]  # per-window tables list the newest first
        assert [r[0] for r in rows] == [f"2026-11-0{d}" for d in range(1, 6)]
        for d, row in enumerate(rows):
            inside = day == d
            assert row[4] == pytest.approx(oracle(label[inside], score[inside]), rel=1e-12)
            assert row[7] == pytest.approx(accuracy_score(label[inside], prediction[inside]), rel=1e-12)


@pytest.mark.parametrize(("late_error", "status"), [(1.0, "pass"), (1.03, "warn"), (1.2, "fail")])
def test_performance_over_time_regression_mae_relative_to_the_reference(project, tmp_path, late_error, status):
    columns = LOG_COLUMNS.replace("i % 2 AS label", "(i % 7)::DOUBLE AS label").replace(
        "CASE WHEN i % 10 = 0 THEN 1 - i % 2 ELSE i % 2 END AS prediction",
        f"(i % 7) + CASE WHEN ts >= TIMESTAMP '2026-11-06' THEN {late_error} ELSE 1.0 END AS prediction")
    reference = "SELECT i AS id, (i % 7)::DOUBLE AS label, (i % 7) + 1.0 AS prediction FROM range(500) t(i)"
    path = tmp_path / "audit.yaml"
    with pytest.raises(ConfigError, match="columns.label 'label' holds 0, 1, 2, 3, 4 and 2 more, not 1/0"):
        run_log(project, tmp_path, log_sql(EVEN, columns), reference=reference)  # a binary task: exit 2
    cfg = yaml.safe_load(path.read_text())
    cfg["task"] = "regression"
    cfg["columns"].pop("score")
    path.write_text(yaml.safe_dump(cfg))
    report = run_audit(load_config(path), stages=["deployment"], as_of=datetime(2026, 11, 11, tzinfo=UTC))
    result = results(report, "deployment.performance_over_time")["mae"]
    assert result.status == status
    assert result.metrics["reference_value"] == pytest.approx(1.0)
    assert result.value == pytest.approx(late_error - 1.0)  # relative to the reference's MAE of 1.0
    assert "expected_accuracy_latest" in result.metrics and result.metrics["expected_accuracy_latest"] is None


def test_windowed_checks_skip_without_a_timestamp(project, tmp_path):
    report = run_log(project, tmp_path, log_sql(EVEN))
    cfg = yaml.safe_load((tmp_path / "audit.yaml").read_text())
    cfg["columns"].pop("timestamp")
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(cfg))
    report = run_audit(load_config(tmp_path / "audit.yaml"), stages=["deployment"],
                       as_of=datetime(2026, 11, 11, tzinfo=UTC))
    for check_id in ("deployment." + name for name in WINDOWED):
        found = results(report, check_id)
        assert [r.status for r in found.values()] == ["skip"], check_id
        assert "timestamp" in next(iter(found.values())).message


def test_volume_when_the_typical_window_is_empty(project, tmp_path):
    days = {"2026-11-01": 500, "2026-11-02": 500, "2026-11-03": 500}  # then nothing up to the 11th
    result = results(run_log(project, tmp_path, log_sql(days)), "deployment.volume")[None]
    # The typical window comes from the earliest full windows (11-02 to 11-04), never from the judged ones.
    assert result.status == "fail" and result.metrics["typical_rows"] == 500 and result.value == 0
    assert result.metrics["gaps"] == 7 and result.metrics["first_flagged_window"] == "2026-11-04"


def test_reference_deciles_are_located_once_for_every_drift_check(project, tmp_path, monkeypatch):
    """drift_over_time locates the reference's numeric columns once (auditor.engine.quantiles, in the run's cache), with
    no value-counts window, and its per-window PSI equals numpy's on the reference deciles."""
    log = tmp_path / "queries.json"
    monkeypatch.setenv("AUDITOR_QUERY_LOG", str(log))
    report = run_log(project, tmp_path, log_sql(EVEN))
    queries = json.loads(log.read_text())["queries"]
    located = [q for q in queries if "count(*) AS n, min(v) AS lo" in q["sql"] and '"reference"' in q["sql"]]
    assert len(located) == 1 and located[0]["check"] == "deployment.drift_over_time"
    assert not any("OVER (ORDER BY v" in q["sql"] for q in queries if q["check"] == "deployment.drift_over_time")
    # The numeric columns' reference bins are read off the located cells, the categories off the run's
    # value counts: no scan of the reference of its own.
    assert not [q for q in queries if "GROUPING_ID" in q["sql"] and 'FROM "reference"' in q["sql"]]
    region = results(report, "deployment.drift_over_time")["region"]
    assert any('histogram("region")' in sql and '"reference"' in sql for sql in region.evidence["sql"])
    assert region.value == pytest.approx(0.0, abs=1e-12)  # the log's regions are spread as the reference's
    income = results(report, "deployment.drift_over_time")["income"]
    window = 1000.0 + (np.arange(500) * 37) % 500
    assert income.value == pytest.approx(reference_psi(window), abs=1e-12)


SPECIAL_INCOME = ("CASE WHEN i % 50 = 0 THEN 'inf'::DOUBLE WHEN i % 50 = 1 THEN '-inf'::DOUBLE "
                  "WHEN i % 50 = 2 THEN 'nan'::DOUBLE WHEN i % 50 = 3 THEN NULL "
                  "ELSE 1000.0 + ((i * 37) % 500) // 50 * 50 END")


def _special_income(i: np.ndarray, shift: float = 0.0) -> np.ndarray:
    """SPECIAL_INCOME in numpy, NULL and NaN both NaN (missing), plus a shift of the finite values."""
    out = 1000.0 + ((i * 37) % 500) // 50 * 50 + shift
    out[i % 50 == 0], out[i % 50 == 1], out[i % 50 >= 2] = np.inf, -np.inf, out[i % 50 >= 2]
    out[(i % 50 == 2) | (i % 50 == 3)] = np.nan
    return out


@pytest.mark.parametrize("reference_bins_from", ["located cells", "a scan"])
def test_drift_over_time_with_ties_infinities_nan_and_nulls_matches_numpy(project, tmp_path, monkeypatch,
                                                                         reference_bins_from):
    """Oracle: numpy deciles of the reference's non-missing values (±inf ranked as values), right-closed bins
    on the distinct finite ones, every window's PSI and JS against them; the reference's bins read off its
    located cells, or counted by a scan where the cells cannot tell."""
    from auditor.checks import deployment_drift
    if reference_bins_from == "a scan":
        monkeypatch.setattr(deployment_drift, "located_bins", lambda located, cuts: None)
    reference = REFERENCE.replace("1000.0 + (i * 37) % 500 AS income", f"{SPECIAL_INCOME} AS income")
    shifted = f"{SPECIAL_INCOME} + CASE WHEN ts >= TIMESTAMP '2026-11-06' THEN 75 ELSE 0 END"
    report = run_log(project, tmp_path, log_sql(EVEN, with_column("income", shifted)), reference=reference)
    income = results(report, "deployment.drift_over_time")["income"]
    ref = _special_income(np.arange(500))
    ref = ref[~np.isnan(ref)]
    with np.errstate(invalid="ignore"):
        cuts = stats.cut_points(list(np.quantile(ref, np.arange(1, 10) / 10)))
    rows = {r[0]: r for r in income.evidence["tables"][0]["rows"]}
    for day in DAYS:
        window = _special_income(np.arange(500), 75.0 if day >= "2026-11-06" else 0.0)
        window = window[~np.isnan(window)]
        ref_counts = np.bincount(stats.bin_index(ref, cuts), minlength=len(cuts) + 1)
        cur_counts = np.bincount(stats.bin_index(window, cuts), minlength=len(cuts) + 1)
        assert rows[day][1] == len(window)
        assert rows[day][2] == pytest.approx(stats.psi(ref_counts, cur_counts), abs=1e-12)
        assert rows[day][3] == pytest.approx(stats.js_distance(ref_counts, cur_counts), abs=1e-12)
