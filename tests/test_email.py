"""The email report: MIME structure, email-safe HTML, CID images, the 90 KB limit."""

from __future__ import annotations

import email
import email.policy
import json
import re
from email.message import EmailMessage
from pathlib import Path

import pytest

from auditor.cli import main
from auditor.delivery.files import load_report
from auditor.render import email as email_render
from auditor.render.email import MAX_HTML_BYTES, build_email, email_subject, render_email
from auditor.report import AuditReport

FIXTURE = Path(__file__).parent / "fixtures" / "report_small.json"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def load() -> AuditReport:
    return AuditReport.from_dict(json.loads(FIXTURE.read_text()))


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def html_of(msg: EmailMessage) -> str:
    return msg.get_body(("html",)).get_content()


def assert_cids_resolve(msg: EmailMessage) -> list[bytes]:
    """Every cid: in the HTML names an image/png part of the same multipart/related, and back."""
    related = next(p for p in msg.walk() if p.get_content_type() == "multipart/related")
    parts = list(related.iter_parts())
    assert parts[0].get_content_type() == "text/html"
    images = {p["Content-ID"].strip("<>"): p for p in parts[1:]}
    referenced = re.findall(r'src="cid:([^"]+)"', parts[0].get_content())
    assert referenced and sorted(referenced) == sorted(images)
    payloads = []
    for cid in referenced:
        part = images[cid]
        assert part.get_content_type() == "image/png"
        assert part.get_content_disposition() == "inline"
        data = part.get_content()
        assert data.startswith(PNG_MAGIC) and data.endswith(b"IEND\xaeB`\x82")  # complete PNG
        payloads.append(data)
    return payloads


def test_structure_plain_text_html_images_and_attachment() -> None:
    report = load()
    msg = parse(render_email(report))
    assert msg.get_content_type() == "multipart/mixed"
    alternative, attachment = list(msg.iter_parts())
    assert alternative.get_content_type() == "multipart/alternative"
    plain, related = list(alternative.iter_parts())
    assert plain.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    assert attachment.get_content_type() == "text/html" and attachment.get_filename() == "report.html"
    assert attachment.get_content().startswith("<!DOCTYPE html>")
    # the most telling chart of each of the worst findings that have one, at most 4
    assert len(assert_cids_resolve(msg)) == min(4, sum(f.chart is not None for f in load().findings))
    # Subject: project, overall status, counts.
    assert msg["Subject"] == "credit-risk: audit ERROR (3 fail, 1 error, 6 warn, 5 pass, 2 skip)"
    assert msg["Subject"] == email_subject(report)
    text = plain.get_content()
    assert "credit-risk: audit ERROR" in text and "[FAIL] Missing values in 'income' (Data, 4 results)" in text


def test_html_is_email_safe() -> None:
    html = html_of(parse(render_email(load())))
    assert len(html.encode()) < MAX_HTML_BYTES
    assert "data:" not in html and "<svg" not in html.lower()
    assert not re.search(r"display:\s*(flex|grid)", html)
    # css-inline moved every rule into style="" attributes; only @media stays in <style>.
    styles = re.findall(r"<style>(.*?)</style>", html, flags=re.S)
    assert all(block.strip().startswith("@media") for block in styles)
    assert re.search(r'<td class="pad" style="padding:16px 20px">', html)
    assert 'role="presentation"' in html
    # Findings first, worst first: the error, then failures, then warnings.
    statuses = re.findall(r'class="badge badge-(\w+)"', html)
    listed = statuses  # rows only: the overall badge is "badge badge-big ..."
    order = {"error": 0, "fail": 1, "warn": 2}
    assert listed and listed == sorted(listed, key=order.__getitem__)


def test_same_report_same_bytes() -> None:
    assert render_email(load()) == render_email(load())


def test_big_report_is_linked_not_attached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(email_render, "MAX_ATTACHMENT_BYTES", 1000)
    msg = build_email(load(), report_html="<!DOCTYPE html>" + "x" * 5000, report_url="https://ci.example/r/1.html")
    assert [p.get_filename() for p in msg.iter_attachments()] == []
    assert '<a href="https://ci.example/r/1.html"' in html_of(msg)
    assert "https://ci.example/r/1.html" in msg.get_body(("plain",)).get_content()


WIDE_SELECT = "SELECT i AS id, {cols} FROM range(300) t(i)"


