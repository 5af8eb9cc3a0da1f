"""Personal data kept out of the report, whatever check put it there.

Checks show values: a profile's top categories, a schema's failure cases, a constant column's value,
the groups of a slice. Before the report is made, every string a check or the dictionary produced
(table cells, chart categories, metric values, and the quoted parts and words of messages and
subjects) is tested, in two statements per run, and masked (`j***@e***.com`) when it is:

- a value that looks like personal data of any kind (auditor.engine.pii: the very predicates of the
  scan), whichever column it came from; or
- a value of a column that holds personal data (auditor.audit.personal), looked up in that column
  (a person's name matches no pattern). Integers count too in the tables of results about such a column.

The masked report is what every format renders and what the history records.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from typing import Any

from auditor.audit.context import RunState
from auditor.audit.personal import PersonalColumn
from auditor.engine import pii
from auditor.engine.sql import quote_ident
from auditor.report import CheckResult

MAX_CANDIDATE_CHARS = 256
VALUES_OF_SQL = "SELECT DISTINCT v FROM ({columns}) WHERE v IN (SELECT unnest($strings::VARCHAR[]))"
QUOTED = re.compile(r"'([^']{2,})'|\"([^\"]{2,})\"")
WORD_EDGES = ".,;:!?()[]{}"


def _strip_quotes(text: str) -> str:
    return text[1:-1] if len(text) > 2 and text[0] == text[-1] and text[0] in "'\"" else text


def _pieces(text: str) -> Iterable[str]:
    """The parts of a sentence a value may be: quoted passages, and words without their punctuation."""
    for quoted in QUOTED.findall(text):
        yield quoted[0] or quoted[1]
    for word in text.split():
        yield word.strip(WORD_EDGES)


class Candidates:
    """Every string of the results and the dictionary that could be a value, and the integers of the
    tables of results about a column holding personal data."""

    def __init__(self, personal: Mapping[str, Mapping[str, PersonalColumn]]) -> None:
        self.personal = personal
        self.strings: set[str] = set()

    def add(self, value: Any) -> None:
        if isinstance(value, str) and 2 <= len(value) <= MAX_CANDIDATE_CHARS:
            self.strings.add(value)
            self.strings.add(_strip_quotes(value))

    def text(self, text: str | None) -> None:
        if text:
            for piece in _pieces(text):
                self.add(piece)

    def result(self, r: CheckResult) -> None:
        self.text(r.subject)
        self.text(r.message)
        touches = bool(set(r.columns) & set(self.personal.get(r.dataset or "", {})))
        for value in (r.metrics or {}).values():
            self.add(value)
        for t in (r.evidence or {}).get("tables") or []:
            for row in t.get("rows") or []:
                for cell in row if isinstance(row, list) else []:
                    if touches and isinstance(cell, int) and not isinstance(cell, bool):
                        self.add(str(cell))
                    else:
                        self.add(cell)
        for chart in (r.evidence or {}).get("charts") or []:
            for category in chart.get("categories") or []:
                self.add(category)

    def dictionary(self, dictionary: Mapping[str, Any]) -> None:
        for table in dictionary.get("tables") or []:
            for f in table.get("fields") or []:
                for top in f.get("top_values") or []:
                    self.add(top.get("value"))
                self.add(f.get("min"))
                self.add(f.get("max"))


def personal_values(run: RunState, personal: Mapping[str, Mapping[str, PersonalColumn]], strings: list[str]) -> set[str]:
    """Which strings are values of a column holding personal data (one statement per table)."""
    found: set[str] = set()
    for name, columns in personal.items():
        if not columns or not strings:
            continue
        view = run.table(name).view
        union = " UNION ALL ".join(f"SELECT {quote_ident(c)}::VARCHAR AS v FROM {view}" for c in columns)
        found |= {r[0] for r in run.engine.query(VALUES_OF_SQL.format(columns=union), {"strings": strings})}
    return found


class Masker:
    """Replaces the found values wherever they stand: whole strings, quoted strings, words of sentences."""

    def __init__(self, hidden: set[str]) -> None:
        self.hidden = hidden
        ordered = sorted(hidden, key=len, reverse=True)
        self.pattern = re.compile("|".join(rf"(?<!\w){re.escape(h)}(?!\w)" for h in ordered)) if ordered else None

    def value(self, value: Any, *, numbers: bool = False) -> Any:
        if isinstance(value, str):
            if value in self.hidden:
                return pii.mask(value)
            inner = _strip_quotes(value)
            if inner != value and inner in self.hidden:
                return value[0] + pii.mask(inner) + value[-1]
            return self.text(value)
        if numbers and isinstance(value, int) and not isinstance(value, bool) and str(value) in self.hidden:
            return pii.mask(str(value))
        return value

    def text(self, text: str | None) -> str | None:
        if not text or self.pattern is None:
            return text
        return self.pattern.sub(lambda m: pii.mask(m.group(0)), text)

    def result(self, r: CheckResult, personal: Mapping[str, Mapping[str, PersonalColumn]]) -> CheckResult:
        numbers = bool(set(r.columns) & set(personal.get(r.dataset or "", {})))
        evidence = dict(r.evidence or {})
        evidence["tables"] = [{**t, "rows": [[self.value(c, numbers=numbers) for c in row] if isinstance(row, list)
                                             else row for row in t.get("rows") or []]}
                              for t in evidence.get("tables") or []]
        evidence["charts"] = [{**c, "categories": [self.value(x) for x in c["categories"]]} if c.get("categories")
                              else c for c in evidence.get("charts") or []]
        return dataclasses.replace(r, subject=self.text(r.subject), message=self.text(r.message) or "",
                                   metrics={k: self.value(v) for k, v in (r.metrics or {}).items()},
                                   evidence=evidence)

    def dictionary(self, dictionary: dict[str, Any]) -> dict[str, Any]:
        tables = []
        for table in dictionary.get("tables") or []:
            fields = [{**f, "min": self.value(f.get("min")), "max": self.value(f.get("max")),
                       "top_values": [{**t, "value": self.value(t.get("value"))} for t in f["top_values"]]
                       if f.get("top_values") else f.get("top_values")} for f in table.get("fields") or []]
            tables.append({**table, "fields": fields})
        return {**dictionary, "tables": tables}


def redact(run: RunState, results: list[CheckResult], dictionary: dict[str, Any],
           personal: Mapping[str, Mapping[str, PersonalColumn]]) -> tuple[list[CheckResult], dict[str, Any]]:
    """The results and dictionary with every value that is, or looks like, personal data masked."""
    candidates = Candidates(personal)
    for r in results:
        candidates.result(r)
    candidates.dictionary(dictionary)
    strings = sorted(candidates.strings)
    hidden = pii.matching(run.engine, strings, as_of=run.as_of) | personal_values(run, personal, strings)
    if not hidden:
        return results, dictionary
    masker = Masker(hidden)
    return [masker.result(r, personal) for r in results], masker.dictionary(dictionary)
