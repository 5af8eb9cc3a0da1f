"""Content fingerprints (auditor.engine.fingerprint) and run.provenance: the same data gives the same
digest after a copy that changes every modification time; changed content gives another one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

from auditor.cli import main
from auditor.engine.fingerprint import (
    Fingerprinter,
    fingerprint_files,
    fingerprint_source,
    parquet_footer_digest,
    sql_inputs,
)
from tests.conftest import BASE_SELECT, write_parquet


def spec(**kwargs) -> SimpleNamespace:
    return SimpleNamespace(**{"path": None, "format": None, "sql": None, "table": None, "database": None, **kwargs})


def copy_later(source: Path, target: Path) -> Path:
    """A byte-for-byte copy whose modification time is an hour later (as a fresh clone's would be)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    stat = source.stat()
    os.utime(target, (stat.st_atime + 3600, stat.st_mtime + 3600))
    return target


def test_parquet_fingerprint_survives_a_copy_and_changes_with_the_data(tmp_path):
    original = write_parquet(tmp_path / "a" / "data.parquet", BASE_SELECT.format(n=500))
    copied = copy_later(original, tmp_path / "b" / "renamed.parquet")
    changed = write_parquet(tmp_path / "c" / "data.parquet", BASE_SELECT.format(n=500).replace("1000.0", "1000.5"))
    first, again, other = (fingerprint_files([p]) for p in (original, copied, changed))
    assert first.method == "parquet-footers" and len(first.digest) == 64
    assert again.digest == first.digest  # another folder, another name, another modification time
    assert again.files[0].modified != first.files[0].modified  # recorded beside it, never part of it
    assert other.digest != first.digest


def test_parquet_footer_is_read_from_the_end_of_the_file(tmp_path):
    path = write_parquet(tmp_path / "x.parquet", "SELECT 1 AS a")
    raw = path.read_bytes()
    length = int.from_bytes(raw[-8:-4], "little")
    import hashlib

    assert parquet_footer_digest(path) == hashlib.sha256(raw[-8 - length:-8]).hexdigest()
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(raw[:-4] + b"PARE")  # not plain Parquet: the fingerprint falls back to every byte
    assert parquet_footer_digest(broken) is None
    assert fingerprint_files([broken]).method == "bytes"


def test_csv_is_hashed_byte_for_byte(tmp_path):
    a = tmp_path / "a.csv"
    a.write_text("x,y\n1,2\n3,4\n")
    b = copy_later(a, tmp_path / "copy" / "a.csv")
    c = tmp_path / "c.csv"
    c.write_text("x,y\n1,2\n3,5\n")  # one character differs, same size
    fa, fb, fc = (fingerprint_files([p]) for p in (a, b, c))
    assert fa.method == "bytes" and fa.digest == fb.digest != fc.digest
    assert fa.files[0].size == fc.files[0].size


def test_a_glob_is_one_table_of_its_files(tmp_path):
    write_parquet(tmp_path / "parts" / "1.parquet", "SELECT 1 AS a")
    write_parquet(tmp_path / "parts" / "2.parquet", "SELECT 2 AS a")
    found = fingerprint_source(spec(path="parts/*.parquet"), base_dir=tmp_path)
    assert [f.path for f in found.files] == ["parts/1.parquet", "parts/2.parquet"]  # relative to the config
    assert found.bytes == sum(f.size for f in found.files)
    (tmp_path / "parts" / "2.parquet").unlink()
    assert fingerprint_source(spec(path="parts/*.parquet"), base_dir=tmp_path).digest != found.digest
    assert fingerprint_source(spec(path="none/*.parquet"), base_dir=tmp_path).digest is None


def test_a_duckdb_table_is_its_file_hashed(tmp_path):
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE t AS SELECT 1 AS a")
    con.close()
    first = fingerprint_source(spec(table="t", database="w.duckdb"), base_dir=tmp_path)
    assert first.method == "database-file" and first.digest
    con = duckdb.connect(str(db))
    con.execute("INSERT INTO t VALUES (2)")
    con.close()
    assert fingerprint_source(spec(table="t", database="w.duckdb"), base_dir=tmp_path).digest != first.digest
    engine_table = fingerprint_source(spec(table="events"), base_dir=tmp_path)
    assert engine_table.digest is None and "no snapshot" in engine_table.note


def test_sql_inputs_come_from_duckdbs_parser():
    tables, readers, unknown = sql_inputs(
        "WITH recent AS (SELECT * FROM current WHERE x > 1) SELECT * FROM recent JOIN 'a.parquet' USING (id) "
        "JOIN read_csv(['b.csv', 'c.csv']) USING (id) WHERE id IN (SELECT id FROM reference) "
        "UNION ALL SELECT * FROM range(3)")
    assert tables == ["current", "a.parquet", "reference"]  # the CTE is not a table
    assert readers == [("read_csv", ["b.csv", "c.csv"])]
    assert unknown == []
    assert sql_inputs("SELECT * FROM postgres_scan('dsn', 'public', 't')")[2] == ["postgres_scan"]


def test_sql_fingerprint_is_the_text_and_what_it_reads(tmp_path):
    write_parquet(tmp_path / "data" / "a.parquet", "SELECT 1 AS id")
    printer = Fingerprinter(base_dir=tmp_path)
    base = printer.source("reference", spec(path="data/a.parquet"))
    query = "SELECT * FROM reference JOIN 'data/a.parquet' USING (id)"
    first = printer.source("current", spec(sql=query))
    assert first.method == "sql" and first.digest and first.reads == ("reference", "data/a.parquet")
    assert printer.source("other", spec(sql=query + " ")).digest == first.digest  # the text is stripped
    assert printer.source("other", spec(sql=query.replace("*", "id"))).digest != first.digest
    write_parquet(tmp_path / "data" / "a.parquet", "SELECT 2 AS id")  # what it reads changed
    again = Fingerprinter(base_dir=tmp_path)
    assert again.source("reference", spec(path="data/a.parquet")).digest != base.digest
    assert again.source("current", spec(sql=query)).digest != first.digest
    for text, why in (("SELECT * FROM reference WHERE ts > now() - INTERVAL 1 DAY", "changes between runs"),
                      ("SELECT * FROM some_engine_table", "some_engine_table"),
                      ("SELECT * FROM read_parquet('missing/*.parquet')", "matches no file")):
        found = again.source("x", spec(sql=text))
        assert found.digest is None and why in found.note, found


def run_project(root: Path, *extra: str, config: dict | None = None) -> dict:
    import yaml

    cfg = {"datasets": {"reference": {"path": "data/reference.parquet"}, "current": {"path": "data/current.parquet"}},
           "columns": {"label": "label", "score": "score", "prediction": "prediction"}, **(config or {})}
    (root / "audit.yaml").write_text(yaml.safe_dump(cfg))
    out = root / "out"
    assert main(["run", str(root / "audit.yaml"), "--out", str(out), "--format", "json", "--stage", "scoping",
                 *extra]) in (0, 1)
    return json.loads((out / "report.json").read_text())


@pytest.fixture
def project_dir(tmp_path):
    root = tmp_path / "project"
    write_parquet(root / "data" / "reference.parquet", BASE_SELECT.format(n=300))
    write_parquet(root / "data" / "current.parquet", BASE_SELECT.format(n=300).replace("% 3", "% 4"))
    return root


def test_provenance_in_every_report_is_stable_across_a_copy(project_dir, tmp_path):
    first = run_project(project_dir)["run"]["provenance"]
    assert set(first) >= {"datasets", "config", "packages", "engine", "host", "user"}
    assert set(first["datasets"]) == {"reference", "current"}
    current = first["datasets"]["current"]
    assert len(current["fingerprint"]) == 64 and current["method"] == "parquet-footers"
    assert [set(f) for f in current["files"]] == [{"path", "size", "modified"}]
    assert set(first["packages"]) >= {"auditor", "python", "duckdb", "pandera", "scipy", "numpy", "pandas"}
    assert first["engine"]["name"] == "duckdb" and first["engine"]["threads"] >= 1

    clone = tmp_path / "clone"
    for path in project_dir.rglob("*.parquet"):
        copy_later(path, clone / path.relative_to(project_dir))
    copy_later(project_dir / "audit.yaml", clone / "audit.yaml")
    again = run_project(clone)["run"]["provenance"]
    for name in ("reference", "current"):
        assert again["datasets"][name]["fingerprint"] == first["datasets"][name]["fingerprint"]
        assert again["datasets"][name]["files"][0]["modified"] != first["datasets"][name]["files"][0]["modified"]
    assert again["config"]["sha256"] == first["config"]["sha256"]

    write_parquet(clone / "data" / "current.parquet", BASE_SELECT.format(n=301))
    changed = run_project(clone)["run"]["provenance"]
    assert changed["datasets"]["current"]["fingerprint"] != first["datasets"]["current"]["fingerprint"]
    assert changed["datasets"]["reference"]["fingerprint"] == first["datasets"]["reference"]["fingerprint"]


def test_identity_is_left_out_when_asked(project_dir):
    report = run_project(project_dir, config={"outputs": {"provenance_identity": False}})
    assert "host" not in report["run"]["provenance"] and "user" not in report["run"]["provenance"]
    assert report["run"]["provenance"]["datasets"]  # the rest is still there


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_config_in_a_repository_records_commit_and_dirty_flag(project_dir):
    def git(*args):
        subprocess.run(["git", "-C", str(project_dir), *args], check=True, capture_output=True,
                       env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
                            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"})

    run_project(project_dir)  # writes audit.yaml
    git("init", "-q")
    git("add", "audit.yaml")
    git("commit", "-q", "-m", "config")
    head = subprocess.run(["git", "-C", str(project_dir), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    clean = run_project(project_dir)["run"]["provenance"]["config"]
    assert clean["git"] == {"commit": head.strip(), "dirty": False}
    dirty = run_project(project_dir, config={"project": {"name": "edited"}})["run"]["provenance"]["config"]
    assert dirty["git"]["dirty"] is True and dirty["sha256"] != clean["sha256"]


def test_render_keeps_the_provenance_and_shows_it(project_dir, tmp_path):
    report = run_project(project_dir)
    out = project_dir / "out"
    assert main(["render", str(out / "report.json"), "--format", "html,md,email", "--out", str(tmp_path / "again")]) == 0
    digest = report["run"]["provenance"]["datasets"]["current"]["fingerprint"]
    html = (tmp_path / "again" / "report.html").read_text()
    md = (tmp_path / "again" / "report.md").read_text()
    import email
    import email.policy

    message = email.message_from_bytes((tmp_path / "again" / "email.eml").read_bytes(), policy=email.policy.default)
    text = message.get_body(("plain",)).get_content()
    for shown in (html, md, text):
        assert digest[:12] in shown and "parquet-footers" in shown
    assert f'title="sha256 {digest}"' in html
