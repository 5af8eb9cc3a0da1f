"""The `auditor` command line. `main(argv) -> exit code`.

Exit codes: 0 passed (warnings allowed unless --fail-on warn), 1 checks
failed, 2 usage or config error, 3 data or runtime error. Progress goes to
stderr when it is a terminal or with -v; a successful run is otherwise quiet.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from auditor.errors import AuditorError, ConfigError
from auditor.render.formats import FORMAT_NAMES
from auditor.report import STAGES
from auditor.version import __version__

FORMATS = FORMAT_NAMES


class UsageError(ConfigError):
    pass


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


def _now() -> datetime:
    # SOURCE_DATE_EPOCH pins the clock so reports are byte-for-byte reproducible.
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        return datetime.fromtimestamp(int(epoch), UTC)
    return datetime.now(UTC)


def _templates(folder: Path | None) -> Path | None:
    """A template folder that exists (checked before any data is read), or None for the stock ones."""
    if folder is not None and not folder.is_dir():
        raise ConfigError(f"templates: {folder} is not a folder (it mirrors report_templates/: html/, md/, email/)")
    return folder


def cmd_run(args: argparse.Namespace, err) -> int:
    from auditor.audit.configure import load_config
    from auditor.audit.runner import run_audit
    from auditor.delivery.files import write_reports

    config = load_config(args.config)
    templates = _templates(args.templates or (config.resolve(config.outputs.templates) if config.outputs.templates
                                              else None))
    verbose = args.verbose or err.isatty()
    progress = (lambda msg: print(f"auditor: {msg}", file=err, flush=True)) if verbose else None
    stages = [s for group in args.stage for s in group] if args.stage else None
    out_dir = args.out or config.resolve(config.outputs.dir)
    formats = args.format or list(config.outputs.formats)
    if "json" not in formats:
        formats = ["json", *formats]  # report.json is the source of truth: always written
    history = args.history if args.history is not None else config.outputs.history
    keep = args.keep or config.outputs.keep
    if args.keep and not history:
        raise UsageError("--keep needs --history (plain --out DIR is overwritten on each run)")
    # Exported failing rows are staged aside and moved beside the reports once those are written.
    with tempfile.TemporaryDirectory(prefix="auditor-failures-") as staged:
        report = run_audit(config, stages=stages, as_of=args.as_of, now=_now, progress=progress, failures_dir=staged)
        if history:
            from auditor.delivery.history import parse_keep, record_run
            from auditor.delivery.lock import parse_duration

            out_dir, written = record_run(report, out_dir, formats, keep=parse_keep(keep) if keep else None,
                                          now=_now(), report_url=args.report_url, templates=templates,
                                          lock_timeout_s=parse_duration(config.outputs.lock_timeout),
                                          failures=Path(staged))
        else:
            written = write_reports(report, out_dir, formats, report_url=args.report_url, templates=templates,
                                    failures=Path(staged))
    status, counts = report.status, report.counts
    failed = status in ("fail", "error") or (args.fail_on == "warn" and status == "warn")
    summary = ", ".join(f"{counts[s]} {s}" for s in ("fail", "error", "warn", "pass", "skip") if counts[s])
    if verbose or failed:
        print(f"auditor: {status.upper()} ({summary}); reports in {out_dir}", file=err)
    if verbose:
        for path in written:
            print(f"  {path}", file=err)
    return 1 if failed else 0


def cmd_dictionary(args: argparse.Namespace, err) -> int:
    """`auditor dictionary`: the whole audit, then dictionary.html/.md/.json with report.json and
    report.html (the checks the indicators link to). Exit 1 when some field's indicator is fail."""
    from auditor.audit.configure import load_config
    from auditor.audit.runner import run_audit
    from auditor.delivery.files import write_reports
    from auditor.render.dictionary import build_dictionary, failing_fields

    config = load_config(args.config)
    templates = _templates(args.templates or (config.resolve(config.outputs.templates) if config.outputs.templates
                                              else None))
    verbose = args.verbose or err.isatty()
    progress = (lambda msg: print(f"auditor: {msg}", file=err, flush=True)) if verbose else None
    report = run_audit(config, as_of=args.as_of, now=_now, progress=progress)
    out_dir = args.out or config.resolve(config.outputs.dir)
    written = write_reports(report, out_dir, ["json", "html", "dictionary"], report_url=args.report_url,
                            templates=templates)
    doc = build_dictionary(report)
    failing = failing_fields(doc)
    fields = sum(len(t["fields"]) for t in doc["tables"])
    if verbose or failing:
        named = ", ".join(f"{t}.{f}" for t, f in failing[:5]) + (f" and {len(failing) - 5} more" if len(failing) > 5 else "")
        state = f"{len(failing)} failing ({named})" if failing else "none failing"
        print(f"auditor: dictionary of {len(doc['tables'])} tables, {fields} fields, {state}; in {out_dir}", file=err)
    if verbose:
        for path in written:
            print(f"  {path}", file=err)
    return 1 if failing else 0


