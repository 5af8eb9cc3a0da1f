"""Personal data in text columns: what share of values look like emails, phones, cards, IBANs, IP
addresses, US social security numbers or dates of birth, in SQL over every value.

Each kind is one SQL predicate over a trimmed text value `v`, declared once in `KINDS` and used
everywhere: the scan of a table's text columns (one statement, each predicate evaluated once per
value, the costly part of each behind a cheap gate and a CASE so it runs only where its pattern can
match), the same scan over columns' exact value counts (few-valued columns: nothing is read again),
and the test of loose strings (`matching`: the report's own strings, before it is written). Payment card numbers
must pass the Luhn check and IBANs the ISO 13616 mod-97 check, both in SQL.

Only masked examples leave this module (`mask`: `j***@e***.com`); column names that suggest personal
data (`name_hint`) count as well.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from auditor.engine import long_form
from auditor.engine.base import Engine
from auditor.engine.sql import quote_ident

DIGITS = "regexp_replace(v, '[^0-9]', '', 'g')"
IPV4 = r"((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
IPV6 = (r"([0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}"
        r"|(([0-9a-fA-F]{1,4}:){0,6}[0-9a-fA-F]{1,4})?::(([0-9a-fA-F]{1,4}:){0,6}[0-9a-fA-F]{1,4})?")
# Issuer prefixes and lengths of Visa, Mastercard (51-55, 2221-2720), Amex, Discover, JCB and Diners:
# 16 random digits pass Luhn one time in ten, but rarely with a scheme's prefix too.
CARD = (r"4[0-9]{12}([0-9]{3}){0,2}|5[1-5][0-9]{14}|2(2(2[1-9]|[3-9][0-9])|[3-6][0-9]{2}|7([01][0-9]|20))[0-9]{12}"
        r"|3[47][0-9]{13}|6(011|5[0-9]{2})[0-9]{12,15}|35[0-9]{14}|3(0[0-5]|[68][0-9])[0-9]{11}")
# Luhn: from the right, every second digit doubled (minus 9 past 9); the sum is a multiple of 10.
LUHN = ("list_sum(list_transform(string_split(reverse({d}), ''), lambda x, i: CASE WHEN i % 2 = 0 "
        "THEN 2 * x::INTEGER - CASE WHEN x::INTEGER >= 5 THEN 9 ELSE 0 END ELSE x::INTEGER END)) % 10 = 0")
# ISO 13616: the first four characters moved to the end, letters read as 10..35, the number mod 97 is 1;
# folded left to right so no big number is built (a letter adds two digits, a digit one).
IBAN_TEXT = "upper(replace(v, ' ', ''))"
MOD97 = ("list_reduce(list_prepend(0, list_transform(string_split(substr({s}, 5) || substr({s}, 1, 4), ''), "
         "lambda c: CASE WHEN c >= 'A' THEN ascii(c) - 55 + 1000 ELSE ascii(c) - 48 END)), "
         "lambda acc, x: CASE WHEN x >= 1000 THEN (acc * 100 + x - 1000) % 97 ELSE (acc * 10 + x) % 97 END) = 1")
DATE_FORMATS = "['%Y-%m-%d', '%d/%m/%Y', '%m/%d/%Y', '%d.%m.%Y']"
BIRTH_AGES = (16, 100)  # a date this many years before the as-of time reads as a date of birth

DIGIT_FIRST = "ascii(v) BETWEEN 48 AND 57"
# Per kind: a cheap gate (length, first character, one `contains`) and the predicate proper, evaluated
# only where the gate lets a value through: a text column of free text or UUIDs is mostly gated out.
PATTERNS: dict[str, tuple[str, str]] = {
    "email": ("contains(v, '@')",
              r"regexp_full_match(v, '[A-Za-z0-9._%+''-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}')"),
    "phone": (f"length(v) BETWEEN 9 AND 24 AND ({DIGIT_FIRST} OR ascii(v) IN (40, 43))",
              r"regexp_full_match(v, '(\+|00)[1-9][0-9 ().-]{7,20}|\(?[0-9]{2,4}\)?[ .-][0-9]{2,4}([ .-][0-9]{2,4}){1,3}')"
              f" AND NOT regexp_full_match(v, '{IPV4}|[0-9]{{3}}-[0-9]{{2}}-[0-9]{{4}}') AND length({DIGITS}) BETWEEN 9 AND 15"),
    "card": (f"length(v) BETWEEN 13 AND 23 AND {DIGIT_FIRST}",
             f"CASE WHEN regexp_full_match(v, '[0-9][0-9 -]{{11,22}}[0-9]') AND regexp_full_match("
             f"replace(replace(v, ' ', ''), '-', ''), '{CARD}') THEN {LUHN.format(d=DIGITS)} ELSE false END"),
    "iban": ("length(v) BETWEEN 15 AND 42 AND (ascii(v) BETWEEN 65 AND 90 OR ascii(v) BETWEEN 97 AND 122)",
             f"CASE WHEN regexp_full_match({IBAN_TEXT}, '[A-Z]{{2}}[0-9]{{2}}[A-Z0-9]{{11,30}}') "
             f"THEN {MOD97.format(s=IBAN_TEXT)} ELSE false END"),
    "ip": ("length(v) BETWEEN 2 AND 45 AND (contains(v, '.') OR contains(v, ':'))",
           f"regexp_full_match(v, '{IPV4}') OR (contains(v, ':') AND regexp_full_match(v, '{IPV6}'))"),
    "ssn": (f"length(v) = 11 AND {DIGIT_FIRST}",
            "regexp_full_match(v, '[0-9]{3}-[0-9]{2}-[0-9]{4}') AND substr(v, 1, 3) NOT IN ('000', '666') "
            "AND substr(v, 1, 1) <> '9' AND substr(v, 5, 2) <> '00' AND substr(v, 8, 4) <> '0000'"),
    "dob": (f"length(v) BETWEEN 8 AND 10 AND {DIGIT_FIRST}",
            r"CASE WHEN regexp_full_match(v, '[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{1,2}[/.][0-9]{1,2}[/.][0-9]{4}') "
            f"THEN date_diff('year', try_strptime(v, {DATE_FORMATS}), $as_of) BETWEEN {BIRTH_AGES[0]} AND {BIRTH_AGES[1]} "
            "ELSE false END"),
}
KINDS: dict[str, str] = {kind: f"CASE WHEN {gate} THEN {predicate} ELSE false END"
                         for kind, (gate, predicate) in PATTERNS.items()}
KIND_NAMES = {"email": "email addresses", "phone": "phone numbers", "card": "payment card numbers",
              "iban": "IBANs", "ip": "IP addresses", "ssn": "US social security numbers", "dob": "dates of birth"}
HINT_NAMES = {"email": "an email address", "phone": "a phone number", "iban": "a bank account", "ip": "an IP address",
              "national id": "a national id number", "dob": "a date of birth", "address": "a postal address",
              "name": "a person's name", "card": "a payment card number", "ssn": "a social security number"}

# One statement per table for every text column to read (per MAX_COLUMNS of them, or fewer where reading them
# would not fit the memory limit: auditor.engine.long_form): UNPIVOT makes a (column name, value) row of each
# non-null value, the predicates are computed once per row (`flags`), then counted and the smallest matching
# value kept per column and kind, to be masked (`mask`) before it goes anywhere. The grouping has a group per
# column, so memory does not grow with rows; nor the statement with columns, as a UNION ALL of a branch per
# column would (a 75-column table of 10k rows: 0.75 CPU s that way, 0.11 this way; 1M rows of 5 columns: alike).
# Columns whose exact value counts the run has are tested from them instead, in a second statement.
SCAN_SQL = "SELECT name, sum(w)::BIGINT, {aggregates} FROM (SELECT name, v, w, {flags} FROM ({rows})) GROUP BY name"
SCANNED_ROWS = ("SELECT name, trim(value) AS v, 1 AS w FROM "
                "(UNPIVOT (SELECT {columns} FROM {view}) ON COLUMNS(*) INTO NAME name VALUE value)")
COUNTED_ROWS = ("SELECT unnest($names::VARCHAR[]) AS name, trim(unnest($values::VARCHAR[])) AS v, "
                "unnest($counts::BIGINT[]) AS w")
MATCHING_SQL = "SELECT DISTINCT s FROM (SELECT s, trim(s) AS v FROM (SELECT unnest($strings::VARCHAR[]) AS s)) WHERE {predicate}"

# Words in a column name that say what it holds (the name split at _, -, spaces and camelCase).
NAME_WORDS: dict[str, str] = {
    **dict.fromkeys(("email", "e_mail", "mail", "emailaddress"), "email"),
    **dict.fromkeys(("phone", "telephone", "tel", "mobile", "msisdn", "cellphone", "fax"), "phone"),
    **dict.fromkeys(("iban", "bic", "swift"), "iban"),
    **dict.fromkeys(("ssn", "sin", "nino", "passport", "nationalid", "national_id", "taxid", "tax_id"), "national id"),
    **dict.fromkeys(("dob", "birthdate", "birthday", "birth", "born"), "dob"),
    **dict.fromkeys(("ip", "ipv4", "ipv6", "ipaddress", "ip_address"), "ip"),
    **dict.fromkeys(("address", "street", "zip", "zipcode", "postcode", "postal", "postalcode"), "address"),
    **dict.fromkeys(("surname", "username", "firstname", "lastname", "fullname", "forename", "maiden"), "name"),
}
# "name" alone, or with one of these ("first_name", "customer_name"): a person's name; "product_name" is not.
PERSON_WORDS = frozenset({"first", "last", "full", "given", "family", "middle", "maiden", "sur", "customer", "client",
                          "applicant", "person", "patient", "employee", "contact", "holder", "account_holder",
                          "user", "member", "owner", "legal", "display", "real", "birth", "mother", "father"})
PHRASES = {("card", "number"): "card", ("credit", "card"): "card", ("cc", "number"): "card",
           ("social", "security"): "ssn", ("date", "of", "birth"): "dob", ("user", "name"): "name",
           ("home", "address"): "address", ("e", "mail"): "email"}


def name_hint(column: str) -> str | None:
    """What personal data a column's name suggests ("email", "name", "dob", ...), or None."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(column))
    words = [w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w]
    joined = "_".join(words)
    if joined in NAME_WORDS:
        return NAME_WORDS[joined]
    for size in (3, 2):
        for i in range(len(words) - size + 1):
            if tuple(words[i:i + size]) in PHRASES:
                return PHRASES[tuple(words[i:i + size])]
    if "name" in words and (words == ["name"] or PERSON_WORDS & set(words)):
        return "name"
    if "ip" in words and "address" in words:
        return "ip"
    for word in words:
        if word in NAME_WORDS:
            return NAME_WORDS[word]
    return None


