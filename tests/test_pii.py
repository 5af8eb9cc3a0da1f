"""data.pii: the scan in SQL (every value, Luhn and mod-97 in SQL, checked against python-stdnum), the
grading, the names, the masks; and no planted value in any output file of a run."""

from __future__ import annotations

import email
import email.policy
import html
import json
import random
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from stdnum import luhn
from stdnum.iso7064 import mod_97_10

from auditor.cli import main
from auditor.engine import pii
from auditor.engine.duckdb_engine import Engine
from tests.conftest import BASE_SELECT, results, write_parquet

AS_OF = datetime(2026, 11, 27)


@pytest.fixture(scope="module")
def engine():
    e = Engine(threads=2)
    yield e
    e.close()


def scan_values(engine: Engine, values: list[str | None]) -> pii.ColumnScan:
    engine.execute("CREATE OR REPLACE TABLE probe (v VARCHAR)")
    engine.execute("INSERT INTO probe SELECT unnest(?::VARCHAR[])", [values])
    found, _ = pii.scan(engine, "probe", ["v"], as_of=AS_OF)
    return found["v"]


def test_luhn_in_sql_agrees_with_stdnum(engine):
    rng = random.Random(7)
    # Visa-shaped numbers (prefix 4, 16 digits), one in ten Luhn-valid by chance, some grouped by four.
    numbers = ["4" + "".join(rng.choice("0123456789") for _ in range(15)) for _ in range(3000)]
    shown = [" ".join(n[i:i + 4] for i in range(0, 16, 4)) if k % 3 == 0 else n for k, n in enumerate(numbers)]
    expected = sum(luhn.is_valid(n) for n in numbers)
    assert 200 < expected < 400
    assert scan_values(engine, shown).matches.get("card", 0) == expected


