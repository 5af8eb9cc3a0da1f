"""The Markdown report: marker first, escaped cells, always under the size limit."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from auditor.render.filters import md_escape, md_html, status_badge, status_emoji
from auditor.render.markdown import MARKER, render_markdown
from auditor.report import STAGES, AuditReport, CheckResult, Threshold

HERE = Path(__file__).parent
FIXTURE = HERE / "fixtures" / "report_small.json"
GOLDEN = HERE / "golden" / "report_small.md"
UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def load() -> AuditReport:
    return AuditReport.from_dict(json.loads(FIXTURE.read_text()))


@pytest.fixture(scope="module")
def md() -> str:
    return render_markdown(load())


def big_report(n_checks: int = 300, n_rows: int = 200) -> AuditReport:
    """Many failing checks, each with a large evidence table full of markup characters."""
    checks = []
    for i in range(n_checks):
        table = {"name": f"failures of c{i}", "columns": ["row", "value|raw", "note"],
                 "rows": [[k, f"x|y`{k}`", "<b>" * 5] for k in range(n_rows)], "total_rows": n_rows * 10}
        checks.append(CheckResult(
            id="data.null_rate", stage=STAGES[i % 4], title="Null rate", status="fail", subject=f"c{i:03d}",
            message=f"column c{i} | has many nulls " * 4, value=0.5, threshold=Threshold(0.05, 0.2),
            metrics={f"m{j}_rate": j / 10 for j in range(8)},
            evidence={"tables": [table], "charts": [], "sql": ["SELECT 1"]}))
    for i in range(100):
        checks.append(CheckResult(id="data.duplicates", stage="data", title="Duplicates", status="pass",
                                  subject=f"p{i}", message="ok", metrics={"rows": 10}))
    return AuditReport(tool={"name": "auditor", "version": "0"}, run={"id": "r"}, project={"name": "big"},
                       datasets=[], checks=checks)


def table_lines(md: str) -> list[list[str]]:
    """Consecutive lines starting with '|', grouped per table."""
    tables, current = [], []
    for line in md.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    return tables + ([current] if current else [])


def assert_tables_well_formed(md: str) -> None:
    tables = table_lines(md)
    assert tables
    for lines in tables:
        widths = {len(UNESCAPED_PIPE.findall(line)) for line in lines}
        assert len(widths) == 1, lines  # an unescaped pipe in a cell would add a column
        assert re.fullmatch(r"\|( -{3}:? \|)+", lines[1]), lines[1]


def test_first_line_is_the_marker(md):
    assert md.splitlines()[0] == MARKER == "<!-- auditor-report -->"


def test_status_line_and_counts_table(md):
    lines = md.splitlines()
    assert lines[1] == "## 💥 credit-risk: error"
    assert "**1 error · 3 fail · 6 warn · 5 pass · 2 skip**" in md
    assert "| 💥 error | ❌ fail | ⚠️ warn | ✅ pass | ⏭️ skip |\n| ---: | ---: | ---: | ---: | ---: |\n| 1 | 3 | 6 | 5 | 2 |" in md


def test_findings_come_first_worst_first_naming_every_result(md):
    section = md.split("### Findings", 1)[1].split("### Checks by stage", 1)[0]
    statuses = re.findall(r"^\d+\. \S+ (\w+) \*\*", section, re.M)
    report = load()
    assert statuses == [f.status for f in report.findings]
    assert statuses == sorted(statuses, key=["error", "fail", "warn"].index)
    named = re.findall(r"(?:<sub>|; )(?:❌|⚠️|💥) ", section)
    assert len(named) == sum(c.status in ("error", "fail", "warn") for c in report.checks)
    assert md.index("### Findings") < md.index("<details>")


def test_one_details_block_per_stage_with_every_check(md):
    blocks = re.findall(r"<details>\n<summary><b>(\w+)</b>.*?</summary>\n\n(.*?)\n</details>", md, re.S)
    assert [b[0] for b in blocks] == ["Scoping", "Data", "Modeling", "Deployment"]
    report = load()
    for stage, body in blocks:
        rows = re.findall(r"^\| \S+ (?:pass|warn|fail|error|skip) \|", body, re.M)
        assert len(rows) == sum(c.stage == stage.lower() for c in report.checks)


def test_empty_stage_says_no_checks_ran():
    report = load()
    report = AuditReport(tool=report.tool, run=report.run, project=report.project, datasets=report.datasets,
                         checks=[c for c in report.checks if c.stage != "scoping"])
    md = render_markdown(report)
    assert "<summary><b>Scoping</b> · no checks</summary>\n\n_No checks ran in this stage._" in md


def test_cells_are_escaped(md):
    assert_tables_well_formed(md)
    assert "south\\|east" in md and "x\\|y" in md  # pipes in values
    assert "<script" not in md and "&lt;script&gt;alert(1)&lt;/script&gt;" in md
    assert "\\`code\\` and \\*\\*bold\\*\\*" in md
    assert "line one<br>line two" in md
    assert "| a\"b |" in md


def test_small_report_is_not_trimmed(md):
    assert "Trimmed" not in md
    assert "*income nulls by region* (showing 4 of 25 rows)" in md


def test_300_failing_checks_with_big_evidence_fit_and_say_what_was_trimmed():
    md = render_markdown(big_report())
    assert len(md) < 60_000
    assert md.startswith(MARKER + "\n")
    note = re.search(r"^> ✂️ Trimmed to fit 60,000 characters: (.*)$", md, re.M)
    assert note and "evidence tables left out" in note.group(1)
    assert "passing or skipped checks left out" in note.group(1)
    assert "lists cut to the" in note.group(1)
    assert "more findings, not listed here" in md
    assert_tables_well_formed(md)
    assert md.count("<details>") == md.count("</details>") == 4


def test_trimming_goes_evidence_first():
    md = render_markdown(big_report(n_checks=20, n_rows=30), max_chars=30_000)
    assert len(md) <= 30_000
    assert "evidence tables cut to 3 rows" in md or "evidence tables left out" in md
    assert "lists cut" not in md  # 20 checks fit once the evidence is shorter


def test_failing_evidence_outlives_passing_detail():
    report = big_report(n_checks=8, n_rows=30)
    full = render_markdown(report, max_chars=10**9)
    assert "Trimmed" not in full and "#### ✅ Duplicates · p0" in full
    for limit in range(len(full), 0, -250):  # the first limit at which passing details go
        md = render_markdown(report, max_chars=limit)
        if "details of 100 passing or skipped checks left out" in md:
            break
    assert "#### ✅ Duplicates · p0" not in md
    assert "*failures of c0* (showing 3 of 300 rows)" in md  # failing evidence is still there


@pytest.mark.parametrize("limit", [20_000, 5_000, 2_000, 500])
def test_any_limit_is_respected(limit):
    md = render_markdown(big_report(n_checks=40, n_rows=20), max_chars=limit)
    assert len(md) <= limit
    assert md.startswith(MARKER)


def test_same_report_same_text(md):
    assert render_markdown(load()) == md


def test_golden_markdown(md):
    if os.environ.get("AUDITOR_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_bytes(md.encode("utf-8"))
    assert GOLDEN.read_bytes() == md.encode("utf-8"), "run `make golden` and review the diff"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a|b", "a\\|b"),
        ("`x`", "\\`x\\`"),
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("a & b", "a &amp; b"),
        ("one\ntwo\r\nthree", "one<br>two<br>three"),
        ("__init__ *x* [l](u) ~~s~~ #1", "\\_\\_init\\_\\_ \\*x\\* \\[l\\](u) \\~\\~s\\~\\~ \\#1"),
        ("back\\slash", "back\\\\slash"),
        (None, "—"),
        (0.25, "0.25"),
    ],
)
def test_md_escape(text, expected):
    assert md_escape(text) == expected


def test_md_escape_truncates_before_escaping():
    assert md_escape("abcdef|", 4) == "abc…"
    assert md_html("<b>a & b</b>\n") == "&lt;b&gt;a &amp; b&lt;/b&gt; "


def test_status_emoji():
    assert [status_emoji(s) for s in ("pass", "warn", "fail", "error", "skip")] == ["✅", "⚠️", "❌", "💥", "⏭️"]
    assert status_badge("fail") == "❌ fail"
