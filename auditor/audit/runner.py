"""run_audit(config) -> AuditReport: attach the data, run the selected checks.

A check that raises becomes an `error` result and the run goes on; a check
whose inputs are missing becomes `skip`. Only a config or data problem that
makes the whole audit meaningless (an `AuditorError`) stops the run.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import secrets
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auditor.audit.configure import config_from_dict, validate_check_options
from auditor.audit.context import CheckContext, RunState
from auditor.audit.dictionary import gather
from auditor.audit.failures import write_failures
from auditor.audit.findings import find
from auditor.audit.options import CheckOptions
from auditor.audit.personal import flagged_columns
from auditor.audit.provenance import fingerprint_sources, provenance
from auditor.audit.redaction import redact
from auditor.audit.reference_cache import cache_info, open_cache
from auditor.audit.registry import DATASET_NEEDS, TARGET_NEED, CheckSpec
from auditor.audit.roles import default_features, left_out_features, resolve_roles
from auditor.audit.target import Target, resolve_target
from auditor.checks import catalogue
from auditor.config import AuditConfig
from auditor.engine.catalog import attach_catalog
from auditor.engine.connect import open_engine
from auditor.engine.sources import attach_datasets
from auditor.engine.windows import resolve_timestamp
from auditor.errors import AuditorError, DataError
from auditor.report import AuditReport, CheckResult, bound_results
from auditor.version import __version__

Progress = Callable[[str], None]

# Imported where first needed (the statistics' p-values), but slow to import: 0.3 s of a 1.7 s drift
# run. Importing it on a thread of its own while DuckDB attaches and scans the data (DuckDB lets go of
# the GIL) hides that time; a check that needs it first waits for the import to finish.
WARM_IMPORTS = ("scipy.special",)


def warm_imports() -> None:
    def load() -> None:
        for name in WARM_IMPORTS:
            try:
                importlib.import_module(name)
            except Exception:  # the check that imports it again reports the failure
                return

    threading.Thread(target=load, name="auditor-warm-imports").start()


def select_checks(options: dict[str, CheckOptions], stages: Iterable[str] | None = None) -> list[CheckSpec]:
    wanted = set(stages or [])
    return [spec for spec in catalogue()
            if (not wanted or spec.stage in wanted) and options[spec.id].enabled]


def missing_needs(spec: CheckSpec, state: RunState) -> list[str]:
    missing = []
    for need in spec.needs:
        if need in DATASET_NEEDS:
            name = "current" if need == "predictions" and "predictions" not in state.datasets else need
            ds = state.datasets.get(name)
            if ds is None:
                missing.append(f"datasets.{need}")
            elif ds.rows == 0:
                missing.append(f"rows in datasets.{need} (it is empty)")
        elif need != TARGET_NEED and not state.roles.has(need):
            missing.append(f"columns.{need}")
    return missing


# A statement of a batch of columns may run to hundreds of kilobytes; shown with each column's result it
# made report.json grow with the square of the column count (1.4 GB at 1,000 columns).
SHARED_SQL_MIN = 500  # characters from which a statement several results show is kept with the first only
SHOWN_SQL_MAX = 10_000  # characters of a statement shown at most; the query log keeps it whole


def shown(sql: str) -> str:
    if len(sql) <= SHOWN_SQL_MAX:
        return sql
    return (f"{sql[:SHOWN_SQL_MAX]}\n-- ... {len(sql):,} characters in all, for every column of a batch; "
            "AUDITOR_QUERY_LOG=queries.json writes each statement whole")


def share_statements(results: list[CheckResult]) -> list[CheckResult]:
    """Keep a long statement that several results of a check show with the first of them (cut to
    SHOWN_SQL_MAX characters); the others name that result instead of repeating it."""
    first: dict[str, str] = {}
    for r in results:
        listed = r.evidence.get("sql") or []
        kept = []
        for sql in listed:
            if len(sql) >= SHARED_SQL_MIN and sql in first:
                kept.append(f"-- the statement shown with {first[sql]}")
            else:
                first.setdefault(sql, f"'{r.subject}'" if r.subject else "this check's first result")
                kept.append(shown(sql))
        if listed:
            r.evidence["sql"] = kept
    return results


def run_check(spec: CheckSpec, state: RunState, options: CheckOptions) -> list[CheckResult]:
    ctx = CheckContext(spec=spec, options=options, run=state)
    missing = missing_needs(spec, state)
    if missing:
        return [ctx.skip(f"Skipped: needs {', '.join(missing)}.")]
    try:
        results = list(spec.fn(ctx))
    except AuditorError:
        raise
    except Exception as exc:  # a broken check must not take the report down with it
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        where = f" at {frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}"
        # An engine's error may carry the JVM's stack trace (Spark): the report keeps the line that says what failed.
        text = state.engine.first_line(exc) if isinstance(exc, state.engine.errors) else exc
        return [ctx.result(status="error", message=f"The check raised {type(exc).__name__}: {text}{where}")]
    return share_statements(results) or [ctx.result(status="skip", message="Nothing to check.")]


def resolve_inputs(state: RunState, specs: list[CheckSpec]) -> None:
    """Roles, timestamps and the decision rule, resolved once before any check grades; what the data
    cannot support (an unparseable timestamp, a label the rule cannot read) raises here."""
    config, engine, datasets = state.config, state.engine, state.datasets
    current, cols = datasets["current"], config.columns
    for name, ds in datasets.items():
        if cols.timestamp and ds.column(cols.timestamp) is not None and ds.rows:
            state.timestamps[name] = resolve_timestamp(engine, ds, cols.timestamp, cols.timestamp_format)
    # The summary (a full scan) only infers which columns are categorical: not needed when the config says.
    summaries = state.summary("current") if cols.categorical is None else {}
    left_out = {}
    if cols.features is None:
        left_out, _ = left_out_features(engine, current, summaries, default_features(cols, current),
                                        state.timestamps.get("current"), cols.categorical)
    state.roles = resolve_roles(cols, current, summaries, datasets.get("predictions"), left_out)
    # The data is checked against the rule when a check that reads it will run (its other needs are met).
    state.target = Target(config.task)
    probe = any(TARGET_NEED in spec.needs and not missing_needs(spec, state) for spec in specs)
    state.target = resolve_target(engine, config, datasets, label=state.roles.label,
                                  prediction=state.roles.prediction, score=state.roles.score, probe=probe)


def run_audit(
    config: AuditConfig | dict[str, Any],
    *,
    base_dir: str | Path = ".",
    stages: Iterable[str] | None = None,
    as_of: datetime | None = None,
    now: Callable[[], datetime] | None = None,
    progress: Progress | None = None,
    failures_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    warn: Callable[[str], None] | None = None,
) -> AuditReport:
    """Run every selected check and return the report; no report is written (that is write_reports').

    `config` is a loaded config or a mapping in audit.yaml's shape, whose relative paths resolve
    against `base_dir`. A failing check never raises: a bad config raises ConfigError and unreadable
    data DataError, both before any check runs. Checks with `export_failures` on write their failing
    rows to `failures_dir` (one Parquet file per check), and only when it is given. With `cache_dir`,
    the reference's statistics are kept there and reused while the reference is unchanged
    (auditor.audit.reference_cache); `warn` hears of a cache it could not read (default: warnings.warn).
    """
    if isinstance(config, dict):
        config = config_from_dict(config, base_dir=base_dir)
    clock = now or (lambda: datetime.now(UTC))
    say = progress or (lambda _msg: None)
    started_at = clock()
    started = time.perf_counter()
    options = validate_check_options(config)  # before any data is read: a bad option is exit 2 at once
    specs = select_checks(options, stages)

    settings = config.engine.with_environment(os.environ)
    engine = open_engine(config)
    warm_imports()
    try:
        say("attaching datasets")
        datasets = attach_datasets(engine, config)
        current = datasets["current"]
        if current.rows == 0:
            raise DataError(f"dataset 'current' ({current.source}) is empty: nothing to audit")
        catalog = attach_catalog(engine, config)
        say("fingerprinting the data")
        fingerprints, catalog_fingerprints = fingerprint_sources(config, catalog)
        store = None
        if cache_dir is not None:
            store = open_cache(Path(cache_dir), config, settings, engine, fingerprints.get("reference"),
                               warn or (lambda message: warnings.warn(message, stacklevel=3)))
            engine.stored = store
        state = RunState(config=config, engine=engine, datasets=datasets, roles=None,  # type: ignore[arg-type]
                         as_of=as_of or started_at, as_of_given=as_of is not None,
                         catalog={e.table.name: e.table for e in catalog})
        resolve_inputs(state, specs)
        results: list[CheckResult] = []
        for i, spec in enumerate(specs, 1):
            say(f"[{i}/{len(specs)}] {spec.id}")
            engine.check = spec.id
            results.extend(run_check(spec, state, options[spec.id]))
            engine.check = None
        say("data dictionary")
        engine.check = "report.dictionary"  # the query log names what the dictionary and the redaction cost
        pii = options.get("data.pii")
        personal = flagged_columns(state, pii)
        engine.check = "report.failures"
        results = write_failures(state, results, options, personal,
                                 Path(failures_dir) if failures_dir is not None else None)
        engine.check = "report.dictionary"
        dictionary = gather(state, catalog, personal=personal, share=getattr(pii, "share", 0.05),
                            fingerprints={**fingerprints, **catalog_fingerprints})
        engine.check = "report.redaction"
        results, dictionary = redact(state, results, dictionary, personal)
        engine.check = None
        run_provenance = provenance(config, engine, fingerprints, catalog_fingerprints, settings)
        saved = store.save() if store is not None else None
    finally:
        # A hidden hook for the benchmark: where each query went and how long it took.
        if os.environ.get("AUDITOR_QUERY_LOG"):
            engine.write_log(os.environ["AUDITOR_QUERY_LOG"])
        engine.close()

    finished_at = clock()
    report = AuditReport(
        tool={"name": "auditor", "version": __version__},
        run={**run_info(config, started_at, finished_at, time.perf_counter() - started, as_of=state.as_of),
             "provenance": run_provenance,
             **({"cache": cache_info(store, saved)} if store is not None else {})},
        project=config.project.model_dump(mode="json"),
        datasets=[{**d.to_dict(), "left_out": state.roles.left_out if d.name == "current" else {}}
                  for d in datasets.values()],
        checks=[],
        findings=find(results),
        dictionary=dictionary,
    )
    # Bounded, so report.json stays small whatever the data's width (auditor.report.bound_results).
    return replace(report, checks=bound_results(results, other_bytes=len(json.dumps(report.to_dict()))))


def run_info(config: AuditConfig, started_at: datetime, finished_at: datetime, seconds: float,
             *, as_of: datetime) -> dict[str, Any]:
    digest = hashlib.sha256(config.path.read_bytes()).hexdigest() if config.path else None
    # With a pinned clock (SOURCE_DATE_EPOCH) the duration is pinned too, so reports are byte-stable.
    pinned = started_at == finished_at
    duration = 0.0 if pinned else round(seconds, 3)
    # Two runs may start in the same second (CI jobs sharing a history root): a suffix tells them
    # apart. It is random, but with a pinned clock it follows from the config and as-of time, so a
    # re-run reproduces the report byte for byte (and replaces its own record in the history).
    seed = f"{digest}|{as_of.isoformat()}".encode()
    suffix = hashlib.sha256(seed).hexdigest()[:4] if pinned else secrets.token_hex(2)
    return {
        "id": f"{started_at.strftime('%Y%m%dT%H%M%SZ')}-{suffix}",
        "started_at": started_at.isoformat(),
        "finished_at": finished_at.isoformat(),
        "duration_s": duration,
        "as_of": as_of.isoformat(),
        "config_path": str(config.path) if config.path else None,
        "config_sha256": digest,
    }
