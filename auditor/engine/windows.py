"""Time windows over the prediction log: `monitoring.window` (1h, 1d, 1w) up to the as-of time.

Windows are DuckDB's `time_bucket` buckets with its default origin (Monday 2000-01-03,
00:00 UTC), so daily windows start at midnight, hourly ones on the hour and weekly ones
on Mondays. A window is half-open, [start, start + width). The range ends at the run's
as-of time: rows at or after it are left out (a nightly run "up to last night" ignores
what arrives while it runs), so the last window may be cut short by it. The range starts
at the window of the oldest row: every window is analysed (a check's `max_windows` only
limits what its charts and tables show), so a problem is dated from when it began, not
from the first window shown. More than MAX_WINDOWS windows is a usage error naming
--as-of and monitoring.window (a log read years after it ended, by the clock).

The timestamp role has ONE resolution per dataset (`resolve_timestamp`), used by every
check: a TIMESTAMP column is taken to be UTC, a TIMESTAMP WITH TIME ZONE is converted to
UTC, a DATE is its midnight, and text is parsed, as ISO 8601 (an offset is honoured) or
with `columns.timestamp_format` (strptime codes). Text that does not parse is a DataError
naming the column and an example value; blank text is a missing timestamp. Every windowed
query binds the same named parameters (`$window_start`, `$as_of`, the window start and
width in microseconds, and the format); `WindowRange.params` gives them.

A row's window is named in SQL by its position (0 = the oldest window), a small integer
computed from the timestamp's microseconds, rather than by `time_bucket`: at 10M rows the
integer costs a third less to compute and, as the first key of a sort by (window, score),
makes that sort a quarter cheaper than a TIMESTAMP key does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from auditor.engine.base import Engine
from auditor.engine.quantiles import order_positions
from auditor.engine.sources import Dataset
from auditor.engine.sql import bind, is_temporal, quote_ident
from auditor.errors import ConfigError, DataError
from auditor.stats.distances import lerp

Unit = Literal["h", "d", "w"]
UNITS: dict[str, timedelta] = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
WINDOW_PATTERN = re.compile(r"^\s*(\d+)\s*([hdw])\s*$")
# DuckDB's time_bucket origin for widths without months: a Monday, so weeks start on Mondays.
ORIGIN = datetime(2000, 1, 3)
MICROSECOND = timedelta(microseconds=1)
EPOCH = datetime(1970, 1, 1)  # DuckDB's epoch_us counts from here
# Every window of the log is analysed; this many is a log read far from its time (or a window too narrow).
MAX_WINDOWS = 50_000


def microseconds(span: timedelta) -> int:
    """A span in whole microseconds, exactly (no float on the way)."""
    return span // MICROSECOND


@dataclass(frozen=True)
class Window:
    """The width of one window: a count of hours, days or weeks."""

    count: int
    unit: Unit

    @property
    def width(self) -> timedelta:
        return self.count * UNITS[self.unit]

    def __str__(self) -> str:
        return f"{self.count}{self.unit}"


def parse_window(text: str) -> Window:
    """`1h`, `6h`, `1d`, `1w` -> Window. Anything else is a ConfigError naming the key."""
    match = WINDOW_PATTERN.match(str(text))
    if not match or int(match.group(1)) < 1:
        raise ConfigError(f"monitoring.window: {text!r} is not a window; use a count and a unit, like 1h, 1d or 1w")
    return Window(int(match.group(1)), match.group(2))  # type: ignore[arg-type]


def bucket_start(moment: datetime, width: timedelta) -> datetime:
    """The start of the window holding `moment`: DuckDB's `time_bucket(width, moment)`, in Python."""
    return ORIGIN + ((moment - ORIGIN) // width) * width


def naive_utc(moment: datetime) -> datetime:
    """A datetime as naive UTC (how every timestamp is compared here)."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def timestamp_expr(column: str, duck_type: str) -> str | None:
    """A native date or time column as a naive-UTC TIMESTAMP expression; None when it is not one (text,
    numbers, a TIME without a date): text goes through `resolve_timestamp`."""
    c = quote_ident(column)
    kind = duck_type.upper()
    if kind.startswith("TIMESTAMP WITH TIME ZONE") or kind == "TIMESTAMPTZ":
        return f"timezone('UTC', {c})"
    if kind.startswith("TIMESTAMP") or kind == "DATE":
        return f"{c}::TIMESTAMP"
    return None


@dataclass(frozen=True)
class Timestamp:
    """How one dataset's timestamp column reads as a naive-UTC TIMESTAMP: the expression, the parameters
    it binds, and how its text was parsed (None for a native column)."""

    column: str
    sql: str
    params: dict[str, Any]
    parsed: str | None = None


# Text timestamps: blank is missing; ISO 8601 is cast through TIMESTAMPTZ so an offset is honoured (the
# engine's session time zone is UTC, so text without one is UTC); a format goes to strptime.
TEXT = "nullif(trim({c}), '')"
ISO_TEXT = "timezone('UTC', TRY_CAST({text} AS TIMESTAMPTZ))"
FORMATTED_TEXT = "try_strptime({text}, $timestamp_format)"
UNPARSED_SQL = """SELECT count(*) FILTER (WHERE {text} IS NOT NULL AND {ts} IS NULL),
  min({text}) FILTER (WHERE {text} IS NOT NULL AND {ts} IS NULL), count({text})
FROM {view}"""


def resolve_timestamp(engine: Engine, dataset: Dataset, column: str, timestamp_format: str | None = None) -> Timestamp:
    """The dataset's timestamp as naive-UTC SQL. Text is parsed (ISO 8601, or `timestamp_format`); text that
    does not parse, or a column that is neither a date, a timestamp nor text, is a DataError (exit 3)."""
    col = dataset.column(column)
    native = timestamp_expr(column, col.type)
    if native is not None:
        return Timestamp(column, native, {})
    if col.type.upper() != "VARCHAR" or is_temporal(col.type):
        raise DataError(f"columns.timestamp '{column}' is {col.type} in dataset '{dataset.name}', not a date, "
                        "a timestamp or text")
    text = TEXT.format(c=quote_ident(column))
    if timestamp_format:
        parsed = FORMATTED_TEXT.format(text=text)
        ts = f"timezone('UTC', {parsed})" if "%z" in timestamp_format.lower() else parsed
        params, how = {"timestamp_format": timestamp_format}, f"'{timestamp_format}' (columns.timestamp_format)"
    else:
        ts, params, how = ISO_TEXT.format(text=text), {}, "ISO 8601 dates or times"
    sql = UNPARSED_SQL.format(text=text, ts=ts, view=dataset.view)
    try:
        bad, example, present = engine.query_one(sql, params or None)
    except engine.errors as exc:  # a format the engine cannot read at all
        raise DataError(f"columns.timestamp_format {timestamp_format!r}: {engine.first_line(exc)}") from None
    if bad:
        hint = "" if timestamp_format else "; set columns.timestamp_format (like '%d/%m/%Y %H:%M')"
        raise DataError(f"columns.timestamp '{column}' in dataset '{dataset.name}': {bad:,} of {present:,} values "
                        f"are not {how}, like {example!r}{hint}")
    return Timestamp(column, ts, params, how)


# Filters a windowed query to the audited range; `POSITION` numbers a row's window (in range only:
# the floor division counts whole widths from the first window's start, which is a bucket start).
IN_RANGE = "{ts} >= $window_start AND {ts} < $as_of"
POSITION = "((epoch_us({ts}) - $window_start_us) // $width_us)::INTEGER"
# The rows of the windows at positions $first_part to $last_part, as bounds on the timestamp itself
# (the same rows as POSITION between them): a log written in time order has its Parquet row groups
# in time order, and DuckDB reads only the groups whose timestamps can pass.
BETWEEN_POSITIONS = ("{ts} >= $window_start + $first_part * $width "
                     "AND {ts} < $window_start + ($last_part + 1) * $width")

# Rows per window, and per window and value of one column (a missing value counted as '(missing)'). Both
# deployment.volume and deployment.model_versions ask for the second when the log has model versions: the
# engine runs it once for both.
ROWS_SQL = """SELECT {position} AS window_index, count(*) AS n FROM {view} WHERE {in_range}
GROUP BY 1 ORDER BY 1"""
ROWS_BY_VALUE_SQL = """SELECT {position} AS window_index, coalesce({column}::VARCHAR, '(missing)') AS value, count(*) AS n
FROM {view} WHERE {in_range}
GROUP BY ALL ORDER BY 1, 2"""

RANGE_SQL = """SELECT min({ts}) FILTER (WHERE {ts} < $as_of), max({ts}) FILTER (WHERE {ts} < $as_of),
  count({ts}) FILTER (WHERE {ts} < $as_of), count(*) FILTER (WHERE {ts} >= $as_of), count(*) - count({ts})
FROM {view}"""


@dataclass(frozen=True)
class WindowRange:
    """The windows one run audits (every one from the log's oldest row to the as-of time), and what
    the log holds around them."""

    window: Window
    starts: tuple[datetime, ...]  # naive UTC, oldest first; empty when the log has no row before as_of
    as_of: datetime  # naive UTC; the end of the range (exclusive)
    ts: str  # the timestamp as a SQL expression
    view: str
    oldest: datetime | None  # over rows before as_of
    newest: datetime | None
    rows_before_as_of: int
    rows_after_as_of: int
    rows_without_timestamp: int
    sql: tuple[str, ...]
    ts_params: tuple[tuple[str, Any], ...] = ()  # what the timestamp expression binds (a format)

    @property
    def width(self) -> timedelta:
        return self.window.width

    @property
    def start(self) -> datetime | None:
        return self.starts[0] if self.starts else None

    @property
    def params(self) -> dict[str, Any]:
        """The named parameters of every windowed query."""
        start = self.start or self.as_of
        return {"window_start": start, "as_of": self.as_of, "width": self.width,
                "window_start_us": microseconds(start - EPOCH), "width_us": microseconds(self.width),
                **dict(self.ts_params)}

    def labels(self) -> list[str]:
        return [window_label(s, self.window) for s in self.starts]

    def shown(self, limit: int) -> slice:
        """The newest `limit` windows: what a chart shows (every window is analysed)."""
        return slice(max(0, len(self.starts) - limit), len(self.starts))

    def since(self, moment: datetime | None) -> int:
        """The position of the first window that starts at or after `moment` (0 without one): the windows
        from there on are newer than, say, the reference's end."""
        if moment is None:
            return 0
        return next((i for i, s in enumerate(self.starts) if s >= naive_utc(moment)), len(self.starts))

    def coverage(self, position: int) -> float:
        """The share of a window inside the range: 1, except for a last window the as-of time cuts."""
        start = self.starts[position]
        return min(1.0, (self.as_of - start) / self.width)

    def filter(self) -> str:
        return IN_RANGE.format(ts=self.ts)

    def position(self) -> str:
        """SQL: the position of a row's window in `starts` (for rows that pass `filter()`)."""
        return POSITION.format(ts=self.ts)

    def between_positions(self) -> str:
        """SQL: true for the rows of the windows at positions `$first_part` to `$last_part`."""
        return BETWEEN_POSITIONS.format(ts=self.ts)

    def rows_sql(self, column: str | None = None) -> str:
        """SQL: rows per window position (window_index, n), or per position and value of `column`
        (window_index, value, n)."""
        parts = {"position": self.position(), "view": self.view, "in_range": self.filter()}
        if column is None:
            return ROWS_SQL.format(**parts)
        return ROWS_BY_VALUE_SQL.format(column=quote_ident(column), **parts)


def window_label(start: datetime, window: Window) -> str:
    """A window's name: its start date for days and weeks, date and hour for hours."""
    return start.strftime("%Y-%m-%dT%H:%M") if window.unit == "h" else start.strftime("%Y-%m-%d")


def build_range(engine: Engine, dataset: Dataset, timestamp: Timestamp, *, window: Window,
                as_of: datetime) -> WindowRange:
    """Scan the timestamp column once: every window from the oldest row's to the as-of time's."""
    end = naive_utc(as_of)
    sql = RANGE_SQL.format(ts=timestamp.sql, view=dataset.view)
    oldest, newest, before, after, untimed = engine.query_one(sql, {"as_of": end, **timestamp.params})
    last = bucket_start(end - MICROSECOND, window.width)
    starts: tuple[datetime, ...] = ()
    if oldest is not None:
        first = bucket_start(oldest, window.width)
        count = (last - first) // window.width + 1
        if count > MAX_WINDOWS:
            raise ConfigError(
                f"monitoring.window: {window} windows from the log's oldest row ({oldest:%Y-%m-%d}) to the as-of time "
                f"({end:%Y-%m-%d}) are {count:,}, over {MAX_WINDOWS:,}: its newest row is from {newest:%Y-%m-%d}; "
                f"for historical data run with --as-of {newest:%Y-%m-%d}, or use a wider window")
        starts = tuple(first + i * window.width for i in range(count))
    return WindowRange(
        window=window, starts=starts, as_of=end, ts=timestamp.sql, view=dataset.view, oldest=oldest, newest=newest,
        rows_before_as_of=int(before), rows_after_as_of=int(after), rows_without_timestamp=int(untimed),
        sql=(sql,), ts_params=tuple(timestamp.params.items()),
    )


# Exact per-window quantiles in bounded memory, in one scan and without a sort of every row:
# quantile_cont per window holds every value of every window at once and cannot spill (at 100M
# rows it died under the default memory limit). Rows per (window, value) are a histogram (latencies
# in milliseconds repeat: 10M rows, 109k cells, 1 CPU s); running counts over each window's cells in
# value order give each cell's ranks, and only the cells holding a rank numpy's linear method needs
# (floor((n - 1) q) and the next, as order_positions computes them) come back, found by a list test
# per cell. The ranks were once joined to the cells by range (g > upto - n AND g <= upto): with
# 2,160 windows of distinct latencies that join took 66 CPU s of a 2M-row log; the list test, 2.
WINDOW_QUANTILES_SQL = """WITH cells AS (
  SELECT {position} AS window_index, {value}::DOUBLE AS v, count(*) AS n
  FROM {view} WHERE {in_range} AND {valid} GROUP BY ALL
), ranked AS (
  SELECT window_index, v, n, sum(n) OVER (PARTITION BY window_index ORDER BY v ROWS UNBOUNDED PRECEDING) AS upto,
    sum(n) OVER (PARTITION BY window_index) AS total
  FROM cells
), picked AS (
  SELECT window_index, total, v, list_filter([{ranks}], lambda g: g > upto - n AND g <= upto) AS ranks FROM ranked
)
SELECT window_index, total::BIGINT, unnest(ranks) AS g, v FROM picked WHERE array_length(ranks) > 0"""
RANK = "least(floor((total - 1) * $q{i})::BIGINT + {step}, total - 1) + 1"


def window_quantiles(engine: Engine, wr: WindowRange, value: str, valid: str, probabilities: Sequence[float]
                     ) -> tuple[list[tuple[int, int, list[float]]], str]:
    """(window position, values, quantiles) per window with values of the SQL `value` (rows passing `valid`),
    equal to numpy.quantile's (linear method); and the statement."""
    ranks = ", ".join(RANK.format(i=i, step=step) for i in range(len(probabilities)) for step in (0, 1))
    sql = WINDOW_QUANTILES_SQL.format(position=wr.position(), value=value, view=wr.view, in_range=wr.filter(),
                                      valid=valid, ranks=ranks)
    params = {**wr.params, **{f"q{i}": float(q) for i, q in enumerate(probabilities)}}
    totals: dict[int, int] = {}
    values: dict[tuple[int, int], float] = {}
    for window, total, g, v in engine.query(sql, bind(sql, params)):
        totals[window], values[(window, int(g))] = int(total), v
    out = []
    for window in sorted(totals):
        n = totals[window]
        out.append((window, n, [lerp(values[(window, below + 1)], values[(window, above + 1)], t)
                                for below, above, t in order_positions(n, probabilities)]))
    return out, sql
