"""The HTML report and the email in a real headless Chromium (Playwright driving the system browser).

No network request, no console error, every stage present; screenshots in light,
dark and print modes are saved (to AUDITOR_SCREENSHOTS when set, else tmp_path)
so a person can look at them. Skipped, saying why, when Chromium or Playwright
is missing. Never run `playwright install`: it downloads browsers; these tests
use the one the system has.
"""

from __future__ import annotations

import base64
import email
import email.policy
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from auditor.render.email import render_email
from auditor.render.html import render_html
from auditor.report import STAGES, AuditReport

playwright = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")

FIXTURE = Path(__file__).parent / "fixtures" / "report_small.json"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("AUDITOR_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser"), shutil.which("google-chrome")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


@pytest.fixture(scope="module")
def browser():
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium found (/usr/bin/chromium, chromium on PATH, or AUDITOR_CHROMIUM)")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("AUDITOR_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def report_with_history() -> AuditReport:
    """The small fixture report, as a second night would have it: trends and changes included."""
    data = json.loads(FIXTURE.read_text())
    checks = data["checks"]
    previous = [{"id": "20240430T060000Z", "started_at": "2024-04-30T06:00:00+00:00", "status": "warn",
                 "folder": "2024-04-30T06-00"}]
    data["run"]["history"] = {
        "runs": previous,
        "checks": [{"id": c["id"], "subject": c["subject"], "statuses": ["pass", c["status"]],
                    "values": [c["value"] * 0.5 if isinstance(c["value"], (int, float)) else None, c["value"]]}
                   for c in checks],
        "changes": [{"id": c["id"], "subject": c["subject"], "previous_status": "pass", "status": c["status"],
                     "previous_value": None, "value": None, "kind": "new_failure"}
                    for c in checks if c["status"] == "fail"],
    }
    return AuditReport.from_dict(data)


class Watch:
    """Every request and every console error or page error of a page."""

    def __init__(self, page) -> None:
        self.requests: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))


def open_page(browser, url: str, *, width: int = 1200, **context):
    ctx = browser.new_context(viewport={"width": width, "height": 900}, **context)
    page = ctx.new_page()
    watch = Watch(page)
    page.goto(url, wait_until="load")
    return ctx, page, watch


def test_report_html_renders_offline_with_every_stage(browser, tmp_path: Path, shots: Path) -> None:
    report = report_with_history()
    path = tmp_path / "report.html"
    path.write_text(render_html(report), encoding="utf-8")
    url = path.as_uri()
    for mode, options in (("light", {"color_scheme": "light"}), ("dark", {"color_scheme": "dark"})):
        ctx, page, watch = open_page(browser, url, **options)
        assert watch.requests == [url]  # the document itself, nothing else
        assert watch.errors == []  # a CSP violation or a broken SVG would show here
        for stage in STAGES:
            assert page.locator(f"section#stage-{stage}").is_visible()
        assert page.locator("article.check").count() == len(report.checks)
        assert page.locator("svg.chart").count() >= 4 and page.locator("svg.spark").count() >= 5
        # Nothing sticks out sideways on a desktop screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= 1200
        page.screenshot(path=str(shots / f"report-{mode}.png"), full_page=True)
        ctx.close()
    ctx, page, watch = open_page(browser, url)
    page.emulate_media(media="print")
    assert page.locator("nav.stages-nav").is_hidden()  # print CSS applied
    page.screenshot(path=str(shots / "report-print.png"), full_page=True)
    page.pdf(path=str(shots / "report.pdf"))  # page breaks as a printer would make them
    assert watch.errors == [] and watch.requests == [url]
    ctx.close()
    assert (shots / "report-light.png").stat().st_size > 10_000


def email_html_for_browser(raw: bytes) -> tuple[str, int]:
    """The email's HTML part with each cid: image swapped for its PNG as a data: URI, as a mail client
    resolves them from the message's parts (a browser cannot). Returns the HTML and the image count."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    html = msg.get_body(("html",)).get_content()
    images = {p["Content-ID"].strip("<>"): p.get_content() for p in msg.walk()
              if p.get_content_type() == "image/png"}

    def swap(m: re.Match) -> str:
        return 'src="data:image/png;base64,' + base64.b64encode(images[m.group(1)]).decode() + '"'

    return re.sub(r'src="cid:([^"]+)"', swap, html), len(images)


@pytest.mark.parametrize("width", [680, 375])
def test_email_html_renders(browser, tmp_path: Path, shots: Path, width: int) -> None:
    report = AuditReport.from_dict(json.loads(FIXTURE.read_text()))
    html, n_images = email_html_for_browser(render_email(report))
    charted = min(4, sum(f.chart is not None for f in report.finding_list()))  # one per finding with a chart
    assert n_images == charted > 0
    path = tmp_path / "email.html"
    path.write_text(html, encoding="utf-8")
    url = path.as_uri()
    ctx, page, watch = open_page(browser, url, width=width)
    assert [u for u in watch.requests if not u.startswith("data:")] == [url]
    assert watch.errors == []
    # Every image decoded (a truncated PNG has naturalWidth 0) and scaled to the screen.
    sizes = page.evaluate("[...document.images].map(i => [i.naturalWidth, i.getBoundingClientRect().width])")
    assert len(sizes) == charted and all(natural > 0 and 0 < shown <= width for natural, shown in sizes)
    assert page.get_by_text("Findings", exact=True).is_visible()
    assert page.locator("span.badge-fail").count() == sum(f.status == "fail" for f in report.finding_list())
    # The inlined styles apply without the <style> block: badges are coloured from their style attribute.
    colour = page.locator("span.badge-fail").first.evaluate("e => getComputedStyle(e).backgroundColor")
    assert colour == "rgb(207, 34, 46)"
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
    page.screenshot(path=str(shots / f"email-{width}.png"), full_page=True)
    ctx.close()
