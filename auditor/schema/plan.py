"""What a compiled schema is made of: rules SQL can count, and the outcome of each (column, check)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

COMPARISONS = {
    "equal_to": "=", "not_equal_to": "<>", "greater_than": ">", "greater_than_or_equal_to": ">=",
    "less_than": "<", "less_than_or_equal_to": "<=",
}
STRING_CHECKS = ("str_matches", "str_contains", "str_startswith", "str_endswith", "str_length")
BUILTINS = frozenset({*COMPARISONS, "in_range", "isin", "notin", *STRING_CHECKS})
INTEGER_TARGETS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")


@dataclass(frozen=True)
class Rule:
    """One compiled check: its SQL violation predicate, or the key columns of a uniqueness rule."""

    column: str
    check: str  # pandera's name for the check, as in SchemaErrors.failure_cases["check"]
    violation: str | None = None  # SQL, TRUE on a violating row
    params: tuple = ()
    sample: str | None = None  # SQL of the value shown as a failure case
    key: tuple[str, ...] = ()  # uniqueness: the key expressions
    keep: str = "all"


@dataclass
class Outcome:
    """The verdict of one (column, check) on one table."""

    column: str
    check: str
    failures: int
    rows: int | None
    sample_columns: list[str] = field(default_factory=lambda: ["failure_case"])
    sample: list[list] = field(default_factory=list)
    detail: str | None = None
    engine: str = "duckdb"  # or "pandera" (custom checks on streamed chunks)

    @property
    def rate(self) -> float | None:
        return self.failures / self.rows if self.rows else None


@dataclass
class SchemaPlan:
    rules: list[Rule] = field(default_factory=list)
    decided: list[Outcome] = field(default_factory=list)  # dtype and strictness: known from DESCRIBE
    custom: dict[str, list] = field(default_factory=dict)  # column -> checks pandera must run
    frame_checks: list = field(default_factory=list)  # schema-level custom checks
    expressions: dict[str, str] = field(default_factory=dict)  # column -> SQL (coerced when asked)


def check_name(check: Any) -> str:
    """pandera's identifier for a check in failure_cases: its error text, else its name."""
    return check.error if getattr(check, "error", None) is not None else check.name
