"""data.schema against pandera's own pandas backend: same data, same failing checks, same counts."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pandera.errors
import pandera.pandas as pa
import pytest

from auditor.engine.duckdb_engine import Engine
from auditor.engine.sources import Column, Dataset
from auditor.engine.summary import summarize
from auditor.schema.compiler import compile_schema
from auditor.schema.custom import FRAME, run_custom
from auditor.schema.regex import translate
from auditor.schema.scan import run_rules
from tests.conftest import write_parquet

# Nulls, NaN, infinities, empty strings, unicode (combining marks, non-ASCII digits), mixed-case categories.
TRICKY = """
SELECT * FROM (VALUES
  (1::BIGINT, 17::BIGINT, 1500.0, 'Ab', 'east', 'A-12', 0.5),
  (2, 150, 'NaN'::DOUBLE, 'ab', 'East', 'B-3', 0.2),
  (3, -1, NULL, '', 'WEST', 'a-1', NULL),
  (4, 30, 'inf'::DOUBLE, NULL, NULL, '', 'NaN'::DOUBLE),
  (5, 45, '-inf'::DOUBLE, 'é', 'north', 'Ⅻ-٣', 1.0),
  (6, 45, 0.0, 'e' || chr(769), 'north', 'C-77', 1.0),
  (7, 60, 250000.0, '日本語', 'south', NULL, -0.5),
  (8, 99, -3.5, 'x' || chr(10), 'east', 'D-1' || chr(10), 0.99),
  (9, 100, 99999.0, 'Ab', 'south', 'E-٣', 'inf'::DOUBLE),
  (9, 18, 42.0, 'bb', 'east', 'A-12', 0.0)
) t(id, age, income, name, region, code, score)
"""


def _schema() -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {
            "id": pa.Column("int64", unique=True),
            "age": pa.Column("int64", [
                pa.Check.in_range(18, 100), pa.Check.ge(0), pa.Check.lt(100), pa.Check.ne(45),
                pa.Check.isin([17, 18, 30, 45, 60]), pa.Check.notin([150, -1]),
                pa.Check(lambda s: s % 2 == 0, name="even"),
            ]),
            "income": pa.Column("float64", [
                pa.Check.gt(0), pa.Check.le(100_000), pa.Check.in_range(0, 100_000, include_min=False, include_max=False),
                pa.Check.lt(5000, ignore_na=False), pa.Check.ne(0.0, ignore_na=False),
            ], nullable=False),
            "name": pa.Column("str", [
                pa.Check.str_length(1, 2), pa.Check.str_matches("[A-Z]"), pa.Check.str_contains("b"),
                pa.Check.str_startswith("A"), pa.Check.str_endswith("b"), pa.Check.str_matches(r"\w+$"),
                pa.Check.str_length(exact_value=2, ignore_na=False),
            ], nullable=True, unique=True),
            "region": pa.Column("str", [
                pa.Check.isin(["east", "west", "north", "south"]), pa.Check.notin(["East"]),
                pa.Check.eq("east"), pa.Check.isin(["east", "north"], ignore_na=False),
                pa.Check.notin(["WEST"], ignore_na=False), pa.Check.ne("south", ignore_na=False),
            ], nullable=True),
            "code": pa.Column("str", [
                pa.Check.str_matches(r"[A-Z]-\d+$"), pa.Check.str_contains(r"(?<=-)\d"),
                pa.Check.str_matches(r"[A-Z]-\d+\Z"), pa.Check.str_contains(r"\d{2}", ignore_na=False),
            ], nullable=True),
            "score": pa.Column("float64", [pa.Check.in_range(0, 1), pa.Check.eq(1.0)], nullable=True),
        },
        unique=["region", "age"],
    )


def _dataset(engine: Engine, path: Path, name: str = "current") -> Dataset:
    engine.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM read_parquet('{path}')")
    columns = tuple(Column(r[0], str(r[1])) for r in engine.query(f"DESCRIBE {name}"))
    rows = engine.query_one(f"SELECT count(*) FROM {name}")[0]
    return Dataset(name=name, view=name, source=str(path), rows=rows, columns=columns)


def pandera_counts(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> dict[tuple[str, str], int]:
    """(column, check) -> failure count as pandera's lazy validation reports it."""
    try:
        schema.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return {}
    counts: dict[tuple[str, str], int] = {}
    frame_level = cases["schema_context"] == "DataFrameSchema"
    for check, group in cases[frame_level].groupby("check"):
        # One row per (column, failing row): count the rows; unique=[...] is named by its columns.
        key = (", ".join(schema.unique), check) if check == "multiple_fields_uniqueness" else (FRAME, check)
        counts[key] = max(group["index"].nunique(), 1)
    for (column, check), group in cases[~frame_level].groupby(["column", "check"], dropna=False):
        counts[(column, check)] = len(group)
    return counts


