"""data.schema through the runner and the CLI: results people can read, config errors in one line."""

from __future__ import annotations

import io
import textwrap

import pytest

from auditor.cli import main
from tests.conftest import results

CURRENT = """SELECT i AS id, CASE WHEN i = 3 THEN 150 ELSE 20 + i % 50 END AS age,
  CASE WHEN i % 10 = 0 THEN NULL ELSE 1000.0 + i END AS income,
  CASE WHEN i = 7 THEN 'East' ELSE ['north', 'south', 'east', 'west'][1 + i % 4] END AS region,
  ['female', 'male'][1 + i % 2] AS sex, i % 2 AS label, (i % 10) / 10.0 AS score, i % 2 AS prediction
FROM range(100) t(i)"""

SCHEMA = """
schema_type: dataframe
columns:
  id: {dtype: int64, nullable: false, unique: true}
  age:
    dtype: int64
    in_range: {min_value: 18, max_value: 100}
  income: {dtype: float64, nullable: false, greater_than: 0}
  region:
    dtype: str
    isin: [north, south, east, west]
"""


def write_schema(tmp_path, text=SCHEMA, name="schema.yaml"):
    (tmp_path / name).write_text(textwrap.dedent(text))
    return name


def test_failures_are_one_result_per_column_and_check(project, audit, tmp_path):
    path = project(current=CURRENT, config={"schema": write_schema(tmp_path)})
    found = results(audit(path, stages=["data"]), "data.schema")
    age = found["age: in_range(18, 100)"]
    assert (age.status, age.value, age.metrics["failure_rate"]) == ("fail", 1, 0.01)
    assert age.message == "1 row of 'age' fails in_range(18, 100) in current (1.00% of 100); e.g. 150."
    assert age.evidence["tables"][0]["rows"] == [[150]]
    assert age.evidence["sql"] and "FILTER" in age.evidence["sql"][-1]
    income = found["income: not_nullable"]
    assert income.value == 10 and income.evidence["tables"][0]["columns"] == ["id"]
    assert income.evidence["tables"][0]["rows"][:2] == [[0], [10]]
    assert income.message.endswith("e.g. id 0, 10, 20, 30, 40.")
    region = found["region: isin(['north', 'south', 'east', 'west'])"]
    assert region.value == 1 and region.evidence["tables"][0]["rows"] == [["East"]]
    summary = found["(all checks)"]
    assert summary.status == "pass" and summary.metrics["failed"] == 3 and summary.metrics["checks"] == 12
    # The unique id's bitmap census (shared with data.duplicates), the run's summary (nulls) and value counts
    # (age, region: shared with data.profile), the rules over those counts, the income rule's scan, the samples.
    sql = summary.evidence["sql"]
    assert summary.metrics["queries"] == len(sql) == 6 and "bitstring_agg" in sql[0]
    # A statement an earlier result of the check showed is named there, not repeated.
    assert "approx_count_distinct" in sql[1] and "histogram" in sql[2]
    assert "unnest" in sql[3] or sql[3].startswith("-- the statement shown with")
    assert sql[4].count("count_if") == 1 and "income" in sql[4] and "arg_min" in sql[5]
    # The reference (BASE_SELECT) has no 150, no 'East', no null income, but null regions.
    assert found["reference: (all checks)"].metrics["failed"] == 1
    assert found["reference: region: not_nullable"].value == 8


def test_a_clean_table_gives_one_passing_summary(project, audit, tmp_path):
    clean = CURRENT.replace("WHEN i = 3 THEN 150", "WHEN i = 3 THEN 30").replace("i % 10 = 0", "FALSE") \
        .replace("'East'", "'east'")
    path = project(current=clean, reference=clean, config={"schema": write_schema(tmp_path)})
    found = results(audit(path, stages=["data"]), "data.schema")
    assert set(found) == {"(all checks)", "reference: (all checks)"}
    assert found["(all checks)"].message == "All 12 schema checks pass on current (100 rows)."


def test_no_schema_skips(project, audit):
    found = results(audit(project(), stages=["data"]), "data.schema")
    assert found[None].status == "skip" and "schema:" in found[None].message


def test_schema_from_a_dataframe_model(project, audit, tmp_path):
    (tmp_path / "my_schema.py").write_text(textwrap.dedent("""
        import pandera.pandas as pa

        class Applications(pa.DataFrameModel):
            age: int = pa.Field(ge=18, le=100)
            region: str = pa.Field(str_matches="[a-z]+$")
            score: float = pa.Field(in_range={"min_value": 0, "max_value": 0.5})
            label: int = pa.Field(check_name=True)

            @pa.check("label")
            def binary(cls, series):
                return series.isin([0, 1])
    """))
    path = project(current=CURRENT, config={"schema": "my_schema:Applications"})
    found = results(audit(path, stages=["data"]), "data.schema")
    assert found["age: less_than_or_equal_to(100)"].value == 1
    assert found["region: str_matches('[a-z]+$')"].value == 1
    assert found["score: in_range(0, 0.5)"].value == 40
    assert found["(all checks)"].metrics["failed"] == 3
    assert "label: binary" not in found  # the custom check ran through pandera and passed


@pytest.mark.parametrize(("schema", "needle"), [
    ("columns:\n  nope: {dtype: int64}\n", "schema schema.yaml: column 'nope' is not in dataset 'current'"),
    ("columns: [unclosed\n", "schema schema.yaml: not a pandera YAML schema"),
    ("columns:\n  tags: {dtype: str}\n", "schema schema.yaml: column 'tags': cannot compare dtype"),
    ("columns:\n  age: {dtype: int64, str_matches: x}\n", "schema schema.yaml: column 'age': str_matches('x') needs a string column"),
])
def test_schema_problems_are_config_errors(project, tmp_path, schema, needle):
    current = CURRENT.replace("AS prediction", "AS prediction, ['a', 'b'] AS tags")
    path = project(current=current, config={"schema": write_schema(tmp_path, schema)})
    err = io.StringIO()
    assert main(["run", str(path), "--stage", "data"], out=io.StringIO(), err=err) == 2
    lines = err.getvalue().strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], lines


def test_missing_schema_file_is_a_config_error(project):
    path = project(config={"schema": "nowhere.yaml"})
    err = io.StringIO()
    assert main(["run", str(path), "--stage", "data"], out=io.StringIO(), err=err) == 2
    assert "schema nowhere.yaml: file not found" in err.getvalue()

