"""Failing rows exported: the rows of current behind a failing or warning result, written to
`failures/<check id>.parquet` beside the report, so a person can fix the data.

A check that supports it declares `ExportOptions` (`export_failures`, `export_max_rows`) and, for each
failing or warning result, says which rows broke which rule (`CheckContext.export_rows`: a rule
name and an SQL condition on current). After every check has run, and once the PII scan knows which
columns hold personal data, `write_failures` writes one Parquet file per check through the engine:
one row per (row, rule broken), every column of current (personal data masked), plus `dataset` and
`rule`. Each result gains `evidence.files`: the file, its rule, the rows written and the rows that
broke it (the file holds at most `export_max_rows`; the result says when it cut).

`run_audit` writes no report, and writes these only when given a folder (`failures_dir`): the
command line stages them and moves them beside the reports (auditor.delivery.files).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field

from auditor.audit.context import FailingRows, RunState
from auditor.audit.options import CheckOptions, Size
from auditor.engine.sql import quote_ident
from auditor.report import FAILURES_FOLDER, CheckResult

# A value of a column holding personal data, masked in SQL as auditor.engine.pii.mask masks it in
# Python: digits become '*', each run of letters keeps its first letter ('Alice Smith' -> 'A*** S***').
MASK_SQL = r"regexp_replace(regexp_replace(CAST({col} AS VARCHAR), '[0-9]', '*', 'g'), '([^\W\d_])[^\W\d_]*', '\1***', 'g')"
COUNT_BY_RULE_SQL = "SELECT {rule}, count(*) FROM {rows} GROUP BY ALL"


class ExportOptions(CheckOptions):
    """The options of a check that can export its failing rows."""

    export_failures: bool = Field(False, description="write the failing rows of current to "
                                  "failures/<check id>.parquet beside the report, one row per (row, rule broken)")
    export_max_rows: Size = Field(1_000_000, description="rows written at most; the report says when it cuts")


def file_name(check_id: str) -> str:
    return f"{check_id}.parquet"


def _extra_names(columns: list[str]) -> tuple[str, str]:
    """`dataset` and `rule`, or `_dataset` and `_rule` when the table has columns of those names."""
    taken = set(columns)
    dataset, rule = "dataset", "rule"
    while dataset in taken or rule in taken:
        dataset, rule = f"_{dataset}", f"_{rule}"
    return dataset, rule


def rows_sql(run: RunState, wanted: list[FailingRows], personal: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """One SELECT of every listed rule's rows (UNION ALL), personal columns masked, and its parameters."""
    current = run.datasets["current"]
    names = current.column_names
    dataset_col, rule_col = _extra_names(names)
    shown = ", ".join(MASK_SQL.format(col=quote_ident(c)) + f" AS {quote_ident(c)}" if c in personal
                      else quote_ident(c) for c in names)
    parts, params = [], []
    for rows in wanted:
        parts.append(f"SELECT ? AS {quote_ident(dataset_col)}, ? AS {quote_ident(rule_col)}, {shown} "
                     f"FROM {current.view} WHERE {rows.condition}")
        params += ["current", rows.rule, *rows.params]
    return " UNION ALL ".join(parts), params


def rows_per_rule(path: Path, rule_column: str) -> dict[str, int]:
    """How many rows of a written file (at most export_max_rows) break each rule, read back from the file
    itself: on Spark the driver wrote it, where the executors may not see it."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    counted = pc.value_counts(pq.read_table(path, columns=[rule_column]).column(rule_column))
    return {str(entry["values"]): int(entry["counts"]) for entry in counted.to_pylist()}


def write_failures(run: RunState, results: list[CheckResult], options: Mapping[str, CheckOptions],
                   personal: Mapping[str, Mapping[str, Any]], folder: Path | None) -> list[CheckResult]:
    """Write each check's failing rows (one file per check) and add `evidence.files` to its results."""
    files: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
    for check_id, wanted in run.exports.items():
        if not wanted:
            continue
        limit = options[check_id].export_max_rows  # type: ignore[attr-defined]
        rows, params = rows_sql(run, wanted, personal.get("current", {}))
        rule_col = quote_ident(_extra_names(run.datasets["current"].column_names)[1])
        broke = dict(run.engine.query(COUNT_BY_RULE_SQL.format(rule=rule_col, rows=f"({rows})"), params))
        written: dict[str, int] = {}
        path = None
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / file_name(check_id)
            run.engine.write_parquet(f"{rows} LIMIT {int(limit)}", params, target)
            written = rows_per_rule(target, _extra_names(run.datasets["current"].column_names)[1])
            path = f"{FAILURES_FOLDER}/{file_name(check_id)}"
        for rows_of in wanted:
            total = int(broke.get(rows_of.rule, 0))
            entry = {"path": path, "rule": rows_of.rule, "rows": int(written.get(rows_of.rule, 0)), "total": total,
                     "capped": path is not None and written.get(rows_of.rule, 0) < total}
            if path is None:
                entry["note"] = "not written: no folder given (the command line writes them beside the report)"
            files.setdefault((check_id, rows_of.subject), []).append(entry)
    if not files:
        return results
    out = []
    for result in results:
        found = files.get((result.id, result.subject))
        out.append(dataclasses.replace(result, evidence={**result.evidence, "files": found}) if found else result)
    return out
