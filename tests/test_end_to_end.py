"""The whole pipeline on a small deterministic project: golden files and byte-for-byte re-rendering."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml

from auditor.cli import main
from tests.conftest import write_parquet

GOLDEN = Path(__file__).parent / "golden" / "e2e"
EPOCH = "1795748400"  # 2026-11-27T02:20:00Z: a pinned clock makes every byte reproducible

# Deterministic rows (no random()): a drifted income, nulls concentrated in one region, a biased model.
ROWS = """
SELECT i AS id,
       TIMESTAMP '{start}' + to_minutes(i * 7) AS ts,
       20 + (i * 7) % 50 AS age,
       1000.0 + ((i * 37) % 500) * {scale} AS income,
       CASE WHEN i % {null_every} = 0 AND i % 4 = 2 THEN NULL ELSE 0.1 + (i % 9) / 10.0 END AS debt_ratio,
       ['north', 'south', 'east', 'west'][1 + i % 4] AS region,
       ['female', 'male', '<script>alert(1)</script>'][1 + (i // 3) % 3] AS sex,
       (i % 3 > 0)::INTEGER AS label,
       ((i * 13) % 100) / 100.0 AS score,
       (((i * 13) % 100) >= CASE WHEN (i // 3) % 3 = 0 THEN 70 ELSE 40 END)::INTEGER AS prediction,
       'v1' AS model_version,
       50.0 + (i % 40) AS latency_ms
FROM range(600) t(i)
"""


def make_project(root: Path) -> Path:
    # The reference is an earlier period: the current data's windows are after it, so they are graded.
    write_parquet(root / "data" / "reference.parquet", ROWS.format(scale=1.0, null_every=50, start="2026-11-01"))
    write_parquet(root / "data" / "current.parquet", ROWS.format(scale=1.3, null_every=2, start="2026-11-20"))
    config = {
        "version": 1,
        "project": {"name": "golden <project>", "problem_statement": "Approve loans.", "owner": "risk",
                    "intended_use": "tests", "success_metrics": [{"metric": "accuracy", "target": 0.6}],
                    "deployment": {"mode": "batch", "latency_budget_ms": 100}},
        "datasets": {"reference": {"path": "data/reference.parquet"}, "current": {"path": "data/current.parquet"}},
        "columns": {"id": "id", "timestamp": "ts", "label": "label", "score": "score", "prediction": "prediction",
                    "sensitive": ["sex", "region"], "model_version": "model_version", "latency": "latency_ms"},
    }
    (root / "audit.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return root / "audit.yaml"


# Provenance that depends on the machine, not on the code: pinned for the golden files.
PACKAGES = {"auditor": "0.1.0", "python": "3.x", "duckdb": "x", "pandera": "x", "scipy": "x", "numpy": "x",
            "pandas": "x", "pyarrow": "x"}


@pytest.fixture(scope="module")
def e2e(tmp_path_factory):
    """One run for the whole module: the audit is the slow part."""
    root = tmp_path_factory.mktemp("e2e")
    make_project(root)
    for path in (root / "data").iterdir():  # modification times are recorded beside the fingerprints
        os.utime(path, (int(EPOCH), int(EPOCH)))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)  # relative config path: no tmp folder names in the report
        mp.setenv("SOURCE_DATE_EPOCH", EPOCH)
        mp.setenv("AUDITOR_THREADS", "2")
        mp.setattr("auditor.audit.provenance.package_versions", lambda: dict(PACKAGES))
        mp.setattr("auditor.audit.provenance.identity", lambda: {"host": "build-host", "user": "ci"})
        code = main(["run", "audit.yaml", "--out", "out", "--format", "json,html,md", "--as-of", "2026-11-27"])
    return root / "out", code


def stable(text: str, out: Path) -> str:
    """The Parquet files' sizes and footers (so their fingerprints) depend on the DuckDB version that
    wrote them: replaced by placeholders; everything else is compared as written."""
    provenance = json.loads((out / "report.json").read_text())["run"]["provenance"]
    for entry in provenance["datasets"].values():
        digest = entry["fingerprint"]
        text = text.replace(digest, "<fingerprint>").replace(digest[:12], "<fingerprint>")
    text = re.sub(r'"(size|bytes)": \d+', r'"\1": 0', text)
    return re.sub(r"(\d+ files?, )[\d.]+ (B|KB|MB)", r"\1<size>", text)


def test_run_writes_every_report_and_exits_1_on_failures(e2e):
    out, code = e2e
    assert code == 1
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "report.json", "report.md"]


def test_render_reproduces_the_run_byte_for_byte(e2e, tmp_path):
    out, _ = e2e
    assert main(["render", str(out / "report.json"), "--format", "html,md", "--out", str(tmp_path / "again")]) == 0
    for name in ("report.html", "report.md"):
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes(), name


@pytest.mark.parametrize("name", ["report.json", "report.md", "report.html"])
def test_golden(e2e, name):
    out, _ = e2e
    produced = stable((out / name).read_text(encoding="utf-8"), out)
    golden = GOLDEN / name
    if os.environ.get("AUDITOR_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(produced, encoding="utf-8")
    assert golden.exists(), "run `make golden` to create the golden files"
    expected = golden.read_text(encoding="utf-8")
    if name == "report.json":
        # Full-precision floats may differ in the last bit between numpy/scipy builds (a log's last ulp):
        # compare numbers to 12 significant digits, everything else exactly.
        produced, expected = (json.dumps(json.loads(text, parse_float=lambda f: float(f"{float(f):.12g}")), indent=1)
                              for text in (produced, expected))
    assert produced == expected, f"{name} changed: review, then `make golden`"


def test_hostile_category_is_text_in_html(e2e):
    out, _ = e2e
    html = (out / "report.html").read_text()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
