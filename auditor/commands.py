"""What each `auditor` subcommand does, given its parsed arguments: `COMMANDS[name](args, out, err) -> exit code`.

The parser and the error handling live in auditor.cli; each command imports what it needs when it runs,
so `auditor --version` and `auditor checks` stay fast.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from auditor.errors import ConfigError, UsageError


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


def cmd_run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
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
    cache_dir = None
    if not args.no_cache:
        if config.engine.cache_dir:
            cache_dir = config.resolve(config.engine.cache_dir)
        elif history:
            cache_dir = Path(out_dir) / "cache"

    def warn(message: str) -> None:
        print(f"auditor: warning: {message}", file=err)

    # Exported failing rows are staged aside and moved beside the reports once those are written.
    with tempfile.TemporaryDirectory(prefix="auditor-failures-") as staged:
        report = run_audit(config, stages=stages, as_of=args.as_of, now=_now, progress=progress, failures_dir=staged,
                           cache_dir=cache_dir, warn=warn)
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


def cmd_dictionary(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
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


def cmd_render(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
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


def cmd_send(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from auditor.delivery.mail import SmtpSettings, send_report

    to = [a.strip() for group in args.to for a in group.split(",") if a.strip()]
    settings = SmtpSettings.from_options(host=args.smtp_host, port=args.smtp_port,
                                         security=args.security or "starttls", user=args.user, cafile=args.cafile)
    msg = send_report(args.report_dir, settings, to=to, sender=args.sender, report_url=args.report_url)
    if args.verbose:
        print(f"auditor: sent \"{msg['Subject']}\" to {', '.join(to)}", file=err)
    return 0


def cmd_init(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from auditor.audit.scaffold import scaffold
    from auditor.delivery.files import write_atomic
    from auditor.engine.duckdb_engine import Engine

    if args.out.exists() and not args.force:
        raise UsageError(f"{args.out} exists; pass --force to overwrite it")
    engine = Engine()
    try:
        text = scaffold(engine, args.data, args.out, now=_now())
    finally:
        engine.close()
    write_atomic(args.out, text)
    print(f"auditor: wrote {args.out}: check the guesses and TODOs in it, then `auditor run {args.out}`", file=err)
    return 0


def cmd_diff(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
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


def cmd_checks(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
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


def cmd_infer_schema(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from auditor.schema.inference import write_inferred

    text = write_inferred(args.data, out=args.out, max_categories=args.max_categories, now=_now())
    if args.out is None:
        print(text, end="", file=out)
    return 0


def cmd_history(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from auditor.delivery.history import parse_keep, write_index

    write_index(args.root, keep=parse_keep(args.keep) if args.keep else None, now=_now())
    return 0


def cmd_notify(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from auditor.delivery.notify import notify

    url = args.webhook or os.environ.get("AUDITOR_WEBHOOK_URL", "").strip() or None
    report = notify(args.report_dir, url, fmt=args.shape, report_url=args.report_url)
    if args.verbose:
        print(f"auditor: posted {report.status} with {len(report.finding_list())} findings", file=err)
    return 0


def cmd_config_schema(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from auditor.audit.configure import config_json_schema

    print(json.dumps(config_json_schema(), indent=2), file=out)
    return 0


Command = Callable[[argparse.Namespace, TextIO, TextIO], int]
COMMANDS: dict[str, Command] = {
    "run": cmd_run, "render": cmd_render, "dictionary": cmd_dictionary, "infer-schema": cmd_infer_schema,
    "history": cmd_history, "send": cmd_send, "notify": cmd_notify, "checks": cmd_checks, "init": cmd_init,
    "diff": cmd_diff, "config-schema": cmd_config_schema,
}
