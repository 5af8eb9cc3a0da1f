"""examples/cron/nightly.sh: one run at a time (exit 75), quiet on success, email on warn or fail.

The auditor command is a stub that logs its arguments, so the script's logic is tested on its own;
the real `run --history` and `send` are tested in test_history.py and test_smtp.py.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "cron" / "nightly.sh"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None or shutil.which("flock") is None,
                                reason="needs bash and flock (util-linux)")

STUB = """#!/usr/bin/env bash
echo "$*" >> "{calls}"
if [ "$1" = run ]; then echo "auditor: FAIL (1 fail); reports in somewhere" >&2; exit "${{STUB_RUN_EXIT:-0}}"; fi
exit "${{STUB_SEND_EXIT:-0}}"
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    stub = tmp_path / "auditor"
    stub.write_text(STUB.format(calls=tmp_path / "calls.log"))
    stub.chmod(0o755)
    return {"PATH": "/usr/bin:/bin", "AUDITOR": str(stub), "AUDITOR_REPORTS": str(tmp_path / "reports"),
            "TMPDIR": str(tmp_path)}


def nightly(env: dict[str, str], **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), "/srv/audit.yaml"], env={**env, **extra}, capture_output=True, text=True,
                          timeout=60)


def calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def test_pass_is_quiet_and_sends_nothing(env, tmp_path: Path) -> None:
    done = nightly(env, AUDITOR_MAIL_TO="risk@example.com")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    [run] = calls(tmp_path)
    assert run.startswith("run /srv/audit.yaml --out " + env["AUDITOR_REPORTS"] + " --history --keep 90d")
    assert "--fail-on warn" in run


def test_warn_or_fail_sends_the_latest_report_quietly(env, tmp_path: Path) -> None:
    done = nightly(env, STUB_RUN_EXIT="1", AUDITOR_MAIL_TO="risk@example.com", AUDITOR_KEEP="30",
                   AUDITOR_SMTP_ARGS="--smtp-host smtp.example.com --user auditor",
                   AUDITOR_REPORT_URL="https://reports.example/latest/report.html")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    run, send = calls(tmp_path)
    assert "--keep 30" in run
    assert send == (f"send {env['AUDITOR_REPORTS']}/latest --to risk@example.com --smtp-host smtp.example.com "
                    "--user auditor --report-url https://reports.example/latest/report.html")


def test_failed_send_or_broken_audit_speaks_up(env, tmp_path: Path) -> None:
    done = nightly(env, STUB_RUN_EXIT="1", STUB_SEND_EXIT="3", AUDITOR_MAIL_TO="risk@example.com")
    assert done.returncode == 1 and "could not be sent" in done.stderr and "auditor: FAIL" in done.stderr
    done = nightly(env, STUB_RUN_EXIT="2")
    assert done.returncode == 2 and "could not run (exit 2)" in done.stderr
    done = nightly(env, STUB_RUN_EXIT="1")  # no recipients: the summary goes to cron's mail
    assert done.returncode == 1 and "auditor: FAIL" in done.stderr


def test_second_run_exits_75_at_once_while_the_lock_is_held(env, tmp_path: Path) -> None:
    reports = Path(env["AUDITOR_REPORTS"])
    reports.mkdir()
    with open(reports / ".nightly.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running nightly.sh holds it
        done = nightly(env)  # had it queued behind the lock, it would never return (TimeoutExpired)
    assert done.returncode == 75 and "another audit holds" in done.stderr
    assert calls(tmp_path) == []  # and never started the audit
    assert nightly(env).returncode == 0  # the lock released, the next night runs


def test_warn_or_fail_posts_to_the_webhook_from_the_environment(env, tmp_path: Path) -> None:
    done = nightly(env, STUB_RUN_EXIT="1", AUDITOR_WEBHOOK_URL="https://hooks.example/T/B/secret",
                   AUDITOR_WEBHOOK_FORMAT="slack", AUDITOR_REPORT_URL="https://reports.example/latest/report.html")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    run, notify = calls(tmp_path)
    # the URL is never on the command line (ps shows it to every user): notify reads it from the environment
    assert notify == (f"notify {env['AUDITOR_REPORTS']}/latest --format slack "
                      "--report-url https://reports.example/latest/report.html")


def test_pass_posts_nothing_and_a_failed_post_speaks_up(env, tmp_path: Path) -> None:
    assert nightly(env, AUDITOR_WEBHOOK_URL="https://hooks.example/x").returncode == 0
    assert [c.split()[0] for c in calls(tmp_path)] == ["run"]
    done = nightly(env, STUB_RUN_EXIT="1", STUB_SEND_EXIT="3", AUDITOR_WEBHOOK_URL="https://hooks.example/x")
    assert done.returncode == 1 and "could not be posted" in done.stderr
