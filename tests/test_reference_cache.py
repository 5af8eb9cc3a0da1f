"""The reference's statistics kept across runs: an unchanged reference is not read again, values are
identical to an uncached run's, and a changed file, a changed definition or a corrupt cache is noticed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from auditor.cli import main
from auditor.engine.stored import decode, encode, reads_only
from tests.conftest import BASE_SELECT, write_parquet

# Numbers with many values (floats), few values (integers), categories and a score: every drift path.
REFERENCE = BASE_SELECT.format(n=3000).replace("1000.0 + (i * 37) % 500 AS income",
                                               "1000.0 + ((i * 7919) % 2999) / 3.0 AS income")
CURRENT = BASE_SELECT.format(n=2500).replace("1000.0 + (i * 37) % 500 AS income",
                                             "1100.0 + ((i * 7919) % 2477) / 2.5 AS income")
# What may still read an unchanged reference: attaching it, Parquet metadata (min/max of integers,
# EXPLAIN), the exact-KS refinement of the few bins the current data needs, and data.leakage's ids shared
# with current (one column: a set intersection no per-side answer replaces).
ALLOWED = ("CREATE OR REPLACE TEMP VIEW", "DESCRIBE", "EXPLAIN", 'SELECT count(*) FROM "reference"', "WITH wanted AS",
           "SELECT 0 AS side, min(", 'SELECT bit_count(bitstring_agg("id"', "SELECT count(*), min(k, 20) FROM (")


def run(config: Path, log: Path, *extra: str) -> dict:
    out = config.parent / "out"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUDITOR_QUERY_LOG", str(log))
        assert main(["run", str(config), "--out", str(out), "--format", "json", *extra]) in (0, 1)
    return json.loads((out / "report.json").read_text())


def values(report: dict) -> dict:
    return {(c["id"], c["subject"]): (c["status"], c["value"], c["metrics"]) for c in report["checks"]}


def differences(a: dict, b: dict) -> dict:
    return {k: (a.get(k), b.get(k)) for k in a.keys() | b.keys() if a.get(k) != b.get(k)}


def reference_reads(log: Path) -> list[str]:
    return [q["sql"] for q in json.loads(log.read_text())["queries"]
            if '"reference"' in q["sql"] or reads_only(q["sql"], frozenset({"reference"}))]


@pytest.fixture
def cached(project, tmp_path):
    return project(reference=REFERENCE, current=CURRENT, config={"engine": {"cache_dir": "cache"}})


def test_a_warm_run_does_not_read_the_reference_and_gives_identical_values(cached, tmp_path):
    cold = run(cached, tmp_path / "cold.json")
    warm = run(cached, tmp_path / "warm.json")
    uncached = run(cached, tmp_path / "uncached.json", "--no-cache")
    for other in (cold, uncached):
        assert differences(values(warm), values(other)) == {}
    assert cold["run"]["cache"]["answers_kept"] > 10 and not cold["run"]["cache"]["hit"]
    assert warm["run"]["cache"]["answers_reused"] > 10 and warm["run"]["cache"]["answers_kept"] == 0
    assert "cache" not in uncached["run"]
    full_scans = [sql for sql in reference_reads(tmp_path / "warm.json") if not sql.lstrip().startswith(ALLOWED)]
    assert full_scans == []
    assert len(reference_reads(tmp_path / "cold.json")) > len(reference_reads(tmp_path / "warm.json")) + 10


def test_a_changed_reference_or_definition_misses_and_a_corrupt_cache_is_ignored_with_one_warning(
        cached, tmp_path, capsys):
    first = run(cached, tmp_path / "a.json")
    write_parquet(tmp_path / "data" / "reference.parquet", REFERENCE.replace("% 4]", "% 3]"))  # new content
    changed = run(cached, tmp_path / "b.json")
    assert changed["run"]["cache"]["answers_reused"] == 0 and changed["run"]["cache"]["key"] != first["run"]["cache"]["key"]
    cfg = yaml.safe_load(cached.read_text())
    cfg["datasets"]["reference"] = {"sql": "SELECT * FROM read_parquet('data/reference.parquet') WHERE id >= 0"}
    cached.write_text(yaml.safe_dump(cfg))
    redefined = run(cached, tmp_path / "c.json")
    assert redefined["run"]["cache"]["answers_reused"] == 0
    assert len(list((tmp_path / "cache").glob("reference-*.json.gz"))) == 3
    path = Path(redefined["run"]["cache"]["file"])
    path.write_bytes(b"not a cache")
    capsys.readouterr()
    again = run(cached, tmp_path / "d.json")
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and err[0].startswith("auditor: warning: ignoring the unreadable reference cache")
    assert differences(values(again), values(redefined)) == {} and again["run"]["cache"]["answers_kept"] > 0


def test_a_history_root_keeps_the_cache_and_no_cache_skips_it(project, tmp_path, monkeypatch):
    config = project(reference=REFERENCE, current=CURRENT)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1800000000")
    assert main(["run", str(config), "--out", str(tmp_path / "root"), "--history", "--format", "json"]) in (0, 1)
    assert len(list((tmp_path / "root" / "cache").glob("reference-*.json.gz"))) == 1
    assert main(["run", str(config), "--out", str(tmp_path / "plain"), "--format", "json"]) in (0, 1)
    assert not (tmp_path / "plain" / "cache").exists()  # no history, no engine.cache_dir: no cache


def test_answers_keep_their_types_exactly():
    import datetime as dt
    from decimal import Decimal

    import numpy as np

    sample = [(1, 0.1 + 0.2, float("inf"), float("nan"), None, "x", Decimal("1.50"), dt.date(2026, 1, 2),
               dt.datetime(2026, 1, 2, 3, 4, 5, 6), [1, 2], {"a": (1, 2)}, b"\x00")]
    again = decode(json.loads(json.dumps(encode(sample))))
    assert again[0][:3] == sample[0][:3] and np.isnan(again[0][3]) and again[0][4:] == sample[0][4:]
    arrays = {"v": np.array([0.1, 2.5]), "n": np.ma.MaskedArray([1, 2], mask=[False, True])}
    back = decode(json.loads(json.dumps(encode(arrays))))
    assert back["v"].dtype == np.float64 and back["v"].tolist() == [0.1, 2.5]
    assert back["n"].mask.tolist() == [False, True]
    with pytest.raises(ValueError):  # a tag it does not know is refused: nothing in the file can run code
        decode({"$t": "pickle", "v": "..."})
