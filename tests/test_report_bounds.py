"""Size and noise: evidence bounded whatever the cardinality, short value lists, approximate counts that
never pass the values there are, SQL datasets attached in dependency order with paths relative to the
config, and a closed pipe that ends the command quietly. Fixtures are DuckDB SQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from auditor import load_config
from auditor.audit.runner import run_audit
from auditor.audit.wording import some
from auditor.cli import main
from auditor.report import MAX_EVIDENCE_ROWS, MAX_SQL_CHARS, CheckResult, bound_results, table
from tests.conftest import results, write_parquet

ROWS = """SELECT i AS id, 'g' || lpad((i % {groups})::VARCHAR, 4, '0') AS grp, ['f', 'm'][1 + i % 2] AS sex,
  20 + (hash(i) % 50)::INTEGER AS age, (hash(i * 3) % 1000) / 1000.0 AS score,
  ((hash(i * 3) % 1000) >= 500)::INTEGER AS prediction, ((hash(i * 5) % 1000) < 400)::INTEGER AS label,
  CASE WHEN i % 7 = 0 THEN NULL ELSE (hash(i * 7) % 100)::DOUBLE END AS balance
FROM range({n}) t(i)"""


def write(tmp_path: Path, current: str, reference: str | None = None, **config) -> Path:
    write_parquet(tmp_path / "current.parquet", current)
    datasets = {"current": {"path": "current.parquet"}}
    if reference:
        write_parquet(tmp_path / "reference.parquet", reference)
        datasets["reference"] = {"path": "reference.parquet"}
    path = tmp_path / "audit.yaml"
    path.write_text(yaml.safe_dump({"datasets": datasets, "outputs": {"dir": "out", "formats": ["json"]},
                                    **config}))
    return path


def test_a_5000_value_sensitive_column_keeps_report_json_under_5_mb(tmp_path):
    columns = {"id": "id", "label": "label", "score": "score", "prediction": "prediction", "sensitive": ["grp", "sex"]}
    # 32 rows a group: every group is graded, so the fairness results carry their 5,000-row tables (bounded).
    path = write(tmp_path, ROWS.format(groups=5000, n=160000), ROWS.format(groups=5000, n=160000), columns=columns)
    assert main(["run", str(path)]) in (0, 1)
    size = (tmp_path / "out" / "report.json").stat().st_size
    assert size < 5_000_000, size
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    for check in report["checks"]:
        evidence = check["evidence"]
        if check["status"] == "skip":
            assert evidence == {"tables": [], "charts": [], "sql": []}, check["id"]
        for t in evidence["tables"]:
            assert len(t["rows"]) <= MAX_EVIDENCE_ROWS and t["total_rows"] >= len(t["rows"])
        for chart in evidence["charts"]:
            assert len(chart.get("categories") or []) <= 50, (check["id"], chart["title"])
    groups = {c["id"]: c for c in report["checks"] if c["subject"] == "grp"}
    impact = groups["modeling.disparate_impact"]
    assert impact["evidence"]["tables"][0]["total_rows"] == 5000
    # The groups behind the ratio are in its chart.
    assert {impact["metrics"]["min_group"], impact["metrics"]["max_group"]} <= \
        set(impact["evidence"]["charts"][0]["categories"])


def test_a_report_over_its_budget_keeps_the_evidence_of_what_fails():
    sql = "SELECT " + ", ".join(f"count(c{i})" for i in range(5000)) + " FROM t"
    bulky = {"tables": [table("t", ["a", "b"], [[i, "x" * 50] for i in range(100)])], "charts": [], "sql": [sql]}
    checks = [CheckResult(id="data.null_rate", stage="data", title="Null rate", status=s, message="m", subject=f"c{i}",
                          evidence=bulky, metrics={f"m{j}": j / 7 for j in range(200)})
              for i, s in enumerate(["fail", "pass", "pass", "warn"])]
    kept = bound_results(checks)
    assert all(len(q) <= MAX_SQL_CHARS + 100 for c in kept for q in c.evidence["sql"])
    assert kept[0].evidence["sql"][0].endswith(f"-- cut: the first {MAX_SQL_CHARS:,} of {len(sql):,} characters")
    assert all(c.evidence["tables"] for c in kept)  # under the budget, nothing else is dropped
    floor = 0
    for budget in (110_000, 80_000, 60_000, 50_000, 40_000, 30_000):
        tight = bound_results(checks, budget=budget)
        size = sum(len(json.dumps(c.to_dict(), separators=(",", ":"))) for c in tight)
        # Steps stop as soon as the report fits: a repeated statement goes first, results in order.
        assert tight[0].evidence["sql"] == kept[0].evidence["sql"]
        if budget <= 60_000:
            assert [len(c.evidence["sql"]) for c in tight] == [1, 0, 0, 0]  # one check's statement, shown once
        for c, original in zip(tight, kept, strict=True):
            if c.status != "pass":  # failing and warning results keep everything
                assert c.evidence["tables"] == original.evidence["tables"] and c.metrics == original.metrics
        passes = [c for c in tight if c.status == "pass"]
        if any(not c.metrics for c in passes):  # metrics go only after every passing table went
            assert not any(c.evidence["tables"] for c in passes)
        assert size <= budget or not any(c.metrics for c in passes)
        floor = size
    assert floor < 45_000  # the four results' own fields and what fails: the least a report can be


def test_value_lists_name_five_then_say_how_many_more():
    assert some([f"c{i}" for i in range(47)]) == "c0, c1, c2, c3, c4 and 42 more"
    assert some(["a", "b"]) == "a and b" and some(["a"]) == "a" and some(["a", "b", "c"], more=3) == "a, b, c and 3 more"


def test_new_categories_in_a_message_are_five_then_a_count(tmp_path):
    reference = "SELECT i AS id, 'old' || (i % 3) AS city FROM range(3000) t(i)"
    current = "SELECT i AS id, CASE WHEN i % 2 = 0 THEN 'old' || (i % 3) ELSE 'new' || lpad((i % 40)::VARCHAR, 2, '0') END AS city FROM range(3000) t(i)"
    path = write(tmp_path, current, reference, columns={"id": "id"})
    drift = results(run_audit(load_config(path), stages=["deployment"]), "deployment.feature_drift")["city"]
    assert "new categories: new01, new03, new05, new07, new09 and 15 more" in drift.message
    assert drift.metrics["new_category_names"] == "new01, new03, new05, new07, new09 and 15 more"


def test_an_approximate_distinct_count_never_exceeds_the_values(tmp_path):
    path = write(tmp_path, "SELECT i AS id, md5(i::VARCHAR) AS token, i % 3 AS k FROM range(16281) t(i)",
                 columns={"id": "id"})
    profile = results(run_audit(load_config(path), stages=["data"]), "data.profile")
    for name in ("id", "token"):
        assert profile[name].metrics["distinct_approx"] <= 16281
        assert f"~{profile[name].metrics['distinct_approx']:,} distinct" in profile[name].message


def test_sql_datasets_attach_in_dependency_order_with_paths_from_the_config(tmp_path, monkeypatch):
    write_parquet(tmp_path / "data" / "log.parquet", "SELECT i AS id, i % 2 AS label, i * 10 AS ts FROM range(100) t(i)")
    config = tmp_path / "configs" / "audit.yaml"
    config.parent.mkdir()
    config.write_text(yaml.safe_dump({"datasets": {
        "reference": {"sql": "SELECT * FROM predictions WHERE ts < 500"},
        "current": {"sql": "SELECT * FROM predictions WHERE ts >= 500"},
        "predictions": {"sql": "SELECT * FROM read_parquet('../data/log.parquet')"}},
        "columns": {"id": "id"}}))
    monkeypatch.chdir(tmp_path.parent)  # relative paths in SQL resolve against the config's folder, not here
    report = run_audit(load_config(config), stages=["data"])
    assert {d["name"]: d["rows"] for d in report.datasets} == {"reference": 50, "current": 50, "predictions": 100}
    assert [d["name"] for d in report.datasets] == ["reference", "current", "predictions"]
    config.write_text(yaml.safe_dump({"datasets": {"reference": {"sql": "SELECT * FROM current"},
                                                   "current": {"sql": "WITH x AS (SELECT 1) SELECT * FROM reference, x"}}}))
    err = _StdErr()
    assert main(["run", str(config)], err=err) == 2
    assert err.text == ("auditor: error: datasets: the sql of reference and current read each other "
                        "(reference -> current -> reference); one of them must read files or tables instead\n")


class _StdErr:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def isatty(self) -> bool:
        return False

    def flush(self) -> None:
        pass


@pytest.mark.parametrize("args", [["checks", "--options"], ["config-schema"]])
def test_a_closed_pipe_ends_the_command_quietly(args):
    """`auditor checks | head`: the reader closes the pipe after one line; the command exits 0 and says nothing.
    (config-schema writes more than a pipe's buffer, so the write itself meets the closed pipe.)"""
    command = subprocess.Popen([sys.executable, "-m", "auditor", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert command.stdout.readline()
    command.stdout.close()
    assert command.wait(timeout=60) == 0
    assert command.stderr.read() == b""
