"""Windows over the prediction log: parsing, bucket alignment, the as-of cut, boundaries, empty windows."""

from datetime import UTC, datetime, timedelta, timezone

import duckdb
import numpy as np
import pytest

from auditor.engine import windows
from auditor.engine.duckdb_engine import Engine
from auditor.engine.sources import Column, Dataset
from auditor.engine.sql import bind
from auditor.engine.windows import (
    Window,
    bucket_start,
    build_range,
    naive_utc,
    parse_window,
    resolve_timestamp,
    timestamp_expr,
)
from auditor.errors import ConfigError, DataError


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
    ("VARCHAR", False), ("BIGINT", False), ("TIME", False), ("DOUBLE", False),
])
def test_timestamp_expr(duck_type, usable):
    """Native dates and times only: text goes through resolve_timestamp, which parses and checks it."""
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


def _range(engine: Engine, log: Dataset, *, window: Window, as_of: datetime, fmt: str | None = None):
    return build_range(engine, log, resolve_timestamp(engine, log, "ts", fmt), window=window, as_of=as_of)


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
    wr = _range(engine, log, window=Window(1, "d"), as_of=datetime(2026, 11, 5, 6, tzinfo=UTC))
    assert wr.labels() == ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05"]
    assert wr.rows_before_as_of == 5 and wr.rows_after_as_of == 2 and wr.rows_without_timestamp == 1
    assert wr.newest == datetime(2026, 11, 5, 5, 59, 59) and wr.oldest == datetime(2026, 11, 1)
    assert wr.coverage(4) == pytest.approx(0.25) and wr.coverage(0) == 1.0
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
    wr = _range(engine, log, window=window, as_of=as_of)
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
    wr = _range(engine, log, window=window, as_of=datetime(2026, 4, 12))
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
    wr = _range(engine, log, window=Window(1, "d"), as_of=datetime(2026, 11, 2, tzinfo=UTC))
    assert wr.labels() == ["2026-11-01"]
    assert wr.rows_before_as_of == 2 and wr.coverage(0) == 1.0


def test_every_window_is_analysed_and_too_many_name_as_of(monkeypatch):
    """No cap hides old windows: the range starts at the oldest row's window. A range too long to be a
    real monitoring period (historical data run by the clock) is a usage error naming --as-of."""
    engine = Engine()
    log = _log(engine, "SELECT TIMESTAMP '2026-01-01' + to_hours(i) AS ts FROM range(2160) t(i)")
    wr = _range(engine, log, window=Window(1, "h"), as_of=datetime(2026, 4, 1))
    assert len(wr.starts) == 2160 and wr.labels()[0] == "2026-01-01T00:00"
    assert wr.shown(90) == slice(2070, 2160)
    monkeypatch.setattr(windows, "MAX_WINDOWS", 1000)
    with pytest.raises(ConfigError, match=r"are 2,160, over 1,000: .*--as-of 2026-03-31"):
        _range(engine, log, window=Window(1, "h"), as_of=datetime(2026, 4, 1))


def test_hourly_and_weekly_labels():
    engine = Engine()
    log = _log(engine, TIMES)
    hourly = _range(engine, log, window=Window(1, "h"), as_of=datetime(2026, 11, 1, 3))
    assert hourly.labels() == ["2026-11-01T00:00", "2026-11-01T01:00", "2026-11-01T02:00"]
    weekly = _range(engine, log, window=Window(1, "w"), as_of=datetime(2026, 11, 5, 6))
    assert weekly.labels() == ["2026-10-26", "2026-11-02"]  # Mondays


def test_no_rows_before_as_of_and_columns_that_are_not_times():
    engine = Engine()
    log = _log(engine, TIMES + " UNION ALL SELECT NULL")
    wr = _range(engine, log, window=Window(1, "d"), as_of=datetime(2020, 1, 1))
    assert wr.starts == () and wr.rows_after_as_of == 7
    for select, kind in (("SELECT 1 AS ts", "INTEGER"), ("SELECT TIME '10:00' AS ts", "TIME")):
        with pytest.raises(DataError, match=rf"columns.timestamp 'ts' is {kind} in dataset 'predictions', not a date"):
            resolve_timestamp(engine, _log(engine, select), "ts")


def test_iso_text_timestamps_are_parsed_with_their_offsets():
    engine = Engine()
    log = _log(engine, "SELECT * FROM (VALUES ('2026-11-01 10:00'), ('2026-11-02T01:30:00+02:00'), ('2026-11-02'),"
                       " (''), (NULL)) t(ts)")
    ts = resolve_timestamp(engine, log, "ts")
    assert ts.parsed == "ISO 8601 dates or times" and ts.params == {}
    got = [r[0] for r in engine.query(f"SELECT {ts.sql} FROM log")]
    # The offset is honoured (01:30+02 is 23:30 UTC the day before); blank text is a missing timestamp.
    assert got == [datetime(2026, 11, 1, 10), datetime(2026, 11, 1, 23, 30), datetime(2026, 11, 2), None, None]
    wr = build_range(engine, log, ts, window=Window(1, "d"), as_of=datetime(2026, 11, 3))
    assert wr.labels() == ["2026-11-01", "2026-11-02"] and wr.rows_without_timestamp == 2


def test_formatted_text_timestamps_need_their_format():
    engine = Engine()
    log = _log(engine, "SELECT * FROM (VALUES ('24/01/2013 10:00'), ('01/02/2013 23:05'), (NULL)) t(ts)")
    with pytest.raises(DataError, match=r"columns.timestamp 'ts' in dataset 'predictions': 2 of 2 values are not "
                                        r"ISO 8601 dates or times, like '01/02/2013 23:05'; set columns.timestamp_format"):
        resolve_timestamp(engine, log, "ts")
    ts = resolve_timestamp(engine, log, "ts", "%d/%m/%Y %H:%M")
    assert ts.params == {"timestamp_format": "%d/%m/%Y %H:%M"}
    got = [r[0] for r in engine.query(f"SELECT {ts.sql} FROM log", ts.params)]
    assert got == [datetime(2013, 1, 24, 10), datetime(2013, 2, 1, 23, 5), None]
    wr = build_range(engine, log, ts, window=Window(1, "w"), as_of=datetime(2013, 2, 5))
    sql = f"SELECT {wr.position()}, count(*) FROM log WHERE {wr.filter()} GROUP BY 1 ORDER BY 1"
    assert engine.query(sql, bind(sql, wr.params)) == [(0, 1), (1, 1)]  # the format is bound with the range
    with pytest.raises(DataError, match=r"1 of 2 values are not '%d/%m/%Y' \(columns.timestamp_format\), like "
                                        r"'24/01/2013 10:00'"):
        resolve_timestamp(engine, _log(engine, "SELECT * FROM (VALUES ('24/01/2013 10:00'), ('02/02/2013')) t(ts)"),
                          "ts", "%d/%m/%Y")