def auditor_counts(schema: pa.DataFrameSchema, path: Path, *, chunk_rows: int = 3,
                   summaries: bool = False) -> tuple[dict, Engine]:
    engine = Engine()
    ds = _dataset(engine, path)
    plan = compile_schema(schema, ds, source="test.yaml")
    outcomes = list(plan.decided)
    # With the run's summaries a unique integer column is counted in a bitmap first (auditor.engine.repeats), nulls
    # come from the summary and low-cardinality columns' rules from their value counts (auditor.schema.values).
    outcomes += run_rules(engine, plan, ds, sample=20, summaries=summarize(engine, ds) if summaries else None,
                          cache={} if summaries else None)[0]
    outcomes += run_custom(engine, plan, ds, sample=20, chunk_rows=chunk_rows)[0]
    return {(o.column, o.check): o.failures for o in outcomes if o.failures}, engine


@pytest.mark.parametrize("summaries", [False, True])
def test_tricky_data_same_failures_and_counts_as_pandera(tmp_path, summaries):
    path = write_parquet(tmp_path / "d.parquet", TRICKY)
    schema = _schema()
    expected = pandera_counts(schema, pd.read_parquet(path))
    got, engine = auditor_counts(schema, path, summaries=summaries)
    engine.close()
    assert got == expected
    built_in = {check for _, check in expected if check != "even"}
    assert len(built_in) >= 15, built_in  # the oracle really exercises the compiled checks


def test_built_in_checks_run_in_one_counting_query_per_table(tmp_path):
    path = write_parquet(tmp_path / "d.parquet", TRICKY)
    schema = _schema()
    engine = Engine()
    ds = _dataset(engine, path)
    plan = compile_schema(schema, ds, source="test.yaml")
    assert len(plan.rules) >= 25
    before = len(engine.log)
    _, statements = run_rules(engine, plan, ds, sample=5)
    # One grouping per unique column (id, name: shared with data.duplicates), one query counting every
    # other rule, one reading the failing rules' samples from their violating rows only.
    assert [q.sql for q in engine.log[before:]] == statements and len(statements) == 4
    assert sum("count_if" in q for q in statements) == 1
    assert "WHERE" in statements[-1].rsplit(")", 1)[-1] and "count_if" not in statements[-1]
    # The custom and RE2-incompatible checks stream in one more query.
    run_custom(engine, plan, ds, sample=5, chunk_rows=4)
    assert len(engine.log) - before == 5
    assert set(plan.custom) == {"age", "code"}
    engine.close()


def test_samples_are_capped_and_counts_total(tmp_path):
    path = write_parquet(tmp_path / "d.parquet", "SELECT i AS x, (i % 7)::VARCHAR AS s FROM range(1000) t(i)")
    schema = pa.DataFrameSchema({"x": pa.Column("int64", pa.Check.lt(10)),
                                 "s": pa.Column("str", pa.Check(lambda s: s != "3", name="not_three"))})
    engine = Engine()
    ds = _dataset(engine, path)
    plan = compile_schema(schema, ds, source="t")
    (lt,) = [o for o in run_rules(engine, plan, ds, sample=4)[0] if o.check == "less_than(10)"]
    (custom,), _ = run_custom(engine, plan, ds, sample=4, chunk_rows=100)
    assert (lt.failures, len(lt.sample)) == (990, 4)
    assert all(row[0] >= 10 for row in lt.sample)
    assert (custom.failures, len(custom.sample)) == (143, 4)
    assert [row[0] for row in custom.sample] == [3, 10, 17, 24]  # global row numbers across chunks
    engine.close()


