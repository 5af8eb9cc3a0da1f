"""Windows over the prediction log: parsing, bucket alignment, the as-of cut, boundaries, empty windows."""

from datetime import UTC, datetime, timedelta, timezone

import duckdb
import numpy as np
import pytest

from auditor.engine.duckdb_engine import Engine
from auditor.engine.sources import Column, Dataset
from auditor.engine.sql import bind
from auditor.engine.windows import Window, bucket_start, build_range, naive_utc, parse_window, timestamp_expr
from auditor.errors import ConfigError


@pytest.mark.parametrize(("text", "count", "unit", "width"), [
    ("1h", 1, "h", timedelta(hours=1)), ("6h", 6, "h", timedelta(hours=6)), ("1d", 1, "d", timedelta(days=1)),
    (" 2d ", 2, "d", timedelta(days=2)), ("1w", 1, "w", timedelta(weeks=1)),
])
def test_parse_window(text, count, unit, width):
    window = parse_window(text)
    assert (window.count, window.unit, window.width) == (count, unit, width)
    assert str(window) == f"{count}{unit}"


@pytest.mark.parametrize("text", ["0d", "1m", "d", "1.5d", "", "1 day", "-1h"])
def test_parse_window_rejects(text):
    with pytest.raises(ConfigError, match="monitoring.window"):
        parse_window(text)


def test_bucket_start_matches_duckdb_time_bucket():
    rng = np.random.default_rng(1)
    base = datetime(2026, 1, 1)
    moments = [base + timedelta(seconds=int(s)) for s in rng.integers(0, 400 * 86400, 200)]
    moments += [datetime(2026, 11, 23), datetime(2026, 11, 22, 23, 59, 59, 999999)]  # a Monday and just before
    con = duckdb.connect()
    for width in (timedelta(hours=1), timedelta(hours=6), timedelta(days=1), timedelta(days=3), timedelta(weeks=1)):
        expected = [r[0] for r in con.execute("SELECT time_bucket($w, unnest($m::TIMESTAMP[]))",
                                              {"w": width, "m": moments}).fetchall()]
        assert [bucket_start(m, width) for m in moments] == expected
    assert bucket_start(datetime(2026, 11, 27, 13, 5), timedelta(weeks=1)) == datetime(2026, 11, 23)  # Monday


def test_naive_utc():
    cet = timezone(timedelta(hours=1))
    assert naive_utc(datetime(2026, 11, 27, 1, 0, tzinfo=cet)) == datetime(2026, 11, 27, 0, 0)
    assert naive_utc(datetime(2026, 11, 27, tzinfo=UTC)) == datetime(2026, 11, 27)
    assert naive_utc(datetime(2026, 11, 27, 5)) == datetime(2026, 11, 27, 5)


@pytest.mark.parametrize(("duck_type", "usable"), [
    ("TIMESTAMP", True), ("TIMESTAMP_NS", True), ("TIMESTAMP WITH TIME ZONE", True), ("DATE", True),
    ("VARCHAR", True), ("BIGINT", False), ("TIME", False), ("DOUBLE", False),
])
def test_timestamp_expr(duck_type, usable):
    assert (timestamp_expr("ts", duck_type) is not None) == usable


def test_timestamptz_is_compared_in_utc():
    con = duckdb.connect()
    con.execute("SET TimeZone = 'America/New_York'")
    expr = timestamp_expr("ts", "TIMESTAMP WITH TIME ZONE")
    got = con.execute(f"SELECT {expr} FROM (SELECT TIMESTAMPTZ '2026-11-27 02:00:00+00' AS ts)").fetchone()[0]
    assert got == datetime(2026, 11, 27, 2, 0)


def _log(engine: Engine, select_sql: str) -> Dataset:
    engine.execute(f"CREATE OR REPLACE TEMP VIEW log AS {select_sql}")
    columns = tuple(Column(r[0], str(r[1])) for r in engine.query("DESCRIBE log"))
    rows = engine.query_one("SELECT count(*) FROM log")[0]
    return Dataset(name="predictions", view="log", source="test", rows=rows, columns=columns)


