"""Chat alerts: a run's status, its top findings and the report's link, posted to a webhook.

Three shapes: Slack's Block Kit (an incoming webhook), a Teams Adaptive Card (a Workflows or
incoming webhook), or plain JSON (the default; for anything else that takes a POST). The webhook
URL is a secret (Slack's and Teams' carry their token in the path): it is never printed, logged or
written into a report; messages name only its scheme and host.

Bounded: each attempt times out after `timeout` seconds, and a connection failure, a timeout, 429
or a 5xx is tried again at most `retries` times, after 1 s, 2 s, ... A refusal (another 4xx) is
final. Posted: exit 0; refused or unreachable: `NotifyError` (exit 3); bad arguments: exit 2.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from auditor.delivery.files import load_run
from auditor.errors import AuditorError, ConfigError
from auditor.render.filters import STATUS_EMOJI
from auditor.report import AuditReport

__all__ = ["NotifyError", "FORMATS", "payload", "post", "notify", "TOP"]

FORMATS = ("json", "slack", "teams")
TOP = 5  # findings named in a message; the rest are counted
TIMEOUT = 10.0
RETRIES = 2


class NotifyError(AuditorError):
    """The webhook refused the message or could not be reached (exit 3)."""

    exit_code = 3


def where(url: str) -> str:
    """The part of a webhook URL that may be shown: scheme and host (the path holds the token)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}"


def check_url(url: str | None) -> str:
    if not url:
        raise ConfigError("notify: give the webhook with --webhook URL or $AUDITOR_WEBHOOK_URL")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("notify: the webhook must be an http:// or https:// URL")
    return url


def _facts(report: AuditReport, report_url: str | None) -> dict[str, Any]:
    counts = report.counts
    findings = report.finding_list()
    return {
        "project": str((report.project or {}).get("name") or "auditor"),
        "status": report.status,
        "counts": {s: counts[s] for s in ("fail", "error", "warn", "pass", "skip")},
        "counts_line": ", ".join(f"{counts[s]} {s}" for s in ("fail", "error", "warn", "pass", "skip") if counts[s]),
        "run": (report.run or {}).get("id"),
        "findings": [{"title": f.title, "status": f.status, "stage": f.stage, "summary": f.summary,
                      "results": len(f.results)} for f in findings[:TOP]],
        "more_findings": max(0, len(findings) - TOP),
        "report_url": report_url,
    }


def _slack(f: dict[str, Any]) -> dict[str, Any]:
    head = f"{STATUS_EMOJI.get(f['status'], '')} {f['project']}: audit {f['status'].upper()}"
    lines = [f"{STATUS_EMOJI.get(x['status'], '')} *{_mrkdwn(x['title'])}* ({x['stage']}): {_mrkdwn(x['summary'])}"
             for x in f["findings"]]
    if f["more_findings"]:
        lines.append(f"… and {f['more_findings']} more findings")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": head[:150], "emoji": True}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _mrkdwn(f["counts_line"] or "no checks")}]},
    ]
    if lines:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:3000]}})
    if f["report_url"]:
        blocks.append({"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text",
                                                                                  "text": "Open the report"},
                                                          "url": f["report_url"]}]})
    return {"text": head, "blocks": blocks}


def _mrkdwn(text: str) -> str:
    # Slack's three escapes; data values (a column named <!channel>) stay text.
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _teams(f: dict[str, Any]) -> dict[str, Any]:
    colour = {"fail": "attention", "error": "attention", "warn": "warning", "pass": "good"}.get(f["status"], "default")
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "size": "Large", "weight": "Bolder", "wrap": True, "color": colour,
         "text": f"{f['project']}: audit {f['status'].upper()}"},
        {"type": "TextBlock", "isSubtle": True, "wrap": True, "text": f["counts_line"] or "no checks"},
    ]
    for x in f["findings"]:
        body.append({"type": "TextBlock", "wrap": True, "weight": "Bolder", "spacing": "Medium",
                     "text": f"{x['status'].upper()} · {x['title']} ({x['stage']})"})
        body.append({"type": "TextBlock", "wrap": True, "spacing": "None", "text": x["summary"]})
    if f["more_findings"]:
        body.append({"type": "TextBlock", "isSubtle": True, "text": f"… and {f['more_findings']} more findings"})
    card: dict[str, Any] = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
                            "version": "1.4", "body": body}
    if f["report_url"]:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open the report", "url": f["report_url"]}]
    return {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                                "contentUrl": None, "content": card}]}


def payload(report: AuditReport, fmt: str = "json", *, report_url: str | None = None) -> dict[str, Any]:
    """The message to post, in one of FORMATS."""
    facts = _facts(report, report_url)
    return {"json": lambda f: f, "slack": _slack, "teams": _teams}[fmt](facts)


def wait_before_retry(seconds: float) -> None:
    """The pause between attempts (its own name, so a test can skip it without stopping every thread's sleep)."""
    time.sleep(seconds)


def post(url: str, body: dict[str, Any], *, timeout: float = TIMEOUT, retries: int = RETRIES,
         sleep: Callable[[float], None] | None = None) -> int:
    """POST `body` as JSON; the HTTP status when accepted (2xx). Raises NotifyError, never naming the URL's path."""
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    last = ""
    for attempt in range(retries + 1):
        if attempt:
            (sleep or wait_before_retry)(float(attempt))
        request = urllib.request.Request(url, data=data, method="POST",
                                         headers={"Content-Type": "application/json; charset=utf-8",
                                                  "User-Agent": "auditor"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (http(s) checked)
                return int(response.status)
        except urllib.error.HTTPError as exc:
            last = f"answered HTTP {exc.code}"
            if exc.code != 429 and exc.code < 500:
                raise NotifyError(f"the webhook at {where(url)} refused the message ({last})") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            last = "timed out" if isinstance(reason, TimeoutError) else f"could not be reached ({type(reason).__name__})"
    raise NotifyError(f"the webhook at {where(url)} {last}, {retries + 1} attempts") from None


def notify(folder: Path, url: str | None, *, fmt: str = "json", report_url: str | None = None,
           timeout: float = TIMEOUT, retries: int = RETRIES) -> AuditReport:
    """Post the run's status, top findings and link; the report posted about."""
    url = check_url(url)
    _, report = load_run(folder)
    post(url, payload(report, fmt, report_url=report_url), timeout=timeout, retries=retries)
    return report
