"""The Spark engine against DuckDB: every SQL template, every rewrite, and the example audit end to end.

The corpus is what audits of the example and of a wide pair run on DuckDB with Spark's capabilities
(statements and parameters), plus the calls they do not make. The walker fails when a template of
auditor/ never runs in the corpus; the replay runs each statement on Spark and compares the results
(exact values to 1e-9 relative; statements with approx_* aggregates within APPROXIMATE_REL). Spark runs
at local[2], one session for the whole test run.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from auditor import load_config
from auditor.checks import profile
from auditor.checks.deployment_drift import REFERENCE_COUNTS_SQL, counts_sql
from auditor.checks.multivariate import SPREAD_CHUNK
from auditor.engine import long_form, pii, quantiles, repeats
from auditor.engine.base import Engine
from auditor.engine.catalog import attach_catalog
from auditor.engine.duckdb_engine import DuckDBEngine
from auditor.engine.sources import Dataset, attach_datasets
from auditor.metrics import curves, ranking
from auditor.metrics.evaluate import compute_metrics
from auditor.metrics.performance import model_columns
from auditor.stats import column_drift, column_measures
from auditor.stats.column_drift import DriftColumn, Relation, reference_deciles
from tests import parity
from tests.engines import attach_parquet, new_engine

CORPUS_ROWS = 20_000  # enough rows per day of the log for every windowed check to run
END_TO_END_ROWS = 20_000


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return build_corpus(tmp_path_factory.mktemp("parity"))


def as_spark(patch: pytest.MonkeyPatch) -> None:
    """A DuckDB engine with Spark's capabilities: no bitmaps, no min and max from Parquet statistics, rankings
    in window partitions, no reads sized by Parquet chunks (so no batches keyed by place in the files)."""
    patch.setattr(DuckDBEngine, "bitmaps", False)
    patch.setattr(DuckDBEngine, "parallel_global_sort", False)
    patch.setattr(DuckDBEngine, "reads_from_metadata", lambda self, select: False)
    patch.setattr(DuckDBEngine, "measure_reads", lambda self, view, columns: None)


def build_corpus(folder) -> dict:
    """{config: its statements}: what a Spark run sends, recorded on DuckDB with Spark's capabilities (`as_spark`).
    The example: as it runs, then with the alternative paths forced (refined ECDF bins, ranking in score ranges, a
    challenger compared), the windowed checks alone, plus calls the audit does not make. A wide pair
    (parity.generate_wide: more columns of each kind than long_form.NARROW_MAX, so the stacked statements run):
    as it runs, then data.profile and feature drift with their fallbacks forced (the fused chart grouping, the
    sorted ECDF of each column)."""
    example = parity.generate_example(folder / "example", CORPUS_ROWS, challenger=True)
    wide = parity.generate_wide(folder / "wide")
    runs: dict = {example: [], wide: []}

    def record(config, **how) -> None:
        _, engine = parity.run_example(config, **how)
        runs[config] += [parity.Statement(q.sql, q.params, q.check) for q in engine.log]

    with pytest.MonkeyPatch.context() as patch:
        as_spark(patch)
        record(wide)
        patch.setattr(profile, "_chart_from_cells", lambda *cells: None)  # a crowded cell across a chart edge
        for module in (column_measures, column_drift):  # 1M values of few distinct ones: no fine bins
            patch.setattr(module, "REFINE_MIN_VALUES", 1)
        record(wide, only=("data.profile", "deployment.feature_drift"), columns={"features": ["x00", "x01", "n0"]})
    with pytest.MonkeyPatch.context() as patch:
        as_spark(patch)
        record(example, failures_dir=folder / "example" / "failures")
        record(example, only=("deployment.volume", "deployment.performance_over_time", "deployment.drift_over_time"),
               columns={"model_version": None})
        patch.setattr(column_measures, "REFINE_MIN_VALUES", 1)
        patch.setattr(column_measures, "REFINE_MIN_DISTINCT", 0)
        patch.setattr(ranking, "rows_per_sort", lambda engine: 3000)
        record(example)
    runs[example] += _targeted(folder / "example")
    return runs


def _targeted(folder) -> list[parity.Statement]:
    """Statements the example does not run: a crowded quantile cell, ids grouped in ranges, deciles from
    value counts, a multiclass confusion matrix, rankings per partition counted first."""
    rng = np.random.default_rng(5)
    path = folder / "data" / "extra.parquet"
    x = np.append(rng.lognormal(0, 1, 3002), 1e12)  # nearly everything in one locating cell: ranked alone
    ids = np.append(np.arange(3000), [5, 5, 7]).astype(np.int64)  # three ids repeat
    pq.write_table(pa.table({"x": x, "id": ids}), path)
    engine = new_engine("duckdb")
    attach_parquet(engine, "extra", path)
    ds = Dataset(name="extra", view='"extra"', source=str(path), rows=3003, columns=tuple(engine.columns("extra")))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(quantiles, "FETCH_MAX", 10)
        quantiles.quantiles(engine, ds.view, {"x": "DOUBLE"}, [0.5, 0.9])
        patch.setattr(repeats, "CHUNK_VALUES", 1000)  # three ranges of ids, grouped one after another
        repeats.find_repeats(engine, ds, "id", sample=5)
    reference_deciles(engine, DriftColumn("x", "DOUBLE", "numeric"), Relation('"extra"'), 3003)
    attach_parquet(engine, "current", folder / "data" / "current.parquet")
    current = Dataset(name="current", view='"current"', source="", rows=0, columns=tuple(engine.columns("current")))
    classes = model_columns(current, label="employment_type", prediction="region", score=None, task="multiclass")
    compute_metrics(engine, current.view, classes, task="multiclass")
    regression = model_columns(current, label="income", prediction="age", score=None, task="regression")
    engine.query(curves.regression_sql(current.view, regression), {"grid": curves.GRID})
    engine.query(ranking.partition_counts_sql(current.view, label='"label" = 1', score='"score"', partition='"sex"'))
    attach_parquet(engine, "reference", folder / "data" / "reference.parquet")
    numeric = [DriftColumn("age", "BIGINT", "numeric"), DriftColumn("region", "VARCHAR", "categorical")]
    engine.query(*counts_sql(REFERENCE_COUNTS_SQL, numeric, {"age": [30.0, 40.0, 50.0]}, windowed=False,
                             view='"reference"'))
    statements = [parity.Statement(q.sql, q.params, q.check) for q in engine.log]
    engine.close()
    return statements


def test_every_sql_template_runs_in_the_parity_corpus(corpus):
    """A template no statement of the corpus was built from has no parity test: add a call to `_targeted`."""
    statements = [st for recorded in corpus.values() for st in recorded]
    found = parity.templates()
    assert len(found) > 30 and "auditor.metrics.ranking.RANKING_SQL" in found
    missing = [name for name, text in found.items()
               if name not in parity.DUCKDB_ONLY and not parity.covered(text, statements)]
    assert not missing, f"SQL templates with no parity run: {missing}"
    assert set(parity.DUCKDB_ONLY) <= set(found)  # a template renamed or gone leaves the list


def test_duckdb_only_templates_never_reach_spark(tmp_path):
    """The bitmap census and the reads keyed by place in the files are DuckDB's: a Spark engine says it has no
    bitmaps (repeats group instead) and measures no reads (a dataset has no reader: whole-row copies are counted
    in one statement)."""
    from auditor.engine.spark_engine import SparkEngine

    assert SparkEngine.bitmaps is False and SparkEngine.parallel_global_sort is False
    # Whole rows in column batches need DuckDB's Parquet reader: Spark's datasets have none.
    assert SparkEngine.measure_reads is Engine.measure_reads and Engine.measure_reads(None, "v", ["x"]) is None


@pytest.mark.spark
@pytest.mark.slow
def test_every_statement_of_the_corpus_gives_the_same_result_on_spark(corpus):
    differences, replayed = [], 0
    for config, statements in corpus.items():
        spark, duck = new_engine("spark"), new_engine("duckdb")
        loaded = load_config(config)
        for engine in (spark, duck):  # the config's datasets and catalog tables, as a run attaches them
            attach_datasets(engine, loaded)
            attach_catalog(engine, loaded)
            if (extra := config.parent / "data" / "extra.parquet").is_file():
                attach_parquet(engine, "extra", extra)
        seen = set()
        for st in statements:
            # Each statement text once (the same text with other values binds the same way): a statement costs
            # Spark a tenth of a second or more.
            if re.match(r"\s*(EXPLAIN|DESCRIBE|CREATE|DROP|ATTACH|COPY|SET|--|SELECT current_setting)", st.sql) \
                    or st.sql in seen:  # DuckDB's own, and scratch tables
                continue
            seen.add(st.sql)
            want = duck.query(st.sql, st.params)
            got = spark.query(st.sql, st.params)
            replayed += 1
            if (where := parity.compare_rows(st.sql, want, got)) is not None:
                differences.append(f"{config.parent.name} {st.check}: {where}\n{st.sql[:300]}")
        spark.close()
        duck.close()
    assert replayed > 100
    assert not differences, "\n\n".join(differences)


@pytest.mark.spark
@pytest.mark.slow
def test_the_example_on_spark_equals_duckdb(tmp_path):
    """`auditor run` with engine: {kind: spark, master: local[2]} on the example at 20k rows: every status the
    same as DuckDB's, exact values equal to 1e-9 relative, approximate ones (distinct counts) within 15%."""
    new_engine("spark").close()  # skips (or fails in CI) where Spark cannot run
    config = parity.generate_example(tmp_path, END_TO_END_ROWS)
    duck, _ = parity.run_example(config)
    spark, _ = parity.run_example(config, {"kind": "spark", "master": "local[2]"})
    want = {(r.id, r.subject): r for r in duck.checks}
    got = {(r.id, r.subject): r for r in spark.checks}
    assert set(got) == set(want)
    differences = []
    for key, a in want.items():
        b = got[key]
        rel = parity.APPROXIMATE_REL if a.metrics.get("approximate") else parity.EXACT_REL
        if a.status != b.status or parity.same(a.value, b.value, rel) is not None:
            differences.append(f"{key}: {a.status} {a.value!r} != {b.status} {b.value!r} ({b.message[:160]})")
    assert not differences, "\n".join(differences)
    assert len(want) > 90


