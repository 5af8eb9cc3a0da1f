"""auditor.engine.value_counts against pandas, and data.profile's categories the same through it as counted as text."""

from __future__ import annotations

import pandas as pd
import pytest

from auditor.engine.duckdb_engine import Engine
from auditor.engine.sources import Column, Dataset
from auditor.engine.value_counts import value_counts
from tests.conftest import results, write_parquet

ROWS = """SELECT CASE WHEN i % 5 = 0 THEN NULL ELSE i % 7 - 3 END AS small,
  CASE WHEN i % 4 = 0 THEN NULL ELSE ['é', 'a b', '', 'Z'][1 + i % 4] END AS text, i AS many FROM range(300) t(i)"""


def test_value_counts_match_pandas_and_are_counted_once_per_run(tmp_path):
    path = write_parquet(tmp_path / "v.parquet", ROWS)
    engine = Engine()
    engine.execute(f"CREATE VIEW current AS SELECT * FROM read_parquet('{path}')")
    ds = Dataset(name="current", view="current", source=str(path), rows=300,
                 columns=tuple(Column(r[0], str(r[1])) for r in engine.query("DESCRIBE current")))
    cache: dict = {}
    found, sql = value_counts(engine, ds, ["small", "text"], cache=cache)
    frame = pd.read_parquet(path)
    for col in ("small", "text"):
        assert found[col] == {(int(k) if col == "small" else k): int(n) for k, n in frame[col].value_counts().items()}
    before = len(engine.log)
    again, again_sql = value_counts(engine, ds, ["text", "many"], cache=cache)  # only "many" is new
    assert len(engine.log) == before + 1 and "small" not in engine.log[-1].sql and '"text"' not in engine.log[-1].sql
    assert again["text"] == found["text"] and sum(again["many"].values()) == 300 and len(again_sql) == 2
    engine.close()


def test_profile_categories_through_value_counts_equal_the_text_histogram(project, audit, monkeypatch):
    select = ROWS.replace("i AS many", "i AS id, i % 2 AS label, (i % 10) / 10.0 AS score, i % 2 AS prediction, "
                          "['f', 'm'][1 + i % 2] AS sex")
    path = project(current=select, reference=select,
                   config={"columns": {"id": "id", "label": "label", "score": "score", "prediction": "prediction",
                                       "sensitive": ["sex"], "categorical": ["small", "text"]}})
    shared = results(audit(path, stages=["data"]), "data.profile")
    monkeypatch.setattr("auditor.checks.profile.countable", lambda duck_type: False)
    as_text = results(audit(path, stages=["data"]), "data.profile")
    for col in ("small", "text", "label"):
        assert shared[col].evidence["tables"] == as_text[col].evidence["tables"]
        assert shared[col].evidence["charts"] == as_text[col].evidence["charts"]
        assert shared[col].metrics == as_text[col].metrics
    shared_sql = [q for r in shared.values() for q in r.evidence["sql"]]
    text_sql = [q for r in as_text.values() for q in r.evidence["sql"]]
    assert any('histogram("small")' in q for q in shared_sql)
    assert not any('histogram("small")' in q for q in text_sql) and any('histogram(coalesce("small"' in q for q in text_sql)


@pytest.mark.parametrize("duck_type", ["DOUBLE", "BOOLEAN", "DATE"])
def test_other_types_are_refused(tmp_path, duck_type):
    engine = Engine()
    ds = Dataset(name="t", view="t", source="", rows=0, columns=(Column("x", duck_type),))
    with pytest.raises(AssertionError):
        value_counts(engine, ds, ["x"])
    engine.close()
