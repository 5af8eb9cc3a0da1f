"""Any shape on small data: statements that do not grow with the column count, no check in error on a
2,000-column table, a high-cardinality text column profiled without counting every value, and as many
statements for 2,000 windows as for 40. Nothing here is timed: the bench measures speed."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime

import duckdb
import pandas as pd
import pytest
import yaml

from auditor import load_config
from auditor.audit.runner import run_audit
from tests.conftest import results, write_parquet

FIXED = ("i AS id, (hash(i) % 2)::INTEGER AS label, (hash(i * 3) % 1000) / 1000.0 AS score, "
         "['f', 'm'][1 + (hash(i * 5) % 2)::INTEGER] AS sex")


def wide_select(columns: int, rows: int, shift: float = 0.0) -> str:
    """`columns` features, four in five numbers (some integers, a few floats with NaN), the rest text."""
    parts = [FIXED]
    for j in range(columns):
        if j % 5 == 4:
            parts.append(f"'v' || ((hash(i * {j + 7}) % {3 + j % 9}))::VARCHAR AS c{j}")
        elif j % 5 == 3:
            parts.append(f"((hash(i * {j + 7}) % 50)::BIGINT - 20) AS c{j}")
        else:
            parts.append(f"CASE WHEN i % 97 = {j % 97} THEN 'nan'::DOUBLE ELSE (hash(i * {j + 7}) % 1000) / 100.0 + {shift} END AS c{j}")
    return f"SELECT {', '.join(parts)} FROM range({rows}) t(i)"


def wide_project(tmp_path, columns: int, rows: int = 30):
    write_parquet(tmp_path / "reference.parquet", wide_select(columns, rows))
    # Shifted by 1.7 standard deviations: unmistakable at 30 rows a side, where smaller shifts are within chance.
    write_parquet(tmp_path / "current.parquet", wide_select(columns, rows, shift=5.0))
    config = {"version": 1, "project": {"name": "wide"},
              "datasets": {"reference": {"path": "reference.parquet"}, "current": {"path": "current.parquet"}},
              "columns": {"id": "id", "label": "label", "score": "score", "sensitive": ["sex"]},
              "outputs": {"dir": "out", "formats": ["json"]}}
    path = tmp_path / "audit.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def statements_per_check(tmp_path, monkeypatch, columns: int) -> tuple[Counter, object]:
    folder = tmp_path / str(columns)
    folder.mkdir()
    log = folder / "queries.json"
    monkeypatch.setenv("AUDITOR_QUERY_LOG", str(log))
    report = run_audit(load_config(wide_project(folder, columns)), as_of=datetime(2026, 11, 27))
    queries = json.loads(log.read_text())["queries"]
    reading = [q for q in queries if not q["sql"].lstrip().upper().startswith(("CREATE", "DESCRIBE", "EXPLAIN", "SET"))]
    return Counter(q["check"] or "(runner)" for q in reading), report


def test_statements_per_check_do_not_grow_from_10_to_500_columns(tmp_path, monkeypatch):
    """No check runs more statements at 500 columns than at 100 (and about as many at 10): columns are
    stacked, 500 at most to a stack, one stack per type family."""
    few, _ = statements_per_check(tmp_path, monkeypatch, 10)
    some, _ = statements_per_check(tmp_path, monkeypatch, 100)
    many, report = statements_per_check(tmp_path, monkeypatch, 500)
    assert not [r for r in report.checks if r.status == "error"]
    assert set(many) == set(some)
    for check, n in many.items():
        # 500 features and the role columns pass 500: a second stack may add its one statement (N/500).
        assert n <= some[check] + 1, (check, some[check], n)
        assert few[check] <= n + 2, (check, few[check], n)  # at 10 columns the narrow forms take a couple more
    assert sum(many.values()) < 80


def test_no_check_in_error_on_2000_columns(tmp_path, monkeypatch):
    counts, report = statements_per_check(tmp_path, monkeypatch, 2000)
    errors = [f"{r.id}: {r.message}" for r in report.checks if r.status == "error"]
    assert errors == []
    assert len(results(report, "data.profile")) == 2004
    drift = results(report, "deployment.feature_drift")
    assert drift["c0"].status == "fail"  # the drift is seen at width too
    # 2,000 columns are five stacks of at most 500: a handful of statements more than 500 columns take.
    assert sum(counts.values()) < 100
    # No statement is repeated in full in every column's evidence.
    assert len(json.dumps(report.to_dict())) < 20_000_000


def test_a_high_cardinality_text_column_is_profiled_without_a_count_per_value(tmp_path, monkeypatch):
    """15,000 distinct strings: approximate distinct count, the top values with exact rows, lengths; no
    statement groups the column by value, and nothing in the result grows with its values."""
    select = ("SELECT i AS id, CASE WHEN i % 10 = 0 THEN 'frequent' WHEN i % 10 = 1 THEN 'also frequent' "
              "ELSE 'text ' || (i % 15000)::VARCHAR || repeat('x', (i % 7)::INTEGER) END AS note, "
              "(i % 3)::DOUBLE AS x FROM range(20000) t(i)")
    path = write_parquet(tmp_path / "current.parquet", select)
    config = {"version": 1, "project": {"name": "text"}, "datasets": {"current": {"path": "current.parquet"}},
              "columns": {"id": "id"}, "outputs": {"dir": "out", "formats": ["json"]}}
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(config))
    log = tmp_path / "queries.json"
    monkeypatch.setenv("AUDITOR_QUERY_LOG", str(log))
    report = run_audit(load_config(tmp_path / "audit.yaml"), stages=["data"])
    note = results(report, "data.profile")["note"]
    frame = pd.read_parquet(path)
    lengths = frame.note.str.len()
    assert note.metrics["length_min"] == lengths.min() and note.metrics["length_max"] == lengths.max()
    assert note.metrics["length_mean"] == pytest.approx(lengths.mean(), rel=1e-12)
    top = note.evidence["tables"][0]
    expected = frame.note.value_counts()
    assert top["rows"][:2] == [["frequent", 2000, 0.1], ["also frequent", 2000, 0.1]] or \
        top["rows"][:2] == [["also frequent", 2000, 0.1], ["frequent", 2000, 0.1]]
    assert all(expected[value] == n for value, n, _ in top["rows"])  # exact rows of each value shown
    assert len(top["rows"]) <= 10 and len(note.evidence["charts"][0]["categories"]) <= 10
    assert abs(note.metrics["distinct_approx"] - frame.note.nunique()) < 0.1 * frame.note.nunique()
    for q in json.loads(log.read_text())["queries"]:
        sql = " ".join(q["sql"].split())
        assert not ('"note"' in sql and "histogram" in sql), sql[:200]
        assert "GROUP BY k, v" not in sql or '"note"' not in sql, sql[:200]


def log_project(tmp_path, days: int, hours: bool):
    """A prediction log of `days` days, one row a minute, graded in hourly or daily windows."""
    minutes = days * 24 * 60
    select = (f"SELECT i AS id, TIMESTAMP '2026-11-27' - INTERVAL {days} DAY + to_minutes(i::BIGINT) AS ts, "
              f"(hash(i) % 1000) / 1000.0 AS score, ((hash(i) % 1000) >= 500)::INTEGER AS prediction, "
              f"(hash(i * 7) % 2)::INTEGER AS label, (i % 300)::DOUBLE AS x, 'v1' AS model_version, "
              f"20 + (hash(i * 3) % 100) / 10.0 AS latency_ms FROM range({minutes}) t(i)")
    write_parquet(tmp_path / "log.parquet", select)
    write_parquet(tmp_path / "reference.parquet", select.replace(f"range({minutes})", "range(5000)"))
    config = {"version": 1, "project": {"name": "log", "deployment": {"mode": "online", "latency_budget_ms": 100}},
              "datasets": {"reference": {"path": "reference.parquet"}, "current": {"path": "log.parquet"},
                           "predictions": {"path": "log.parquet"}},
              "columns": {"id": "id", "timestamp": "ts", "score": "score", "prediction": "prediction", "label": "label",
                          "model_version": "model_version", "latency": "latency_ms", "features": ["x"]},
              "monitoring": {"window": "1h" if hours else "1d"},
              "checks": {c: {"max_windows": 5000} for c in ("deployment.latency", "deployment.volume",
                                                            "deployment.drift_over_time", "deployment.model_versions",
                                                            "deployment.performance_over_time")},
              "outputs": {"dir": "out", "formats": ["json"]}}
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(config))
    return tmp_path / "audit.yaml"


def test_two_thousand_windows_take_as_many_statements_as_forty(tmp_path, monkeypatch):
    """84 days in 2,016 hourly windows or 84 daily ones: the same statements per windowed check; each
    window chart draws at most DISPLAY_POINTS points while its table keeps every window."""
    from auditor.audit.windowed import DISPLAY_POINTS

    found = {}
    for hours in (False, True):
        folder = tmp_path / ("hours" if hours else "days")
        folder.mkdir()
        log = folder / "queries.json"
        monkeypatch.setenv("AUDITOR_QUERY_LOG", str(log))
        report = run_audit(load_config(log_project(folder, 84, hours)), stages=["deployment"],
                           as_of=datetime(2026, 11, 27))
        queries = json.loads(log.read_text())["queries"]
        found[hours] = (Counter(q["check"] for q in queries if q["check"]), report)
    (days, _), (hours, report) = found[False], found[True]
    windowed = ("deployment.latency", "deployment.volume", "deployment.drift_over_time", "deployment.model_versions",
                "deployment.performance_over_time")
    assert {c: hours[c] for c in windowed} == {c: days[c] for c in windowed}
    latency = results(report, "deployment.latency")[None]
    assert latency.metrics["windows"] == 84 * 24
    chart = latency.evidence["charts"][0]
    assert len(chart["x"]) <= DISPLAY_POINTS and "each point" in chart["title"]
    assert len(latency.evidence["tables"][0]["rows"]) == 84 * 24 or latency.evidence["tables"][0].get("total_rows")


def test_window_quantiles_equal_numpy_per_window(tmp_path):
    """Per-window exact quantiles (the list test per cell) against numpy, with ties and distinct values."""
    import numpy as np

    from auditor.engine.duckdb_engine import Engine
    from auditor.engine.sources import Column, Dataset
    from auditor.engine.windows import Window, build_range, resolve_timestamp, window_quantiles

    path = write_parquet(tmp_path / "w.parquet", "SELECT TIMESTAMP '2026-01-01' + to_minutes(i::BIGINT) AS ts, "
                                                 "CASE WHEN i % 3 = 0 THEN 10.0 ELSE (hash(i) % 997) / 7.0 END AS v "
                                                 "FROM range(3000) t(i)")
    engine = Engine()
    engine.execute(f"CREATE VIEW w AS SELECT * FROM read_parquet('{path}')")
    ds = Dataset("w", "w", "", 3000, (Column("ts", "TIMESTAMP"), Column("v", "DOUBLE")))
    wr = build_range(engine, ds, resolve_timestamp(engine, ds, "ts"), window=Window(1, "h"), as_of=datetime(2026, 1, 3))
    found, _ = window_quantiles(engine, wr, '"v"', '"v" IS NOT NULL', (0.5, 0.95, 0.99))
    frame = duckdb.sql(f"SELECT ts, v FROM read_parquet('{path}')").df()
    frame["w"] = (frame.ts - pd.Timestamp("2026-01-01")) // pd.Timedelta(hours=1)
    assert len(found) == 48  # rows at or after the as-of time are left out
    for window, n, quantiles in found:
        values = frame.v[frame.w == window].to_numpy()
        assert n == len(values)
        assert quantiles == list(np.quantile(values, [0.5, 0.95, 0.99]))  # bit for bit
    engine.close()


def test_no_check_in_error_when_a_row_group_of_every_column_does_not_fit_the_memory_limit(tmp_path):
    """80 numbers in row groups of 30,000 rows hold ~0.4 MB a column a thread while read: more than a 64 MB
    memory_limit when every column is read at once (the summary of such a table, the whole-row hash), so the
    statements read as many columns as fit, and the duplicate rows are hashed column batch by column batch."""
    numbers = ", ".join(f"(hash(i * {j + 7}) % 1000003) / 1000.0 AS x{j}" for j in range(80))
    select = f"SELECT {numbers}, (i % 3)::VARCHAR AS s FROM range(90000) t(i)"
    copy = f"COPY (SELECT * FROM ({select}) UNION ALL (SELECT * FROM ({select}) LIMIT 5)) TO '{{}}' (FORMAT parquet, ROW_GROUP_SIZE 30000)"
    duckdb.execute(copy.format(tmp_path / "current.parquet"))
    config = {"version": 1, "project": {"name": "tall and wide"}, "datasets": {"current": {"path": "current.parquet"}},
              "engine": {"memory_limit": "64MB"}, "outputs": {"dir": "out", "formats": ["json"]}}
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(config))
    report = run_audit(load_config(tmp_path / "audit.yaml"), stages=["data"])
    assert [f"{r.id}: {r.message}" for r in report.checks if r.status == "error"] == []
    assert results(report, "data.duplicates")["(whole rows)"].value == 5  # the five rows written twice
    assert len(results(report, "data.null_rate")) == 81
