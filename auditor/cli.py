"""The `auditor` command line. `main(argv) -> exit code`.

Exit codes: 0 passed (warnings allowed unless --fail-on warn), 1 checks
failed, 2 usage or config error, 3 data or runtime error. Progress goes to
stderr when it is a terminal or with -v; a successful run is otherwise quiet.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from auditor.commands import COMMANDS
from auditor.errors import AuditorError, UsageError
from auditor.render.formats import FORMAT_NAMES
from auditor.report import STAGES
from auditor.version import __version__

FORMATS = FORMAT_NAMES


class Parser(argparse.ArgumentParser):
    """argparse that raises (exit 2, one line) instead of printing usage and exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message} (see --help)")


def _formats(text: str) -> list[str]:
    formats = [f.strip() for f in text.split(",") if f.strip()]
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown format {', '.join(bad)}; choose from {', '.join(FORMATS)}")
    return formats


def _stages(text: str) -> list[str]:
    stages = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in stages if s not in STAGES]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown stage {', '.join(bad)}; choose from {', '.join(STAGES)}")
    return stages


def _as_of(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-27 or 2026-11-27T02:00") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def build_parser() -> Parser:
    parser = Parser(prog="auditor", description="Audit an ML project: data, model, deployment. Writes reports.")
    parser.add_argument("--version", action="version", version=f"auditor {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="progress and details on stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    run = sub.add_parser("run", help="run the audit a config describes and write reports")
    run.add_argument("config", type=Path, help="the audit.yaml")
    run.add_argument("--out", type=Path, help="report folder (default: outputs.dir of the config)")
    run.add_argument("--format", type=_formats, help=f"comma-separated: {','.join(FORMATS)}")
    run.add_argument("--stage", type=_stages, action="append", help="only these stages (repeatable, or comma-separated)")
    run.add_argument("--fail-on", choices=("warn", "fail"), default="fail", help="lowest status that exits 1")
    run.add_argument("--as-of", type=_as_of, help="the audit's 'now' for freshness and windows (default: now)")
    run.add_argument("--history", action=argparse.BooleanOptionalAction, default=None,
                     help="write to a dated folder under --out, record the run in history.duckdb, show trends "
                          "(default: outputs.history of the config)")
    run.add_argument("--keep", help="with --history: keep runs for 90d (days) or the newest 30 (a count)")
    run.add_argument("--report-url", help="where report.html will be published: the Markdown and email link to it")
    run.add_argument("--no-cache", action="store_true",
                     help="read the reference again instead of reusing its statistics from the cache")
    run.add_argument("--templates", type=Path, help="a folder of report templates searched first (default: outputs.templates)")
    run.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    dictionary = sub.add_parser("dictionary", help="audit, then write the data dictionary (exit 1 when a field fails)")
    dictionary.add_argument("config", type=Path, help="the audit.yaml")
    dictionary.add_argument("--out", type=Path, help="folder for dictionary.html, .md, .json beside report.json and "
                            "report.html, which its links point to (default: outputs.dir of the config)")
    dictionary.add_argument("--as-of", type=_as_of, help="the audit's 'now' for freshness (default: now)")
    dictionary.add_argument("--report-url", help="where report.html will be published: the dictionary links to it")
    dictionary.add_argument("--templates", type=Path, help="a folder of report templates searched first")
    dictionary.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    render = sub.add_parser("render", help="render a saved report.json again, without touching data")
    render.add_argument("report", type=Path, help="a report.json")
    render.add_argument("--format", type=_formats, default=["html", "md"], help="formats to write (default html,md)")
    render.add_argument("--out", type=Path, help="folder to write to (default: beside the report)")
    render.add_argument("--report-url", help="where report.html will be published: the Markdown and email link to it")
    render.add_argument("--templates", type=Path, help="a folder of report templates searched before the stock ones")

    infer = sub.add_parser("infer-schema", help="write a starting pandera schema (YAML) inferred from a dataset")
    infer.add_argument("data", help="a Parquet, CSV or JSON file (or glob)")
    infer.add_argument("--out", type=Path, help="where to write the schema (default: print it)")
    infer.add_argument("--max-categories", type=int, default=20, help="strings with at most this many values get isin")

    hist = sub.add_parser("history", help="write index.html listing the runs recorded under a report folder")
    hist.add_argument("root", type=Path, help="the output root of history-enabled runs (with history.duckdb)")
    hist.add_argument("--keep", help="first drop runs older than 90d (days) or beyond the newest 30 (a count)")

    send = sub.add_parser("send", help="email a run's report through SMTP (password from $AUDITOR_SMTP_PASSWORD)")
    send.add_argument("report_dir", type=Path, help="a run's report folder, or a history root (sends its latest/)")
    send.add_argument("--to", action="append", required=True, help="recipient (repeatable, or comma-separated)")
    send.add_argument("--from", dest="sender", help="sender address (default: auditor@localhost)")
    send.add_argument("--smtp-host", default="localhost", help="SMTP server (default localhost)")
    send.add_argument("--smtp-port", type=int, help="default 587 with --starttls, 465 with --ssl, 25 with --plain")
    security = send.add_mutually_exclusive_group()
    security.add_argument("--starttls", dest="security", action="store_const", const="starttls",
                          help="upgrade the connection with STARTTLS (the default)")
    security.add_argument("--ssl", dest="security", action="store_const", const="ssl", help="implicit TLS")
    security.add_argument("--plain", dest="security", action="store_const", const="none",
                          help="no TLS (a local relay only)")
    send.add_argument("--user", help="SMTP login; the password is read from $AUDITOR_SMTP_PASSWORD")
    send.add_argument("--cafile", help="also trust this CA certificate (a private relay's)")
    send.add_argument("--report-url", help="link to the full report (used when report.html is too big to attach)")

    init = sub.add_parser("init", help="write a starting audit.yaml from data files or a DuckDB database")
    init.add_argument("data", nargs="+", help="Parquet, CSV or JSON files (or globs), or .duckdb files")
    init.add_argument("--out", type=Path, default=Path("audit.yaml"), help="the config to write (default ./audit.yaml)")
    init.add_argument("--force", action="store_true", help="overwrite --out when it exists")

    diff = sub.add_parser("diff", help="compare two audits (a pull request's base and head): Markdown on stdout")
    diff.add_argument("base", type=Path, help="the base run: a report.json or a run folder")
    diff.add_argument("head", type=Path, help="the head run: a report.json or a run folder")
    diff.add_argument("--json", action="store_true", help="print the diff as JSON instead of Markdown")
    diff.add_argument("--out", type=Path, help="write it to this file instead of stdout")
    diff.add_argument("--report-url", help="where the head's report.html is published: the Markdown links to it")
    diff.add_argument("--templates", type=Path, help="a folder of report templates searched first (md/diff.md)")

    notify = sub.add_parser("notify", help="post a run's status, top findings and link to a chat webhook")
    notify.add_argument("report_dir", type=Path, help="a run's report folder, or a history root (posts its latest/)")
    notify.add_argument("--webhook", help="the webhook URL (default: $AUDITOR_WEBHOOK_URL; never printed)")
    notify.add_argument("--format", dest="shape", choices=("slack", "teams", "json"), default="json",
                        help="Slack Block Kit, a Teams Adaptive Card, or plain JSON (default)")
    notify.add_argument("--report-url", help="where report.html is published: the message links to it")

    checks = sub.add_parser("checks", help="list the checks auditor can run")
    checks.add_argument("--options", action="store_true", help="also each check's options: type, default, description")
    sub.add_parser("config-schema", help="print the JSON Schema of audit.yaml (for editor autocompletion)")
    return parser


def main(argv: Sequence[str] | None = None, *, out=None, err=None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    args = None
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(file=out)
            return 2
        command = COMMANDS.get(args.command)
        if command is None:
            raise UsageError(f"unknown command {args.command}")
        return command(args, out, err)
    except AuditorError as exc:
        print(f"auditor: error: {exc}", file=err)
        return exc.exit_code
    except KeyboardInterrupt:
        print("auditor: interrupted", file=err)
        return 130
    except BrokenPipeError:  # `auditor checks | head`: the reader has what it wanted; say nothing
        _silence_stdout()
        return 0
    except Exception as exc:  # never a bare traceback for a user; -v shows it
        if args is not None and getattr(args, "verbose", False):
            traceback.print_exc(file=err)
        print(f"auditor: error: unexpected {type(exc).__name__}: {exc} (run with -v for details)", file=err)
        return 3


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush of a closed pipe raises nothing."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (a test's StringIO): nothing to flush
        pass


def entry() -> None:
    """The `auditor` command: `main()`, then an exit that skips the interpreter's teardown.

    Tearing down numpy, scipy.special, duckdb and pydantic module by module takes 0.2 s after the work
    is done, a tenth of a drift run on 1M rows. Nothing is left to clean up by then: reports are
    written and closed, the engine is closed and its spill folder removed. An exception still ends the
    process the usual way, traceback and all.
    """
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can reach it
            pass
    os._exit(code)


if __name__ == "__main__":
    entry()