@pytest.fixture(scope="module")
def wide_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real audit of 200 columns where every column fails (all null in current, drifted)."""
    from tests.conftest import write_parquet

    root = tmp_path_factory.mktemp("wide")
    names = [f"feature_with_a_long_name_{k:03d}" for k in range(200)]
    ref = ", ".join(f"((i * {k + 7}) % 97)::DOUBLE AS {n}" for k, n in enumerate(names))
    cur = ", ".join(f"CASE WHEN i % 10 = 0 THEN 1000.0 + i ELSE NULL END AS {n}" for n in names)
    write_parquet(root / "reference.parquet", WIDE_SELECT.format(cols=ref))
    write_parquet(root / "current.parquet", WIDE_SELECT.format(cols=cur))
    (root / "audit.yaml").write_text(
        "version: 1\nproject: {name: wide}\ntask: regression\n"
        "datasets: {reference: {path: reference.parquet}, current: {path: current.parquet}}\n"
        "columns: {id: id}\n")
    # The deployment stage: a failing drift result per column, each with a chart (the data stage
    # fails the same way but takes minutes at 200 columns). No HTML: 200 SVG charts are slow to draw,
    # and the email part under test does not depend on the attachment.
    code = main(["run", str(root / "audit.yaml"), "--out", str(root / "out"), "--format", "json,md",
                 "--stage", "deployment"])
    assert code == 1
    report = load_report(root / "out" / "report.json")
    (root / "out" / "email.eml").write_bytes(bytes(build_email(report, report_url="https://ci.example/r.html")))
    return root / "out"


def test_200_failing_columns_fit_markdown_and_email(wide_run: Path) -> None:
    report = json.loads((wide_run / "report.json").read_text())
    failing = [c for c in report["checks"] if c["status"] in ("fail", "error")]
    assert len({c["subject"] for c in failing if c["id"] == "deployment.feature_drift"}) >= 200
    md = (wide_run / "report.md").read_text()
    assert len(md) < 60_000 and md.startswith("<!-- auditor-report -->") and "Trimmed to fit" in md
    msg = parse((wide_run / "email.eml").read_bytes())
    html = html_of(msg)
    assert len(html.encode()) < MAX_HTML_BYTES
    assert_cids_resolve(msg)
    # 200 drifted columns are one finding, its results named up to 8 and the rest counted.
    drift = next(f for f in report["findings"] if f["title"].startswith("Drift in"))
    assert len(drift["results"]) >= 200
    listed = len(re.findall(r'class="badge badge-(?:fail|error|warn)"', html))  # rows; the overall is badge-big
    assert listed == len(report["findings"])
    assert f"and {len(drift['results']) - 8} more" in html


def test_report_url_is_linked_from_markdown_and_email(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_text(FIXTURE.read_text())
    url = "https://ci.example/runs/7 (artifacts)"
    assert main(["render", str(report), "--format", "md,email", "--report-url", url]) == 0
    md = (tmp_path / "report.md").read_text()
    assert "· [full report](https://ci.example/runs/7%20(artifacts%29)" in md.splitlines()[3]
    msg = parse((tmp_path / "email.eml").read_bytes())
    assert [p.get_filename() for p in msg.iter_attachments()] == ["report.html"]  # small: attached as well
    plain = msg.get_body(("plain",)).get_content()
    assert f"The full report is attached (report.html), and online: {url}." in plain


def test_email_says_what_changed_since_the_last_run() -> None:
    data = json.loads(FIXTURE.read_text())
    failing = [c for c in data["checks"] if c["status"] == "fail"]
    data["run"]["history"] = {
        "runs": [{"id": "r0", "started_at": "2024-04-30T06:00:00+00:00", "status": "warn", "folder": "x"}],
        "checks": [],
        "changes": [{"id": c["id"], "subject": c["subject"], "previous_status": "pass", "status": "fail",
                     "previous_value": None, "value": None, "kind": "new_failure"} for c in failing] * 5,
    }
    msg = build_email(AuditReport.from_dict(data))
    html, plain = html_of(msg), msg.get_body(("plain",)).get_content()
    assert "Since the last run" in html and "2024-04-30 06:00:00 UTC (warn)" in html
    assert "New failures (15):</b> Null rate · income, Demographic parity · group" in html
    assert "and 7 more" in html  # 8 named, the rest counted
    assert "New failures (15): Null rate · income" in plain
    assert "Since the last run" not in html_of(build_email(load()))