TIMES = """SELECT * FROM (VALUES
  (TIMESTAMP '2026-11-01 00:00:00'),      -- exactly on a boundary: opens the 11-01 window
  (TIMESTAMP '2026-11-01 23:59:59.999999'),
  (TIMESTAMP '2026-11-02 00:00:00'),      -- on the next boundary: belongs to 11-02, not 11-01
  (TIMESTAMP '2026-11-04 12:00:00'),      -- 11-03 is empty
  (TIMESTAMP '2026-11-05 05:59:59'),
  (TIMESTAMP '2026-11-05 06:00:00'),      -- at the as-of time: left out
  (TIMESTAMP '2026-11-09 00:00:00'),      -- after it: left out
  (NULL)
) t(ts)"""


def test_range_boundaries_as_of_cut_and_empty_windows():
    engine = Engine()
    log = _log(engine, TIMES)
    wr = build_range(engine, log, "ts", window=Window(1, "d"), as_of=datetime(2026, 11, 5, 6, tzinfo=UTC),
                     max_windows=90)
    assert wr.labels() == ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05"]
    assert wr.rows_before_as_of == 5 and wr.rows_after_as_of == 2 and wr.rows_without_timestamp == 1
    assert wr.newest == datetime(2026, 11, 5, 5, 59, 59) and wr.oldest == datetime(2026, 11, 1)
    assert wr.coverage(4) == pytest.approx(0.25) and wr.coverage(0) == 1.0
    assert not wr.capped
    sql = f"SELECT {wr.position()}, count(*) FROM log WHERE {wr.filter()} GROUP BY 1 ORDER BY 1"
    counts = engine.query(sql, bind(sql, wr.params))
    assert counts == [(0, 2), (1, 1), (3, 1), (4, 1)]


@pytest.mark.parametrize("window", [Window(1, "h"), Window(6, "h"), Window(1, "d"), Window(3, "d"), Window(1, "w")])
def test_position_is_the_index_of_duckdbs_time_bucket(window):
    """Every row in range gets the position of its time_bucket in `starts`, at the windows' edges too."""
    rng = np.random.default_rng(4)
    base = datetime(2026, 3, 1)
    moments = [base + timedelta(microseconds=int(u)) for u in rng.integers(0, 60 * 86400 * 10**6, 300)]
    as_of = datetime(2026, 4, 30, 7)
    edges = [bucket_start(m, window.width) for m in moments]
    moments += edges + [e - timedelta(microseconds=1) for e in edges] + [as_of - timedelta(microseconds=1)]
    engine = Engine()
    engine.execute("CREATE TABLE moments AS SELECT unnest($m::TIMESTAMP[]) AS ts", {"m": moments})
    log = _log(engine, "SELECT * FROM moments")
    wr = build_range(engine, log, "ts", window=window, as_of=as_of, max_windows=40)
    rows = engine.query(f"SELECT {wr.position()}, time_bucket($width, {wr.ts}) FROM log WHERE {wr.filter()}",
                        wr.params)
    assert rows and {start for _, start in rows} <= set(wr.starts)
    assert all(wr.starts[position] == start for position, start in rows)


