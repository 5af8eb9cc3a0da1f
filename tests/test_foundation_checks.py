"""Pass, warn and fail cases for the scoping checks and the first data checks, from literal rows."""

import numpy as np
import pandas as pd
import pytest
import yaml

from auditor import load_config
from auditor.audit.runner import run_audit
from tests.conftest import BASE_SELECT, results, write_parquet

NULLS = """SELECT i AS id, CASE WHEN i < {k} THEN NULL ELSE i * 1.5 END AS x, ['f', 'm'][1 + i % 2] AS sex,
                  i % 2 AS label, (i % 10) / 10.0 AS score, i % 2 AS prediction FROM range(100) t(i)"""


@pytest.mark.parametrize(("ref_nulls", "cur_nulls", "expected"),
                         [(0, 1, "pass"), (1, 5, "warn"), (0, 5, "fail"), (0, 20, "fail"), (4, 7, "warn"), (2, 12, "fail"), (3, 8, "fail"),
                          (10, 14, "warn")])
def test_null_rate_thresholds_and_jump(project, audit, ref_nulls, cur_nulls, expected):
    path = project(reference=NULLS.format(k=ref_nulls), current=NULLS.format(k=cur_nulls))
    result = results(audit(path, stages=["data"]), "data.null_rate")["x"]
    assert result.status == expected
    assert result.value == pytest.approx(cur_nulls / 100)
    assert result.metrics["null_rate_reference"] == pytest.approx(ref_nulls / 100)


def test_null_rate_counts_nan_as_missing(project, audit):
    cur = "SELECT i AS id, CASE WHEN i < 30 THEN 'NaN'::DOUBLE ELSE 1.0 END AS x, 'f' AS sex FROM range(100) t(i)"
    path = project(reference=cur, current=cur, config={"columns": {"id": "id", "sensitive": ["sex"]}})
    assert results(audit(path, stages=["data"]), "data.null_rate")["x"].value == pytest.approx(0.3)


def test_per_column_null_rate_override(project, audit):
    path = project(reference=NULLS.format(k=5), current=NULLS.format(k=5),
                   config={"checks": {"data.null_rate": {"columns": {"x": {"warn": 0.5, "fail": 0.9}}}}})
    assert results(audit(path, stages=["data"]), "data.null_rate")["x"].status == "pass"


def test_duplicates(project, audit):
    cur = BASE_SELECT.format(n=100).replace("SELECT i AS id", "SELECT i % 90 AS id") + \
        " UNION ALL " + BASE_SELECT.format(n=3)
    path = project(current=cur)
    found = results(audit(path, stages=["data"]), "data.duplicates")
    assert found["id"].status == "fail"
    assert found["id"].value == 13  # extra rows: 10 from the modulo and 3 from the appended copies
    assert found["id"].metrics["duplicated_ids"] == 10
    assert found["(whole rows)"].status == "warn" and found["(whole rows)"].value == 3
    assert found["reference: id"].status == "pass"
    sample = found["id"].evidence["tables"][0]
    assert sample["total_rows"] == 10 and len(sample["rows"]) == 10
    assert sample["rows"][:3] == [["0", 3], ["1", 3], ["2", 3]]


@pytest.mark.parametrize(("card", "expected"), [
    ({"problem_statement": "x", "owner": "o", "intended_use": "u", "success_metrics": [{"metric": "m", "target": 1}],
      "deployment": {"mode": "batch"}}, "pass"),
    ({"problem_statement": "x", "owner": "o"}, "warn"),
    ({"owner": "o", "intended_use": "u"}, "fail"),
])
def test_project_card(project, audit, card, expected):
    path = project(config={"project": None})
    text = path.read_text()
    import yaml
    cfg = yaml.safe_load(text)
    cfg["project"] = {"name": "p", **card}
    path.write_text(yaml.safe_dump(cfg))
    (result,) = results(audit(path, stages=["scoping"]), "scoping.project_card").values()
    assert result.status == expected


