"""The bench's shapes beyond the example: wide tables, a long log, high cardinality, multiclass.

Each shape writes its Parquet files with DuckDB (seeded: row i's values are hashes of i, so the
same files come out every time and no table passes through Python), its audit.yaml, and the
problems planted in it: a list of (check id, subject, statuses that count as found). The
generators use only SQL, so a 2M-row file takes seconds and memory stays flat.

Shapes (name -> builder):
  wide       N features (80% numbers, 20% text) x 20,000 rows a side; drift planted in every
             50th numeric feature and in one text feature, a null jump, a constant column
  long_log   a prediction log of 2M rows over 90 days, graded in 2,160 hourly windows; latency
             doubles from day 61, a six-hour gap, score drift in the last ten days, a new version
  high_card  2M rows a side; a text column with 1M distinct values, a 5,000-value sensitive
             column with one disadvantaged group, a numeric feature that drifts
  multiclass 20 classes (labels as text), 500,000 rows a side; one class's recall collapses
             and another's prevalence doubles
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import yaml

SEED = 7


@dataclass
class Shape:
    name: str
    files: dict[str, Path]  # dataset name -> Parquet file
    config: dict  # audit.yaml, datasets pointing at `files`
    planted: list[dict] = field(default_factory=list)  # {check, subject, found_if: [statuses], what}
    peer: dict | None = None  # Evidently's input: {"numeric": [...], "categorical": [...], "drifted": [...]}
    as_of: str = "2026-11-27"


def uniform(i: str, salt: int) -> str:
    """SQL: a uniform number in [0, 1) from row expression `i` and a salt (seeded, no state)."""
    return f"((hash({i} * 2654435761 + {salt * 7919 + SEED}) % 1000000007) / 1000000007.0)"


def normal(i: str, salt: int) -> str:
    """SQL: a standard normal number (Box-Muller over two seeded uniforms)."""
    return (f"(sqrt(-2 * ln(1 - {uniform(i, salt)})) * cos(2 * pi() * {uniform(i, salt + 100_003)}))")


def write(con: duckdb.DuckDBPyConnection, path: Path, select: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    con.execute(f"COPY ({select}) TO '{partial}' (FORMAT parquet)")
    partial.rename(path)
    return path


def write_pair(folder: Path, rows: int, columns) -> dict[str, Path]:
    """reference.parquet and current.parquet of `rows` rows each, unless written already: `columns(i, current)`
    gives the SELECT list over row expression i (current's rows are numbered apart from the reference's)."""
    files = {"reference": folder / "reference.parquet", "current": folder / "current.parquet"}
    con = duckdb.connect()
    for side, current in (("reference", False), ("current", True)):
        if not files[side].is_file():
            parts = columns(f"(i + {rows * 10 if current else 0})", current)
            write(con, files[side], f"SELECT {', '.join(parts)} FROM range({rows}) t(i)")
    con.close()
    return files


def project(name: str, statement: str) -> dict:
    return {"name": name, "problem_statement": statement, "owner": "bench",
            "intended_use": "the benchmark's shape matrix", "success_metrics": [{"metric": "accuracy", "target": 0.6}],
            "deployment": {"mode": "batch", "latency_budget_ms": 200}}


def _config(shape: str, files: dict[str, Path], columns: dict, **extra) -> dict:
    return {"version": 1, "project": project(shape, f"The {shape} shape of the benchmark."),
            "datasets": {n: {"path": str(p)} for n, p in files.items()}, "columns": columns, **extra}


# ------------------------------------------------------------------------------------------ wide

WIDE_ROWS = 20_000
DRIFT_EVERY = 50  # every 50th numeric feature shifts by half a standard deviation in current


def wide(folder: Path, columns: int = 1000, rows: int = WIDE_ROWS) -> Shape:
    numeric = int(columns * 0.8)
    text = columns - numeric
    names_num = [f"n{j:04d}" for j in range(numeric)]
    names_txt = [f"t{j:04d}" for j in range(text)]
    drifted = [names_num[j] for j in range(1, numeric, DRIFT_EVERY)] + [names_txt[1]]
    constant, nully = names_num[2], names_txt[0]
    files = {"reference": folder / "reference.parquet", "current": folder / "current.parquet"}
    con = duckdb.connect()
    for side, current in (("reference", False), ("current", True)):
        if files[side].is_file():
            continue
        i = f"(i + {rows * 10 if current else 0})"
        parts = [f"{i} AS id", f"{uniform(i, 1)} AS score"]
        parts.append(f"({uniform(i, 2)} < {uniform(i, 1)} * 0.8 + 0.1)::INTEGER AS label")
        parts.append(f"({uniform(i, 1)} >= 0.5)::INTEGER AS prediction")
        for j, name in enumerate(names_num):
            value = f"{normal(i, 10 + j)} * {1 + j % 7} + {j % 13}"
            if name == constant:
                value = "1.0"
            elif current and name in drifted:
                value = f"{value} + {0.5 * (1 + j % 7)}"
            parts.append(f"({value})::DOUBLE AS {name}")
        for j, name in enumerate(names_txt):
            values = 5 + j % 20
            pick = f"floor({uniform(i, 5000 + j)} * {values})::INTEGER"
            if current and name in drifted:  # the first value loses most of its rows to the last one
                pick = f"CASE WHEN {pick} = 0 AND {uniform(i, 9000 + j)} < 0.8 THEN {values - 1} ELSE {pick} END"
            value = f"'v' || {pick}::VARCHAR"
            if current and name == nully:
                value = f"CASE WHEN {uniform(i, 9500)} < 0.3 THEN NULL ELSE {value} END"
            parts.append(f"{value} AS {name}")
        write(con, files[side], f"SELECT {', '.join(parts)} FROM range({rows}) t(i)")
    con.close()
    planted = [{"check": "deployment.feature_drift", "subject": c, "found_if": ["warn", "fail"],
                "what": f"{c} shifts by half a standard deviation" if c.startswith("n") else f"{c}'s first value moves to its last"}
               for c in drifted]
    planted += [{"check": "data.null_rate", "subject": nully, "found_if": ["fail"], "what": f"{nully} 30% null in current"},
                {"check": "data.constant_columns", "subject": constant, "found_if": ["warn", "fail"],
                 "what": f"{constant} is constant"}]
    config = _config("wide", files, {"id": "id", "label": "label", "score": "score", "prediction": "prediction"})
    return Shape(f"wide {columns:,} cols", files, config, planted,
                 peer={"numeric": [n for n in names_num if n != constant], "categorical": names_txt, "drifted": drifted})


# -------------------------------------------------------------------------------------- long log

LOG_ROWS = 2_000_000
LOG_DAYS = 90
LOG_END = "2026-11-27 00:00:00"


def long_log(folder: Path, rows: int = LOG_ROWS) -> Shape:
    """A 90-day hourly log; reference (the 90 days before) and current are 200,000 labelled rows each."""
    files = {n: folder / f"{n}.parquet" for n in ("reference", "current", "predictions")}
    con = duckdb.connect()
    hours = LOG_DAYS * 24
    start = f"TIMESTAMP '{LOG_END}' - INTERVAL {LOG_DAYS} DAY"
    # Rows spread evenly over the 90 days, in time order; six hours on day 30 are missing (the gap).
    gap_from, gap_to = 30 * 24 + 5, 30 * 24 + 11
    for name in ("reference", "current", "predictions"):
        if files[name].is_file():
            continue
        n = rows if name == "predictions" else 200_000
        i = "i"
        # The reference comes from the 90 days before the log (a window inside its period is not judged).
        before = f" - INTERVAL {LOG_DAYS} DAY" if name == "reference" else ""
        ts = f"{start}{before} + to_microseconds((i * ({hours} * 3600000000 // {n}))::BIGINT)"
        hour = f"(i * {hours} // {n})"
        late = f"{hour} >= {hours - 10 * 24}"  # the last ten days
        shift = f"CASE WHEN {late} THEN 0.8 ELSE 0 END" if name == "predictions" else "0"
        x = f"({normal(i, 1)} + {shift})"
        score = f"(1 / (1 + exp(-({x} + {normal(i, 2)} * 0.5))))"
        label = f"({uniform(i, 3)} < 1 / (1 + exp(-{x})))::INTEGER"
        parts = ["i AS id", f"{ts} AS ts", f"{x}::DOUBLE AS x", f"({normal(i, 4)} * 10 + 50)::DOUBLE AS y",
                 f"['a', 'b', 'c', 'd'][1 + floor({uniform(i, 5)} * 4)::INTEGER] AS segment",
                 f"{score}::DOUBLE AS score", f"({score} >= 0.5)::INTEGER AS prediction"]
        if name == "predictions":
            parts += [f"CASE WHEN {hour} >= {hours - 7 * 24} THEN NULL ELSE {label} END AS label",
                      f"CASE WHEN {hour} >= {hours - 5 * 24} THEN 'v3' ELSE 'v2' END AS model_version",
                      f"(40 + 30 * {uniform(i, 6)}) * CASE WHEN {hour} >= 60 * 24 THEN 4 ELSE 1 END AS latency_ms"]
            where = f"WHERE NOT ({hour} >= {gap_from} AND {hour} < {gap_to})"
        else:
            parts += [f"{label} AS label", "'v2' AS model_version"]
            where = ""
        write(con, files[name], f"SELECT {', '.join(parts)} FROM range({n}) t(i) {where}")
    con.close()
    config = _config("long_log", files, {"id": "id", "timestamp": "ts", "label": "label", "score": "score",
                                         "prediction": "prediction", "model_version": "model_version",
                                         "latency": "latency_ms", "features": ["x", "y", "segment"]},
                     monitoring={"window": "1h"},
                     checks={c: {"max_windows": hours} for c in WINDOWED})
    planted = [
        {"check": "deployment.latency", "subject": None, "found_if": ["fail"], "what": "latency x4 from day 61"},
        {"check": "deployment.volume", "subject": None, "found_if": ["warn", "fail"], "what": "six hours missing on day 31"},
        {"check": "deployment.drift_over_time", "subject": "x", "found_if": ["warn", "fail"], "what": "x shifts in the last ten days"},
        {"check": "deployment.model_versions", "subject": None, "found_if": ["warn", "fail"], "what": "a new version v3"},
    ]
    return Shape(f"long log {rows / 1e6:g}M rows, {hours:,} windows", files, config, planted)


WINDOWED = ("deployment.latency", "deployment.volume", "deployment.drift_over_time", "deployment.model_versions",
            "deployment.performance_over_time")


# ----------------------------------------------------------------------------------- high card

HIGH_CARD_ROWS = 2_000_000


def high_card(folder: Path, rows: int = HIGH_CARD_ROWS) -> Shape:
    """A 1M-distinct text column (`query`), a 5,000-value sensitive `city`; city c0042 is approved far less."""
    def columns(i: str, current: bool) -> list[str]:
        city = f"floor({uniform(i, 1)} * 5000)::INTEGER"
        x = f"({normal(i, 2)} + {'0.6' if current else '0'})"
        score = f"(1 / (1 + exp(-({x} + {normal(i, 3)} * 0.5 - CASE WHEN {city} = 42 THEN 3 ELSE 0 END))))"
        parts = [f"{i} AS id", f"'c' || lpad({city}::VARCHAR, 4, '0') AS city",
                 f"'q' || (hash({i}) % 1000000)::VARCHAR || repeat('x', (hash({i} * 3) % 40)::INTEGER) AS query",
                 f"{x}::DOUBLE AS x", f"({normal(i, 4)} * 3 + 10)::DOUBLE AS y",
                 f"({uniform(i, 5)} < 1 / (1 + exp(-{x})))::INTEGER AS label",
                 f"{score}::DOUBLE AS score", f"({score} >= 0.5)::INTEGER AS prediction"]
        return parts

    files = write_pair(folder, rows, columns)
    config = _config("high_card", files, {"id": "id", "label": "label", "score": "score", "prediction": "prediction",
                                          "sensitive": ["city"], "features": ["query", "x", "y", "city"]})
    planted = [
        {"check": "deployment.feature_drift", "subject": "x", "found_if": ["warn", "fail"], "what": "x shifts by 0.6 sd"},
        {"check": "modeling.disparate_impact", "subject": "city", "found_if": ["warn", "fail"],
         "what": "city c0042 approved far less often"},
    ]
    return Shape(f"high card {rows / 1e6:g}M rows", files, config, planted)


# ----------------------------------------------------------------------------------- multiclass

MULTICLASS_ROWS = 500_000
CLASSES = 20


def multiclass(folder: Path, rows: int = MULTICLASS_ROWS) -> Shape:
    """Labels 'class_00'..'class_19'; in current, class_07 is predicted right half as often and class_03
    is twice as common."""
    def columns(i: str, current: bool) -> list[str]:
        k = f"floor({uniform(i, 1)} * {CLASSES})::INTEGER"
        if current:  # class 3 takes rows from class 4: twice as common
            k = f"CASE WHEN {k} = 4 THEN 3 ELSE {k} END"
        wrong = f"{uniform(i, 2)} < CASE WHEN {k} = 7 AND {str(current).upper()} THEN 0.6 ELSE 0.1 END"
        predicted = f"CASE WHEN {wrong} THEN ({k} + 1) % {CLASSES} ELSE {k} END"
        parts = [f"{i} AS id", f"'class_' || lpad({k}::VARCHAR, 2, '0') AS label",
                 f"'class_' || lpad(({predicted})::VARCHAR, 2, '0') AS prediction",
                 f"({normal(i, 3)} + {k} * 0.3)::DOUBLE AS x", f"({normal(i, 4)} * 2)::DOUBLE AS y",
                 f"['north', 'south', 'east', 'west'][1 + floor({uniform(i, 5)} * 4)::INTEGER] AS region"]
        return parts

    files = write_pair(folder, rows, columns)
    config = _config("multiclass", files, {"id": "id", "label": "label", "prediction": "prediction",
                                           "sensitive": ["region"], "features": ["x", "y", "region"]},
                     task="multiclass")
    planted = [
        {"check": "deployment.label_drift", "subject": "label", "found_if": ["warn", "fail"],
         "what": "class_03 twice as common"},
        {"check": "modeling.performance", "subject": None, "found_if": ["warn", "fail"],
         "what": "class_07's recall falls from 0.9 to 0.4"},
    ]
    return Shape(f"multiclass {CLASSES} classes", files, config, planted)


def write_config(shape: Shape, out: Path, formats: list[str]) -> Path:
    config = dict(shape.config)
    config["outputs"] = {"dir": str(out / "report"), "formats": formats}
    out.mkdir(parents=True, exist_ok=True)
    path = out / "audit.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def found(shape: Shape, report: dict) -> list[dict]:
    """Each planted problem with whether the report flagged it (a result of that check, on that subject
    when one is named, with a status that counts)."""
    out = []
    for plant in shape.planted:
        results = [c for c in report["checks"] if c["id"] == plant["check"]
                   and (plant["subject"] is None or c.get("subject") == plant["subject"])]
        statuses = sorted({c["status"] for c in results})
        out.append({**plant, "statuses": statuses, "found": any(s in plant["found_if"] for s in statuses)})
    return out


if __name__ == "__main__":  # generate one shape's files: shapes.py NAME FOLDER [ARGS...] (integers)
    import sys

    globals()[sys.argv[1]](Path(sys.argv[2]), *(int(a) for a in sys.argv[3:]))
