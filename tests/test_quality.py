"""Pass, warn and fail cases for the SQL quality checks, with independent pandas oracles."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pytest

from tests.conftest import BASE_SELECT, results

COLUMNS = {"id": "id", "label": "label", "score": "score", "prediction": "prediction", "sensitive": ["region"]}

# Four regions of 100 rows, plus 20 rows of a tiny region whose x is always null.
SUBGROUP = """SELECT i AS id, CASE WHEN i >= 400 THEN 'tiny' ELSE ['east', 'north', 'south', 'west'][1 + i // 100] END AS region,
  CASE WHEN i >= 400 OR (i < 100 AND i % 100 < {east}) OR (i >= 100 AND i % 100 < {others}) THEN NULL ELSE i * 1.0 END AS x,
  i % 2 AS label, 0.5 AS score, 1 AS prediction FROM range(420) t(i)"""


@pytest.mark.parametrize(("east", "others", "expected"), [(5, 5, "pass"), (25, 2, "warn"), (70, 2, "fail")])
def test_subgroup_null_rate(project, audit, tmp_path, east, others, expected):
    select = SUBGROUP.format(east=east, others=others)
    path = project(current=select, reference=select, config={"columns": COLUMNS})
    result = results(audit(path, stages=["data"]), "data.subgroup_null_rate")["x by region"]
    frame = duckdb.sql(select).df()
    overall = frame["x"].isna().mean()
    by_group = frame.groupby("region")["x"].apply(lambda s: s.isna().mean())
    assert result.status == expected
    assert result.metrics["overall_null_rate"] == pytest.approx(overall)
    rows = {r[0]: r for r in result.evidence["tables"][0]["rows"]}
    for group, rate in by_group.items():
        assert rows[f"region={group}"][3] == pytest.approx(rate)
    assert rows["region=tiny"][4].startswith("not graded")  # 100% null but only 20 rows
    if expected != "pass":
        assert result.message == f"x is {east / 100:.0%} null for region=east vs {overall:.0%} overall."
        assert result.metrics["group"] == "region=east"


def test_subgroup_null_rate_uses_one_grouping_sets_scan(project, audit):
    select = SUBGROUP.format(east=40, others=2).replace("0.5 AS score", "CASE WHEN i % 7 = 0 THEN NULL ELSE 0.5 END AS y, 0.5 AS score") \
        .replace("i % 2 AS label", "i % 2 AS label, ['a', 'b'][1 + i % 2] AS sex")
    cols = {**COLUMNS, "sensitive": ["region", "sex"]}
    path = project(current=select, reference=select, config={"columns": cols})
    found = results(audit(path, stages=["data"]), "data.subgroup_null_rate")
    assert {"x by region", "x by sex", "x by region×sex", "y by region", "y by sex", "y by region×sex"} <= set(found)
    assert len({r.evidence["sql"][0] for r in found.values()}) == 1
    assert "GROUPING SETS" in found["x by region"].evidence["sql"][0]


CONSTANT = """SELECT i AS id, 7 AS always, CASE WHEN i < {k} THEN 'a' ELSE 'b' || i END AS mostly,
  NULL::DOUBLE AS nothing, i * 1.5 AS varied, i % 2 AS label, 0.5 AS score, 1 AS prediction FROM range(1000) t(i)"""


@pytest.mark.parametrize(("k", "mostly"), [(995, "warn"), (980, None)])
def test_constant_columns(project, audit, k, mostly):
    select = CONSTANT.format(k=k)
    path = project(current=select, reference=select, config={"columns": COLUMNS | {"sensitive": []}})
    found = results(audit(path, stages=["data"]), "data.constant_columns")
    assert found["always"].status == "warn" and found["always"].value == 1.0
    assert found["nothing"].status == "fail"
    assert "varied" not in found
    shares = duckdb.sql(select).df()["mostly"].value_counts(normalize=True)
    if mostly:
        assert found["mostly"].status == mostly and found["mostly"].value == pytest.approx(shares.iloc[0])
        assert found["mostly"].message == "'mostly' is nearly constant: 99.50% of its 1,000 values are 'a'."
    else:
        assert "mostly" not in found
    assert found["(all columns)"].status == "pass"


@pytest.mark.parametrize(("hours_old", "expected"), [(10, "pass"), (30, "warn"), (100, "fail")])
def test_freshness(project, audit, hours_old, expected):
    select = (f"SELECT i AS id, TIMESTAMP '2026-11-27 12:00:00' - INTERVAL (i + {hours_old}) HOUR AS ts, i % 2 AS label "
              "FROM range(50) t(i)")
    path = project(current=select, reference=select, config={"columns": {"id": "id", "timestamp": "ts", "label": "label"}})
    result = results(audit(path, stages=["data"], as_of=datetime(2026, 11, 27, 12, tzinfo=UTC)), "data.freshness")[None]
    assert result.status == expected and result.value == pytest.approx(hours_old)


def test_freshness_in_the_future_warns(project, audit):
    select = "SELECT 1 AS id, TIMESTAMP '2026-11-28 00:00:00' AS ts"
    path = project(current=select, reference=select, config={"columns": {"id": "id", "timestamp": "ts"}})
    result = results(audit(path, stages=["data"], as_of=datetime(2026, 11, 27, tzinfo=UTC)), "data.freshness")[None]
    assert result.status == "warn" and result.value == pytest.approx(-24)


@pytest.mark.parametrize(("n_current", "min_rows", "expected"),
                         [(400, None, "pass"), (150, None, "warn"), (900, None, "warn"), (60, None, "fail"),
                          (2100, None, "fail"), (400, 500, "fail")])
def test_volume(project, audit, n_current, min_rows, expected):
    path = project(reference=BASE_SELECT.format(n=400), current=BASE_SELECT.format(n=n_current),
                   config={"checks": {"data.volume": {"min_rows": min_rows}}})
    result = results(audit(path, stages=["data"]), "data.volume")[None]
    assert result.status == expected and result.value == pytest.approx(n_current / 400)


@pytest.mark.parametrize(("splits", "expected"), [(None, "warn"), ("train_test", "fail")])
def test_leakage_shared_ids(project, audit, splits, expected):
    path = project(reference=BASE_SELECT.format(n=400),
                   current=BASE_SELECT.format(n=400).replace("SELECT i AS id", "SELECT i + 390 AS id"),
                   config={"checks": {"data.leakage": {"splits": splits}}})
    found = results(audit(path, stages=["data"]), "data.leakage")
    assert found["id"].status == expected and found["id"].value == 10
    assert found["id"].evidence["tables"][0]["rows"] == [[i] for i in range(390, 400)]
    assert found["(features vs label)"].status == "pass"


def test_leakage_no_shared_ids_passes(project, audit):
    path = project(current=BASE_SELECT.format(n=400).replace("SELECT i AS id", "SELECT i + 1000 AS id"))
    assert results(audit(path, stages=["data"]), "data.leakage")["id"].status == "pass"


def test_leakage_feature_identical_to_label(project, audit):
    leak = BASE_SELECT.format(n=400).replace("AS label,", "AS label, CASE WHEN i = 5 THEN 0 ELSE (i % 3 > 0)::INTEGER END AS outcome_flag,"
                                                   " CASE WHEN i < 10 THEN 1 - (i % 3 > 0)::INTEGER ELSE (i % 3 > 0)::INTEGER END AS near,")
    path = project(current=leak, reference=leak)
    found = results(audit(path, stages=["data"]), "data.leakage")
    frame = duckdb.sql(leak).df()
    share = (frame["outcome_flag"] == frame["label"]).mean()
    assert found["outcome_flag"].status == "fail" and found["outcome_flag"].value == pytest.approx(share)
    assert "near" not in found  # equal on 97.5% only
    assert found["(features vs label)"].metrics["features"] >= 2


def test_freshness_skips_when_current_has_no_timestamp_column(project, audit, tmp_path):
    from tests.conftest import write_parquet

    select = "SELECT i AS id, i % 2 AS label FROM range(50) t(i)"
    write_parquet(tmp_path / "data" / "log.parquet", "SELECT i AS id, TIMESTAMP '2026-11-27' AS ts FROM range(5) t(i)")
    path = project(current=select, reference=select,
                   config={"columns": {"id": "id", "timestamp": "ts", "label": "label"},
                           "datasets": {"reference": {"path": "data/reference.parquet"},
                                        "current": {"path": "data/current.parquet"},
                                        "predictions": {"path": "data/log.parquet"}}})
    result = results(audit(path, stages=["data"]), "data.freshness")[None]
    assert result.status == "skip" and "no 'ts' column" in result.message


TOP_VALUES = """SELECT i AS id, i % 4 AS tied, CASE WHEN i % 3 = 0 THEN NULL ELSE ['x', 'y', 'y'][1 + i % 3] END AS text,
  CASE WHEN i < 600 THEN 5 ELSE i END AS skewed, i * 0.25 AS varied, i % 2 AS label, 0.5 AS score, 1 AS prediction
FROM range(1000) t(i)"""


@pytest.mark.parametrize("exact_max", [10_000, 0])  # counted per value (shared with data.profile), or top-k + count
def test_top_value_shares_match_pandas(project, audit, monkeypatch, exact_max):
    monkeypatch.setattr("auditor.engine.value_counts.EXACT_VALUES_MAX", exact_max)
    cols = {"id": "id", "label": "label", "score": "score", "prediction": "prediction", "sensitive": [],
            "features": ["tied", "text", "skewed", "varied"]}
    path = project(current=TOP_VALUES, reference=TOP_VALUES, config={"columns": cols})
    found = results(audit(path, stages=["data"]), "data.constant_columns")
    frame = duckdb.sql(TOP_VALUES).df()
    table = {row[0]: row for row in found["(all columns)"].evidence["tables"][0]["rows"]}
    for col in cols["features"]:
        assert table[col][2] == pytest.approx(frame[col].value_counts(normalize=True).iloc[0], rel=1e-12)
    assert table["skewed"][1] == "5" and table["text"][1] == "'y'"
    if exact_max:  # among equally frequent values, the smallest
        assert table["tied"][1] == "0"
        assert any("histogram" in q for q in found["(all columns)"].evidence["sql"])


LEAK_FEATURES = """SELECT i AS id, ((i * 13) % 100) / 100.0 AS score, (((i * 13) % 100) >= 50)::INTEGER AS prediction,
  {label} AS label,
  i + 10 AS far, (i + 100)::DOUBLE AS far_float, CASE WHEN i % 5 = 0 THEN -1 ELSE 5 END AS other_values,
  i % 3 AS hits, CASE WHEN i % 7 = 0 THEN 'inf'::DOUBLE ELSE (i % 4 // 2)::DOUBLE END AS infinite,
  CASE WHEN i % 11 = 0 THEN 'nan'::DOUBLE WHEN i % 4 = 0 THEN NULL ELSE 7::DOUBLE END AS nan_float,
  ['a', 'b'][1 + i % 2] AS text_apart, ['x', '1'][1 + i % 2] AS text_hits, 'north' AS region, 'f' AS sex
FROM range(400) t(i)"""


@pytest.mark.parametrize("label", [
    "CASE WHEN i % 9 = 0 THEN NULL ELSE i % 2 END",  # integers: ranges and value counts settle most features
    "CASE WHEN i % 11 = 0 THEN 'nan'::DOUBLE WHEN i % 9 = 0 THEN NULL ELSE (i % 2)::DOUBLE END",  # NaN = NaN
])
def test_leakage_shares_without_comparing_features_that_never_meet_the_label(project, audit, label):
    """Features whose range or values never meet the label's are left out of the row-by-row comparison;
    every share still equals the comparison of every feature (ties, NULL, NaN, ±inf, text)."""
    from auditor.checks.leakage import label_equality_sql
    from auditor.engine.sources import Column, Dataset

    select = LEAK_FEATURES.format(label=label)
    path = project(current=select, reference=select,
                   config={"columns": {"id": "id", "label": "label", "score": "score", "prediction": "prediction",
                                       "sensitive": ["sex"]}})
    found = results(audit(path, stages=["data"]), "data.leakage")["(features vs label)"]
    shares = dict(map(tuple, found.evidence["tables"][0]["rows"]))
    con = duckdb.connect()
    con.execute(f"CREATE VIEW v AS {select}")
    ds = Dataset(name="current", view="v", source="", rows=400,
                 columns=tuple(Column(r[0], str(r[1])) for r in con.execute("DESCRIBE v").fetchall()))
    features = list(shares)
    row = con.execute(label_equality_sql(ds, "label", features)).fetchone()
    assert shares == {f: n / row[0] for f, n in zip(features, row[1:], strict=True)}
    assert shares["hits"] > 0 and shares["infinite"] > 0
    floating = "nan" in label
    assert (shares["nan_float"] > 0) == floating  # NaN = NaN
    assert (shares["text_hits"] > 0) != floating  # '1' is 1::VARCHAR, not 1.0::VARCHAR
    compared = next(q for q in found.evidence["sql"] if q.startswith("SELECT count(\"label\"), count(CASE WHEN"))
    for apart in () if floating else ("far", "far_float", "other_values", "text_apart"):
        assert f'"{apart}"' not in compared, apart
