"""Failing rows exported to failures/<check id>.parquet: counts equal the report's, personal data masked,
the cap said, the files linked from the reports, and nothing written without a folder."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from auditor.cli import main

# Rows 0-9 are one row ten times (id 0 repeats, whole rows repeat); every 40th age is out of range;
# region is missing on 1 row in 12; income is missing for 40% of women only; email is personal data.
CURRENT = """
WITH r AS (SELECT i, CASE WHEN i < 10 THEN 0 ELSE i END AS j FROM range(1200) t(i))
SELECT j AS id,
       CASE WHEN j % 40 = 1 THEN 150 ELSE 20 + (j * 7) % 50 END AS age,
       CASE WHEN j % 2 = 0 AND j % 5 < 2 THEN NULL ELSE 1000.0 + (j * 37) % 500 END AS income,
       CASE WHEN j % 12 = 5 THEN NULL ELSE ['north', 'south', 'east', 'west'][1 + j % 4] END AS region,
       ['female', 'male'][1 + j % 2] AS sex,
       'person' || j || '@example.com' AS email,
       (j % 3 > 0)::INTEGER AS label, ((j * 13) % 100) / 100.0 AS score,
       (((j * 13) % 100) >= 50)::INTEGER AS prediction
FROM r
"""
SCHEMA = """schema_type: dataframe
columns:
  id: {dtype: int64, nullable: false, unique: true}
  age:
    dtype: int64
    in_range: {min_value: 18, max_value: 100, include_min: true, include_max: true}
