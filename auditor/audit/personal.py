"""Which columns of a table hold personal data: the PII scan of its text columns and the hints of
its column names, computed once per run and table and shared by data.pii (which grades it), the
redaction of the report (which hides those columns' values) and the data dictionary.

Text columns of few values (the run's exact value counts, often counted already by data.profile
and data.constant_columns) are tested value by value from their counts; the others are read once.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from auditor.audit.context import RunState
from auditor.engine import pii
from auditor.engine.value_counts import value_counts

COUNT_FEWER_THAN = 1000  # a column with fewer distinct values is tested from its value counts...
COUNT_BATCH = 50  # ...counted this many columns per statement
# Evidence too weak to fail a model feature on its own: an old event date reads like a date of birth.
WEAK_KINDS = frozenset({"dob"})


@dataclass
class PersonalColumn:
    """One column's evidence: the share of its values of each kind, masked examples, its name's hint."""

    column: str
    type: str
    values: int | None  # non-null values tested (None: not a text column, only its name was read)
    shares: dict[str, float] = field(default_factory=dict)
    examples: dict[str, str] = field(default_factory=dict)
    hint: str | None = None

    def kinds(self, share: float) -> list[str]:
        """The kinds whose share reaches `share`, most frequent first."""
        found = [k for k, s in self.shares.items() if s >= share and s > 0]
        return sorted(found, key=lambda k: (-self.shares[k], list(pii.KINDS).index(k)))

    def holds(self, share: float) -> bool:
        return bool(self.hint or self.kinds(share))

    def strong(self, share: float) -> bool:
        """Evidence enough to fail a model feature: a name hint, or a kind other than dates of birth."""
        return bool(self.hint or set(self.kinds(share)) - WEAK_KINDS)

    @property
    def top_share(self) -> float | None:
        return max(self.shares.values(), default=0.0) if self.values is not None else None


def text_columns(run: RunState, name: str, ignore: Collection[str] = ()) -> list[str]:
    table = run.table(name)
    return [c.name for c in table.columns if c.type.upper() == "VARCHAR" and c.name not in ignore]


def scan_table(run: RunState, name: str, *, ignore: Collection[str] = ()) -> tuple[dict[str, PersonalColumn], list[str]]:
    """Every text column's evidence and every column whose name hints at personal data, and the
    statements run; cached in the run, so the check, the redaction and the dictionary share one scan."""
    key = ("personal", name, tuple(sorted(ignore)))
    if key in run.cache:
        return run.cache[key]
    table = run.table(name)
    text = text_columns(run, name, ignore)
    summaries = run.summary(name)
    # Counts another check made are free; counting now is worth it only for columns of very few values
    # (value_counts batches them to the memory limit: stacked in long form past a few columns).
    counted = {c: run.cache[("value_counts", table.view, c)][0] for c in text
               if ("value_counts", table.view, c) in run.cache}
    few = [c for c in text if c not in counted and summaries[c].distinct <= COUNT_FEWER_THAN]
    sql: list[str] = []
    if few:
        found_counts, sql = value_counts(run.engine, table, few, cache=run.cache,
                                         sizes={c: summaries[c].distinct for c in few})
        counted.update(found_counts)
    scanned, more = pii.scan(run.engine, table.view, text, as_of=run.as_of, counted=counted)
    found: dict[str, PersonalColumn] = {}
    for col in table.columns:
        if col.name in ignore:
            continue
        hint = pii.name_hint(col.name)
        scan = scanned.get(col.name)
        if scan is None and hint is None:
            continue
        found[col.name] = PersonalColumn(
            column=col.name, type=col.type, values=scan.values if scan else None, hint=hint,
            shares={k: scan.share(k) or 0.0 for k in scan.matches} if scan else {},
            examples=dict(scan.examples) if scan else {})
    run.cache[key] = (found, [*sql, *more])
    return run.cache[key]


def flagged_columns(run: RunState, options: object | None) -> dict[str, dict[str, PersonalColumn]]:
    """{table name: {column: its evidence}} of the columns holding personal data, over the datasets and
    catalog tables, by the options of data.pii (`share`, `ignore`); nothing when the check is off."""
    if options is None or not getattr(options, "enabled", False):
        return {}
    share, ignore = options.share, options.ignore  # type: ignore[attr-defined]
    out: dict[str, dict[str, PersonalColumn]] = {}
    for name in run.table_names():
        found, _ = scan_table(run, name, ignore=ignore)
        out[name] = {c: evidence for c, evidence in found.items() if evidence.holds(share)}
    return out
