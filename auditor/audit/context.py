"""What a check sees: the engine, the datasets, the resolved roles, its options."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from auditor.audit.options import CheckOptions
from auditor.audit.registry import CheckSpec
from auditor.audit.roles import Roles
from auditor.audit.target import Target
from auditor.config import AuditConfig
from auditor.engine.base import Engine
from auditor.engine.sources import Dataset
from auditor.engine.sql import quote_ident
from auditor.engine.summary import ColumnSummary, summarize
from auditor.engine.windows import Timestamp, naive_utc
from auditor.metrics.slices import SliceKey, slice_keys
from auditor.report import CheckResult, Status, Threshold, Unit, empty_evidence, grade

# How a check names a result about the reference side ("reference: id").
REFERENCE_PREFIX = "reference: "
# Data whose newest timestamp is this many days behind the clock looks historical: messages name --as-of.
HISTORICAL_DAYS = 30
DISTINCT_SQL = "SELECT {side} AS side, {parts} FROM {view}"


@dataclass(frozen=True)
class FailingRows:
    """The rows of current that break one rule of one result (auditor.audit.failures writes them)."""

    subject: str | None
    rule: str
    condition: str  # SQL on current's rows, TRUE on a row that breaks the rule
    params: tuple = ()


@dataclass
class RunState:
    """Shared by every check of one run: caches so a table is scanned once per purpose."""

    config: AuditConfig
    engine: Engine
    datasets: dict[str, Dataset]
    roles: Roles
    as_of: datetime
    cache: dict[Any, Any] = field(default_factory=dict)
    target: Target | None = None  # what the label and prediction mean (auditor.audit.target)
    timestamps: dict[str, Timestamp] = field(default_factory=dict)  # per dataset with the timestamp column
    as_of_given: bool = False  # --as-of was given (else the as-of time is the clock)
    catalog: dict[str, Dataset] = field(default_factory=dict)  # tables only the data dictionary reads
    exports: dict[str, list[FailingRows]] = field(default_factory=dict)  # check id -> failing rows to write

    def table(self, name: str) -> Dataset:
        """A dataset, or a table of the config's `catalog:`, by name (the config keeps the names apart)."""
        return self.datasets[name] if name in self.datasets else self.catalog[name]

    def table_names(self) -> list[str]:
        return [*self.datasets, *self.catalog]

    def summary(self, dataset: str) -> dict[str, ColumnSummary]:
        key = ("summary", dataset)
        if key not in self.cache:
            self.cache[key] = summarize(self.engine, self.table(dataset))
        return self.cache[key]