"""
EXPORT = {"export_failures": True}
CHECKS = {"data.schema": EXPORT, "data.duplicates": EXPORT, "data.null_rate": EXPORT,
          # Two groups of equal size: a group's rate is at most twice the overall, so warn from 1.5 times.
          "data.subgroup_null_rate": {**EXPORT, "warn_factor": 1.5}}


def rows_by_rule(path: Path) -> dict[str, int]:
    con = duckdb.connect()
    found = dict(con.execute("SELECT rule, count(*) FROM read_parquet(?) GROUP BY ALL", [str(path)]).fetchall())
    con.close()
    return found


@pytest.fixture
def exported(project, tmp_path):
    (tmp_path / "schema.yaml").write_text(SCHEMA)
    config = project(current=CURRENT, config={"schema": "schema.yaml", "checks": CHECKS,
                                              "outputs": {"dir": "out", "formats": ["json", "html", "md"]}})
    assert main(["run", str(config), "--stage", "data"]) == 1
    return tmp_path / "out"


def results_of(out: Path, check_id: str) -> list[dict]:
    return [c for c in json.loads((out / "report.json").read_text())["checks"] if c["id"] == check_id]


def test_each_checks_file_holds_the_rows_the_report_counts(exported):
    out = exported
    assert sorted(p.name for p in (out / "failures").iterdir()) == [
        "data.duplicates.parquet", "data.null_rate.parquet", "data.schema.parquet", "data.subgroup_null_rate.parquet"]
    schema = {c["subject"]: c for c in results_of(out, "data.schema") if c["status"] == "fail"}
    in_file = rows_by_rule(out / "failures" / "data.schema.parquet")
    assert in_file == {subject: c["metrics"]["failures"] for subject, c in schema.items()}
    assert in_file["age: in_range(18, 100)"] == 29 and in_file["id: field_uniqueness"] == 10

    dup = {c["subject"]: c for c in results_of(out, "data.duplicates")}
    in_file = rows_by_rule(out / "failures" / "data.duplicates.parquet")
    assert in_file["id repeats"] == dup["id"]["metrics"]["rows_with_repeated_id"] == 10
    assert in_file["row repeats another exactly"] == dup["(whole rows)"]["value"] + 1  # ten copies, nine extra

    nulls = {c["subject"]: c for c in results_of(out, "data.null_rate") if c["status"] in ("warn", "fail")}
    assert rows_by_rule(out / "failures" / "data.null_rate.parquet") == {
        f"{col} is missing": c["metrics"]["nulls_current"] for col, c in nulls.items()}

    flagged = [c for c in results_of(out, "data.subgroup_null_rate") if c["status"] in ("warn", "fail")]
    assert {c["subject"] for c in flagged} == {"income by sex", "region by sex"}
    expected = {f"{c['metrics']['feature']} is missing where {row[0]}": row[2]  # (group, rows, nulls, rate, verdict)
                for c in flagged for row in c["evidence"]["tables"][0]["rows"] if row[4] in ("warn", "fail")}
    assert expected["income is missing where sex=female"] == 248
    assert rows_by_rule(out / "failures" / "data.subgroup_null_rate.parquet") == expected
    for result in (*schema.values(), *nulls.values(), *flagged):  # the report says what each file holds
        for entry in result["evidence"]["files"]:
            assert entry["rows"] == entry["total"] > 0 and not entry["capped"] and entry["path"].startswith("failures/")


def test_rows_keep_every_column_plus_dataset_and_rule_and_personal_data_is_masked(exported):
    con = duckdb.connect()
    path = str(exported / "failures" / "data.schema.parquet")
    columns = [r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [path]).fetchall()]
    assert columns[:2] == ["dataset", "rule"] and columns[2:] == [
        "id", "age", "income", "region", "sex", "email", "label", "score", "prediction"]
    emails = [r[0] for r in con.execute("SELECT DISTINCT email FROM read_parquet(?)", [path]).fetchall()]
    assert emails and all("@example.com" not in e and e.startswith("p***") for e in emails)
    assert con.execute("SELECT DISTINCT dataset FROM read_parquet(?)", [path]).fetchall() == [("current",)]
    ages = con.execute("SELECT min(age) FROM read_parquet(?) WHERE rule LIKE 'age%'", [path]).fetchone()[0]
    assert ages == 150  # the raw values of other columns are kept: they are what needs fixing
    con.close()


def test_the_reports_link_the_files(exported):
    html = (exported / "report.html").read_text()
    md = (exported / "report.md").read_text()
    for name in ("data.schema", "data.duplicates", "data.null_rate"):
        assert f'href="failures/{name}.parquet"' in html
    assert "[failures/data.schema.parquet](failures/data.schema.parquet)" in md
    assert "29 rows that break “age: in\\_range(18, 100)”" in md


def test_the_cap_cuts_and_says_so_and_a_history_run_keeps_the_files_in_its_folder(project, tmp_path):
    (tmp_path / "schema.yaml").write_text(SCHEMA)
    checks = {**CHECKS, "data.schema": {"export_failures": True, "export_max_rows": 12}}
    config = project(current=CURRENT, config={"schema": "schema.yaml", "checks": checks,
                                              "outputs": {"dir": "out", "formats": ["json", "html"]}})
    assert main(["run", str(config), "--stage", "data", "--history"]) == 1
    (folder,) = (tmp_path / "out").glob("20*")
    assert sum(rows_by_rule(folder / "failures" / "data.schema.parquet").values()) == 12
    entries = [f for c in results_of(folder, "data.schema") for f in c["evidence"].get("files") or []]
    assert any(e["capped"] and e["rows"] < e["total"] for e in entries)
    assert "the file was cut at export_max_rows" in (folder / "report.html").read_text()
    assert (tmp_path / "out" / "latest" / "failures" / "data.schema.parquet").is_file()


def test_without_a_folder_nothing_is_written_and_the_result_says_so(project, audit, tmp_path):
    (tmp_path / "schema.yaml").write_text(SCHEMA)
    config = project(current=CURRENT, config={"schema": "schema.yaml", "checks": CHECKS})
    before = sorted(p.name for p in tmp_path.rglob("*"))
    report = audit(config, stages=["data"])
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    entry = next(f for c in report.checks if c.id == "data.null_rate" for f in c.evidence.get("files") or [])
    assert entry["path"] is None and "no folder given" in entry["note"]


def test_a_run_without_exports_removes_a_stale_failures_folder_and_bad_options_exit_2(project, tmp_path, capsys):
    stale = tmp_path / "out" / "failures"
    stale.mkdir(parents=True)
    (stale / "data.schema.parquet").write_bytes(b"old")
    config = project(config={"outputs": {"dir": "out", "formats": ["json"]}})
    assert main(["run", str(config), "--stage", "data"]) in (0, 1)
    assert not stale.exists()
    config = project(config={"checks": {"data.null_rate": {"export_max_rows": 0}}})
    assert main(["run", str(config)]) == 2
    assert "checks.data.null_rate.export_max_rows" in capsys.readouterr().err
