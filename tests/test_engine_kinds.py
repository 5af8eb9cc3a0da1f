"""engine.kind in the config, what Spark refuses, the translation's own pieces, and a quiet command line
whatever is installed. None of these start Spark (tests/test_spark_parity.py does)."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from auditor.audit.configure import config_from_dict
from auditor.engine import spark_patterns, spark_sql
from auditor.engine.connect import open_engine
from auditor.engine.duckdb_engine import DuckDBEngine
from auditor.errors import ConfigError


def _config(engine: dict, **datasets) -> dict:
    return {"version": 1, "datasets": datasets or {"current": {"path": "x.parquet"}}, "engine": engine}


@pytest.mark.parametrize("engine,message", [
    ({"kind": "spark", "threads": 2}, "engine: threads is a DuckDB setting, not for kind: spark; Spark's own settings go in conf"),
    ({"kind": "spark", "memory_limit": "1GB", "temp_directory": "t"},
     "engine: memory_limit, temp_directory are DuckDB settings, not for kind: spark"),
    ({"master": "local[2]"}, "engine: master is a Spark setting, not for kind: duckdb; set kind: spark"),
    ({"kind": "spark", "master": "local[2]", "remote": "sc://h:15002"}, "engine: give master or remote, not both"),
    ({"kind": "flink"}, "engine.kind: must be 'duckdb' or 'spark'"),
])
def test_engine_settings_of_the_other_kind_are_config_errors(engine, message):
    with pytest.raises(ConfigError) as raised:
        config_from_dict(_config(engine))
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_spark_settings_and_the_environment(monkeypatch):
    config = config_from_dict(_config({"kind": "spark", "master": "local[2]", "conf": {"spark.executor.memory": "4g"}}))
    assert config.engine.conf == {"spark.executor.memory": "4g"}
    # AUDITOR_THREADS & co. are DuckDB's: with kind spark they change nothing (and are no error).
    assert config.engine.with_environment({"AUDITOR_THREADS": "3"}) == config.engine
    duck = config_from_dict(_config({}))
    assert duck.engine.kind == "duckdb" and isinstance(open_engine(duck, {}), DuckDBEngine)


def test_a_duckdb_database_file_is_refused_on_spark_before_spark_starts(tmp_path):
    config = config_from_dict(_config({"kind": "spark"}, current={"table": "t", "database": "x.duckdb"}),
                              base_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"datasets.current.database: a DuckDB database file cannot be read"):
        open_engine(config, {})


# --- the translation, without Spark ------------------------------------------------------------------------
def test_parameters_become_typed_literals_and_array_casts_parse():
    sql = spark_sql.translate("SELECT unnest(?::BIGINT[]) AS n, $w * 2, ? < $t, ?",
                              {"p0": [1, None], "w": timedelta(hours=1), "t": datetime(2026, 1, 2, 3), "p1": 0.1,
                               "p2": "it's"})
    assert "CAST(array(1, NULL) AS ARRAY<BIGINT>)" in sql
    assert "make_dt_interval(0, 0, 0, 3600) * 2" in sql
    assert "0.1D < TIMESTAMP_NTZ '2026-01-02 03:00:00.000000'" in sql  # a DOUBLE, not a DECIMAL
    assert "'it''s'" in sql or "'it\\'s'" in sql


def test_positional_parameters_keep_their_order_inside_strings_and_casts():
    sql = spark_sql.translate("SELECT '?', ?::DOUBLE, ? FROM t WHERE a = ?", [1.5, 2, "x"])
    assert sql.index("1.5D") < sql.index(", 2") < sql.index("'x'") and "'?'" in sql


@pytest.mark.parametrize("value,literal", [
    (float("inf"), "CAST('Infinity' AS DOUBLE)"), (float("nan"), "CAST('NaN' AS DOUBLE)"), (-2.5, "(-2.5D)"),
    (3_000_000_000, "3000000000L"), (True, "TRUE"), (None, "NULL"), ([], "array()"),
])
def test_literals(value, literal):
    assert spark_patterns.literal_of(value) == literal


def test_duckdb_only_constructs_are_rewritten_or_refused():
    sql = spark_sql.translate("WITH r AS MATERIALIZED (SELECT 1 AS v) SELECT list(v ORDER BY v DESC) FROM r")
    assert "MATERIALIZED" not in sql and "array_sort" in sql and "COLLECT_LIST(v)" not in sql.upper().replace(" ", "")
    assert spark_sql.translate('CREATE TEMP TABLE "k" AS SELECT 1').startswith("CACHE TABLE `k` AS SELECT")
    with pytest.raises(NotImplementedError, match="bitstring_agg"):
        spark_sql.translate("SELECT bit_count(bitstring_agg(x, 1, 9)) FROM t")


@pytest.mark.parametrize("re2,java", [
    (r"[a[]", r"[a\[]"), (r"[&&x]", r"[\&&x]"), (r"(?P<year>\d+)", r"(?<year>\d+)"), (r"[^]a]", r"[^]a]"),
    (r"\[x\]", r"\[x\]"),
])
def test_re2_patterns_are_written_for_java(re2, java):
    assert spark_patterns.java_regex(re2) == java


@pytest.mark.parametrize("fmt,pattern", [
    ("%Y-%m-%d %H:%M:%S", "yyyy-MM-dd HH:mm:ss"), ("%d/%m/%Y", "dd/MM/yyyy"),
    ("%Y-%m-%dT%H:%M:%S.%f", "yyyy-MM-dd'T'HH:mm:ss.SSSSSS"), ("%b %d, %Y at %I%p", "MMM dd, yyyy' at 'hha"),
])
def test_strptime_formats_become_spark_patterns(fmt, pattern):
    assert spark_patterns.spark_datetime_pattern(fmt) == pattern


def test_a_strptime_format_spark_cannot_read_is_a_config_error():
    with pytest.raises(ConfigError, match=r"columns.timestamp_format: '%U' of '%Y-%U' has no Spark datetime pattern"):
        spark_patterns.spark_datetime_pattern("%Y-%U", where="columns.timestamp_format")


# --- quiet, whatever is installed ---------------------------------------------------------------------------
def _auditor(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auditor.cli", *args], capture_output=True, text=True, cwd=cwd)


def test_errors_stay_one_line_and_a_passing_run_is_silent_with_pyspark_installed(project, tmp_path):
    """pyspark's pandas module warns twice about pandas 3 when pandera imports it: auditor hides that."""
    pytest.importorskip("pyspark")
    missing = tmp_path / "missing.yaml"
    missing.write_text(yaml.safe_dump(_config({}, current={"path": "data/current.parquet"}) | {"schema": "nope.yaml"}))
    path = project()
    (tmp_path / "data").mkdir(exist_ok=True)
    broken = _auditor("run", str(missing), "--out", str(tmp_path / "o"), cwd=tmp_path)
    assert broken.returncode == 2 and len(broken.stderr.splitlines()) == 1, broken.stderr
    assert "nope.yaml" in broken.stderr
    script = ("import pandera.pandas, auditor.schema.loading; from auditor import load_config; "
              "from auditor.audit.runner import run_audit; "
              f"run_audit(load_config({str(path)!r}), stages=['scoping'])")
    silent = subprocess.run([sys.executable, "-c", "import auditor; " + script], capture_output=True, text=True)
    assert silent.returncode == 0 and silent.stderr == "", silent.stderr


def test_custom_pandera_checks_are_refused_on_spark_in_one_line():
    """They stream every row into Python: the first Spark version refuses them, naming them (exit 2)."""
    import types

    import pandera.pandas as pa

    from auditor.engine.sources import Column, Dataset
    from auditor.schema.custom import run_custom
    from auditor.schema.plan import SchemaPlan

    plan = SchemaPlan(custom={"age": [pa.Check(lambda s: s > 0, name="positive")]})
    ds = Dataset(name="current", view='"current"', source="x", rows=3, columns=(Column("age", "BIGINT"),))
    with pytest.raises(ConfigError) as raised:
        run_custom(types.SimpleNamespace(kind="spark"), plan, ds, sample=5, chunk_rows=10)
    assert str(raised.value).startswith("schema: age: positive: custom pandera checks")
    assert "kind: duckdb" in str(raised.value) and "\n" not in str(raised.value)