@pytest.mark.parametrize("pattern", [r"^[a-z]+$", r"\d+", r"(?i)AB", r"x{,2}y", r"\w+\s\w+", r"[\d.]+$",
                                     r"(?=a)a", r"(a)\1", r"\bab"])
def test_regex_translation_matches_python(tmp_path, pattern):
    values = ["ab", "AB", "ab\n", "٣٤", "12.5", "é è", "xxy", "aa", "a b", "", "abab", "ab cd\n"]
    path = write_parquet(tmp_path / "r.parquet", "SELECT unnest(?::VARCHAR[]) AS s".replace(
        "?::VARCHAR[]", "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"))
    schema = pa.DataFrameSchema({"s": pa.Column("str", [pa.Check.str_matches(pattern), pa.Check.str_contains(pattern)])})
    got, engine = auditor_counts(schema, path)
    engine.close()
    if "{," not in pattern:  # pandas 3 hands `x{,2}` to pyarrow's RE2, which reads it as a literal
        assert got == pandera_counts(schema, pd.read_parquet(path))
    if translate(pattern) is None:
        return  # pandera itself ran it, on streamed chunks: pandera is the only oracle
    assert got == {k: v for k, v in {
        ("s", f"str_matches('{pattern}')"): sum(not re.match(pattern, v) for v in values),
        ("s", f"str_contains('{pattern}')"): sum(not re.search(pattern, v) for v in values),
    }.items() if v}


def test_dtype_mismatch_and_coercion(tmp_path):
    path = write_parquet(tmp_path / "d.parquet", """SELECT * FROM (VALUES
        (1::BIGINT, '5', '5', 1.5::DOUBLE, 2.0::DOUBLE), (2, 'x', '2.5', 2.0, 'NaN'::DOUBLE),
        (3, NULL, NULL, 3.0, 2.5)) t(a, b, s, c, f)""")
    schema = pa.DataFrameSchema({
        "a": pa.Column("int32"), "b": pa.Column("int64", coerce=True, nullable=True),
        "s": pa.Column("Int64", coerce=True, nullable=True), "c": pa.Column("float64"),
        "f": pa.Column("float64", coerce=True, nullable=True),
    })
    expected = pandera_counts(schema, pd.read_parquet(path))
    got, engine = auditor_counts(schema, path)
    engine.close()
    assert got == expected
    assert expected == {("a", "dtype('int32')"): 1, ("b", "coerce_dtype('int64')"): 2, ("b", "dtype('int64')"): 2,
                        ("s", "coerce_dtype('Int64')"): 1, ("s", "dtype('Int64')"): 1}


def test_patterns_re2_cannot_read_alike_go_to_pandera():
    for pattern in [r"(?=a)", r"(?<!a)b", r"a++", r"(a)\1", r"\bx", r"(?x) a", r"a$b", r"\N{BULLET}", r"[\W]"]:
        assert translate(pattern) is None, pattern
    assert translate(r"^\d+$") == r"^[\p{Nd}]+(?:\n?\z)"


def test_timestamps_booleans_and_integers_compared_like_pandas(tmp_path):
    path = write_parquet(tmp_path / "t.parquet", """SELECT TIMESTAMP '2026-01-01' + INTERVAL (i) DAY AS ts,
        (i % 2 = 0) AS flag, CASE WHEN i = 3 THEN NULL ELSE i END AS n FROM range(10) t(i)""")
    schema = pa.DataFrameSchema({
        "ts": pa.Column("datetime64[us]", [pa.Check.gt("2026-01-05"), pa.Check.in_range("2026-01-02", "2026-01-08")]),
        "flag": pa.Column(bool, [pa.Check.isin([True]), pa.Check.eq(True)]),
        # pandas reads this nullable integer column as float64; DuckDB keeps BIGINT: no dtype compared here.
        "n": pa.Column(None, [pa.Check.isin([1, 2.0]), pa.Check.ge(2), pa.Check.lt(8.5)], nullable=True),
    })
    expected = pandera_counts(schema, pd.read_parquet(path))
    got, engine = auditor_counts(schema, path)
    engine.close()
    assert got == expected and len(expected) == 7


