"""The parity corpus: every statement an audit of the example and of a generated wide pair (and a few
targeted calls) runs on DuckDB, with its parameters, replayed on Spark and compared value by value.

`generate_example` and `generate_wide` write the projects; `templates()` walks auditor/ for its SQL templates
(module constants holding a SELECT); `covered(template, statements)` says whether a template ran in the corpus.
"""

from __future__ import annotations

import ast
import math
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "credit_scoring"
# Where SQL text is not the engine's: the history database is DuckDB's own file, whatever the engine.
NOT_ENGINE_SQL = ("auditor/delivery/",)
# Templates no Spark run can use, each with what Spark runs instead (a test holds each reason true).
DUPLICATE_ROWS_IN_BATCHES = ("whole rows in column batches keyed by file_index and file_row_number of DuckDB's "
                             "Parquet reader: a Spark dataset has no reader (Dataset.reader), so Spark hashes "
                             "whole rows in one statement (DUPLICATE_ROWS_SQL)")
DUCKDB_ONLY = {
    "auditor.engine.duplicate_rows.KEYED_SQL": DUPLICATE_ROWS_IN_BATCHES,
    "auditor.engine.duplicate_rows.FIRST_HASHES_SQL": DUPLICATE_ROWS_IN_BATCHES,
    "auditor.engine.duplicate_rows.MORE_HASHES_SQL": DUPLICATE_ROWS_IN_BATCHES,
    "auditor.engine.duplicate_rows.REPEATED_SQL": DUPLICATE_ROWS_IN_BATCHES,
    "auditor.engine.duplicate_rows.SPLIT_SQL": DUPLICATE_ROWS_IN_BATCHES,
    "auditor.engine.duplicate_rows.EXTRA_ROWS_SQL": DUPLICATE_ROWS_IN_BATCHES,
    "auditor.engine.repeats.CENSUS_SQL": "bitmaps (Engine.bitmaps): Spark groups the ids (REPEATS_SQL)",
    "auditor.engine.repeats.BUCKETS_SQL": "bitmaps (Engine.bitmaps): Spark groups the ids (REPEATS_SQL)",
    "auditor.engine.repeats.SHARED_BITMAP_SQL": "bitmaps (Engine.bitmaps): Spark intersects the tables",
    "auditor.engine.repeats.IN_BUCKETS": "bitmaps (Engine.bitmaps): the buckets follow the bitmap census",
    "auditor.engine.catalog.TABLES_SQL": "a DuckDB database file's tables: catalog[i].database is refused on Spark",
    "auditor.engine.duckdb_engine.PARQUET_CHUNKS_SQL": "read sizes from Parquet footers (Engine.measure_reads): "
                                                       "Spark measures none, so its reads are never batched by size",
}
APPROXIMATE = re.compile(r"\bapprox_(count_distinct|top_k|quantile)\b")
APPROXIMATE_REL = 0.15  # HyperLogLog at Spark's 5% relative error, three deviations
EXACT_REL = 1e-9


@dataclass(frozen=True)
class Statement:
    sql: str
    params: Any
    check: str | None


def templates() -> dict[str, str]:
    """'module.NAME' -> text of every module-level string constant of auditor/ that holds a SELECT."""
    found = {}
    for path in sorted((ROOT / "auditor").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(NOT_ENGINE_SQL):
            continue
        module = relative[:-3].replace("/", ".")
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                value = node.value
                text = _constant_text(value)
                if text and re.search(r"\bSELECT\b", text):
                    found[f"{module}.{node.targets[0].id}"] = text
    return found


def _constant_text(value: ast.expr) -> str | None:
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return value.value
    if isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add):  # "..." + CONSTANT
        left, right = _constant_text(value.left), _constant_text(value.right)
        return (left or "") + (right or "") if left or right else None
    return None


def _pieces(template: str) -> list[str]:
    """The template's literal text between its {placeholders}, whitespace collapsed, longest first."""
    parts = [" ".join(p.split()) for p in re.split(r"\{[a-z_0-9]*\}", template)]
    return sorted((p for p in parts if len(p) >= 8), key=len, reverse=True)


def covered(template: str, statements: list[Statement]) -> bool:
    """Whether some statement of the corpus was built from the template (holds its longest literal piece)."""
    pieces = _pieces(template)
    if not pieces:
        return True
    flat = [" ".join(s.sql.split()) for s in statements]
    return any(pieces[0] in text for text in flat)