# --- each rewrite of auditor/engine/spark_sql.py on literal rows ----------------------------------------
REWRITES = {
    "ordered list, NULLs kept and last": (
        "SELECT list(v ORDER BY n DESC, v) FROM (SELECT unnest([3, 1, NULL, 2]) AS v, unnest([1, 2, 2, 1]) AS n)", []),
    "list over no rows is NULL": ("SELECT list(v) FILTER (WHERE v > 9) FROM (SELECT unnest([1, 2]) AS v)", []),
    "arg_max with k": ("SELECT arg_max(v, n, 2), arg_min(v, v, 2) FROM (SELECT unnest([5, 6, 7]) AS v, unnest([1, 3, 2]) AS n)", []),
    "top-n min and max": ("SELECT min(v, 2), max(v, 2) FROM (SELECT unnest([4, NULL, 1, 9]) AS v)", []),
    "histograms alone stay one row": (
        "SELECT histogram(v), histogram(w) FROM (SELECT unnest([1, 1, 2]) AS v, unnest(['a', 'b', 'b']) AS w)", []),
    "histogram as a grouping": (
        "SELECT histogram(v) FILTER (WHERE v <> 'b'), count(*) FROM (SELECT unnest(['a', 'b', NULL, 'a']) AS v)", []),
    "fsum exact where a float sum is not": (
        "SELECT fsum(v), fsum(v) FILTER (WHERE v > 1) FROM (SELECT unnest(?::DOUBLE[]) AS v)", [[1e16, 1.0, -1e16, 0.5]]),
    "epoch keeps the fraction": ("SELECT epoch(?::TIMESTAMP), epoch_us(?::TIMESTAMP)",
                                 [datetime(2026, 1, 1, 0, 0, 0, 500), datetime(2026, 1, 1)]),
    "isfinite, isinf, isnan": (
        "SELECT count(*) FILTER (WHERE isfinite(v)), count(*) FILTER (WHERE isinf(v)), count(*) FILTER (WHERE isnan(v)) "
        "FROM (SELECT unnest(?::DOUBLE[]) AS v)", [[1.0, math.inf, -math.inf, math.nan, None]]),
    "grouping bits": ("SELECT GROUPING(a, b) AS g, count(*) FROM (SELECT unnest([1, 2]) AS a, unnest([3, 4]) AS b) "
                      "GROUP BY GROUPING SETS ((a), (a, b), ()) ORDER BY g, count(*)", []),
    "lead over a framed window": (
        "SELECT v, lead(v) OVER w, sum(v) OVER w FROM (SELECT unnest([1, 2, 4]) AS v) WINDOW w AS "
        "(ORDER BY v ROWS UNBOUNDED PRECEDING) ORDER BY v", []),
    "several unnest zipped": ("SELECT sum(a * b) FROM (SELECT unnest(?::BIGINT[]) AS a, unnest(?::BIGINT[]) AS b)",
                              [[1, 2, 3], [4, 5, 6]]),
    "named parameters, intervals and timestamps": (
        "SELECT $start + $k * $width, $start < $end", {"start": datetime(2026, 1, 1), "k": 3,
                                                      "width": timedelta(hours=1), "end": datetime(2026, 1, 2)}),
    "regexes written for RE2": (
        "SELECT count(*) FILTER (WHERE regexp_matches(v, ?)), count(*) FILTER (WHERE regexp_full_match(v, '-?[0-9]+')) "
        "FROM (SELECT unnest(['a[1', '-12', '12x', 'b&&']) AS v)", [r"^(?:[a[]\p{Nd}|[&&]{2})"]),
    "materialized CTE and a semi join": (
        "WITH w AS MATERIALIZED (SELECT unnest([1, 3]) AS b) SELECT count(*) FROM (SELECT unnest([1, 2, 3, 3]) AS b) "
        "SEMI JOIN w USING (b)", []),
    "strptime formats (columns.timestamp_format)": (
        "SELECT strptime('27/11/2026 13:05', '%d/%m/%Y %H:%M'), try_strptime(v, ?) "
        "FROM (SELECT unnest(['2026-11-27T01:02:03', 'bad']) AS v) ORDER BY 2 NULLS LAST", ["%Y-%m-%dT%H:%M:%S"]),
    "date_diff by boundaries, strptime over a list, regexp_replace 'g'": (
        "SELECT v, date_diff('year', try_strptime(v, ['%Y-%m-%d', '%d/%m/%Y']), ?::TIMESTAMP), "
        "regexp_replace(v, '[^0-9]', '', 'g') FROM (SELECT unnest(['2000-12-31', '31/12/2000', 'x']) AS v) ORDER BY v",
        [datetime(2026, 1, 1)]),
    "Luhn in a list lambda (a 1-based index)": (
        "SELECT v, " + pii.LUHN.format(d="v") + " FROM (SELECT unnest(['4111111111111111', '4111111111111112']) AS v) "
        "ORDER BY v", []),
    "ISO 13616 in a list reduce (from the first element)": (
        "SELECT v, " + pii.MOD97.format(s="v") + " FROM (SELECT unnest(['GB82WEST12345698765432', "
        "'GB82WEST12345698765431']) AS v) ORDER BY v", []),
    "UNPIVOT and unnest inside an expression": (
        "SELECT name, count(*) FROM (SELECT name, trim(value) AS v FROM (UNPIVOT (SELECT a::VARCHAR AS a, b::VARCHAR AS b "
        "FROM (SELECT unnest([1, NULL]) AS a, trim(unnest([' x', 'y '])) AS b)) ON COLUMNS(*) INTO NAME name VALUE value)) "
        "GROUP BY name ORDER BY name", []),
    "#16's long form: UNPIVOT of (value, bin) pairs, a row left out when its value is NULL": (
        "SELECT k, v, b FROM " + long_form.unpivot("(SELECT unnest([1.0, NULL, 3.0]) AS x, unnest([NULL, 2.0, 5.0]) AS y)",
                                                   [["x", "0"], ["y", "1"]], names=("v", "b")) + " ORDER BY k, v", []),
    "a struct IN a subquery": (
        "SELECT count(*) FROM (SELECT unnest([1, 2, 2]) AS id) WHERE struct_pack(k0 := id) IN "
        "(SELECT struct_pack(k0 := id) FROM (SELECT unnest([2, 3]) AS id))", []),
    "list_zip and list_inner_product (the multivariate drift's reconstruction)": (
        "SELECT list_inner_product(d, ?::DOUBLE[]) FROM (SELECT list_transform(list_zip([a, b], ?::DOUBLE[]), "
        "lambda p: p[1] - p[2]) AS d FROM (SELECT unnest([1.0, 4.0]) AS a, unnest([2.0, 0.5]) AS b)) ORDER BY 1",
        [[0.5, -1.0], [1.0, 1.0]]),
    "integer division, casts and try_cast": ("SELECT 7 // 2, (-7) // 2, TRY_CAST('x' AS INTEGER), 5 / 2", []),
    "first with an ORDER BY (top_values: the most frequent value, the smallest of a tie)": (
        "SELECT k, first(v ORDER BY n DESC, v), first(v ORDER BY n) FILTER (WHERE n > 1) FROM (SELECT unnest(['a', 'a', "
        "'a', 'b']) AS k, unnest(['x', 'w', 'y', 'z']) AS v, unnest([2, 2, 1, 5]) AS n) GROUP BY k ORDER BY k", []),
    "multivariate drift's chunk of a row (a hash of its values in arithmetic, not DuckDB's hash())": (
        "SELECT a, b, " + SPREAD_CHUNK.format(row="[a, b]").replace("$mv_chunks", "10") + " FROM (SELECT "
        "unnest(?::DOUBLE[]) AS a, unnest(?::DOUBLE[]) AS b) ORDER BY a, b",
        [[0.0, -1.25, 3.5e-7, 2e12, -0.999999, 17.3], [0.0, 4.0, -8.25, -3e15, 0.5, 1e-9]]),
}