def test_data_availability_small_groups_and_missing_group(project, audit):
    cur = """SELECT i AS id, CASE WHEN i < 10 THEN 'tiny' WHEN i < 15 THEN NULL ELSE 'big' END AS sex,
             i % 2 AS label, 0.5 AS score, 1 AS prediction FROM range(200) t(i)"""
    path = project(current=cur, reference=cur)
    found = results(audit(path, stages=["scoping"]), "scoping.data_availability")
    groups = found["sex"]
    assert groups.status == "warn" and groups.value == 5
    assert ["(missing)", 5] in groups.evidence["tables"][0]["rows"]
    assert found["datasets"].status == "pass"
    assert found["label coverage"].value == 1.0


def test_data_availability_fails_on_empty_reference(project, audit):
    path = project(reference=BASE_SELECT.format(n=0))
    found = results(audit(path, stages=["scoping"]), "scoping.data_availability")
    assert found["datasets"].status == "fail" and "reference" in found["datasets"].message


def test_profile_histogram_matches_numpy(project, audit):
    rng = np.random.default_rng(1)
    values = rng.normal(size=500)
    rows = ", ".join(f"({i}, {float(v)!r})" for i, v in enumerate(values))
    cur = f"SELECT id, x, 'f' AS sex FROM (VALUES {rows}) t(id, x)"
    path = project(current=cur, reference=cur, config={"columns": {"id": "id", "sensitive": ["sex"]}})
    prof = results(audit(path, stages=["data"]), "data.profile")["x"]
    chart = prof.evidence["charts"][0]
    expected, _ = np.histogram(values, bins=np.asarray(chart["edges"]))
    assert np.allclose(chart["series"]["current"], expected / expected.sum(), rtol=0, atol=1e-12)
    assert prof.metrics["p50"] == pytest.approx(np.quantile(values, 0.5), rel=1e-12)
    assert prof.metrics["std"] == pytest.approx(values.std(), rel=1e-9)


# What one statement may read: the default, or so little that every column is read alone (the row hash in
# batches of columns keyed by each row's place in the file, as a table too wide to read at once is).
READ_SHARES = pytest.mark.parametrize("read_share", [None, 1e-12], ids=["at once", "column by column"])


@READ_SHARES
def test_whole_row_duplicates_match_pandas_with_nulls_nan_and_signed_zero(project, audit, read_share, monkeypatch):
    if read_share:
        monkeypatch.setattr("auditor.engine.base.READ_SHARE", read_share)
    # Rows that differ only by NULL vs NULL, NaN vs NaN or 0.0 vs -0.0 are copies, as pandas says.
    cur = """SELECT * FROM (VALUES
        (1, 0.0::DOUBLE, 'a'), (1, -0.0::DOUBLE, 'a'), (3, 'nan'::DOUBLE, NULL), (3, 'nan'::DOUBLE, NULL),
        (4, NULL, 'b'), (4, NULL, 'b'), (4, NULL, 'b'), (5, 1.5, 'c'), (5, 1.5, 'C'), (6, 2.0, 'd')
    ) t(id, x, s)"""
    path = project(current=cur, config={"columns": {"id": "id"}})
    frame = pd.read_parquet(path.parent / "data" / "current.parquet")
    found = results(audit(path, stages=["data"]), "data.duplicates")
    assert found["(whole rows)"].value == int(frame.duplicated().sum()) == 4
    assert ("file_row_number" in " ".join(found["(whole rows)"].evidence["sql"])) == bool(read_share)
    assert found["id"].value == int(frame["id"].duplicated().sum()) == 5
    assert found["id"].metrics["duplicated_ids"] == 4