def mask(value: Any) -> str:
    """A value's shape without its content: `john.doe@example.com` -> `j***@e***.com`, `Alice Smith` ->
    `A*** S***`, digits -> `*` one for one (`+1 415-555-0100` -> `+* ***-***-****`)."""
    text = str(value)
    email = re.fullmatch(r"\s*([^@\s])[^@]*@([^@\s])[^@]*?(\.[A-Za-z]{2,})?\s*", text)
    if email:
        return f"{email.group(1)}***@{email.group(2)}***{email.group(3) or ''}"
    return re.sub(r"[^\W\d_]+", lambda m: m.group(0)[0] + "***", re.sub(r"\d", "*", text))


@dataclass
class ColumnScan:
    """One text column: its non-null values and, per kind, how many match and a masked example."""

    values: int
    matches: dict[str, int] = field(default_factory=dict)
    examples: dict[str, str] = field(default_factory=dict)

    def share(self, kind: str) -> float | None:
        return self.matches.get(kind, 0) / self.values if self.values else None


def scan_sql(rows: str) -> str:
    """The scan over `rows` (name, v, w): per column, its values and, per kind, the matches and the
    smallest matching value."""
    flags = ", ".join(f"({predicate}) AS {kind}" for kind, predicate in KINDS.items())
    aggregates = ", ".join(f"sum(w) FILTER (WHERE {kind})::BIGINT, min(v) FILTER (WHERE {kind})" for kind in KINDS)
    return SCAN_SQL.format(aggregates=aggregates, flags=flags, rows=rows)