def test_iban_mod97_in_sql_agrees_with_stdnum(engine):
    rng = random.Random(11)
    values, expected = [], 0
    for _ in range(3000):
        country = rng.choice(["DE", "FR", "GB", "NL", "ES"])
        body = "".join(rng.choice("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(rng.randint(11, 30)))
        check = f"{rng.randint(0, 99):02d}"
        if rng.random() < 0.3:  # a third get their real check digits
            check = f"{98 - int(''.join(str(int(c, 36)) for c in body + country) + '00') % 97:02d}"
        code = country + check + body
        expected += mod_97_10.is_valid("".join(str(int(c, 36)) for c in code[4:] + code[:4]))
        values.append(" ".join(code[i:i + 4] for i in range(0, len(code), 4)) if rng.random() < 0.5 else code)
    assert 800 < expected < 1100
    assert scan_values(engine, values).matches.get("iban", 0) == expected


KINDS_SEEN = {
    "email": (["ana.lopez@example.com", "x_y+tag@mail.example.org"], ["ana@", "@example.com", "a@b", "not an email"]),
    "phone": (["+44 20 7946 0123", "(415) 555-0100", "0049 30 1234567"], ["12345", "1234.56789", "2026-11-20 10:00",
                                                                          "192.168.10.10", "123-45-6789"]),
    "card": (["4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005"],
             ["4111 1111 1111 1112", "1234567890123456", "0000 0000 0000 0000"]),
    "iban": (["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432"], ["DE89 3704 0044 0532 0130 01", "XX00"]),
    "ip": (["192.168.1.10", "2001:db8::1", "::1"], ["999.1.1.1", "1.2.3", "12:30:45"]),
    "ssn": (["123-45-6789", "078-05-1120"], ["000-12-3456", "666-12-3456", "900-12-3456", "123-00-6789", "123456789"]),
    "dob": (["1985-03-12", "12/03/1985", "01.02.1960"], ["2026-11-20", "1800-01-01", "2015-05-05", "1985-13-45"]),
}


@pytest.mark.parametrize("kind", list(KINDS_SEEN))
def test_each_kind_matches_its_values_and_not_look_alikes(engine, kind):
    good, bad = KINDS_SEEN[kind]
    found = scan_values(engine, [*good, *bad, None])
    assert found.values == len(good) + len(bad)  # nulls are not values
    assert found.matches.get(kind, 0) == len(good), (kind, found)
    assert kind in found.examples and not any(v in found.examples[kind] for v in good)  # masked


def test_plain_columns_match_nothing(engine):
    rng = random.Random(3)
    plain = ([f"order-{i}" for i in range(200)] + ["north", "south", "salaried", "v1.2.0"] +
             [f"{rng.random():.6f}" for _ in range(200)] + [str(rng.randint(0, 10**9)) for _ in range(200)] +
             [f"2026-{m:02d}-{d:02d}" for m in range(1, 13) for d in (1, 15)] +  # ISO event dates: recent
             ["7c9e6679-7425-40de-944b-e07fc1f90ae7", "The applicant called twice about the loan."])
    assert scan_values(engine, plain).matches == {}


@pytest.mark.parametrize(("name", "hint"), [
    ("email", "email"), ("contact_email", "email"), ("EmailAddress", "email"), ("phone_number", "phone"),
    ("first_name", "name"), ("customerName", "name"), ("name", "name"), ("surname", "name"),
    ("date_of_birth", "dob"), ("dob", "dob"), ("ssn", "national id"), ("social_security_number", "ssn"),
    ("ip_address", "ip"), ("home_address", "address"), ("postcode", "address"), ("iban", "iban"),
    ("card_number", "card"), ("product_name", None), ("model_name", None), ("file_name", None), ("income", None),
    ("region", None), ("sex", None), ("timestamp", None), ("tip", None), ("shipping_cost", None),
])
def test_name_hints(name, hint):
    assert pii.name_hint(name) == hint


def test_masks_keep_the_shape_not_the_content():
    assert pii.mask("john.doe@example.com") == "j***@e***.com"
    assert pii.mask("Alice Smith") == "A*** S***"
    assert pii.mask("+1 415-555-0100") == "+* ***-***-****"
    assert pii.mask("4111 1111 1111 1111") == "**** **** **** ****"
    assert "3704" not in pii.mask("DE89 3704 0044 0532 0130 00")


# ---------------------------------------------------------------- the check

PLANTED = """
SELECT i AS id, 20 + i % 50 AS age, (i % 3 > 0)::INTEGER AS label, ((i * 13) % 100) / 100.0 AS score,
       (((i * 13) % 100) >= 50)::INTEGER AS prediction, ['female', 'male'][1 + i % 2] AS sex,
       ['north', 'south', 'east', 'west'][1 + i % 4] AS region,
       CASE WHEN i % 10 < 6 THEN 'client' || i || '@example.com' ELSE 'n/a' END AS contact,
       ['+44 20 7946 0011', '+44 20 7946 0022', '+44 20 7946 0033'][1 + i % 3] AS callback,
       CASE WHEN i % 20 = 0 THEN '4111 1111 1111 1111' ELSE 'none' END AS note,
       ['DE89 3704 0044 0532 0130 00', 'GB82WEST12345698765432'][1 + i % 2] AS account,
       ['Maria Keller', 'Tom Okafor', 'Ines Dubois', 'Li Wei'][1 + i % 4] AS customer_name,
       CASE WHEN i % 50 = 0 THEN '1.2.3.4' ELSE 'web' END AS channel
FROM range(400) t(i)
"""
PLANTED_VALUES = ["client10@example.com", "client399@example.com", "+44 20 7946 0011", "+44 20 7946 0033",
                  "4111 1111 1111 1111", "4111111111111111", "DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432",
                  "Maria Keller", "Tom Okafor", "Ines Dubois", "Li Wei"]


def make(root: Path, *, reference: str = BASE_SELECT.format(n=400), current: str = PLANTED, **config) -> Path:
    write_parquet(root / "data" / "reference.parquet", reference)
    write_parquet(root / "data" / "current.parquet", current)
    write_parquet(root / "data" / "crm.parquet", "SELECT i AS k, 'lead' || i || '@example.org' AS mail, "
                  "['Ann Berg', 'Bo Lind'][1 + i % 2] AS full_name FROM range(50) t(i)")
    cfg = {"project": {"name": "pii"},
           "datasets": {"reference": {"path": "data/reference.parquet"}, "current": {"path": "data/current.parquet"}},
           "columns": {"id": "id", "label": "label", "score": "score", "prediction": "prediction",
                       "sensitive": ["sex"], "features": ["age", "region", "sex", "contact", "callback"]},
           "catalog": ["data/crm.parquet"], **config}
    (root / "audit.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return root / "audit.yaml"


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    from auditor import load_config, run_audit

    root = tmp_path_factory.mktemp("pii")
    return run_audit(load_config(make(root)), stages=["data"], as_of=AS_OF)


def test_planted_columns_are_flagged_and_plain_ones_are_not(planted):
    found = results(planted, "data.pii")
    assert found["contact"].metrics["share_email"] == pytest.approx(0.6)  # 240 of 400
    assert found["contact"].status == "fail" and "model feature" in found["contact"].message  # a declared feature
    assert found["callback"].status == "fail" and found["callback"].metrics["kinds"] == "phone numbers"
    assert found["account"].status == "warn" and found["account"].metrics["share_iban"] == 1.0
    assert found["note"].status == "warn" and found["note"].metrics["share_card"] == pytest.approx(0.05)
    assert found["customer_name"].status == "warn" and found["customer_name"].metrics["name_suggests"] == "name"
    assert "channel" not in found  # 2% look like IPs: under the 5% share
    for col in ("region", "label", "age"):
        assert col not in found
    assert "sensitive attribute" in found["sex"].message  # its own result: sex is no personal data by value
    summary = found["(text columns)"]
    assert set(summary.columns) == {"sex", "region", "contact", "callback", "note", "account", "customer_name", "channel"}
    assert found["reference: (text columns)"].status == "pass"


def test_sensitive_attribute_used_as_a_feature_is_reported(planted):
    sensitive = [r for r in planted.checks if r.id == "data.pii" and r.subject == "sex"]
    assert len(sensitive) == 1 and sensitive[0].status == "warn" and "sensitive attribute" in sensitive[0].message
    assert sensitive[0].metrics["sensitive_feature"] is True


def test_a_sensitive_feature_shares_the_fairness_finding(tmp_path):
    from auditor import load_config, run_audit

    biased = PLANTED.replace("(((i * 13) % 100) >= 50)::INTEGER AS prediction", "(i % 2 = 1)::INTEGER AS prediction")
    report = run_audit(load_config(make(tmp_path, current=biased)), as_of=AS_OF)  # only men are approved
    finding = next(f for f in report.findings if ("data.pii", "sex") in f.results)
    assert finding.title.startswith("Unequal treatment by")
    assert any(check_id.startswith("modeling.") for check_id, _ in finding.results), finding


def test_share_ignore_and_sensitive_options(tmp_path):
    from auditor import load_config, run_audit

    config = make(tmp_path, checks={"data.pii": {"share": 0.01, "ignore": ["account"],
                                                 "sensitive_as_feature": "fail"}})
    found = results(run_audit(load_config(config), stages=["data"], as_of=AS_OF), "data.pii")
    assert found["channel"].status == "warn"  # 2% now holds
    assert "account" not in found
    assert found["sex"].status == "fail"


def test_without_declared_features_a_personal_column_warns_and_says_why(tmp_path):
    from auditor import load_config, run_audit

    config = make(tmp_path, columns={"id": "id", "label": "label", "score": "score", "prediction": "prediction"})
    found = results(run_audit(load_config(config), stages=["data"], as_of=AS_OF), "data.pii")
    assert found["contact"].status == "warn" and "columns.features is not set" in found["contact"].message


def test_dates_of_birth_alone_warn_even_on_a_feature(tmp_path):
    from auditor import load_config, run_audit

    write_parquet(tmp_path / "data" / "current.parquet",
                  "SELECT i AS id, (DATE '1970-01-01' + (i * 37)::INTEGER)::VARCHAR AS opened, i % 2 AS label "
                  "FROM range(300) t(i)")
    cfg = {"datasets": {"current": {"path": "data/current.parquet"}},
           "columns": {"id": "id", "label": "label", "features": ["opened"]}}
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(cfg))
    found = results(run_audit(load_config(tmp_path / "audit.yaml"), stages=["data"], as_of=AS_OF), "data.pii")
    assert found["opened"].status == "warn" and "weak evidence" in found["opened"].message


# ---------------------------------------------------------------- no value in any output

def output_texts(out: Path) -> dict[str, str]:
    """Every output file as the text a reader sees: HTML entities and Markdown escapes undone, every
    MIME part of the email decoded (quoted-printable text, the base64 report.html attachment)."""
    texts = {}
    for path in sorted(out.iterdir()):
        if path.suffix == ".eml":
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            parts = [p.get_content() for p in message.walk() if not p.is_multipart()]
            texts[path.name] = "\n".join(p.decode("latin-1") if isinstance(p, bytes) else p for p in parts)
            texts[path.name + " (raw)"] = path.read_text(encoding="latin-1")
        else:
            texts[path.name] = path.read_text(encoding="utf-8")
    return {name: html.unescape(text).replace("\\", "") for name, text in texts.items()}


def test_no_planted_value_appears_in_any_output_file(tmp_path):
    config = make(tmp_path, reference=PLANTED, schema="schema.yaml")
    # A schema that fails on the personal columns: its failure cases would show their values.
    (tmp_path / "schema.yaml").write_text(yaml.safe_dump({
        "schema_type": "dataframe", "columns": {
            "contact": {"dtype": "str", "nullable": True, "checks": {"str_length": {"max_value": 5}}},
            "customer_name": {"dtype": "str", "nullable": False, "checks": {"isin": ["Nobody Here"]}},
            "account": {"dtype": "str", "nullable": False, "checks": {"str_startswith": "DE"}}},
        "strict": False, "coerce": False}))
    out = tmp_path / "out"
    code = main(["run", str(config), "--out", str(out), "--format", "json,html,md,email,junit,dictionary",
                 "--as-of", "2026-11-27"])
    assert code == 1
    texts = output_texts(out)
    assert {"report.json", "report.html", "report.md", "email.eml", "junit.xml", "dictionary.html",
            "dictionary.md", "dictionary.json"} <= set(texts)
    for name, text in texts.items():
        # 1.2.3.4: 2% of `channel`, under the share, yet it looks like an IP wherever a check shows it.
        for value in [*PLANTED_VALUES, "lead7@example.org", "Ann Berg", "1.2.3.4"]:
            assert value not in text, f"{value!r} in {name}"
    report = json.loads((out / "report.json").read_text())
    schema_fails = [c for c in report["checks"] if c["id"] == "data.schema" and c["status"] == "fail"]
    assert {c["columns"][0] for c in schema_fails} >= {"customer_name", "account"}  # the values were there to hide
    assert "c***@e***.com" in texts["report.html"] and "T*** O***" in texts["report.json"]  # masked, not dropped
    dictionary = json.loads((out / "dictionary.json").read_text())
    fields = {(t["name"], f["name"]): f for t in dictionary["tables"] for f in t["fields"]}
    assert fields[("crm", "mail")]["top_values"] is None and fields[("crm", "mail")]["personal_data"]
    assert fields[("current", "region")]["top_values"]  # plain columns keep theirs