@dataclass
class CheckContext:
    spec: CheckSpec
    options: CheckOptions
    run: RunState

    @property
    def config(self) -> AuditConfig:
        return self.run.config

    @property
    def engine(self) -> Engine:
        return self.run.engine

    @property
    def roles(self) -> Roles:
        return self.run.roles

    @property
    def as_of(self) -> datetime:
        return self.run.as_of

    @property
    def target(self) -> Target:
        """The run's decision rule: `ctx.target.columns(dataset)` gives label, prediction and score as SQL."""
        assert self.run.target is not None, "the runner resolves the target before any check"
        return self.run.target

    def as_of_hint(self, newest: datetime | None) -> str:
        """A sentence naming --as-of when the data's newest timestamp is far behind the clock (historical data
        audited as of now), else ''."""
        if newest is None or self.run.as_of_given:
            return ""
        behind = naive_utc(self.as_of) - naive_utc(newest)
        if behind.days < HISTORICAL_DAYS:
            return ""
        return (f" The newest timestamp is {behind.days:,} days before the run's clock: for historical data, "
                f"run with --as-of {newest:%Y-%m-%d} (or later).")

    def distinct_values(self, datasets: list[str], columns: list[str]) -> dict[str, dict[str, int]]:
        """Per dataset, the approximate distinct values of the columns it has, as the summary counts them: from
        the run's summary when a check scanned the dataset already, otherwise from one narrow statement over
        these columns of every such dataset (a whole summary would scan every column)."""
        out: dict[str, dict[str, int]] = {}
        scan = []
        for name in datasets:
            ds = self.dataset(name)
            present = [c for c in columns if ds.column(c) is not None]
            if ("summary", ds.name) in self.run.cache:
                summary = self.summary(name)
                out[name] = {c: summary[c].distinct for c in present}
            else:
                out[name] = {}
                scan.append((name, ds.view, present))
        wanted = [c for c in columns if any(c in present for _, _, present in scan)]
        if wanted:
            # A column one dataset lacks is NULL there, so every branch of the UNION ALL has the same columns.
            selects = [DISTINCT_SQL.format(side=i, view=view, parts=", ".join(
                f"approx_count_distinct({quote_ident(c)})::BIGINT" if c in present else "NULL::BIGINT"
                for c in wanted)) for i, (_, view, present) in enumerate(scan)]
            for side, *counts in self.engine.query("\nUNION ALL ".join(selects)):  # run once a run
                name, _, present = scan[side]
                out[name] = {c: int(n or 0) for c, n in zip(wanted, counts, strict=True) if c in present}
        return out

    def dataset(self, name: str) -> Dataset | None:
        """A dataset by name; `predictions` falls back to `current` as DESIGN.md says."""
        if name == "predictions" and "predictions" not in self.run.datasets:
            name = "current"
        return self.run.datasets.get(name)

    def summary(self, name: str) -> dict[str, ColumnSummary]:
        ds = self.dataset(name)
        assert ds is not None, f"no dataset {name}"
        return self.run.summary(ds.name)

    def threshold(self, *, warn: str = "warn", fail: str = "fail", options: CheckOptions | None = None) -> Threshold:
        """The warn and fail lines named (default `warn` and `fail`) of these options, in the check's direction."""
        opts = self.options if options is None else options
        return Threshold(warn=getattr(opts, warn), fail=getattr(opts, fail), direction=self.spec.direction)

    def column_options(self, column: str) -> CheckOptions:
        """Options with the per-column overrides of `columns: {name: {...}}` applied."""
        return self.options.with_overrides(getattr(self.options, "columns", {}).get(column))

    def result(
        self,
        *,
        message: str,
        value: float | int | str | None = None,
        subject: str | None = None,
        status: Status | None = None,
        threshold: Threshold | None = None,
        metrics: dict[str, Any] | None = None,
        evidence: dict[str, list] | None = None,
        dataset: str | None = None,
        columns: Sequence[str] | None = None,
        unit: Unit | None = None,
    ) -> CheckResult:
        """A result of this check; graded from value and threshold unless a status is given.

        `dataset` and `columns` say what the result is about; by default they are read off the
        subject (see `about`)."""
        if status is None:
            status = grade(value, threshold) if threshold is not None else "pass"
        full_evidence = empty_evidence()
        if status != "skip":  # a skipped result measured nothing: it carries no evidence
            full_evidence.update(evidence or {})
        dataset, columns = self.about(subject, dataset=dataset, columns=columns)
        return CheckResult(
            id=self.spec.id, stage=self.spec.stage, title=self.spec.title, subject=subject,
            status=status, value=value, threshold=threshold, message=message,
            metrics=dict(metrics or {}), evidence=full_evidence, dataset=dataset, columns=columns, unit=unit,
        )

    def about(self, subject: str | None, *, dataset: str | None = None, columns: Sequence[str] | None = None
              ) -> tuple[str | None, tuple[str, ...]]:
        """The dataset and columns a result is about, where the check did not say.

        The dataset: `reference` for a subject written "reference: ...", else the table the check
        audits (the prediction log for log checks, else current). The columns: the subject's names
        that are columns of that dataset, split at " by " and "×" ("debt_ratio by sex×region" is
        about three columns; "accuracy" about none)."""
        text = subject or ""
        if dataset is None:
            if text.startswith(REFERENCE_PREFIX):
                dataset = "reference"
            else:
                wanted = next((n for n in ("predictions", "current") if n in self.spec.needs), "current")
                ds = self.dataset(wanted)
                dataset = ds.name if ds is not None else None
        if columns is None:
            ds = self.run.datasets.get(dataset) if dataset else None
            names = set(ds.column_names) if ds is not None else set()
            parts = text.removeprefix(REFERENCE_PREFIX).replace(" by ", "×").split("×")
            columns = [p for p in (part.strip() for part in parts) if p in names]
        return dataset, tuple(dict.fromkeys(columns))

    def skip(self, message: str, *, subject: str | None = None) -> CheckResult:
        return self.result(message=message, subject=subject, status="skip")

    def export_rows(self, subject: str | None, rule: str, condition: str, params: tuple = ()) -> None:
        """The rows of current behind the result `subject` that break `rule` (`condition`: SQL on its rows):
        written to failures/<check id>.parquet when the check's `export_failures` option is on."""
        if getattr(self.options, "export_failures", False):
            self.run.exports.setdefault(self.spec.id, []).append(FailingRows(subject, rule, condition, tuple(params)))

    def sides(self) -> Iterator[tuple[str, Dataset, str]]:
        """(name, dataset, subject prefix) for current, then reference when it has rows."""
        for name in ("current", "reference"):
            ds = self.run.datasets.get(name)
            if ds is not None and ds.rows:
                yield name, ds, "" if name == "current" else REFERENCE_PREFIX

    def model_slice_keys(self) -> tuple[list[SliceKey], list[str]]:
        """The slices of current that modeling checks compare a model on: every feature that is not a
        model output, its categories or quintiles (auditor.metrics.slices), shared within the run."""
        current = self.dataset("current")
        skip = set(self.roles.role_columns.values()) | {self.config.columns.challenger_prediction,
                                                        self.config.columns.challenger_score}
        features = [f for f in self.roles.features if f not in skip]
        summary = self.summary("current")
        return slice_keys(self.engine, current=current, reference=self.dataset("reference"), features=features,
                          categorical=set(self.roles.categorical),
                          distinct={f: s.distinct for f, s in summary.items()},
                          max_categories=getattr(self.options, "max_categories", 50), cache=self.run.cache)