@pytest.mark.spark
@pytest.mark.parametrize("name", sorted(REWRITES))
def test_each_rewrite_gives_duckdbs_answer(name):
    sql, params = REWRITES[name]
    duck, spark = new_engine("duckdb"), new_engine("spark")
    want, got = duck.query(sql, params), spark.query(sql, params)
    assert want == got or parity.compare_rows(sql, want, got) is None, (want, got)
    duck.close()
    spark.close()


@pytest.mark.spark
def test_fsum_is_the_same_whatever_the_partitioning():
    """Spark's sum depends on the order partitions arrive in; the rewritten fsum sorts, so it does not."""
    spark = new_engine("spark")
    values = list(np.random.default_rng(3).normal(0, 1e6, 2000)) + [1e-9] * 50
    sql = "SELECT fsum(v) FROM (SELECT unnest(?::DOUBLE[]) AS v)"
    (first,) = spark.query_one(sql, [values])
    (second,) = spark.query_one(sql, [values[::-1]])
    assert first == second == pytest.approx(math.fsum(values), rel=1e-15, abs=1e-12)
    spark.close()


@pytest.mark.spark
@pytest.mark.slow
def test_auditor_run_through_spark_connect_is_quiet(project, tmp_path):
    """The command with engine: {kind: spark, remote: ...} (a local Spark Connect server here): the report is
    written, the exit code is the audit's, and stderr holds at most the one-line summary."""
    import subprocess
    import sys

    import yaml

    new_engine("spark").close()  # skips (or fails in CI) where Spark cannot run
    path = project()
    config = yaml.safe_load(path.read_text())
    config["engine"] = {"kind": "spark", "remote": "local[2]"}
    path.write_text(yaml.safe_dump(config))
    run = subprocess.run([sys.executable, "-m", "auditor.cli", "run", str(path), "--stage", "data"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode in (0, 1), run.stderr
    assert len(run.stderr.splitlines()) <= 1, run.stderr
    assert (path.parent / "out" / "report.json").is_file()