@pytest.mark.parametrize("window", [Window(1, "h"), Window(1, "d"), Window(3, "d"), Window(1, "w")])
def test_between_positions_keeps_exactly_the_rows_of_those_windows(window):
    """The timestamp bounds select the same rows as the positions they stand for, edges included."""
    rng = np.random.default_rng(6)
    base = datetime(2026, 3, 1)
    moments = [base + timedelta(microseconds=int(u)) for u in rng.integers(0, 40 * 86400 * 10**6, 400)]
    moments += [e + d for e in {bucket_start(m, window.width) for m in moments}
                for d in (timedelta(0), timedelta(microseconds=-1))]
    engine = Engine()
    engine.execute("CREATE TABLE moments AS SELECT unnest($m::TIMESTAMP[]) AS ts", {"m": moments})
    log = _log(engine, "SELECT * FROM moments")
    wr = build_range(engine, log, "ts", window=window, as_of=datetime(2026, 4, 12), max_windows=60)
    last, selected = len(wr.starts) - 1, 0
    for first_part, last_part in [(0, 0), (1, 3), (last // 2, last), (last, last)]:
        sql = (f"SELECT count(*) FILTER (WHERE {wr.between_positions()}), "
               f"count(*) FILTER (WHERE {wr.position()} BETWEEN $first_part AND $last_part) FROM log WHERE {wr.filter()}")
        by_bounds, by_position = engine.query_one(sql, bind(sql, {**wr.params, "first_part": first_part,
                                                                  "last_part": last_part}))
        assert by_bounds == by_position
        selected += by_bounds
    assert selected > 0


def test_as_of_on_a_boundary_ends_the_previous_window():
    engine = Engine()
    log = _log(engine, TIMES)
    wr = build_range(engine, log, "ts", window=Window(1, "d"), as_of=datetime(2026, 11, 2, tzinfo=UTC),
                     max_windows=90)
    assert wr.labels() == ["2026-11-01"]
    assert wr.rows_before_as_of == 2 and wr.coverage(0) == 1.0


def test_max_windows_caps_the_range():
    engine = Engine()
    log = _log(engine, TIMES)
    wr = build_range(engine, log, "ts", window=Window(1, "d"), as_of=datetime(2026, 11, 5, 6), max_windows=2)
    assert wr.labels() == ["2026-11-04", "2026-11-05"]
    assert wr.capped and wr.rows_in_range == 2 and wr.rows_before_as_of == 5
    assert len(wr.sql) == 2


def test_hourly_and_weekly_labels():
    engine = Engine()
    log = _log(engine, TIMES)
    hourly = build_range(engine, log, "ts", window=Window(1, "h"), as_of=datetime(2026, 11, 1, 3), max_windows=90)
    assert hourly.labels() == ["2026-11-01T00:00", "2026-11-01T01:00", "2026-11-01T02:00"]
    weekly = build_range(engine, log, "ts", window=Window(1, "w"), as_of=datetime(2026, 11, 5, 6), max_windows=90)
    assert weekly.labels() == ["2026-10-26", "2026-11-02"]  # Mondays


def test_no_rows_before_as_of_and_bad_columns():
    engine = Engine()
    log = _log(engine, TIMES + " UNION ALL SELECT NULL")
    wr = build_range(engine, log, "ts", window=Window(1, "d"), as_of=datetime(2020, 1, 1), max_windows=90)
    assert wr.starts == () and wr.rows_after_as_of == 7
    assert "no timestamp column" in build_range(engine, log, "when", window=Window(1, "d"),
                                                 as_of=datetime(2020, 1, 1), max_windows=90)
    numbers = _log(engine, "SELECT 1 AS ts")
    assert "not a date or time" in build_range(engine, numbers, "ts", window=Window(1, "d"),
                                               as_of=datetime(2020, 1, 1), max_windows=90)
    with pytest.raises(ConfigError, match="max_windows"):
        build_range(engine, log, "ts", window=Window(1, "d"), as_of=datetime(2020, 1, 1), max_windows=0)


def test_text_timestamps_are_cast():
    engine = Engine()
    log = _log(engine, "SELECT * FROM (VALUES ('2026-11-01 10:00'), ('not a time'), ('2026-11-02 01:00')) t(ts)")
    wr = build_range(engine, log, "ts", window=Window(1, "d"), as_of=datetime(2026, 11, 3), max_windows=90)
    assert wr.labels() == ["2026-11-01", "2026-11-02"]
    assert wr.rows_without_timestamp == 1
