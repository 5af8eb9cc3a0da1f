"""`auditor init DATA...`: a starting audit.yaml guessed from the data, which validates and runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

from auditor.cli import main

ROOT = Path(__file__).resolve().parents[1]


def copy_to(path: Path, select: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"COPY ({select}) TO '{path}'")
    con.close()


def written(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.mark.example
def test_the_examples_files_give_a_config_that_audits_all_four_stages(tmp_path, monkeypatch):
    data = tmp_path / "data"
    subprocess.run([sys.executable, str(ROOT / "examples" / "credit_scoring" / "generate.py"), "--rows", "4000",
                    "--log-rows", "3000", "--out", str(data)], check=True, capture_output=True)
    monkeypatch.chdir(tmp_path)
    files = sorted(str(p.relative_to(tmp_path)) for p in data.glob("*.parquet"))
    assert main(["init", *files]) == 0
    cfg = written(tmp_path / "audit.yaml")
    assert cfg["datasets"] == {"reference": {"path": "data/reference.parquet"}, "current": {"path": "data/current.parquet"},
                               "predictions": {"path": "data/predictions.parquet"}}
    assert {k: cfg["columns"][k] for k in ("id", "timestamp", "label", "prediction", "score", "model_version",
                                           "latency")} == {"id": "id", "timestamp": "ts", "label": "label",
                                                           "prediction": "prediction", "score": "score",
                                                           "model_version": "model_version", "latency": "latency_ms"}
    assert "sensitive" not in cfg["columns"]  # written commented out, for a person to confirm
    assert "# sensitive: [age, sex]" in (tmp_path / "audit.yaml").read_text()
    assert cfg["catalog"] == [{"path": "data/contacts.parquet"}]
    assert main(["run", "audit.yaml", "--as-of", "2026-11-27T00:00:00", "--format", "json"]) == 1
    report = json.loads((tmp_path / "reports" / "report.json").read_text())
    graded = {c["stage"] for c in report["checks"] if c["status"] != "skip"}
    assert graded == {"scoping", "data", "modeling", "deployment"}
    card = next(c for c in report["checks"] if c["id"] == "scoping.project_card")
    assert card["status"] == "fail" and "problem_statement" in card["message"]  # TODOs count as missing


def test_adult_like_labels_get_a_positive_label_and_train_test_are_picked_by_name(tmp_path, capsys):
    adult = """SELECT i AS record_no, 17 + i % 60 AS age, ['Male', 'Female'][1 + i % 2] AS sex,
                      ['White', 'Black', 'Other'][1 + i % 3] AS race, 20 + i % 40 AS hours_per_week,
                      CASE WHEN i % 4 = 0 THEN '>50K' ELSE '<=50K' END AS income_label FROM range({n}) t(i)"""
    copy_to(tmp_path / "adult_test.csv", adult.format(n=300))
    copy_to(tmp_path / "adult_train.csv", adult.format(n=900))
    out = tmp_path / "project" / "audit.yaml"
    assert main(["init", str(tmp_path / "adult_test.csv"), str(tmp_path / "adult_train.csv"), "--out", str(out)]) == 0
    cfg = written(out)
    assert cfg["datasets"] == {"reference": {"path": "../adult_train.csv"}, "current": {"path": "../adult_test.csv"}}
    assert cfg["task"] == "binary_classification"
    assert cfg["target"] == {"positive_label": ">50K"}  # the rarer value, marked TODO: confirm
    assert "guessed positive_label: 'income_label' holds" in out.read_text()
    assert cfg["columns"] == {"label": "income_label"}  # record_no is no id by name; nothing else by name
    assert "# sensitive: [age, sex, race]" in out.read_text()
    assert main(["run", str(out), "--stage", "data", "--format", "json"]) in (0, 1)


def test_a_decile_score_gets_a_decision_threshold_and_dated_files_are_ordered_by_date(tmp_path):
    compas = """SELECT i AS person_id, 1 + i % 10 AS decile_score, (i % 3 = 0)::INTEGER AS two_year_recid,
                       ['African-American', 'Caucasian', 'Other'][1 + i % 3] AS race FROM range({n}) t(i)"""
    copy_to(tmp_path / "scores_2014-06.parquet", compas.format(n=400))
    copy_to(tmp_path / "scores_2013-01.parquet", compas.format(n=500))
    out = tmp_path / "audit.yaml"
    assert main(["init", str(tmp_path / "scores_2014-06.parquet"), str(tmp_path / "scores_2013-01.parquet"),
                 "--out", str(out)]) == 0
    cfg = written(out)
    assert cfg["datasets"] == {"reference": {"path": "scores_2013-01.parquet"},
                               "current": {"path": "scores_2014-06.parquet"}}
    assert "dates in their file names" in out.read_text()
    assert cfg["columns"]["score"] == "decile_score" and "prediction" not in cfg["columns"]
    assert cfg["target"]["decision_threshold"] == 5.5  # a placeholder in the score's range, marked TODO
    assert main(["run", str(out), "--stage", "modeling", "--format", "json"]) in (0, 1)  # not exit 2


def test_a_duckdb_database_gives_its_tables_and_existing_files_are_kept(tmp_path, capsys):
    db = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(db))
    for table, n in (("training_set", 500), ("production_scores", 300)):
        con.execute(f"CREATE TABLE {table} AS SELECT i AS id, i % 7 AS x, (i % 2)::INTEGER AS label, "
                    f"(i % 100) / 100.0 AS score FROM range({n}) t(i)")
    con.close()
    out = tmp_path / "audit.yaml"
    assert main(["init", str(db), "--out", str(out)]) == 0
    cfg = written(out)
    assert cfg["datasets"] == {"reference": {"table": "training_set", "database": "warehouse.duckdb"},
                               "current": {"table": "production_scores", "database": "warehouse.duckdb"}}
    before = out.read_text()
    assert main(["init", str(db), "--out", str(out)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err and out.read_text() == before
    assert main(["init", str(db), "--out", str(out), "--force"]) == 0
    assert main(["init", str(tmp_path / "missing.parquet"), "--out", str(tmp_path / "b.yaml")]) == 2
    assert not (tmp_path / "b.yaml").exists()


def test_odd_column_names_stay_one_yaml_value(tmp_path):
    copy_to(tmp_path / "cur.parquet", """SELECT i AS "#x: y", (i % 2)::INTEGER AS "y: label" FROM range(50) t(i)""")
    out = tmp_path / "audit.yaml"
    assert main(["init", str(tmp_path / "cur.parquet"), "--out", str(out)]) == 0
    cfg = written(out)
    assert cfg["columns"] == {"label": "y: label"} and cfg["datasets"] == {"current": {"path": "cur.parquet"}}
    copy_to(tmp_path / "plain.parquet", "SELECT i AS a, i % 3 AS b FROM range(20) t(i)")
    assert main(["init", str(tmp_path / "plain.parquet"), "--out", str(tmp_path / "p.yaml")]) == 0
    assert written(tmp_path / "p.yaml")["columns"] == {}  # nothing found: an empty mapping and a TODO
