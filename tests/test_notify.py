"""`auditor notify`: Slack, Teams and JSON payloads received by a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import io
import json
import shutil
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from auditor.cli import main
from auditor.delivery import notify as notify_module

FIXTURE = Path(__file__).parent / "fixtures" / "report_small.json"
SECRET = "/services/T000/B000/s3cr3t-token"


class Hook:
    """A webhook: records each POST; answers with the next status of `answers` (then 200)."""

    def __init__(self, answers: list[int] | None = None) -> None:
        self.answers = list(answers or [])
        self.received: list[tuple[str, dict, str]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.received.append((self.path, json.loads(body), self.headers["Content-Type"]))
                code = hook.answers.pop(0) if hook.answers else 200
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{SECRET}"

    def __enter__(self) -> Hook:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    shutil.copy(FIXTURE, tmp_path / "report.json")
    return tmp_path


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    waits: list[float] = []
    # Only notify's own pause: patching time.sleep would also record the sleeps of other threads
    # (a Spark gateway's, left by an earlier test).
    monkeypatch.setattr(notify_module, "wait_before_retry", waits.append)
    return waits


def cli(*args: str) -> tuple[int, str]:
    err = io.StringIO()
    code = main(["notify", *args], out=io.StringIO(), err=err)
    return code, err.getvalue()


def test_json_payload_has_status_top_findings_and_link(run_dir):
    with Hook() as hook:
        code, err = cli(str(run_dir), "--webhook", hook.url, "--report-url", "https://ci.example/r.html")
    assert (code, err) == (0, "")
    [(path, body, content_type)] = hook.received
    assert path == SECRET and content_type.startswith("application/json")
    report = json.loads(FIXTURE.read_text())
    assert body["status"] == report["status"] == "error"
    assert [f["title"] for f in body["findings"]] == [f["title"] for f in report["findings"][:5]]
    assert body["more_findings"] == len(report["findings"]) - 5
    assert body["report_url"] == "https://ci.example/r.html" and body["project"] == "credit-risk"


def test_slack_block_kit(run_dir):
    with Hook() as hook:
        assert cli(str(run_dir), "--webhook", hook.url, "--format", "slack")[0] == 0
    body = hook.received[0][1]
    assert body["text"].endswith("credit-risk: audit ERROR")
    kinds = [b["type"] for b in body["blocks"]]
    assert kinds == ["header", "context", "section"]  # no link given: no button
    assert "Missing values in 'income'" in body["blocks"][2]["text"]["text"]


def test_teams_adaptive_card_with_link(run_dir):
    with Hook() as hook:
        assert cli(str(run_dir), "--webhook", hook.url, "--format", "teams", "--report-url", "https://x.example/r")[0] == 0
    body = hook.received[0][1]
    attachment = body["attachments"][0]
    assert body["type"] == "message" and attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["body"][0]["text"] == "credit-risk: audit ERROR"
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open the report", "url": "https://x.example/r"}]


def test_url_from_the_environment_and_a_history_root(run_dir, monkeypatch):
    latest = run_dir / "root" / "latest"
    latest.mkdir(parents=True)
    shutil.copy(FIXTURE, latest / "report.json")
    with Hook() as hook:
        monkeypatch.setenv("AUDITOR_WEBHOOK_URL", hook.url)
        assert cli(str(run_dir / "root"))[0] == 0
    assert len(hook.received) == 1


def test_server_errors_are_retried_a_bounded_number_of_times(run_dir, no_waiting):
    with Hook(answers=[503, 500]) as hook:
        assert cli(str(run_dir), "--webhook", hook.url)[0] == 0
    assert len(hook.received) == 3 and no_waiting == [1.0, 2.0]
    with Hook(answers=[500, 500, 500, 500]) as hook:
        code, err = cli(str(run_dir), "--webhook", hook.url)
    assert code == 3 and len(hook.received) == 3
    assert "answered HTTP 500, 3 attempts" in err and SECRET not in err and "s3cr3t" not in err


def test_a_refusal_is_final_and_never_prints_the_secret(run_dir):
    with Hook(answers=[404]) as hook:
        code, err = cli(str(run_dir), "--webhook", hook.url)
    assert code == 3 and len(hook.received) == 1
    assert err.strip() == "auditor: error: the webhook at http://127.0.0.1 refused the message (answered HTTP 404)"


def test_unreachable_exits_3(run_dir):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, err = cli(str(run_dir), "--webhook", f"http://127.0.0.1:{port}{SECRET}")
    assert code == 3 and "could not be reached" in err and "s3cr3t" not in err


@pytest.mark.parametrize("args, message", [
    ([], "give the webhook with --webhook URL or $AUDITOR_WEBHOOK_URL"),
    (["--webhook", "ftp://example.com/x"], "must be an http:// or https:// URL"),
    (["--webhook", "http://127.0.0.1:9/x", "--format", "discord"], "invalid choice"),
])
def test_bad_arguments_exit_2(run_dir, monkeypatch, args, message):
    monkeypatch.delenv("AUDITOR_WEBHOOK_URL", raising=False)
    code, err = cli(str(run_dir), *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_no_report_exits_2(tmp_path):
    code, err = cli(str(tmp_path), "--webhook", "http://127.0.0.1:9/x")
    assert code == 2 and "no report.json here" in err
