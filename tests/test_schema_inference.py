"""auditor infer-schema: a pandera YAML schema from data, which that same data then passes."""

from __future__ import annotations

import io

import pandera.pandas as pa
import yaml

from auditor.cli import main
from tests.conftest import results, write_parquet

DATA = """SELECT i AS id, 'user_' || i AS account_id, 18 + i % 60 AS age,
  CASE WHEN i % 9 = 0 THEN NULL WHEN i % 13 = 0 THEN 'NaN'::DOUBLE ELSE i * 0.37 END AS debt,
  CASE WHEN i = 4 THEN 'inf'::DOUBLE ELSE i / 3.0 END AS ratio,
  CASE WHEN i % 11 = 0 THEN NULL ELSE ['north', 'south', 'East', 'wést', ''][1 + i % 5] END AS region,
  'free text ' || (i * 7919 % 1000) AS note, i % 2 AS label, (i % 2 = 0) AS flag,
  TIMESTAMP '2026-01-01' + INTERVAL (i) MINUTE AS ts, (i % 3)::VARCHAR AS dup_key_id
FROM range(500) t(i)"""


def test_inferred_schema_describes_the_data(tmp_path):
    data = write_parquet(tmp_path / "data.parquet", DATA)
    out = tmp_path / "schema.yaml"
    assert main(["infer-schema", str(data), "--out", str(out)], out=io.StringIO(), err=io.StringIO()) == 0
    text = out.read_text()
    assert text.startswith("# pandera schema inferred by `auditor infer-schema`")
    columns = yaml.safe_load(text)["columns"]
    assert columns["id"]["unique"] is True and columns["account_id"]["unique"] is True
    assert not columns["dup_key_id"].get("unique")  # id-like, but repeats
    assert columns["age"]["in_range"] == {"min_value": 18, "max_value": 77, "include_min": True, "include_max": True}
    assert columns["debt"]["nullable"] is True and not columns["age"].get("nullable")
    assert "in_range" not in columns["ratio"]  # an infinity: a range would reject the data itself
    assert columns["region"]["isin"] == ["", "East", "north", "south", "wést"] and columns["region"]["nullable"]
    assert "isin" not in columns["note"]  # 1,000 possible values: not a category
    assert columns["region"]["dtype"] == "str"
    schema = pa.DataFrameSchema.from_yaml(out)
    assert set(schema.columns) == {"id", "account_id", "age", "debt", "ratio", "region", "note", "label", "flag", "ts",
                                   "dup_key_id"}


def test_audit_with_the_inferred_schema_passes_on_the_same_data(project, audit, tmp_path):
    path = project(current=DATA, reference=DATA, config={"schema": "schema.yaml",
                                                         "columns": {"id": "id", "label": "label"}})
    stdout = io.StringIO()
    assert main(["infer-schema", str(tmp_path / "data" / "current.parquet")], out=stdout, err=io.StringIO()) == 0
    (tmp_path / "schema.yaml").write_text(stdout.getvalue())
    found = results(audit(path, stages=["data"]), "data.schema")
    assert set(found) == {"(all checks)", "reference: (all checks)"}
    assert found["(all checks)"].status == "pass" and found["(all checks)"].metrics["checks"] >= 25


def test_infer_schema_on_a_missing_file_exits_3(tmp_path):
    err = io.StringIO()
    assert main(["infer-schema", str(tmp_path / "nope.parquet")], out=io.StringIO(), err=err) == 3
    assert "no file matches" in err.getvalue()
