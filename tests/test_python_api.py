"""The public Python API: the README's notebook example runs as written, on the example project."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import auditor
from auditor import AuditReport, ConfigError, DataError, run_audit

ROOT = Path(__file__).resolve().parents[1]


def readme_example() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.example
def test_the_readme_example_runs(tmp_path, monkeypatch, capsys):
    """Run the README's block in a copy of the repository layout with small generated example data."""
    example = tmp_path / "examples" / "credit_scoring"
    shutil.copytree(ROOT / "examples" / "credit_scoring", example, ignore=shutil.ignore_patterns("data", "reports"))
    subprocess.run([sys.executable, str(example / "generate.py"), "--rows", "3000", "--log-rows", "1000",
                    "--out", str(example / "data")], check=True, capture_output=True)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(readme_example(), "README.md", "exec"), namespace)
    report = namespace["report"]
    assert isinstance(report, AuditReport) and {c.stage for c in report.checks} == {"data"}
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "fail"  # the planted problems
    assert any(line.startswith("data.schema ") for line in printed[1:])
    assert sorted(p.name for p in (tmp_path / "reports" / "notebook").iterdir()) == ["report.html", "report.json",
                                                                                    "report.md"]
    assert namespace["html"].startswith("<!DOCTYPE html>")


def test_the_api_is_exported_and_lazy():
    assert set(auditor.__all__) >= {"load_config", "run_audit", "AuditReport", "write_reports", "AuditorError",
                                    "ConfigError", "DataError"}
    code = "import sys, auditor; print('auditor.audit.runner' in sys.modules, 'pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]  # `import auditor` stays cheap: the command starts fast


def test_run_audit_takes_a_dict_and_writes_nothing(tmp_path, project):
    path = project()
    before = sorted(p.name for p in tmp_path.rglob("*"))
    report = run_audit({"datasets": {"current": {"path": "data/current.parquet"}},
                        "columns": {"id": "id", "label": "label", "prediction": "prediction"}},
                       base_dir=path.parent, stages=["data"])
    assert report.status in ("pass", "warn", "fail") and report.checks
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    failed = report.failed()
    assert all(c.status in ("fail", "error") for c in failed)
    assert len(failed) == report.counts["fail"] + report.counts["error"]


def test_errors_are_exported_for_callers(tmp_path):
    with pytest.raises(ConfigError, match="checks.data.null_rate.warn"):
        run_audit({"datasets": {"current": {"path": "x.parquet"}}, "checks": {"data.null_rate": {"warn": "x"}}})
    with pytest.raises(DataError, match="no file matches"):
        run_audit({"datasets": {"current": {"path": "x.parquet"}}}, base_dir=tmp_path)


def test_a_notebook_shows_the_report_in_a_frame(tmp_path, project):
    report = run_audit({"datasets": {"current": {"path": "data/current.parquet"}}},
                       base_dir=project().parent, stages=["scoping"])
    shown = report._repr_html_()
    assert shown.startswith("<iframe srcdoc=\"&lt;!DOCTYPE html&gt;")  # its CSS cannot leak into the notebook
    assert "<script" not in shown
    assert report.to_markdown().startswith("<!-- auditor-report -->")
