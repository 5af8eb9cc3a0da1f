"""Time on real encodings: bike-sharing-like hourly data with ISO-string and 'dd/mm/yyyy HH:MM' timestamps, a
near-unique record id and a day-of-year index; prediction logs whose windows overlap the reference, grow
small at the end, run 2,160 hours, or halve for good. Fixtures are DuckDB SQL, nothing is downloaded."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from auditor import load_config
from auditor.audit.runner import run_audit
from tests.conftest import results, write_parquet

# Bike sharing, hourly from 2011-01-01: `instant` is the row number, `day_of_year` follows the clock.
BIKES = """SELECT i AS record_id, strftime(TIMESTAMP '2011-01-01' + to_hours(i), '{fmt}') AS dteday,
  dayofyear(TIMESTAMP '2011-01-01' + to_hours(i)) AS day_of_year, (i % 24) AS hr,
  ['clear', 'mist', 'rain'][1 + (hash(i) % 3)::INTEGER] AS weathersit,
  0.3 + 0.2 * sin(i / 24.0) + (hash(i * 7) % 100) / 1000.0 AS temp,
  (hash(i * 11) % 500)::INTEGER AS cnt
FROM range({first}, {last}) t(i)"""
ISO = "%Y-%m-%d %H:%M:%S"
DAY_FIRST = "%d/%m/%Y %H:%M"


def bikes(tmp_path: Path, fmt: str = ISO, **columns) -> Path:
    write_parquet(tmp_path / "reference.parquet", BIKES.format(fmt=fmt, first=0, last=2000))
    write_parquet(tmp_path / "current.parquet", BIKES.format(fmt=fmt, first=2000, last=4000))
    path = tmp_path / "audit.yaml"
    path.write_text(yaml.safe_dump({
        "datasets": {"reference": {"path": "reference.parquet"}, "current": {"path": "current.parquet"}},
        "columns": {"timestamp": "dteday", **columns}, "monitoring": {"window": "1d"},
        "checks": {"deployment.drift_over_time": {"min_rows": 10}}, "outputs": {"dir": "out", "formats": ["json"]}}))
    return path


AS_OF = datetime(2011, 6, 16, 16, tzinfo=UTC)  # the current data ends 3,999 h after 2011-01-01: 2011-06-16 15:00


def test_iso_text_timestamps_drive_freshness_and_the_windows(tmp_path):
    report = run_audit(load_config(bikes(tmp_path)), stages=["data", "deployment"], as_of=AS_OF)
    fresh = results(report, "data.freshness")[None]
    assert fresh.status == "pass" and fresh.value == pytest.approx(1.0)
    assert fresh.message == ("The newest row of current is 1.0 hours old (2011-06-16 15:00 in 'dteday', read as "
                             "ISO 8601 dates or times).")
    volume = results(report, "deployment.volume")[None]
    assert volume.status == "pass" and volume.metrics["typical_rows"] == 24
    assert results(report, "deployment.freshness")[None].value == pytest.approx(1.0)
    assert set(results(report, "deployment.drift_over_time")) == {"hr", "weathersit", "temp", "cnt"}


def test_day_first_text_needs_its_format_and_then_reads_the_same(tmp_path):
    path = bikes(tmp_path, DAY_FIRST)
    done = subprocess.run([sys.executable, "-m", "auditor", "run", str(path), "--as-of", "2011-06-16T16:00"],
                          capture_output=True, text=True)
    assert done.returncode == 3
    assert done.stderr == ("auditor: error: columns.timestamp 'dteday' in dataset 'reference': 2,000 of 2,000 values "
                           "are not ISO 8601 dates or times, like '01/01/2011 00:00'; set columns.timestamp_format "
                           "(like '%d/%m/%Y %H:%M')\n")
    formatted = bikes(tmp_path / "formatted", DAY_FIRST, timestamp_format=DAY_FIRST)
    iso = run_audit(load_config(bikes(tmp_path / "iso")), stages=["data", "deployment"], as_of=AS_OF)
    day_first = run_audit(load_config(formatted), stages=["data", "deployment"], as_of=AS_OF)

    def graded(report):
        return [(r.id, r.subject, r.status, r.value) for r in report.checks
                if r.id in ("data.freshness", "deployment.volume", "deployment.freshness", "deployment.drift_over_time")]

    assert graded(day_first) == graded(iso) and len(graded(iso)) == 7
    assert "read as '%d/%m/%Y %H:%M' (columns.timestamp_format)" in results(day_first, "data.freshness")[None].message


def test_historical_data_audited_by_the_clock_names_as_of(tmp_path):
    report = run_audit(load_config(bikes(tmp_path)), stages=["data", "deployment"],
                       now=lambda: datetime(2026, 11, 27, tzinfo=UTC))
    fresh = results(report, "data.freshness")[None]
    assert fresh.status == "fail"
    assert fresh.message.endswith("The newest timestamp is 5,642 days before the run's clock: for historical data, "
                                  "run with --as-of 2011-06-16 (or later).")
    log = results(report, "deployment.freshness")[None]
    assert "--as-of 2011-06-16" in log.message
    assert "--as-of 2011-06-16" in results(report, "deployment.volume")[None].message  # its gaps name it too


def test_an_undeclared_id_and_a_day_index_are_left_out_of_drift(tmp_path):
    report = run_audit(load_config(bikes(tmp_path)), stages=["deployment"], as_of=AS_OF)
    current = next(d for d in report.datasets if d["name"] == "current")
    assert current["left_out"] == {"record_id": "looks like an id (100.0% distinct)",
                                   "day_of_year": "looks like a time index (follows 'dteday', correlation 1.000)"}
    for check_id in ("deployment.feature_drift", "deployment.drift_over_time"):
        found = results(report, check_id)
        assert "record_id" not in found and "day_of_year" not in found, check_id
    assert results(report, "deployment.feature_drift")["(all features)"].status == "pass"
    # columns.features overrides: the day index is then compared, and drifts by construction.
    kept = run_audit(load_config(bikes(tmp_path / "kept", features=["day_of_year", "temp"])), stages=["deployment"],
                     as_of=AS_OF)
    assert results(kept, "deployment.feature_drift")["day_of_year"].status == "fail"
    assert next(d for d in kept.datasets if d["name"] == "current")["left_out"] == {}


# --- windows ----------------------------------------------------------------------------------------------

def log_project(tmp_path: Path, log: str, reference: str, *, window: str, checks: dict | None = None,
                columns: dict | None = None, card: dict | None = None) -> Path:
    write_parquet(tmp_path / "predictions.parquet", log)
    write_parquet(tmp_path / "reference.parquet", reference)
    path = tmp_path / "audit.yaml"
    path.write_text(yaml.safe_dump({
        "project": card or {"name": "log"},
        "datasets": {"reference": {"path": "reference.parquet"}, "current": {"path": "predictions.parquet"}},
        "columns": {"timestamp": "ts", **(columns or {})}, "monitoring": {"window": window},
        "checks": checks or {}, "outputs": {"dir": "out", "formats": ["json"]}}))
    return path


# COMPAS-like log in 30-day windows: the first six inside the reference's period; then three of 600 rows
# like the reference; then two of 150 rows whose scores moved up by 4 deciles.
def compas_window(first_day: int, rows: int, shift: int) -> str:
    return (f"SELECT TIMESTAMP '2013-01-01' + to_days({first_day}) + to_minutes((i * 43200 // {rows})::INTEGER) AS ts, "
            f"least(10, 1 + (hash(i + {first_day} * 1000) % 10)::INTEGER + {shift}) AS decile_score, "
            f"18 + (hash(i * 7 + {first_day}) % 50)::INTEGER AS age FROM range({rows}) t(i)")


def compas_log(sizes: list[tuple[int, int]]) -> str:
    return " UNION ALL ".join(compas_window(30 * w, rows, shift) for w, (rows, shift) in enumerate(sizes))


COMPAS_REFERENCE = compas_window(0, 3600, 0).replace("to_minutes((i * 43200 // 3600)", "to_minutes((i * 259200 // 3600)")


def test_windows_of_the_reference_period_are_never_the_current_state(tmp_path):
    sizes = [(600, 0)] * 6 + [(600, 0)] * 3 + [(150, 4), (150, 4)]
    path = log_project(tmp_path, compas_log(sizes), COMPAS_REFERENCE, window="30d",
                       columns={"score": "decile_score", "features": ["age"]})
    report = run_audit(load_config(path), stages=["deployment"], as_of=datetime(2013, 12, 27, tzinfo=UTC))
    score = results(report, "deployment.drift_over_time")["decile_score"]
    assert score.metrics["min_rows"] == 300  # auto: half the median window's 600 values
    # The reference ends 2013-06-29 23:48: windows starting before it are its period, shown but never graded.
    rows = score.evidence["tables"][0]["rows"]
    period = [r[0] for r in rows if r[4] == "reference period"]
    assert len(period) == score.metrics["reference_period_windows"] and max(period) < "2013-06-30"
    assert min(r[0] for r in rows if r[4] != "reference period") >= "2013-06-30"
    assert score.metrics["latest_window"] >= "2013-06-30"
    # 30-day windows start on DuckDB's bucket origin, not on the log's months: the moved rows fall in three.
    assert score.status == "warn" and score.metrics["small_windows_drifted"] == 3
    assert score.message == ("'decile_score' has not drifted in any graded window: PSI 0.013 in the window of "
                             "2013-08-22. Newer windows too small to grade alone (under 300 values) drifted "
                             "significantly: 2013-11-20 (35 values, PSI 3.706), 2013-10-21 (150 values, PSI 3.485) and "
                             "2013-09-21 (255 values, PSI 0.388).")
    assert rows[0][0] > rows[-1][0]  # newest window first
    assert [r[4] for r in rows[:4]] == ["no values"] + ["drifted (too few values to grade alone)"] * 3
    assert rows[-1][4] == "reference period"
    # Only small windows after the reference's period, none drifted: not graded, said so with their sizes.
    quiet = log_project(tmp_path / "quiet", compas_log([(600, 0)] * 6 + [(150, 0)] * 2), COMPAS_REFERENCE,
                        window="30d", columns={"score": "decile_score", "features": ["age"]})
    report = run_audit(load_config(quiet), stages=["deployment"], as_of=datetime(2013, 9, 1, tzinfo=UTC))
    score = results(report, "deployment.drift_over_time")["decile_score"]
    assert score.status == "skip"
    assert score.message.startswith("Not graded: no window after the reference's period has 300 values of "
                                    "'decile_score' (min_rows): the newest are ")
    assert "150 values, PSI" in score.message


def test_every_hour_of_a_90_day_log_is_analysed_and_dates_the_problem(tmp_path):
    log = ("SELECT TIMESTAMP '2026-01-01' + to_hours(h) + to_minutes(i * 6) AS ts, "
           "CASE WHEN h >= 24 * 20 THEN 200.0 ELSE 100.0 END + i AS latency_ms FROM range(2160) a(h), range(10) b(i)")
    path = log_project(tmp_path, log, "SELECT TIMESTAMP '2025-12-01' AS ts", window="1h",
                       columns={"latency": "latency_ms"},
                       card={"name": "api", "deployment": {"latency_budget_ms": 150}})
    report = run_audit(load_config(path), stages=["deployment"], as_of=datetime(2026, 4, 1, tzinfo=UTC))
    latency = results(report, "deployment.latency")[None]
    assert latency.status == "fail" and latency.metrics["windows"] == 2160
    assert latency.metrics["first_over_budget_window"] == "2026-01-21T00:00"  # not the first window shown
    assert "it went over the budget since the window of 2026-01-21T00:00." in latency.message
    chart, table = latency.evidence["charts"][0], latency.evidence["tables"][0]
    assert len(chart["x"]) == 90 and chart["x"][-1] == "2026-03-31T23:00"  # max_windows: what is shown
    assert table["total_rows"] == 2160 and len(table["rows"]) == 90 and table["rows"][0][0] == "2026-03-31T23:00"


def weekly_log(rows_per_week: list[int]) -> str:
    return " UNION ALL ".join(
        f"SELECT TIMESTAMP '2026-01-05' + to_days({7 * w}) + to_seconds((i * 604800 // {n})::BIGINT) AS ts, i AS x "
        f"FROM range({n}) t(i)" for w, n in enumerate(rows_per_week))


def test_a_lasting_halving_is_judged_against_a_baseline_it_takes_no_part_in(tmp_path):
    weeks = [2505] * 8 + [1252] * 12
    path = log_project(tmp_path, weekly_log(weeks), "SELECT 1 AS x, TIMESTAMP '2025-01-01' AS ts", window="1w")
    volume = results(run_audit(load_config(path), stages=["deployment"], as_of=datetime(2026, 5, 25, tzinfo=UTC)),
                     "deployment.volume")[None]
    assert volume.metrics["typical_rows"] == 2505 and volume.status == "warn"
    assert volume.metrics["first_flagged_window"] == "2026-03-02" and volume.metrics["flagged_windows"] == 12
    assert "the median of the earliest 4 full windows, 2026-01-12 to 2026-02-02" in volume.message
    # With the reference's period in the log, the baseline is that period.
    reference = "SELECT TIMESTAMP '2026-01-05' + to_days(i) AS ts, i AS x FROM range(60) t(i)"
    path = log_project(tmp_path / "ref", weekly_log(weeks), reference, window="1w")
    volume = results(run_audit(load_config(path), stages=["deployment"], as_of=datetime(2026, 5, 25, tzinfo=UTC)),
                     "deployment.volume")[None]
    assert volume.metrics["typical_rows"] == 2505 and volume.status == "warn"
    assert "the median of the 8 windows of the reference's period (up to 2026-03-05)" in volume.message


def test_a_column_too_varied_for_feature_drift_is_skipped_over_time_too(tmp_path):
    rows = "SELECT TIMESTAMP '2026-01-01' + to_minutes(i) AS ts, 'code-' || (i % 1500) AS zip, i % 7 AS k FROM range({n}) t(i)"
    path = log_project(tmp_path, rows.format(n=6000).replace("% 1500", "% 1500 + 700"), rows.format(n=3000),
                       window="1d", columns={"features": ["zip", "k"]})
    report = run_audit(load_config(path), stages=["deployment"], as_of=datetime(2026, 1, 6, tzinfo=UTC))
    for check_id in ("deployment.feature_drift", "deployment.drift_over_time"):
        zip_code = results(report, check_id)["zip"]
        assert zip_code.status == "skip" and "more than 1,000 distinct values (max_categories)" in zip_code.message