def cmd_render(args: argparse.Namespace, err) -> int:
    from auditor.delivery.files import load_report, render_all, write_atomic

    if not args.report.is_file():
        raise ConfigError(f"{args.report}: report file not found")
    try:
        report = load_report(args.report)
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{args.report}: not an auditor report.json ({exc})") from None
    if report.findings is None:  # a report.json older than findings: group its results now
        import dataclasses

        from auditor.audit.findings import find

        report = dataclasses.replace(report, findings=find(report.checks))
    out_dir = args.out or args.report.parent
    templates = _templates(args.templates)
    for name, payload in render_all(report, args.format, report_url=args.report_url, templates=templates).items():
        write_atomic(out_dir / name, payload)
    return 0


def cmd_send(args: argparse.Namespace, err) -> int:
    from auditor.delivery.mail import SmtpSettings, send_report

    to = [a.strip() for group in args.to for a in group.split(",") if a.strip()]
    settings = SmtpSettings.from_options(host=args.smtp_host, port=args.smtp_port,
                                         security=args.security or "starttls", user=args.user, cafile=args.cafile)
    msg = send_report(args.report_dir, settings, to=to, sender=args.sender, report_url=args.report_url)
    if args.verbose:
        print(f"auditor: sent \"{msg['Subject']}\" to {', '.join(to)}", file=err)
    return 0


def cmd_diff(args: argparse.Namespace, out) -> int:
    from auditor.diff import compare_reports, load_side

    diff = compare_reports(load_side(args.base), load_side(args.head))
    if args.json:
        text = json.dumps(diff, indent=2, ensure_ascii=False) + "\n"
    else:
        from auditor.render.diff import render_diff_markdown

        text = render_diff_markdown(diff, report_url=args.report_url, templates=_templates(args.templates))
    if args.out:
        from auditor.delivery.files import write_atomic

        write_atomic(args.out, text)
    else:
        print(text, end="", file=out)
    return 1 if diff["adds_failure"] else 0


def cmd_checks(args: argparse.Namespace, out) -> int:
    from auditor.audit.options import option_rows
    from auditor.checks import catalogue

    specs = catalogue()
    width = max(len(s.id) for s in specs)
    for spec in specs:
        print(f"{spec.id:<{width}}  {spec.description}", file=out)
        if args.options:
            rows = option_rows(spec.options)
            name_width = max(len(r[0]) for r in rows)
            for name, kind, default, description in rows:
                print(f"    {name:<{name_width}}  {kind} (default {default}): {description}", file=out)
    return 0


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
        if args.command == "run":
            return cmd_run(args, err)
        if args.command == "render":
            return cmd_render(args, err)
        if args.command == "dictionary":
            return cmd_dictionary(args, err)
        if args.command == "infer-schema":
            from auditor.schema.inference import write_inferred

            text = write_inferred(args.data, out=args.out, max_categories=args.max_categories, now=_now())
            if args.out is None:
                print(text, end="", file=out)
            return 0
        if args.command == "history":
            from auditor.delivery.history import parse_keep, write_index

            write_index(args.root, keep=parse_keep(args.keep) if args.keep else None, now=_now())
            return 0
        if args.command == "send":
            return cmd_send(args, err)
        if args.command == "notify":
            from auditor.delivery.notify import notify

            url = args.webhook or os.environ.get("AUDITOR_WEBHOOK_URL", "").strip() or None
            report = notify(args.report_dir, url, fmt=args.shape, report_url=args.report_url)
            if args.verbose:
                print(f"auditor: posted {report.status} with {len(report.finding_list())} findings", file=err)
            return 0
        if args.command == "checks":
            return cmd_checks(args, out)
        if args.command == "diff":
            return cmd_diff(args, out)
        if args.command == "config-schema":
            from auditor.audit.configure import config_json_schema

            print(json.dumps(config_json_schema(), indent=2), file=out)
            return 0
        raise UsageError(f"unknown command {args.command}")
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