def test_schema_level_and_raising_custom_checks_count_rows_once(tmp_path):
    path = write_parquet(tmp_path / "f.parquet", "SELECT i AS a, i * 2 - (i IN (3, 7))::INT AS b, 'x' || i AS s FROM range(10) t(i)")
    schema = pa.DataFrameSchema({"a": pa.Column("int64", pa.Check(lambda s: 1 / 0, name="boom")), "s": pa.Column("str")},
                                checks=[pa.Check(lambda df: df["b"] == df["a"] * 2, name="b_is_double")])
    expected = pandera_counts(schema, pd.read_parquet(path))
    got, engine = auditor_counts(schema, path, chunk_rows=4)  # three batches: failures in two of them
    engine.close()
    assert got == expected == {("a", "boom"): 1, (FRAME, "b_is_double"): 2}
    engine = Engine()
    ds = _dataset(engine, path)
    outcomes, _ = run_custom(engine, compile_schema(schema, ds, source="t"), ds, sample=5, chunk_rows=4)
    engine.close()
    boom = next(o for o in outcomes if o.check == "boom")
    assert "ZeroDivisionError" in boom.detail


@pytest.mark.parametrize("keep", ["all", "exclude_first"])
@pytest.mark.parametrize("values", ["i % 50", "i", "CASE WHEN i % 9 = 0 THEN NULL ELSE i % 70 END", "i * 1000000"])
def test_unique_integer_column_with_the_bitmap_census(tmp_path, keep, values):
    path = write_parquet(tmp_path / "u.parquet", f"SELECT ({values})::BIGINT AS k FROM range(100) t(i)")
    schema = pa.DataFrameSchema({"k": pa.Column("int64" if "NULL" not in values else None, unique=True,
                                                nullable=True, report_duplicates=keep)})
    expected = pandera_counts(schema, pd.read_parquet(path))
    for summaries in (False, True):
        got, engine = auditor_counts(schema, path, summaries=summaries)
        engine.close()
        assert got == expected


def test_rules_over_value_counts_give_the_most_frequent_failures_first(tmp_path):
    path = write_parquet(tmp_path / "v.parquet", """SELECT CASE WHEN i % 10 = 0 THEN NULL ELSE ['a', 'b', 'b', 'c', 'c', 'c',
        'd', 'ok', 'ok'][1 + i % 9] END AS s, i % 13 AS n FROM range(900) t(i)""")
    schema = pa.DataFrameSchema({"s": pa.Column("str", [pa.Check.isin(["ok"]), pa.Check.ne("c", ignore_na=False)],
                                                nullable=True),
                                 "n": pa.Column("int64", pa.Check.lt(10))})
    expected = pandera_counts(schema, pd.read_parquet(path))
    engine = Engine()
    ds = _dataset(engine, path)
    plan = compile_schema(schema, ds, source="t")
    outcomes, sql = run_rules(engine, plan, ds, sample=2, summaries=summarize(engine, ds), cache={})
    engine.close()
    assert {(o.column, o.check): o.failures for o in outcomes if o.failures} == expected
    assert not any("count_if" in q for q in sql)  # every rule answered from the value counts
    found = {o.check: o.sample for o in outcomes}
    frame = pd.read_parquet(path)
    ranked = frame["s"][~frame["s"].isin(["ok"]) & frame["s"].notna()].value_counts()
    assert found["isin(['ok'])"] == [[v] for v in ranked.index[:2]] == [["c"], ["b"]]
    assert found["less_than(10)"] == [[10], [11]]  # equally frequent: the smallest first
