"""Send a built email through SMTP (smtplib): STARTTLS or implicit TLS, optional AUTH.

The password never comes from the command line (it would show in `ps` and shell
history): it is read from an environment variable, AUDITOR_SMTP_PASSWORD by default.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Literal

from auditor.errors import AuditorError, ConfigError

__all__ = ["SmtpSettings", "send_email", "send_report", "SendError", "PASSWORD_ENV"]

PASSWORD_ENV = "AUDITOR_SMTP_PASSWORD"
Security = Literal["starttls", "ssl", "none"]
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


class SendError(AuditorError):
    """The SMTP server could not be reached or refused the message (exit 3)."""

    exit_code = 3


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "localhost"
    port: int | None = None  # None: the usual port for the security mode
    security: Security = "starttls"
    user: str | None = None
    password: str | None = None
    cafile: str | None = None  # trust this CA (a private relay's certificate) besides the system's
    timeout: float = 30.0

    @classmethod
    def from_options(cls, *, host: str, port: int | None, security: Security, user: str | None,
                     cafile: str | None = None, environ: Mapping[str, str] = os.environ,
                     password_env: str = PASSWORD_ENV) -> SmtpSettings:
        password = environ.get(password_env) if user else None
        if user and not password:
            raise ConfigError(f"--user {user} needs the password in the environment variable {password_env}")
        return cls(host=host, port=port, security=security, user=user, password=password, cafile=cafile)

    def tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.cafile:
            context.load_verify_locations(cafile=self.cafile)
        return context


def send_email(msg: EmailMessage, settings: SmtpSettings, *, to: list[str], sender: str | None = None) -> None:
    """Deliver `msg` to `to`. Raises SendError with one line saying what went wrong."""
    port = settings.port or DEFAULT_PORTS[settings.security]
    where = f"{settings.host}:{port}"
    try:
        if settings.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, port, timeout=settings.timeout,
                                                    context=settings.tls_context())
        else:
            client = smtplib.SMTP(settings.host, port, timeout=settings.timeout)
        with client:
            client.ehlo()
            if settings.security == "starttls":
                client.starttls(context=settings.tls_context())
                client.ehlo()
            if settings.user:
                client.login(settings.user, settings.password or "")
            refused = client.send_message(msg, from_addr=sender, to_addrs=to)
    except smtplib.SMTPAuthenticationError as exc:
        raise SendError(f"SMTP server {where} refused the login for {settings.user}: {_reply(exc)}") from None
    except smtplib.SMTPNotSupportedError as exc:
        raise SendError(f"SMTP server {where} does not support {exc}") from None
    except smtplib.SMTPException as exc:
        raise SendError(f"SMTP server {where} refused the message: {_reply(exc)}") from None
    except ssl.SSLError as exc:
        raise SendError(f"TLS with {where} failed: {exc.reason or exc}") from None
    except OSError as exc:
        raise SendError(f"cannot reach SMTP server {where}: {exc.strerror or exc}") from None
    if refused:
        raise SendError(f"SMTP server {where} refused {', '.join(sorted(refused))}")


def _reply(exc: smtplib.SMTPException) -> str:
    code, text = getattr(exc, "smtp_code", None), getattr(exc, "smtp_error", None)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {text}" if code else str(exc)


def send_report(report_dir: Path, settings: SmtpSettings, *, to: list[str], sender: str | None = None,
                report_url: str | None = None) -> EmailMessage:
    """Email the report of one run folder (or of a history root's latest run): built from its
    report.json, its report.html attached (or `report_url` linked when the file is too big or
    missing). Returns the message sent."""
    from auditor.delivery.files import load_run
    from auditor.render.email import build_email

    report_dir, report = load_run(report_dir)
    html = report_dir / "report.html"
    msg = build_email(report, report_html=html.read_bytes() if html.is_file() else None,
                      report_url=report_url, sender=sender, to=to)
    send_email(msg, settings, to=to, sender=sender)
    return msg
