import json

import pytest

from auditor.audit.registry import REGISTRY, check
from auditor.checks import catalogue
from auditor.cli import main
from tests.conftest import BASE_SELECT


def run(path, *args):
    return main(["run", str(path), *args])


def test_clean_data_passes_and_is_quiet(project, capsys):
    path = project(current=BASE_SELECT.format(n=400).replace("i % 50 = 0", "false"),
                   reference=BASE_SELECT.format(n=400).replace("i % 50 = 0", "false"))
    code = run(path, "--stage", "scoping,data")
    captured = capsys.readouterr()
    report = json.loads((path.parent / "out" / "report.json").read_text())
    assert report["status"] in ("pass", "warn"), [c for c in report["checks"] if c["status"] == "fail"]
    assert code == 0
    assert captured.err == "" and captured.out == ""


def test_failing_checks_exit_1_and_say_where_the_reports_are(project, capsys):
    dupes = BASE_SELECT.format(n=400).replace("SELECT i AS id", "SELECT i % 300 AS id")
    path = project(current=dupes)
    assert run(path, "--stage", "data") == 1
    err = capsys.readouterr().err
    assert "FAIL" in err and str(path.parent / "out") in err


def test_fail_on_warn(project):
    path = project(config={"checks": {"data.null_rate": {"warn": 0.01, "fail": 0.9}}})
    assert run(path, "--stage", "data") == 0  # the warning alone passes by default
    assert run(path, "--stage", "data", "--fail-on", "warn") == 1


def test_missing_file_is_a_data_error(project, capsys, tmp_path):
    path = project()
    (tmp_path / "data" / "current.parquet").unlink()
    assert run(path) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no file matches" in err[0] and "current" in err[0]
    assert not (tmp_path / "out").exists()


def test_unreadable_parquet_is_a_data_error(project, capsys, tmp_path):
    path = project()
    (tmp_path / "data" / "current.parquet").write_bytes(b"this is not parquet")
    assert run(path) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot be read" in err[0]


def test_missing_role_column_names_the_closest(project, capsys):
    path = project(config={"columns": {"label": "lable", "sensitive": ["sex"]}})
    assert run(path) == 3
    err = capsys.readouterr().err.strip()
    assert err.endswith("columns.label: column 'lable' does not exist in dataset 'current' (did you mean 'label'?)")


def test_empty_current_is_a_data_error(project, capsys):
    path = project(current=BASE_SELECT.format(n=0))
    assert run(path) == 3
    assert "is empty" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys):
    assert main(["run"]) == 2
    assert main(["run", "x.yaml", "--format", "pdf"]) == 2
    assert main(["bogus"]) == 2
    assert "unknown format pdf" in capsys.readouterr().err


def test_a_check_that_raises_is_an_error_result_and_exit_1(project):
    @check("data.test_explodes", title="Explodes")
    def explodes(ctx):
        """Raises on purpose (test only)."""
        raise ZeroDivisionError("boom")

    try:
        path = project()
        assert run(path, "--stage", "data") == 1
        report = json.loads((path.parent / "out" / "report.json").read_text())
        boom = [c for c in report["checks"] if c["id"] == "data.test_explodes"]
        assert boom[0]["status"] == "error" and "ZeroDivisionError: boom" in boom[0]["message"]
        assert report["status"] == "error"
        assert any(c["id"] == "data.null_rate" for c in report["checks"])  # the others still ran
    finally:
        REGISTRY.pop("data.test_explodes")


def test_hostile_names_and_values_do_not_break_queries(project):
    hostile = """SELECT i AS id, ['<script>alert(1)</script>', 'ok', 'x''); DROP TABLE t; --'][1 + i % 3] AS "a""b",
                 (i % 2) AS label, (i % 7) / 7.0 AS score, (i % 2) AS prediction,
                 ['f', 'm'][1 + i % 2] AS "se x" FROM range(200) t(i)"""
    path = project(current=hostile, reference=hostile,
                   config={"columns": {"id": "id", "label": "label", "score": "score", "prediction": "prediction",
                                       "sensitive": ["se x"]}})
    assert run(path, "--stage", "scoping,data") in (0, 1)
    report = json.loads((path.parent / "out" / "report.json").read_text())
    assert not [c for c in report["checks"] if c["status"] == "error"]
    profile = {c["subject"]: c for c in report["checks"] if c["id"] == "data.profile"}
    assert '<script>alert(1)</script>' in profile['a"b']["evidence"]["charts"][0]["categories"]


def test_checks_lists_the_catalogue(capsys):
    assert main(["checks"]) == 0
    out = capsys.readouterr().out
    assert "data.null_rate" in out and "scoping.project_card" in out


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("auditor ")


def test_no_query_brings_a_whole_table_back(project, audit):
    """Checks aggregate in SQL: no query fetches anywhere near the dataset's rows into Python."""
    from auditor.audit import runner
    from auditor.engine import duckdb_engine as sql

    seen = []
    original = sql.Engine.close

    def keep_log(self):
        seen.extend(self.log)
        original(self)

    n = 30_000
    path = project(current=BASE_SELECT.format(n=n), reference=BASE_SELECT.format(n=n))
    sql.Engine.close = keep_log
    try:
        audit(path)
    finally:
        sql.Engine.close = original
    assert seen
    fetched = [q.rows_fetched or 0 for q in seen]
    assert max(fetched) < n // 2, max(zip(fetched, [q.sql for q in seen], strict=True))
    assert runner  # imported for its side effect of registering checks


def test_a_run_imports_scipy_special_on_the_side(project):
    """scipy.special (0.3 s to import) is loaded on a thread while DuckDB works, not on the path of
    the first check that needs it; before a run, importing auditor does not load it."""
    import subprocess
    import sys

    path = project()
    script = ("import sys; from auditor import load_config; from auditor.audit.runner import run_audit; "
              "before = 'scipy.special' in sys.modules; "
              f"run_audit(load_config({str(path)!r}), stages=['scoping']); "
              "print(before, 'scipy.special' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]
    assert out.stderr == ""


def test_the_command_exits_fast_with_its_output_and_exit_code(project):
    """`entry` skips the interpreter's teardown: what was printed to a pipe must still arrive, the
    exit code must still be main()'s, and the reports must be complete."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # a pipe is block-buffered then
    listed = subprocess.run([sys.executable, "-m", "auditor.cli", "checks"], capture_output=True, text=True, env=env)
    assert listed.returncode == 0
    assert len(listed.stdout.splitlines()) == len(catalogue()) > 20

    dupes = BASE_SELECT.format(n=400).replace("SELECT i AS id", "SELECT i % 300 AS id")
    path = project(current=dupes)
    failed = subprocess.run([sys.executable, "-m", "auditor.cli", "run", str(path), "--stage", "data"],
                            capture_output=True, text=True, env=env)
    assert failed.returncode == 1 and "FAIL" in failed.stderr
    report = json.loads((path.parent / "out" / "report.json").read_text())
    assert report["status"] == "fail"

    usage = subprocess.run([sys.executable, "-m", "auditor.cli", "run"], capture_output=True, text=True, env=env)
    assert usage.returncode == 2 and usage.stderr.strip()
