"""`auditor send` through a real SMTP server on 127.0.0.1 (aiosmtpd) with STARTTLS and AUTH."""

from __future__ import annotations

import email
import email.policy
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from auditor.cli import main
from auditor.delivery.files import load_report, write_reports
from auditor.render.charts import chart_png
from auditor.render.email import CHART_DPI, _key_charts

aiosmtpd = pytest.importorskip("aiosmtpd")
from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402

FIXTURE = Path(__file__).parent / "fixtures" / "report_small.json"
USER, PASSWORD = "nightly", "s3cret-pass"


def self_signed(tmp: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode() and (
            auth_data.password == PASSWORD.encode())
        if ok:
            self.logins.append(f"{mechanism}:{USER}:tls={session.ssl is not None}")
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server(tmp_path: Path):
    import ssl

    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            authenticator=inbox.authenticate, auth_require_tls=True, auth_exclude_mechanism=["CRAM-MD5"])
    controller.start()
    try:
        yield inbox, port, cert
    finally:
        controller.stop()


@pytest.fixture
def report_dir(tmp_path: Path) -> Path:
    import json

    from auditor.report import AuditReport

    out = tmp_path / "run"
    write_reports(AuditReport.from_dict(json.loads(FIXTURE.read_text())), out, ["json", "html"])
    return out


def send_args(report_dir: Path, port: int, cert: Path, *extra: str) -> list[str]:
    return ["send", str(report_dir), "--to", "risk@example.com,ops@example.com", "--from", "auditor@example.com",
            "--smtp-host", "127.0.0.1", "--smtp-port", str(port), "--starttls", "--user", USER,
            "--cafile", str(cert), *extra]


def test_send_over_starttls_with_auth_delivers_png_parts_intact(smtp_server, report_dir, monkeypatch) -> None:
    inbox, port, cert = smtp_server
    monkeypatch.setenv("AUDITOR_SMTP_PASSWORD", PASSWORD)
    assert main(send_args(report_dir, port, cert)) == 0
    assert inbox.logins and inbox.logins[0].endswith("tls=True")  # AUTH happened inside TLS
    [(sender, rcpts, raw)] = inbox.messages
    assert sender == "auditor@example.com" and rcpts == ["risk@example.com", "ops@example.com"]
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Subject"] == "credit-risk: audit ERROR (3 fail, 1 error, 6 warn, 5 pass, 2 skip)"
    assert msg["To"] == "risk@example.com, ops@example.com"
    html = msg.get_body(("html",)).get_content()
    related = next(p for p in msg.walk() if p.get_content_type() == "multipart/related")
    images = {p["Content-ID"].strip("<>"): p.get_content() for p in related.iter_parts()
              if p.get_content_type() == "image/png"}
    import re

    refs = re.findall(r'src="cid:([^"]+)"', html)
    assert refs and set(refs) == set(images)  # every cid: resolves to a part, none unused
    # Byte for byte the PNGs the renderer drew for the key charts, in order.
    report = load_report(report_dir / "report.json")
    expected = [chart_png(spec, dpi=CHART_DPI) for _check, spec in _key_charts(report, limit=len(refs))]
    assert [images[r] for r in refs] == expected
    [attachment] = list(msg.iter_attachments())
    assert attachment.get_filename() == "report.html"
    assert attachment.get_content() == (report_dir / "report.html").read_text()


def test_wrong_password_is_one_line_exit_3(smtp_server, report_dir, monkeypatch, capsys) -> None:
    inbox, port, cert = smtp_server
    monkeypatch.setenv("AUDITOR_SMTP_PASSWORD", "wrong")
    assert main(send_args(report_dir, port, cert)) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "refused the login for nightly" in err
    assert inbox.messages == []


def test_missing_password_or_report_is_a_usage_error(smtp_server, report_dir, monkeypatch, capsys) -> None:
    inbox, port, cert = smtp_server
    monkeypatch.delenv("AUDITOR_SMTP_PASSWORD", raising=False)
    assert main(send_args(report_dir, port, cert)) == 2
    assert "AUDITOR_SMTP_PASSWORD" in capsys.readouterr().err
    monkeypatch.setenv("AUDITOR_SMTP_PASSWORD", PASSWORD)
    assert main(send_args(report_dir.parent / "nowhere", port, cert)) == 2
    assert "no report.json" in capsys.readouterr().err


def test_untrusted_certificate_is_refused(smtp_server, report_dir, monkeypatch, capsys) -> None:
    inbox, port, _cert = smtp_server
    monkeypatch.setenv("AUDITOR_SMTP_PASSWORD", PASSWORD)
    args = send_args(report_dir, port, _cert)
    args = args[: args.index("--cafile")]  # without --cafile the self-signed certificate is not trusted
    assert main(args) == 3
    assert "TLS with 127.0.0.1" in capsys.readouterr().err
    assert inbox.messages == []


def test_a_history_root_sends_its_latest_run(smtp_server, report_dir, monkeypatch) -> None:
    inbox, port, cert = smtp_server
    monkeypatch.setenv("AUDITOR_SMTP_PASSWORD", PASSWORD)
    root = report_dir.parent / "reports"
    shutil.copytree(report_dir, root / "latest")
    assert main(send_args(root, port, cert)) == 0
    [(_sender, _rcpts, raw)] = inbox.messages
    assert email.message_from_bytes(raw, policy=email.policy.default)["Subject"].startswith("credit-risk: audit ERROR")
