"""History: dated run folders, the DuckDB store, trends and changes in the report, index, retention."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from auditor.cli import main
from auditor.delivery.history import Retention, parse_keep
from auditor.errors import ConfigError
from auditor.report import change_kind as _change
from tests.conftest import BASE_SELECT, write_parquet

NIGHT_1 = int(datetime(2026, 11, 26, 2, 0, tzinfo=UTC).timestamp())
NIGHT_2 = int(datetime(2026, 11, 27, 2, 0, tzinfo=UTC).timestamp())
NIGHT_3 = int(datetime(2026, 11, 28, 2, 0, tzinfo=UTC).timestamp())

# Night 1: region is 40% null (fails). Night 2: region is fine again, income is 40% null (fails).
REGION_NULL = BASE_SELECT.format(n=400).replace(
    "CASE WHEN i % 50 = 0 THEN NULL", "CASE WHEN i % 5 < 2 THEN NULL")
INCOME_NULL = BASE_SELECT.format(n=400).replace(
    "1000.0 + (i * 37) % 500 AS income", "CASE WHEN i % 5 < 2 THEN NULL ELSE 1000.0 + (i * 37) % 500 END AS income")


def night(config: Path, root: Path, epoch: int, monkeypatch: pytest.MonkeyPatch, *extra: str) -> int:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(epoch))
    return main(["run", str(config), "--out", str(root), "--format", "json,html", "--stage", "data",
                 "--history", *extra])


@pytest.fixture
def two_nights(project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = project(current=REGION_NULL)
    root = tmp_path / "reports"
    assert night(config, root, NIGHT_1, monkeypatch) == 1
    write_parquet(tmp_path / "data" / "current.parquet", INCOME_NULL)
    assert night(config, root, NIGHT_2, monkeypatch) == 1
    return root


def test_two_nights_give_dated_folders_latest_and_two_rows_per_check(two_nights: Path) -> None:
    root = two_nights
    assert (root / "2026-11-26T02-00" / "report.json").is_file()
    assert (root / "2026-11-27T02-00" / "report.html").is_file()
    assert (root / "latest" / "report.html").read_bytes() == (root / "2026-11-27T02-00" / "report.html").read_bytes()
    con = duckdb.connect(str(root / "history.duckdb"), read_only=True)
    runs = con.execute("SELECT folder, status FROM runs ORDER BY started_at").fetchall()
    assert runs == [("2026-11-26T02-00", "fail"), ("2026-11-27T02-00", "fail")]
    per_check = {(c, s): n for c, s, n in con.execute("SELECT check_id, subject, count(*) FROM results GROUP BY ALL")
                 .fetchall()}
    keys = [{(c["id"], c["subject"] or "") for c in json.loads((root / f / "report.json").read_text())["checks"]}
            for f in ("2026-11-26T02-00", "2026-11-27T02-00")]
    assert len(keys[0] & keys[1]) > 20
    assert {k: per_check[k] for k in keys[0] & keys[1]} == dict.fromkeys(keys[0] & keys[1], 2)
    # Only the results one night had (income's subgroup null rate exists once income has nulls) have one row.
    assert {k for k, n in per_check.items() if n == 1} == keys[0] ^ keys[1] == {
        ("data.subgroup_null_rate", "income by sex")}
    # Values are recorded as measured: the null rates of income on each night.
    values = con.execute("SELECT value FROM results JOIN runs USING (run_id) "
                         "WHERE check_id = 'data.null_rate' AND subject = 'income' ORDER BY started_at").fetchall()
    assert values == [(0.0,), (0.4,)]
    assert con.execute("SELECT count(*) FROM results").fetchone()[0] == len(keys[0]) + len(keys[1])


def test_second_report_carries_trend_and_changes(two_nights: Path) -> None:
    report = json.loads((two_nights / "2026-11-27T02-00" / "report.json").read_text())
    history = report["run"]["history"]
    assert [r["folder"] for r in history["runs"]] == ["2026-11-26T02-00"]
    changes = {(c["id"], c["subject"]): c for c in history["changes"]}
    assert changes[("data.null_rate", "income")]["kind"] == "new_failure"
    assert changes[("data.null_rate", "income")]["previous_status"] == "pass"
    assert changes[("data.null_rate", "region")]["kind"] == "recovered"
    income = next(c for c in history["checks"] if (c["id"], c["subject"]) == ("data.null_rate", "income"))
    assert income["values"] == [0.0, 0.4] and income["statuses"] == ["pass", "fail"]
    # The first night had no history: its report says nothing about one.
    first = json.loads((two_nights / "2026-11-26T02-00" / "report.json").read_text())
    assert "history" not in first["run"]


def test_second_html_shows_the_trend_and_the_changes(two_nights: Path) -> None:
    html = (two_nights / "2026-11-27T02-00" / "report.html").read_text()
    assert "Since the last run" in html and "2026-11-26 02:00:00 UTC (fail)" in html
    assert '<li class="change-new_failure"><b>New failures</b>' in html
    assert '<a href="#check-data-null_rate-income">Null rate · income</a> <span class="muted">pass 0% → fail 40%' in html
    assert '<li class="change-recovered"><b>Recovered</b>' in html
    income = html[html.index('<article id="check-data-null_rate-income"'):]
    income = income[: income.index("</article>")]
    assert '<svg class="spark"' in income and "last run: 0% (pass)" in income
    assert income.count("<circle") == 2
    first = (two_nights / "2026-11-26T02-00" / "report.html").read_text()
    assert "Since the last run" not in first and 'class="spark"' not in first


def test_index_lists_runs_and_retention_prunes(two_nights: Path, project, monkeypatch) -> None:
    root = two_nights
    index = (root / "index.html").read_text()
    assert index.index("2026-11-27T02-00/report.html") < index.index("2026-11-26T02-00/report.html")  # newest first
    assert index.count('<span class="badge badge-fail">fail</span>') == 2
    config = root.parent / "audit.yaml"
    assert night(config, root, NIGHT_3, monkeypatch, "--keep", "2") == 1
    assert not (root / "2026-11-26T02-00").exists() and (root / "2026-11-27T02-00").is_dir()
    con = duckdb.connect(str(root / "history.duckdb"), read_only=True)
    assert [f for (f,) in con.execute("SELECT folder FROM runs ORDER BY started_at").fetchall()] == [
        "2026-11-27T02-00", "2026-11-28T02-00"]
    con.close()
    # `auditor history ROOT --keep 1d` at night 3 keeps only runs of the last day; the index follows.
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(NIGHT_3 + 60))
    (root / "unrelated").mkdir()
    assert main(["history", str(root), "--keep", "1d"]) == 0
    assert not (root / "2026-11-27T02-00").exists() and (root / "2026-11-28T02-00").is_dir()
    assert (root / "unrelated").is_dir()  # only run folders are ever deleted
    index = (root / "index.html").read_text()
    assert "2026-11-28T02-00/report.html" in index and "2026-11-27T02-00" not in index


def test_plain_out_writes_directly_and_keep_needs_history(project, tmp_path: Path) -> None:
    config = project()
    assert main(["run", str(config), "--out", str(tmp_path / "plain"), "--stage", "scoping"]) == 0
    assert (tmp_path / "plain" / "report.json").is_file() and not (tmp_path / "plain" / "history.duckdb").exists()
    assert main(["run", str(config), "--out", str(tmp_path / "plain"), "--keep", "3"]) == 2
    assert main(["history", str(tmp_path / "plain")]) == 2  # no history.duckdb there


def test_config_enables_history(project, tmp_path: Path, monkeypatch) -> None:
    config = project(config={"outputs": {"dir": "reports", "formats": ["json"], "history": True, "keep": "5"}})
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(NIGHT_1))
    assert main(["run", str(config), "--stage", "scoping"]) == 0
    assert (tmp_path / "reports" / "2026-11-26T02-00" / "report.json").is_file()
    # A second run in the same minute gets its own folder, with seconds.
    assert main(["run", str(config), "--stage", "scoping"]) == 0
    assert (tmp_path / "reports" / "2026-11-26T02-00-00").is_dir()
    assert main(["run", str(config), "--stage", "scoping", "--no-history", "--out", str(tmp_path / "flat")]) == 0
    assert (tmp_path / "flat" / "report.json").is_file()


def test_parse_keep_and_change_kinds() -> None:
    assert parse_keep("90d") == Retention(days=90) and parse_keep("30") == Retention(count=30)
    for bad in ("0", "-1", "90 days", "d", ""):
        with pytest.raises(ConfigError):
            parse_keep(bad)
    assert _change("pass", "fail") == "new_failure" and _change(None, "error") == "new_failure"
    assert _change("warn", "fail") == "new_failure" and _change("pass", "warn") == "new_warning"
    assert _change("fail", "pass") == "recovered" and _change("error", "warn") == "recovered"
    assert _change("warn", "pass") == "improved"
    assert _change("fail", "fail") is None and _change("skip", "fail") is None and _change("pass", "skip") is None