@READ_SHARES
@pytest.mark.parametrize("listed_rows_max", [1_000_000, 0])  # candidate rows held once, or read twice
@pytest.mark.parametrize("id_type", ["BIGINT", "VARCHAR", "DOUBLE"])
def test_whole_row_copies_are_found_among_repeated_and_missing_ids(project, audit, id_type, listed_rows_max,
                                                                   read_share, monkeypatch):
    monkeypatch.setattr("auditor.engine.duplicate_rows.LISTED_ROWS_MAX", listed_rows_max)
    if read_share:
        monkeypatch.setattr("auditor.engine.base.READ_SHARE", read_share)
    # Copies hide behind repeated ids (7) and missing ids (NULL); a repeated id alone is not a copy (8).
    cur = f"""SELECT id::{id_type} AS id, x FROM (VALUES (7, 1.0), (7, 1.0), (8, 1.0), (8, 2.0), (NULL, 3.0),
        (NULL, 3.0), (NULL, 4.0), (9, 5.0)) t(id, x)"""
    path = project(current=cur, config={"columns": {"id": "id"}})
    frame = pd.read_parquet(path.parent / "data" / "current.parquet")
    found = results(audit(path, stages=["data"]), "data.duplicates")
    assert found["(whole rows)"].value == int(frame.duplicated().sum()) == 2
    assert found["id"].value == 2 and found["id"].metrics["duplicated_ids"] == 2
    assert [(float(i), n) for i, n in found["id"].evidence["tables"][0]["rows"]] == [(7.0, 2), (8.0, 2)]


def test_whole_row_copies_without_an_id_column(project, audit):
    cur = "SELECT * FROM (VALUES (1, 'a'), (1, 'a'), (2, 'a')) t(x, s)"
    path = project(current=cur, config={"columns": {"features": ["x", "s"]}})
    found = results(audit(path, stages=["data"]), "data.duplicates")
    assert found["(whole rows)"].value == 1 and "id" not in found


@READ_SHARES
def test_whole_row_duplicates_without_an_id_over_several_files_match_pandas(tmp_path, read_share, monkeypatch):
    # Two files read as one dataset: a row of the second file copies rows of the first; rows are told apart
    # by their file as well as their row number in it when hashed in batches of columns.
    if read_share:
        monkeypatch.setattr("auditor.engine.base.READ_SHARE", read_share)
    parts = ["SELECT * FROM (VALUES (1, 'a', 0.5, NULL), (2, 'b', 'nan'::DOUBLE, 1), (1, 'a', 0.5, NULL), (3, 'c', 1.0, 2))"
             " t(x, s, f, n)",
             "SELECT * FROM (VALUES (1, 'a', 0.5, NULL), (2, 'b', 'nan'::DOUBLE, 1), (2, 'B', 'nan'::DOUBLE, 1), (4, 'd', 1.0, 2))"
             " t(x, s, f, n)"]
    for i, select in enumerate(parts):
        write_parquet(tmp_path / "data" / f"part-{i}.parquet", select)
    config = {"version": 1, "project": {"name": "files"}, "datasets": {"current": {"path": "data/*.parquet"}},
              "outputs": {"dir": "out", "formats": ["json"]}}
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(config))
    frame = pd.concat([pd.read_parquet(tmp_path / "data" / f"part-{i}.parquet") for i in range(2)])
    report = run_audit(load_config(tmp_path / "audit.yaml"), stages=["data"])
    found = results(report, "data.duplicates")["(whole rows)"]
    assert found.value == int(frame.duplicated().sum()) == 3
    assert ("file_index" in " ".join(found.evidence["sql"])) == bool(read_share)


def test_no_whole_row_is_read_when_every_row_has_an_id_of_its_own(project, audit):
    cur = "SELECT * FROM (VALUES (1, 0.5), (2, 0.5), (3, 0.5)) t(id, x)"
    found = results(audit(project(current=cur, config={"columns": {"id": "id"}}), stages=["data"]), "data.duplicates")
    assert found["(whole rows)"].value == 0 and found["(whole rows)"].status == "pass"
    assert not any("hash(" in sql for sql in found["(whole rows)"].evidence["sql"])  # the ids' census alone
