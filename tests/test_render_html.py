"""The HTML report: self-contained, escaped, ordered worst first, deterministic."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from auditor.render.context import build_context, slugify, sort_checks
from auditor.render.filters import fmt_duration, fmt_number, fmt_threshold, fmt_timestamp
from auditor.render.html import render_html
from auditor.report import STAGES, AuditReport, CheckResult, Threshold

HERE = Path(__file__).parent
FIXTURE = HERE / "fixtures" / "report_small.json"
GOLDEN = HERE / "golden" / "report_small.html"
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
SEVERITY_ORDER = ["error", "fail", "warn", "pass", "skip"]


def load() -> AuditReport:
    return AuditReport.from_dict(json.loads(FIXTURE.read_text()))


@pytest.fixture(scope="module")
def html() -> str:
    return render_html(load())


class Outline(HTMLParser):
    """Collects what the tests look at: tags with their attributes, in document order."""

    VOID = {"meta", "br", "img", "input", "link", "hr", "path", "use", "rect", "stop"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def outline(html: str) -> Outline:
    parser = Outline()
    parser.feed(html)
    parser.close()
    assert parser.stack == [], f"unclosed: {parser.stack}"
    return parser


def test_fixture_is_a_valid_report_that_round_trips():
    data = json.loads(FIXTURE.read_text())
    assert AuditReport.from_dict(data).to_dict() == data
    statuses = {c["status"] for c in data["checks"]}
    assert statuses == set(SEVERITY_ORDER)
    assert {c["stage"] for c in data["checks"]} == set(STAGES)


def test_tags_are_balanced(html):
    outline(html)


def test_no_script_and_data_is_escaped(html):
    assert not re.search(r"<script", html, re.I)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "a&#34;b" in html  # the column named a"b, inside text and attributes alike
    text = "".join(outline(html).text)
    assert "<script>alert(1)</script>" in text  # shown to the reader as text


def test_content_security_policy_and_no_external_requests(html):
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in html
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", html))
    assert urls <= {"http://www.w3.org/2000/svg"}
    tags = outline(html).tags
    assert not [t for t, a in tags if t in ("script", "link", "iframe", "object", "embed", "img")]
    assert not [a for _, a in tags if any(k.startswith("on") for k in a)]
    assert "@import" not in html and "url(http" not in html


def test_one_section_per_stage_in_lifecycle_order(html):
    sections = [a["id"] for t, a in outline(html).tags if t == "section" and a.get("id", "").startswith("stage-")]
    assert sections == [f"stage-{s}" for s in STAGES]


def test_empty_stage_says_no_checks_ran():
    report = load()
    report = AuditReport(tool=report.tool, run=report.run, project=report.project, datasets=report.datasets,
                         checks=[c for c in report.checks if c.stage != "deployment"])
    html = render_html(report)
    deployment = html.split('<section id="stage-deployment"', 1)[1].split("</section>", 1)[0]
    assert "No checks ran in this stage." in deployment
    assert "No checks ran in this stage." not in html.split('<section id="stage-deployment"', 1)[0]


def test_checks_are_worst_first_within_each_stage(html):
    for stage in STAGES:
        section = html.split(f'<section id="stage-{stage}"', 1)[1].split("</section>", 1)[0]
        statuses = re.findall(r'<article id="[^"]+" class="check check-(\w+)', section)
        assert statuses, stage
        assert statuses == sorted(statuses, key=SEVERITY_ORDER.index), stage


def test_sort_is_by_severity_then_id_then_subject():
    def c(id, status, subject=None):
        return CheckResult(id=id, stage="data", title="t", status=status, message="m", subject=subject)

    checks = [c("data.b", "pass"), c("data.a", "skip"), c("data.b", "fail", "z"), c("data.b", "fail", "a"),
              c("data.a", "warn"), c("data.z", "error")]
    got = [(x.status, x.id, x.subject) for x in sort_checks(checks)]
    assert got == [("error", "data.z", None), ("fail", "data.b", "a"), ("fail", "data.b", "z"),
                   ("warn", "data.a", None), ("pass", "data.b", None), ("skip", "data.a", None)]


def test_findings_come_first_worst_first_with_working_links_to_every_result(html):
    summary = html.split('<section id="summary"', 1)[1].split("</section>", 1)[0]
    links = re.findall(r'<a href="#([^"]+)">', summary)
    ids = {a.get("id") for _, a in outline(html).tags}
    assert links and set(links) <= ids
    report = load()
    attention = [c for c in report.checks if c.status in ("error", "fail", "warn")]
    assert len(links) == len(attention)  # every failing, warning and error result, once
    statuses = re.findall(r'<li id="finding-\d+" class="finding finding-(\w+)">', summary)
    assert statuses == sorted(statuses, key=SEVERITY_ORDER.index) and len(statuses) == len(report.findings)
    assert set(statuses) == {"error", "fail", "warn"}
    assert (html.index('id="overview"') < html.index('id="summary"') < html.index('id="project"')
            < html.index('id="stage-scoping"'))


def test_overview_shows_each_stage_and_the_top_findings_with_their_chart(html):
    overview = html.split('<section id="overview"', 1)[1].split("</section>", 1)[0]
    tiles = re.findall(r'<li class="tile tile-(\w+)"><a href="#stage-(\w+)">', overview)
    assert [t[1] for t in tiles] == ["scoping", "data", "modeling", "deployment"]
    cards = re.findall(r'<article class="finding-card finding-(\w+)">(.*?)</article>', overview, re.S)
    report = load()
    assert [c[0] for c in cards] == [f.status for f in report.findings[:4]]
    with_chart = [f for f in report.findings[:4] if f.chart is not None]
    assert sum('<svg class="chart' in body for _, body in cards) == len(with_chart) > 0


def test_ids_are_unique_and_anchors_are_slugs(html):
    ids = [a["id"] for _, a in outline(html).tags if "id" in a]
    assert len(ids) == len(set(ids))
    assert "check-data-null_rate-income" in ids
    assert "check-modeling-equalized_odds-group-region" in ids  # group×region
    assert slugify("Größe / Ölpreis") == "gro-e-olpreis"


def test_anchors_stay_unique_when_checks_collide():
    checks = [CheckResult(id="data.x", stage="data", title="t", status="pass", message="m", subject=s)
              for s in ("A b", "a-b", "a b", None, "")]
    report = AuditReport(tool={}, run={}, project={}, datasets=[], checks=checks)
    anchors = [c["anchor"] for c in build_context(report, charts=False)["stages"][1]["checks"]]
    assert len(set(anchors)) == 5
    assert sorted(anchors) == ["check-data-x", "check-data-x-2", "check-data-x-a-b", "check-data-x-a-b-2",
                               "check-data-x-a-b-3"]


def test_unknown_stage_is_shown_not_dropped():
    check = CheckResult(id="custom.thing", stage="custom", title="Thing", status="warn", message="m")
    html = render_html(AuditReport(tool={}, run={}, project={}, datasets=[], checks=[check]))
    assert '<section id="stage-custom"' in html and 'id="check-custom-thing"' in html


def test_passing_checks_are_compact_with_details_collapsed(html):
    article = html.split('<article id="check-deployment-latency"', 1)[1].split("</article>", 1)[0]
    assert "compact" in article.split(">", 1)[0]
    assert '<details class="more">' in article
    failing = html.split('<article id="check-data-null_rate-income"', 1)[1].split("</article>", 1)[0]
    assert "compact" not in failing.split(">", 1)[0] and '<details class="more">' not in failing


def test_check_card_shows_value_threshold_metrics_sql_and_charts(html):
    card = html.split('<article id="check-data-null_rate-income"', 1)[1].split("</article>", 1)[0]
    assert "<b>23.4%</b>" in card and "warn ≥ 5% · fail ≥ 20%" in card
    assert "<dt>null_rate_reference</dt><dd>2.1%</dd>" in card
    assert '<details class="sql"><summary>SQL (1 query)</summary>' in card
    assert '<svg class="chart"' in card
    assert "showing 4 of 25 rows" in card


def test_evidence_tables_are_capped_at_20_rows():
    table = {"name": "t", "columns": ["i"], "rows": [[i] for i in range(50)], "total_rows": 1234}
    check = CheckResult(id="data.x", stage="data", title="X", status="fail", message="m",
                        evidence={"tables": [table], "charts": [], "sql": []})
    html = render_html(AuditReport(tool={}, run={}, project={}, datasets=[], checks=[check]))
    body = html.split('<table class="evidence">', 1)[1].split("</table>", 1)[0]
    assert body.count('<td class="num">') == 20
    assert "showing 20 of 1,234 rows" in html


def test_a_query_shared_by_checks_is_shown_once_and_linked():
    def check(subject):
        return CheckResult(id="data.null_rate", stage="data", title="Null rate", status="pass", message="m",
                           subject=subject, evidence={"tables": [], "charts": [], "sql": ["SELECT 1 FROM t"]})

    html = render_html(AuditReport(tool={}, run={}, project={}, datasets=[], checks=[check("a"), check("b")]))
    assert html.count("SELECT 1 FROM t") == 1
    assert '<pre id="sql-1"><code>SELECT 1 FROM t</code></pre>' in html
    assert '<a href="#sql-1">The same query as Null rate · a</a>' in html


def test_short_cells_do_not_wrap_and_long_text_does():
    table = {"name": "t", "columns": ["window", "note", "rows"],
             "rows": [["2026-10-16", "x" * 60, 5]], "total_rows": 1}
    check = CheckResult(id="data.x", stage="data", title="X", status="fail", message="m",
                        evidence={"tables": [table], "charts": [], "sql": []})
    html = render_html(AuditReport(tool={}, run={}, project={}, datasets=[], checks=[check]))
    assert '<tr><td>2026-10-16</td><td class="wrap">' in html and '<td class="num">5</td>' in html


def test_every_chart_in_the_page_is_drawn_and_unknown_kinds_are_a_placeholder(html):
    svgs = re.findall(r"<svg class=\"chart[^>]*>", html)
    report = load()
    overview = sum(f.chart is not None for f in report.findings[:4])  # drawn once, shown twice
    assert len(svgs) == sum(len(c.evidence["charts"]) for c in report.checks) + overview
    assert sum("chart-placeholder" in s for s in svgs) == 1
    assert "chart kind &#x27;sankey&#x27; is not supported" in html


def test_project_card_marks_missing_fields(html):
    card = html.split('<section id="project"', 1)[1].split("</section>", 1)[0]
    for label in ("Problem statement", "Owner", "Stakeholders", "Success metrics", "Deployment", "Limitations"):
        assert f"<dt>{label}</dt>" in card
    assert card.count("Not stated") == 2  # out_of_scope and limitations
    assert "roc_auc: target 0.75" in card and "mode: batch · latency budget: 200 ms" in card


def test_an_empty_report_renders():
    html = render_html(AuditReport(tool={}, run={}, project={}, datasets=[], checks=[]))
    assert html.count("No checks ran in this stage.") == 4
    assert "Untitled project" in html and "No check failed" in html


def test_same_report_same_bytes(html):
    assert render_html(load()) == html


def test_same_bytes_in_another_process_with_another_hash_seed(html):
    code = ("import json, sys; from auditor.report import AuditReport; from auditor.render.html import render_html; "
            "sys.stdout.write(render_html(AuditReport.from_dict(json.load(open(sys.argv[1])))))")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code, str(FIXTURE)], capture_output=True, env=env, check=True,
                         cwd=HERE.parent).stdout
    assert out.decode("utf-8") == html


def test_golden_html(html):
    if os.environ.get("AUDITOR_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_bytes(html.encode("utf-8"))
    assert GOLDEN.read_bytes() == html.encode("utf-8"), "run `make golden` and review the diff"


def test_fifty_columns_stay_under_one_megabyte():
    checks = []
    for i in range(50):
        hist = {"kind": "histogram", "title": f"c{i}", "x_label": f"c{i}", "edges": [None, *range(1, 10), None],
                "series": {"reference": [0.1] * 10, "current": [0.05 + 0.01 * k for k in range(10)]}}
        metrics = {"method": "numeric", "psi": 0.3, "js_distance": 0.1, "ks_statistic": 0.1, "ks_pvalue": 1e-9,
                   "wasserstein": 4.2, "wasserstein_norm": 0.2, "null_rate_reference": 0.0, "null_rate_current": 0.01,
                   "rows_reference": 10**6, "rows_current": 10**6}
        checks.append(CheckResult(id="deployment.feature_drift", stage="deployment", title="Feature drift",
                                  subject=f"c{i}", status="fail", message="m", value=0.3, threshold=Threshold(0.1, 0.25),
                                  metrics=metrics, evidence={"tables": [], "charts": [hist], "sql": ["SELECT 1"]}))
        checks.append(CheckResult(id="data.null_rate", stage="data", title="Null rate", subject=f"c{i}",
                                  status="pass", message="m", value=0.01, threshold=Threshold(0.05, 0.2)))
    html = render_html(AuditReport(tool={}, run={}, project={}, datasets=[], checks=checks))
    assert len(html.encode("utf-8")) < 1_000_000


@pytest.mark.parametrize(
    ("value", "name", "expected"),
    [
        (1234567, None, "1,234,567"),
        (0.123456, None, "0.1235"),
        (3.0, None, "3"),
        (12345.678, None, "12,346"),
        (1.2e-45, "ks_pvalue", "1.2e-45"),
        (0.0, None, "0"),
        (-0.5, None, "-0.5"),
        (0.2345, "null_rate", "23.45%"),
        (0.021, "null_rate_reference", "2.1%"),
        (0.42, "selection_rate", "42%"),
        (0.5, "selection_rate_difference", "0.5"),  # a difference of rates is not a rate
        (0.4, "selection_rate_low", "40%"),
        (0.0254, "null rate", "2.54%"),  # evidence tables name columns with spaces
        (2000000434, "id", "2000000434"),  # ids and years are labels, not quantities
        (2024, "year", "2024"),
        (2000000434, "rows", "2,000,000,434"),
        (None, "null_rate", "—"),
        (float("nan"), None, "—"),
        (True, None, "true"),
        ("text", None, "text"),
        ([1, "a"], None, '[1,"a"]'),
    ],
)
def test_number_formatting(value, name, expected):
    assert fmt_number(value, name) == expected


def test_threshold_duration_and_timestamp_formatting():
    assert fmt_threshold({"warn": 0.05, "fail": 0.2, "direction": "above"}, "null_rate") == "warn ≥ 5% · fail ≥ 20%"
    assert fmt_threshold({"warn": None, "fail": 0.8, "direction": "below"}, "ratio") == "fail < 0.8"
    assert fmt_threshold(None) == ""
    assert fmt_duration(12.34) == "12.3 s" and fmt_duration(125) == "2 min 5 s" and fmt_duration(None) == "—"
    assert fmt_timestamp("2024-05-01T06:00:00+00:00") == "2024-05-01 06:00:00 UTC"
    assert fmt_timestamp("2024-05-01T06:00:00+02:00") == "2024-05-01 06:00:00 +02:00"
    assert fmt_timestamp("yesterday") == "yesterday"


def test_overview_says_what_changed_since_the_last_run():
    from tests.test_browser import report_with_history

    html = render_html(report_with_history())
    overview = html.split('<section id="overview"', 1)[1].split("</section>", 1)[0]
    assert '<p class="changed"><b>Since the last run:</b>' in overview
    assert re.search(r'<a href="#changes" class="change-new_failure">3 new failures</a>', overview)
    assert 'id="changes"' in html  # where the link goes: the full list under the findings
    plain = render_html(load())
    assert "Since the last run" not in plain.split('<section id="overview"', 1)[1].split("</section>", 1)[0]


def test_a_finding_of_many_results_lists_forty_and_counts_the_rest():
    from auditor.audit.findings import find

    checks = [CheckResult(id="deployment.feature_drift", stage="deployment", title="Feature drift", status="fail",
                          message=f"c{i} drifted.", subject=f"c{i}", dataset="current", columns=(f"c{i}",))
              for i in range(100)]
    html = render_html(AuditReport(tool={}, run={}, project={}, datasets=[], checks=checks, findings=find(checks)))
    summary = html.split('<section id="summary"', 1)[1].split("</section>", 1)[0]
    assert summary.count('<li><span class="badge badge-fail">') == 40
    assert "… and 60 more, in the stages below" in summary


def test_a_wide_audit_page_draws_every_failing_chart_and_bounds_the_passing_ones(monkeypatch):
    """Thousands of passing results (one per column) would make a page of tens of MB: charts of passing
    results stop at PASSING_CHARTS_MAX and their details at PASSING_DETAILS_MAX, said on the page."""
    from auditor.render import page_budget

    monkeypatch.setattr(page_budget, "PASSING_CHARTS_MAX", 3)
    monkeypatch.setattr(page_budget, "PASSING_DETAILS_MAX", 5)
    chart = {"kind": "bars", "title": "t", "categories": ["a", "b"], "series": [{"name": "s", "values": [1, 2]}]}

    def result(i: int, status: str) -> CheckResult:
        return CheckResult(id="data.profile", stage="data", title="Column profile", status=status, message="m",
                           subject=f"col{i:02d}", metrics={"rows": 10}, evidence={"charts": [dict(chart, title=f"c{i}")]})

    checks = [result(i, "pass") for i in range(8)] + [result(i, "fail") for i in range(8, 10)]
    page = render_html(AuditReport(tool={}, run={}, project={}, datasets=[], checks=checks))
    drawn = re.findall(r"<svg\b", page)
    assert len(drawn) == 3 + 2 + 2  # three passing, both failing, and the failing ones again in the overview
    for i in (8, 9):
        article = page[page.index(f'id="check-data-profile-col{i:02d}"'):]
        assert "<svg" in article[:article.index("</article>")]
    for i in range(5, 8):  # passing results past the details budget: no details at all
        article = page[page.index(f'id="check-data-profile-col{i:02d}"'):]
        assert "<details" not in article[:article.index("</article>")]
    assert "3 passing results here show no details" in page
    assert page.count("Chart left out") == 2  # col03 and col04 have details but no chart


def test_a_query_shared_with_a_result_shown_without_details_is_printed_where_it_is_shown(monkeypatch):
    """Later results link to the first showing of a shared statement: one left without details shows none,
    so the link would land nowhere."""
    from auditor.render import page_budget

    monkeypatch.setattr(page_budget, "PASSING_DETAILS_MAX", 0)
    shared = {"sql": ["SELECT count(*) FROM current"]}
    checks = [CheckResult(id="data.a", stage="data", title="A", status="pass", message="m", subject="x",
                          metrics={"rows": 1}, evidence=dict(shared)),
              CheckResult(id="deployment.b", stage="deployment", title="B", status="fail", message="m",
                          subject="x", metrics={"rows": 1}, evidence=dict(shared))]
    page = render_html(AuditReport(tool={}, run={}, project={}, datasets=[], checks=checks))
    assert page.count("SELECT count(*) FROM current") == 1
    for target in re.findall(r'href="#(sql-\d+)"', page):
        assert f'id="{target}"' in page