def generate_example(folder: Path, rows: int, *, challenger: bool = False) -> Path:
    """The credit-scoring example at `rows` rows (and as many log rows) in `folder`; its audit.yaml. With
    `challenger`, current gains a second model's score and prediction, and the comparison is enabled."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, str(EXAMPLE / "generate.py"), "--rows", str(rows), "--log-rows", str(rows),
                    "--out", str(folder / "data")], check=True, capture_output=True)
    (folder / "schema.yaml").write_text((EXAMPLE / "schema.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    config = yaml.safe_load((EXAMPLE / "audit.yaml").read_text(encoding="utf-8"))
    if challenger:
        path = folder / "data" / "current.parquet"
        table = pq.read_table(path)
        second = pc.add(pc.multiply(table["score"], 0.8), 0.1)
        table = table.append_column("challenger_score", second)
        table = table.append_column("challenger_prediction", pc.cast(pc.greater_equal(second, 0.5), "int64"))
        pq.write_table(table, path)
        config["columns"].update(challenger_score="challenger_score", challenger_prediction="challenger_prediction")
        config["checks"]["modeling.champion_challenger"] = {}
    (folder / "audit.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return folder / "audit.yaml"


WIDE_ROWS = 400


def generate_wide(folder: Path, rows: int = WIDE_ROWS) -> Path:
    """A reference/current pair of 55 columns in `folder`, and its audit.yaml: more features than
    long_form.NARROW_MAX, and more than it of the columns counted per value (integers and text), so the stacked
    statements run. Numbers with NaN (written by pyarrow, so the file's min and max leave it out), ±infinity
    and NULL, an all-null and a constant one; few-valued integers; text of a few values, one with a single
    value and one holding `<script>`; `note`, free text of more values than data.profile's max_categories;
    booleans with NULLs; ISO-string dates; labels '>50K'/'<=50K' and scores from 1 to 10. Current shifts
    some numbers and integers and moves a category's rows."""
    folder.mkdir(parents=True, exist_ok=True)
    for side, seed in (("reference", 11), ("current", 12)):
        rng = np.random.default_rng(seed)
        shift = 0.5 if side == "current" else 0.0
        columns: dict[str, pa.Array] = {"id": pa.array(np.arange(rows) + (rows if shift else 0))}
        for j in range(16):
            x = rng.normal(j % 5, 1 + j % 3, rows).round(2) + (shift if j % 4 == 0 else 0.0)
            if j % 3 == 0:
                x[rng.random(rows) < 0.05] = np.nan
            if j % 6 == 1:
                x[:2] = [np.inf, -np.inf]
            missing = rng.random(rows) < 0.1 if j % 4 == 2 else None
            columns[f"x{j:02d}"] = pa.array(x, mask=missing)
        columns["x_constant"] = pa.array(np.full(rows, 2.5))
        columns["x_empty"] = pa.nulls(rows, pa.float64())
        for j in range(10):
            n = rng.integers(0, 3 + j, rows) + (1 if shift and j == 0 else 0)
            columns[f"n{j}"] = pa.array(n, mask=rng.random(rows) < 0.05 if j % 2 else None)
        for j in range(16):
            values = np.array([f"v{k}" for k in range(2 + j)] + (["<script>"] if j == 3 else []))
            picked = values[rng.integers(0, len(values), rows)]
            if shift and j == 1:
                picked[picked == "v0"] = "v1"
            columns[f"c{j}"] = pa.array(picked, mask=rng.random(rows) < 0.08 if j % 2 else None)
        columns["c_single"] = pa.array(["only"] * rows)
        columns["note"] = pa.array([f"note {k % (rows // 2)}" if k % 5 else "frequent" for k in rng.permutation(rows)])
        for j in range(4):
            columns[f"b{j}"] = pa.array(rng.random(rows) < 0.3 + 0.1 * j, mask=rng.random(rows) < 0.05 if j else None)
        days = rng.integers(0, 60, rows)
        columns["applied_on"] = pa.array([f"2026-{9 + d // 30:02d}-{1 + d % 30:02d}" for d in days])
        score = rng.integers(1, 11, rows)
        label = rng.random(rows) < score / 12
        columns["score"] = pa.array(score)
        columns["label"] = pa.array(np.where(label, ">50K", "<=50K"))
        columns["prediction"] = pa.array(np.where(score >= 6, ">50K", "<=50K"))
        pq.write_table(pa.table(columns), folder / f"{side}.parquet")
    config = {"version": 1, "project": {"name": "wide"}, "task": "binary_classification",
              "target": {"positive_label": ">50K"},
              "datasets": {"reference": {"path": "reference.parquet"}, "current": {"path": "current.parquet"}},
              "columns": {"id": "id", "label": "label", "score": "score", "prediction": "prediction",
                          "sensitive": ["c0"]},
              "checks": {"data.profile": {"max_categories": 50}},
              "outputs": {"dir": "out", "formats": ["json"]}}
    (folder / "audit.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return folder / "audit.yaml"


def run_example(config: Path, engine: dict | None = None, only: tuple[str, ...] = (), columns: dict | None = None,
                failures_dir: Path | None = None):
    """The example's audit as of its fixed date, on DuckDB or the engine given (`only` these checks, when
    given; `columns` roles changed; failing rows exported to `failures_dir`); (report, engine used)."""
    from auditor.audit import runner
    from auditor.audit.configure import config_from_dict
    from auditor.engine import connect

    raw = yaml.safe_load(config.read_text(encoding="utf-8"))
    if engine:
        raw["engine"] = engine
    raw["columns"].update(columns or {})
    if only:
        from auditor.checks import catalogue

        raw["checks"] = {spec.id: raw["checks"].get(spec.id, {}) if spec.id in only else {"enabled": False}
                         for spec in catalogue()}
    used = []

    def keep(cfg, environ=None):
        used.append(connect.open_engine(cfg, environ))
        return used[-1]

    original = runner.open_engine
    runner.open_engine = keep
    try:
        if failures_dir is not None:
            for check in ("data.schema", "data.duplicates", "data.null_rate", "data.subgroup_null_rate"):
                raw["checks"][check] = {**raw["checks"].get(check, {}), "export_failures": True}
        report = runner.run_audit(config_from_dict(raw, base_dir=config.parent), as_of=datetime(2026, 11, 27),
                                  failures_dir=failures_dir)
    finally:
        runner.open_engine = original
    return report, used[0]


# --- comparing results -------------------------------------------------------------------------------
def same(a: Any, b: Any, rel: float, path: str = "") -> str | None:
    """None when a and b agree (floats to `rel` relative, lists as multisets, maps by key); else where not."""
    if isinstance(a, bool) or isinstance(b, bool):
        return None if a == b else f"{path}: {a!r} != {b!r}"
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return None
        if a == b or abs(a - b) <= rel * max(abs(a), abs(b)):
            return None
        return f"{path}: {a!r} != {b!r}"
    if isinstance(a, dict) and isinstance(b, dict):
        if rel > EXACT_REL:
            return None if len(a) and len(b) or len(a) == len(b) else f"{path}: {len(a)} != {len(b)} keys"
        if set(map(repr, a)) != set(map(repr, b)):
            return f"{path}: keys differ"
        return next((d for k in a if (d := same(a[k], b[k], rel, f"{path}.{k}"))), None)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if rel > EXACT_REL and isinstance(a, list):
            return None  # approximate top-k lists: any order, any near-top values
        if len(a) != len(b):
            return f"{path}: {len(a)} != {len(b)} items"
        if isinstance(a, list):  # a collected list: the same values, in any order unless asked
            a, b = sorted(a, key=repr), sorted(b, key=repr)
        return next((d for i, (x, y) in enumerate(zip(a, b, strict=True)) if (d := same(x, y, rel, f"{path}[{i}]"))), None)
    return None if a == b else f"{path}: {a!r} != {b!r}"


def compare_rows(sql: str, want: list[tuple], got: list[tuple]) -> str | None:
    rel = APPROXIMATE_REL if APPROXIMATE.search(sql) else EXACT_REL
    if not re.search(r"\bORDER BY\b[^)]*$", sql):  # no order asked: rows by their exact values
        want, got = sorted(want, key=_exact_key), sorted(got, key=_exact_key)
    return same(want, got, rel)


def _exact_key(row: tuple) -> tuple:
    return tuple(repr(v) for v in row if not isinstance(v, (float, list, dict)))
