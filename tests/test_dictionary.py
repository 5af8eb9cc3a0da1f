"""The data dictionary: every field of every dataset and catalog table, described (pandera schema,
columns.descriptions), measured (against pandas), with its quality indicator linked to the checks;
`auditor dictionary` and the `dictionary` format; rebuilt from report.json alone."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

from auditor.cli import main
from tests.conftest import BASE_SELECT, write_parquet

# Current: 3 ages out of the schema's range (a failing field), nulls in region, a timestamp.
CURRENT = BASE_SELECT.format(n=400).replace(
    "20 + (i * 7) % 50 AS age", "CASE WHEN i < 3 THEN 150 ELSE 20 + (i * 7) % 50 END AS age").replace(
    "FROM range", ", TIMESTAMP '2026-11-20' + to_minutes(i::BIGINT) AS ts FROM range")
FIELDS = ["name", "type", "description", "owner", "null_rate", "distinct", "min", "max", "top_values", "newest",
          "indicator", "checks", "roles", "example_sql"]


def make_project(root: Path, **config) -> Path:
    write_parquet(root / "data" / "reference.parquet", BASE_SELECT.format(n=400).replace(
        "FROM range", ", TIMESTAMP '2026-10-01' + to_minutes(i::BIGINT) AS ts FROM range"))
    write_parquet(root / "data" / "current.parquet", CURRENT)
    write_parquet(root / "data" / "products.parquet",
                  "SELECT i AS sku, ['tools', 'garden', NULL][1 + i % 3] AS category, 2.5 * i AS price, "
                  "DATE '2026-01-01' + (i % 30)::INTEGER AS listed FROM range(90) t(i)")
    (root / "data" / "stores.csv").write_text("store,<b>city</b>\n1,<script>x</script>\n2,Leeds\n")
    con = duckdb.connect(str(root / "data" / "warehouse.duckdb"))
    con.execute("CREATE TABLE orders AS SELECT i AS order_id, i % 7 AS qty FROM range(20) t(i)")
    con.execute("CREATE TABLE returns AS SELECT i AS order_id FROM range(3) t(i)")
    con.close()
    (root / "schema.yaml").write_text(yaml.safe_dump({
        "schema_type": "dataframe", "strict": False, "coerce": False, "columns": {
            "age": {"dtype": "int64", "nullable": False, "description": "Age in years.", "metadata": {"owner": "onboarding"},
                    "checks": {"in_range": {"min_value": 18, "max_value": 100}}},
            "income": {"dtype": "float64", "nullable": False, "title": "Monthly income"},
            "region": {"dtype": "str", "nullable": True, "description": "Sales region."}}}))
    cfg = {
        "project": {"name": "dictionary <test>"},
        "datasets": {"reference": {"path": "data/reference.parquet"}, "current": {"path": "data/current.parquet"}},
        "columns": {"id": "id", "timestamp": "ts", "label": "label", "score": "score", "prediction": "prediction",
                    "sensitive": ["sex"],
                    "descriptions": {"score": "Probability of repayment.",
                                     "region": {"owner": "sales ops"},  # the schema's description stays
                                     "label": {"description": "1 = repaid", "owner": "servicing"}}},
        "schema": "schema.yaml",
        "catalog": ["data/products.parquet", {"path": "data/stores.csv", "description": "Stores, by hand."},
                    {"database": "data/warehouse.duckdb"},
                    {"sql": "SELECT region, count(*) AS n FROM current GROUP BY ALL", "name": "regions"}],
        **config,
    }
    (root / "audit.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return root / "audit.yaml"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("dictionary")
    config = make_project(root)
    code = main(["dictionary", str(config), "--out", str(root / "out"), "--as-of", "2026-11-27"])
    return root, code


def load(root: Path) -> dict:
    doc = json.loads((root / "out" / "dictionary.json").read_text())
    return {t["name"]: t for t in doc["tables"]} | {"__doc__": doc}


def field(tables: dict, table: str, name: str) -> dict:
    return next(f for f in tables[table]["fields"] if f["name"] == name)


def test_auditor_dictionary_writes_its_files_and_exits_1_on_a_failing_field(run):
    root, code = run
    assert code == 1  # age fails the schema's range
    assert {p.name for p in (root / "out").iterdir()} == {"dictionary.html", "dictionary.md", "dictionary.json",
                                                         "report.json", "report.html"}


def test_every_table_and_field_is_listed_in_the_issues_shape(run):
    tables = load(run[0])
    doc = tables.pop("__doc__")
    assert list(tables) == ["current", "reference", "products", "stores", "warehouse.orders", "warehouse.returns",
                            "regions"]
    for table in doc["tables"]:
        assert {"name", "source", "rows", "fingerprint", "fields"} <= set(table)
        for f in table["fields"]:
            assert set(FIELDS) <= set(f), (table["name"], f["name"])
    current = pd.read_parquet(run[0] / "data" / "current.parquet")
    assert [f["name"] for f in tables["current"]["fields"]] == list(current.columns)
    assert tables["warehouse.orders"]["rows"] == 20 and tables["warehouse.returns"]["rows"] == 3
    assert tables["regions"]["rows"] == 5 and tables["regions"]["fingerprint"]  # sql: the text + what it reads


def test_descriptions_and_owners(run):
    tables = load(run[0])
    assert (field(tables, "current", "age")["description"], field(tables, "current", "age")["owner"]) == \
        ("Age in years.", "onboarding")  # pandera description and metadata.owner (read from the YAML)
    assert field(tables, "current", "income")["description"] == "Monthly income"  # the title when no description
    assert (field(tables, "current", "region")["description"], field(tables, "current", "region")["owner"]) == \
        ("Sales region.", "sales ops")
    assert field(tables, "current", "score")["description"] == "Probability of repayment."
    assert (field(tables, "reference", "label")["description"], field(tables, "reference", "label")["owner"]) == \
        ("1 = repaid", "servicing")
    assert tables["stores"]["description"] == "Stores, by hand."
    assert field(tables, "products", "price")["description"] is None  # the datasets' docs are not a catalog table's


def test_measures_agree_with_pandas(run):
    tables = load(run[0])
    current = pd.read_parquet(run[0] / "data" / "current.parquet")
    for name in current.columns:
        f, column = field(tables, "current", name), current[name]
        assert f["null_rate"] == pytest.approx(column.isna().mean()), name
        assert abs(f["distinct"] - column.nunique()) <= max(2, 0.05 * column.nunique()), name  # HyperLogLog
    assert (field(tables, "current", "age")["min"], field(tables, "current", "age")["max"]) == (20, 150)
    assert field(tables, "current", "ts")["newest"].startswith(str(current["ts"].max())[:16].replace("T", " "))
    expected = current["region"].value_counts()
    tops = field(tables, "current", "region")["top_values"]
    assert {t["value"]: t["rows"] for t in tops} == expected.to_dict()
    assert field(tables, "current", "id")["top_values"] is None  # every id once: no top values
    products = pd.read_parquet(run[0] / "data" / "products.parquet")
    category = field(tables, "products", "category")
    assert category["null_rate"] == pytest.approx(products["category"].isna().mean())
    assert {t["value"]: t["rows"] for t in category["top_values"]} == products["category"].value_counts().to_dict()
    assert field(tables, "products", "listed")["newest"] == str(products["listed"].max())[:10]
    assert tables["products"]["freshness_hours"] == pytest.approx(
        (pd.Timestamp("2026-11-27") - pd.Timestamp(products["listed"].max())).total_seconds() / 3600)
    assert tables["current"]["newest"].startswith("2026-11-20T06:39")  # the timestamp role's newest (i = 399)
    assert tables["products"]["bytes"] == (run[0] / "data" / "products.parquet").stat().st_size


def test_a_failing_field_shows_fail_with_a_link_that_lands(run):
    root, _ = run
    tables = load(root)
    age = field(tables, "current", "age")
    assert age["indicator"] == "fail"
    failing = [c for c in age["checks"] if c["status"] == "fail"]
    assert failing and failing[0]["id"] == "data.schema" and "in_range" in failing[0]["subject"]
    anchor = failing[0]["link"].split("#", 1)[1]
    assert failing[0]["link"].startswith("report.html#")
    assert f'id="{anchor}"' in (root / "out" / "report.html").read_text()
    page = (root / "out" / "dictionary.html").read_text()
    assert f'href="report.html#{anchor}"' in page
    assert field(tables, "current", "label")["indicator"] in ("pass", "warn", "fail")
    assert "label" in field(tables, "current", "label")["roles"]
    assert tables["current"]["indicator"] == "fail"


def test_catalog_tables_get_measures_not_checks(run):
    tables = load(run[0])
    for name in ("products", "stores", "warehouse.orders", "regions"):
        for f in tables[name]["fields"]:
            assert f["indicator"] is None and f["checks"] == [] and f["roles"] == []
            assert f["null_rate"] is not None and f["distinct"] is not None
    assert field(tables, "warehouse.orders", "qty")["max"] == 6


def test_example_queries_run_as_written(run):
    root, _ = run
    tables = load(root)
    con = duckdb.connect()
    con.execute(f"SET file_search_path = '{root}'")
    for table in ("current", "products", "stores", "warehouse.orders"):
        for f in tables[table]["fields"]:
            statements = [s for s in f["example_sql"].split(";\n") if s.strip()]
            for statement in statements[:-1]:
                try:
                    con.execute(statement.replace("'data/", f"'{root}/data/"))
                except duckdb.BinderException:  # attached already by an earlier field
                    pass
            assert len(con.execute(statements[-1]).fetchall()) <= 10


def test_values_are_escaped(run):
    page = (run[0] / "out" / "dictionary.html").read_text()
    assert "<script>x</script>" not in page and "&lt;b&gt;city&lt;/b&gt;" in page
    assert "dictionary &lt;test&gt;" in page


def test_render_rebuilds_the_dictionary_from_report_json(run, tmp_path):
    root, _ = run
    assert main(["render", str(root / "out" / "report.json"), "--format", "dictionary", "--out", str(tmp_path)]) == 0
    for name in ("dictionary.json", "dictionary.md", "dictionary.html"):
        assert (tmp_path / name).read_bytes() == (root / "out" / name).read_bytes(), name


def test_markdown_names_each_table_and_links_the_failures(run):
    md = (run[0] / "out" / "dictionary.md").read_text()
    for heading in ("## current", "## products", "## warehouse.orders"):
        assert heading in md
    assert re.search(r"\| ❌ fail \| current\.age \| \[Schema \(pandera\)", md)


def test_exit_0_without_a_failing_field_2_on_a_bad_config_3_on_missing_data(tmp_path, capsys):
    config = make_project(tmp_path, schema=None, catalog=["data/products.parquet"])
    cfg = yaml.safe_load(config.read_text())
    cfg.pop("schema")
    cfg["datasets"]["current"] = {"path": "data/reference.parquet"}  # the same data on both sides
    cfg["checks"] = {c: {"enabled": False} for c in ("modeling.demographic_parity", "modeling.disparate_impact",
                                                      "modeling.equal_opportunity", "modeling.equalized_odds",
                                                      "modeling.slices", "modeling.calibration",
                                                      "data.leakage", "data.subgroup_null_rate")}
    config.write_text(yaml.safe_dump(cfg))
    assert main(["dictionary", str(config), "--out", str(tmp_path / "ok"), "--as-of", "2026-11-27"]) == 0
    doc = json.loads((tmp_path / "ok" / "dictionary.json").read_text())
    assert not [f for t in doc["tables"] for f in t["fields"] if f["indicator"] in ("fail", "error")]

    cfg["catalog"] = [{"path": "data/products.parquet", "tabel": "x"}]
    config.write_text(yaml.safe_dump(cfg))
    assert main(["dictionary", str(config)]) == 2
    assert "catalog[0].tabel: unknown key" in capsys.readouterr().err
    cfg["catalog"] = ["data/missing.parquet"]
    config.write_text(yaml.safe_dump(cfg))
    assert main(["dictionary", str(config)]) == 3
    assert "no file matches" in capsys.readouterr().err


def test_with_history_the_fields_that_changed_status_are_shown(tmp_path, monkeypatch):
    config = make_project(tmp_path, catalog=[])
    history = ["run", str(config), "--out", str(tmp_path / "reports"), "--history", "--format", "json,dictionary",
               "--as-of", "2026-11-27"]
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1795748400")
    assert main(history) == 1
    # The next day the three bad ages are fixed: age recovers.
    write_parquet(tmp_path / "data" / "current.parquet", CURRENT.replace("WHEN i < 3 THEN 150", "WHEN i < 3 THEN 30"))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(1795748400 + 86400))
    main([*history[:-1], "2026-11-28"])
    doc = json.loads((tmp_path / "reports" / "latest" / "dictionary.json").read_text())
    age = next(f for t in doc["tables"] if t["name"] == "current" for f in t["fields"] if f["name"] == "age")
    assert doc["run"]["history"] is True
    assert age["previous_indicator"] == "fail" and age["indicator"] != "fail" and age["changed"] is True
    income = next(f for t in doc["tables"] if t["name"] == "current" for f in t["fields"] if f["name"] == "income")
    assert income["changed"] is (income["previous_indicator"] != income["indicator"])
    md = (tmp_path / "reports" / "latest" / "dictionary.md").read_text()
    assert "### Changed since the last run" in md and "current.age: fail →" in md


def test_a_report_without_measures_still_gives_every_field_and_its_indicator(tmp_path):
    from auditor.render.dictionary import build_dictionary
    from auditor.report import AuditReport

    data = json.loads((Path(__file__).parent / "fixtures" / "report_small.json").read_text())
    doc = build_dictionary(AuditReport.from_dict(data))
    names = {t["name"] for t in doc["tables"]}
    assert names == {d["name"] for d in data["datasets"]}
    assert all(set(FIELDS) <= set(f) for t in doc["tables"] for f in t["fields"])


@pytest.mark.parametrize(("catalog", "error"), [
    (["data/current.parquet"], "catalog: item 0 would be named 'current', which is taken; give it another `name`"),
    (["a/x.parquet", "b/x.parquet"], "catalog: item 1 would be named 'x', which is taken"),
    ([{"sql": "SELECT 1"}], "catalog[0]: a sql table needs a name"),
    ([{"table": "t"}], "catalog[0]: table goes with database"),
    ([{"path": "a.parquet", "sql": "SELECT 1", "name": "a"}], "catalog[0]: give exactly one of path"),
    ([{"path": "a.parquet", "tabel": "t"}], "catalog[0].tabel: unknown key (did you mean 'catalog[0].table'?)"),
    ("data/x.parquet", "catalog: must be a valid list"),
])
def test_catalog_mistakes_are_one_line_before_any_data_is_read(tmp_path, capsys, catalog, error):
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump({"datasets": {"current": {"path": "nowhere.parquet"}},
                                                          "catalog": catalog}))
    assert main(["dictionary", str(tmp_path / "audit.yaml")]) == 2
    assert error in capsys.readouterr().err


def test_catalog_names_and_descriptions_in_the_config():
    from auditor.config import parse_config

    config = parse_config({"datasets": {"current": {"path": "c.parquet"}},
                           "columns": {"descriptions": {"a": "text", "b": {"owner": "team"}}},
                           "catalog": ["data/products.parquet", "events/2026/*.parquet", {"table": "orders", "database": "w.duckdb"},
                                       {"database": "w.duckdb", "name": "wh"}, {"sql": "SELECT 1", "name": "one"}]},
                          source="audit.yaml", base_dir=Path("."))
    assert [t.default_name for t in config.catalog] == ["products", "2026", "orders", "wh", "one"]
    assert config.columns.descriptions["a"].description == "text"
    assert (config.columns.descriptions["b"].description, config.columns.descriptions["b"].owner) == (None, "team")


def test_two_catalog_tables_of_the_same_name_are_a_data_error(tmp_path, capsys):
    config = make_project(tmp_path, catalog=[{"database": "data/warehouse.duckdb", "name": "w"},
                                             {"path": "data/products.parquet", "name": "w.orders"}])
    assert main(["dictionary", str(config), "--out", str(tmp_path / "out")]) == 3
    assert "a second table is named 'w.orders'" in capsys.readouterr().err
