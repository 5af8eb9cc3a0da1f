"""Engine plumbing: DuckDB settings from config and environment, the per-run spill folder, the query log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor import load_config
from auditor.audit.runner import run_audit
from auditor.config import EngineSettings
from auditor.engine.duckdb_engine import Engine
from auditor.errors import ConfigError


def setting(engine: Engine, name: str):
    return engine.query_one("SELECT current_setting(?)", [name])[0]


def test_settings_reach_duckdb(tmp_path: Path) -> None:
    spill = tmp_path / "spill"
    engine = Engine(threads=1, memory_limit="300MB", temp_directory=str(spill))
    try:
        assert setting(engine, "threads") == 1
        # DuckDB reports the limit in its own units (300MB = 286.1 MiB).
        assert setting(engine, "memory_limit") == "286.1 MiB"
        assert Path(setting(engine, "temp_directory")) == spill
        assert spill.is_dir()
    finally:
        engine.close()
    assert spill.is_dir(), "a folder the user named is theirs: it stays"


@pytest.mark.parametrize(("threads", "expected"), [(1, "488.2 MiB"), (2, "488.2 MiB"), (4, "976.5 MiB")])
def test_memory_limit_defaults_to_a_bound_by_threads_not_to_duckdbs_share_of_ram(threads, expected) -> None:
    # DuckDB alone would take 80% of RAM and let a 100M-row hash table grow into it; ours spills instead.
    engine = Engine(threads=threads)
    try:
        assert setting(engine, "memory_limit") == expected
    finally:
        engine.close()


def test_memory_settings_that_keep_rss_near_the_limit() -> None:
    # Without it a 100M-row sort kept hundreds of MB after it ended, beyond memory_limit (sql.py).
    engine = Engine(threads=1)
    try:
        assert setting(engine, "allocator_background_threads") is True
        # One parsed footer per Parquet file, not one per scan (the summary scans a file once per column).
        assert setting(engine, "parquet_metadata_cache") is True
    finally:
        engine.close()


def test_default_spill_folder_is_per_run_and_removed(tmp_path: Path) -> None:
    first, second = Engine(), Engine()
    try:
        folder = Path(setting(first, "temp_directory"))
        assert folder != Path(setting(second, "temp_directory"))
        assert folder.name.startswith("auditor-duckdb-")
        assert folder.resolve() != (Path.cwd() / ".tmp").resolve()
    finally:
        first.close()
        second.close()
    assert not folder.exists()
    first.close()  # closing twice is harmless


def test_a_large_sort_spills_to_the_folder_instead_of_dying(tmp_path: Path) -> None:
    spill = tmp_path / "spill"
    engine = Engine(threads=1, memory_limit="60MB", temp_directory=str(spill))
    try:
        # ~3M 16-byte rows sorted under a 60 MB limit: only possible by spilling.
        sql = ("SELECT sum(v * r) FROM (SELECT v, row_number() OVER (ORDER BY v) AS r "
               "FROM (SELECT hash(i) % 1000003 AS v FROM range(3000000) t(i)))")
        assert engine.query_one(sql)[0] is not None
    finally:
        engine.close()


def test_bad_memory_limit_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="engine: DuckDB rejected"):
        Engine(memory_limit="lots")


def test_environment_overrides_the_config() -> None:
    settings = EngineSettings(threads=4, memory_limit="8GB")
    env = {"AUDITOR_THREADS": "1", "AUDITOR_MEMORY_LIMIT": "512MB", "AUDITOR_TEMP_DIRECTORY": "/tmp/x"}
    assert settings.with_environment(env) == EngineSettings(threads=1, memory_limit="512MB", temp_directory="/tmp/x")
    assert settings.with_environment({"AUDITOR_THREADS": " "}) == settings
    with pytest.raises(ConfigError, match="AUDITOR_THREADS"):
        settings.with_environment({"AUDITOR_THREADS": "two"})
    with pytest.raises(ConfigError, match="AUDITOR_THREADS"):
        settings.with_environment({"AUDITOR_THREADS": "0"})


def test_config_engine_section_reaches_the_run(project, tmp_path: Path, monkeypatch) -> None:
    seen: dict[str, object] = {}
    original = Engine.close

    def spy(self: Engine) -> None:
        if getattr(self, "con", None) is not None and not seen:
            seen.update(threads=setting(self, "threads"), memory=setting(self, "memory_limit"),
                        temp=setting(self, "temp_directory"))
        original(self)

    monkeypatch.setattr(Engine, "close", spy)
    monkeypatch.delenv("AUDITOR_THREADS", raising=False)
    monkeypatch.delenv("AUDITOR_TEMP_DIRECTORY", raising=False)
    monkeypatch.setenv("AUDITOR_MEMORY_LIMIT", "1GB")
    config = project(config={"engine": {"threads": 1, "memory_limit": "4GB", "temp_directory": "spill"}})
    run_audit(load_config(config), stages=["data"])
    # threads from the file, memory from the environment, the spill folder relative to the config file.
    assert seen == {"threads": 1, "memory": "953.6 MiB", "temp": str(tmp_path / "spill")}


def test_query_log_names_the_check_behind_each_query(project, tmp_path: Path, monkeypatch) -> None:
    log_path = tmp_path / "queries.json"
    monkeypatch.setenv("AUDITOR_QUERY_LOG", str(log_path))
    run_audit(load_config(project()), stages=["data"])
    queries = json.loads(log_path.read_text())["queries"]
    assert queries and all(set(q) == {"check", "seconds", "cpu_seconds", "peak_rss_mb", "rows_fetched", "sql"} for q in queries)
    assert queries[0]["check"] is None  # attaching the datasets
    # data.duplicates must look for duplicated ids itself: its queries carry its name.
    assert any(q["check"] == "data.duplicates" and '"id"' in q["sql"] for q in queries)
    assert all(q["seconds"] >= 0 and q["cpu_seconds"] >= 0 for q in queries)


def test_no_query_log_without_the_variable(project, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("AUDITOR_QUERY_LOG", raising=False)
    run_audit(load_config(project()), stages=["data"])
    assert not any(p.suffix == ".json" for p in tmp_path.iterdir())


def test_a_repeated_read_runs_once(tmp_path: Path) -> None:
    engine = Engine()
    try:
        engine.execute("CREATE TABLE t AS SELECT range AS x FROM range(10)")
        sql = "SELECT sum(x) FROM t WHERE x > ?"
        assert engine.query_one(sql, [4]) == (35,)
        ran = len(engine.log)
        assert engine.query_one(sql, [4]) == (35,)
        assert engine.query(sql, [4]) == [(35,)]
        assert engine.query(sql, [4]) == [(35,)]
        assert len(engine.log) == ran + 1 and engine.cache_hits == 2  # query() and query_one() differ in shape
        assert engine.query_one(sql, [5]) == (30,)  # other parameters: another query
        frame = engine.query_df("SELECT x FROM t ORDER BY x")
        frame.loc[0, "x"] = 99  # a caller's change does not leak into the next answer
        assert engine.query_df("SELECT x FROM t ORDER BY x").loc[0, "x"] == 0
        # Anything that may change the data forgets what was read.
        engine.execute("INSERT INTO t VALUES (100)")
        assert engine.query_one(sql, [4]) == (135,)
        # Volatile reads are never remembered.
        first, second = (engine.query_one("SELECT random()")[0] for _ in range(2))
        assert first != second
    finally:
        engine.close()


def test_bench_counts_scans_per_dataset_view(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    try:
        from measure import analyse_query_log
    finally:
        sys.path.pop(0)
    queries = [
        {"check": None, "seconds": 0.1, "cpu_seconds": 0.1, "rows_fetched": None,
         "sql": 'CREATE OR REPLACE TEMP VIEW "current" AS SELECT * FROM read_parquet(\'x\')'},
        {"check": None, "seconds": 0.1, "cpu_seconds": 0.1, "rows_fetched": 3, "sql": 'DESCRIBE "current"'},
        {"check": "a", "seconds": 1.0, "cpu_seconds": 2.0, "rows_fetched": 1,
         "sql": 'SELECT count(*) FROM "current" c JOIN "reference" r USING (id) WHERE x > ?'},
        {"check": "a", "seconds": 0.5, "cpu_seconds": 0.5, "rows_fetched": 1,
         "sql": 'WITH t AS (SELECT * FROM "predictions") SELECT (SELECT count(*) FROM "current"), count(*) FROM t'},
        {"check": "b", "seconds": 0.2, "cpu_seconds": 0.2, "rows_fetched": 1,
         "sql": 'CREATE TEMP TABLE k AS SELECT id FROM "reference"'},
        {"check": None, "seconds": 0.1, "cpu_seconds": 0.1, "rows_fetched": 2,
         "sql": 'SELECT 0, count(a) FROM "current" UNION ALL SELECT 1, count(b) FROM "current"'},
    ]
    log = tmp_path / "log.json"
    log.write_text(json.dumps({"queries": queries, "cache_hits": 2}))
    found = analyse_query_log(log)
    assert found["scans"] == {"reference": 2, "current": 3, "predictions": 1}
    assert found["view_references"] == {"reference": 2, "current": 4, "predictions": 1}
    assert found["queries"] == 6 and found["cache_hits"] == 2
    assert [(c["check"], c["scans"], c["cpu_s"]) for c in found["checks"]] == [
        ("a", 4, 2.5), ("(runner)", 1, 0.3), ("b", 1, 0.2)]
