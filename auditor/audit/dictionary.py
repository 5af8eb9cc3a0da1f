"""The data dictionary's measures, for report.json's `dictionary`: every field of every dataset and
catalog table, described and measured, so `auditor render` can rebuild the dictionary from the report.

A dataset's measures are what the run has read already: the per-table summaries (nulls, distinct
values, ranges, newest timestamps) and the exact value counts of few-valued columns (top values),
both in the run's cache; a dataset no check summarised is described without measures. A catalog
table gets the summary's one statement, and its few-valued columns one `histogram`. Descriptions come
from `columns.descriptions`, then the pandera schema; roles from the resolved roles. A column that
holds personal data (auditor.audit.personal) shows no value: no top values, no range.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from auditor.audit.context import RunState
from auditor.audit.personal import COUNT_BATCH, PersonalColumn
from auditor.config.models import AuditConfig, Datasets
from auditor.engine.catalog import CatalogEntry, example_from
from auditor.engine.fingerprint import Fingerprint
from auditor.engine.pii import HINT_NAMES, KIND_NAMES
from auditor.engine.sources import Dataset
from auditor.engine.sql import is_integer, is_numeric, is_temporal, quote_ident
from auditor.engine.summary import ColumnSummary
from auditor.engine.value_counts import countable, value_counts
from auditor.errors import ConfigError

TOP_VALUES = 5
TOP_VALUES_MAX_DISTINCT = 1000  # more distinct values than this (ids, free text): no top values
EXAMPLE_ROWS = 10


def field_docs(config: AuditConfig) -> dict[str, tuple[str | None, str | None]]:
    """{column: (description, owner)}: `columns.descriptions` first, the pandera schema where it is silent."""
    docs: dict[str, tuple[str | None, str | None]] = {}
    if config.schema_:
        from auditor.schema.docs import column_docs

        try:
            docs.update(column_docs(config.schema_, base_dir=config.base_dir))
        except ConfigError:  # data.schema reports a broken schema; the dictionary goes without it
            pass
    for column, given in config.columns.descriptions.items():
        before = docs.get(column, (None, None))
        docs[column] = (given.description or before[0], given.owner or before[1])
    return docs


def _roles(run: RunState, column: str) -> list[str]:
    roles, columns = run.roles, run.config.columns
    found = [role for role, col in roles.role_columns.items() if col == column]
    found += [name for name, col in (("challenger prediction", columns.challenger_prediction),
                                     ("challenger score", columns.challenger_score)) if col == column]
    if column in roles.sensitive:
        found.append("sensitive")
    if column in roles.features:
        found.append("feature")
    if column in roles.categorical:
        found.append("categorical")
    return found


def _bound(value: Any, duck_type: str) -> Any:
    if value is None:
        return None
    if is_integer(duck_type) and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _top_values(run: RunState, table: Dataset, summaries: Mapping[str, ColumnSummary], hidden: set[str], *,
                count: bool) -> dict[str, list[dict[str, Any]]]:
    """The most frequent values of few-valued integer and text columns: as counted already in this run
    (a dataset), or counted now in one statement (`count`: a catalog table)."""
    wanted = [c.name for c in table.columns if c.name not in hidden and countable(c.type) and c.name in summaries
              and summaries[c.name].distinct <= TOP_VALUES_MAX_DISTINCT]
    if count:
        counted = {}
        for start in range(0, len(wanted), COUNT_BATCH):  # a histogram holds its values while it runs
            counted.update(value_counts(run.engine, table, wanted[start:start + COUNT_BATCH], cache=run.cache)[0])
    else:
        counted = {c: run.cache[key][0] for c in wanted if (key := ("value_counts", table.view, c)) in run.cache}
    out = {}
    for col, counts in counted.items():
        ranked = sorted(counts.items(), key=lambda vn: (-vn[1], str(vn[0])))[:TOP_VALUES]
        if ranked and (ranked[0][1] > 1 or len(counts) <= TOP_VALUES):  # not a column of unique values (ids)
            out[col] = [{"value": v, "rows": n} for v, n in ranked]
    return out


def _newest(text: Any) -> datetime | None:
    try:
        value = datetime.fromisoformat(str(text))
    except (TypeError, ValueError):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _example(reading: tuple[str, str], column: str, key: str | None) -> str:
    setup, source = reading
    picked = ", ".join(quote_ident(c) for c in dict.fromkeys([k for k in (key, column) if k]))
    return (f"{setup}SELECT {picked} FROM {source} WHERE {quote_ident(column)} IS NOT NULL "
            f"LIMIT {EXAMPLE_ROWS}")


def table_measures(run: RunState, table: Dataset, *, kind: str, reading: tuple[str, str],
                   description: str | None, personal: Mapping[str, PersonalColumn], share: float,
                   docs: Mapping[str, tuple[str | None, str | None]], fingerprint: Fingerprint | None
                   ) -> dict[str, Any]:
    is_dataset = kind == "dataset"
    # A dataset's measures are the summary its checks made (none when no check summarised it: a run of a
    # few checks costs no more for the dictionary); a catalog table gets its one summary statement.
    summaries = run.cache.get(("summary", table.name)) if is_dataset else run.summary(table.name)
    summaries = summaries or {}
    hidden = set(personal)
    tops = _top_values(run, table, summaries, hidden, count=not is_dataset)
    key = run.roles.id if is_dataset and run.roles.id in table.column_names else None
    timestamp = run.roles.timestamp if is_dataset and run.roles.timestamp in table.column_names else None
    fields, newest_of_table = [], None
    for col in table.columns:
        s = summaries.get(col.name)
        shown = col.name not in hidden and s is not None
        temporal = is_temporal(col.type)
        newest = s.max if shown and col.type.upper().startswith(("DATE", "TIMESTAMP")) else None
        if newest is not None and (timestamp in (None, col.name)):
            moment = _newest(newest)
            if moment is not None and (newest_of_table is None or moment > newest_of_table):
                newest_of_table = moment
        ranged = is_numeric(col.type) or temporal or col.type.upper() == "BOOLEAN"
        meaning, owner = docs.get(col.name, (None, None)) if is_dataset else (None, None)
        evidence = personal.get(col.name)
        fields.append({
            "name": col.name, "type": col.type, "description": meaning, "owner": owner,
            "roles": _roles(run, col.name) if is_dataset else [],
            "null_rate": s.null_rate if s else None, "distinct": s.distinct if s else None,
            "min": _bound(s.min, col.type) if shown and ranged else None,
            "max": _bound(s.max, col.type) if shown and ranged else None,
            "top_values": tops.get(col.name) if shown else None,
            "newest": newest if shown else None,
            "personal_data": ({"looks_like": [KIND_NAMES[k] for k in evidence.kinds(share)],
                               "name_suggests": HINT_NAMES.get(evidence.hint, evidence.hint) if evidence.hint else None}
                              if evidence is not None else None),
            "example_sql": _example(reading, col.name, key),
        })
    as_of = run.as_of if run.as_of.tzinfo else run.as_of.replace(tzinfo=UTC)
    return {
        "name": table.name, "kind": kind, "source": table.source, "description": description_of(kind, table.name,
                                                                                               description),
        "rows": table.rows, "bytes": fingerprint.bytes if fingerprint else None,
        "newest": newest_of_table.isoformat() if newest_of_table else None,
        "freshness_hours": (as_of - newest_of_table).total_seconds() / 3600 if newest_of_table else None,
        "fields": fields,
    }


def description_of(kind: str, name: str, given: str | None) -> str | None:
    if given or kind != "dataset":
        return given
    field = Datasets.model_fields.get(name)
    text = field.description if field is not None else None
    return f"{text[0].upper()}{text[1:]}." if text else None


def gather(run: RunState, catalog: Sequence[CatalogEntry], *, personal: Mapping[str, Mapping[str, PersonalColumn]],
           share: float, fingerprints: Mapping[str, Fingerprint]) -> dict[str, Any]:
    """report.json's `dictionary`: {"tables": [...]} over the datasets, then the catalog tables.
    `personal`: the columns holding personal data per table (auditor.audit.personal.flagged_columns)."""
    docs = field_docs(run.config)
    sources = [(ds, "dataset", example_from(getattr(run.config.datasets, name), name), None)
               for name, ds in run.datasets.items()]
    sources += [(e.table, "catalog", e.reading, e.item.description) for e in catalog]
    return {"tables": [table_measures(run, table, kind=kind, reading=reading, description=description,
                                      personal=personal.get(table.name, {}), share=share, docs=docs,
                                      fingerprint=fingerprints.get(table.name))
                       for table, kind, reading, description in sources]}