def scan(engine: Engine, view: str, columns: Sequence[str], *, as_of: datetime,
         counted: Mapping[str, Mapping[Any, int]] | None = None) -> tuple[dict[str, ColumnScan], list[str]]:
    """Per text column, the matches of each kind (examples masked), and the statements run: one over
    the table for the columns read, one over the bound value counts of the others (`counted`)."""
    counted = {c: counted[c] for c in columns if c in (counted or {})}
    read = [c for c in columns if c not in counted]
    statements: list[tuple[str, dict[str, Any]]] = []
    for batch in long_form.batches(read, read=engine.read_shares(view)):  # few statements, whatever the width
        picked = ", ".join(f"{quote_ident(c)}::VARCHAR AS {quote_ident(c)}" for c in batch)
        statements.append((scan_sql(SCANNED_ROWS.format(columns=picked, view=view)), {}))
    if counted:
        names = [c for c, counts in counted.items() for _ in counts]
        values = [str(v) for counts in counted.values() for v in counts]
        rows = [int(n) for counts in counted.values() for n in counts.values()]
        statements.append((scan_sql(COUNTED_ROWS), {"names": names, "values": values, "counts": rows}))
    found = {c: ColumnScan(values=0) for c in columns}  # a column of nulls alone has no row to count
    for sql, params in statements:
        for row in engine.query(sql, {**params, "as_of": as_of.replace(tzinfo=None)}):  # type: ignore[arg-type]
            name, values, rest = row[0], row[1], row[2:]
            result = found[name] = ColumnScan(values=int(values or 0))
            for k, kind in enumerate(KINDS):
                n, example = rest[2 * k], rest[2 * k + 1]
                if n:
                    result.matches[kind] = int(n)
                    result.examples[kind] = mask(example)
    return found, [sql for sql, _ in statements]


def matching(engine: Engine, strings: Sequence[str], *, as_of: datetime) -> set[str]:
    """Which of these strings look like personal data of any kind (the report's own text, tested
    with the very predicates the scan uses)."""
    if not strings:
        return set()
    predicate = " OR ".join(f"({p})" for p in KINDS.values())
    params = {"strings": list(strings), "as_of": as_of.replace(tzinfo=None)}
    return {r[0] for r in engine.query(MATCHING_SQL.format(predicate=predicate), params)}  # type: ignore[arg-type]
