"""Measuring a child process from the OS, and reading the engine's query log.

Wall time from the parent's clock; CPU time and peak RSS from `os.wait4`, which returns the
rusage of that one child (RUSAGE_CHILDREN would report the largest child seen so far, so a
small run after a big one would inherit the big one's peak).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import duckdb

VIEWS = ("reference", "current", "predictions")
NOT_A_SCAN = re.compile(r"^\s*(DESCRIBE|CREATE\s+(OR\s+REPLACE\s+)?(TEMP\s+|TEMPORARY\s+)?VIEW|ATTACH|SET|PRAGMA)\b",
                        re.IGNORECASE)
CREATE_AS = re.compile(r"^\s*CREATE\s.*?\bAS\s*(\(|SELECT|WITH)", re.IGNORECASE | re.DOTALL)


@dataclass
class ChildRun:
    returncode: int
    wall_s: float
    cpu_s: float  # user + system, all threads
    peak_rss_mb: float
    stdout: str
    stderr: str

    def to_dict(self) -> dict:
        return {"returncode": self.returncode, "wall_s": round(self.wall_s, 3), "cpu_s": round(self.cpu_s, 3),
                "peak_rss_mb": round(self.peak_rss_mb, 1)}


def run_child(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> ChildRun:
    """Run a command to completion; its wall time, CPU time and peak resident memory."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped: tell Popen
        out.seek(0)
        err.seek(0)
        return ChildRun(returncode=proc.returncode, wall_s=wall, cpu_s=usage.ru_utime + usage.ru_stime,
                        peak_rss_mb=usage.ru_maxrss / 1024,  # Linux reports KiB
                        stdout=out.read().decode(errors="replace"), stderr=err.read().decode(errors="replace"))


def _table_names(node: object, found: list[str]) -> None:
    if isinstance(node, dict):
        if node.get("type") == "BASE_TABLE" and "table_name" in node:
            found.append(node["table_name"])
        for value in node.values():
            _table_names(value, found)
    elif isinstance(node, list):
        for value in node:
            _table_names(value, found)


def views_read(con: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    """The dataset views a statement reads, once per reference (a self-join reads twice)."""
    if NOT_A_SCAN.match(sql):
        return []
    match = CREATE_AS.match(sql)
    if match:  # CREATE TABLE x AS SELECT ...: the SELECT is the scan
        sql = sql[match.start(1):]
    try:
        tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
    except duckdb.Error:
        tree = {"error": True}
    if tree.get("error"):
        # Not parseable as a plain SELECT: fall back to looking for the quoted view names.
        return [v for v in VIEWS for _ in re.finditer(re.escape(f'"{v}"'), sql)]
    found: list[str] = []
    _table_names(tree, found)
    return [t for t in found if t in VIEWS]


def analyse_query_log(path: Path) -> dict:
    """Queries, scans per view, seconds per check and the slowest statements of one run."""
    log = json.loads(path.read_text())
    queries = log["queries"]
    con = duckdb.connect()
    scans: Counter[str] = Counter()  # statements that read the view
    references: Counter[str] = Counter()  # every reference (a UNION ALL of narrow per-column branches counts each)
    per_check: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0, 0.0])
    costly = []
    for q in queries:
        read = views_read(con, q["sql"])
        references.update(read)
        scans.update(set(read))
        who = q["check"] or "(runner)"
        per_check[who][0] += 1
        per_check[who][1] += q["seconds"]
        per_check[who][2] += len(set(read))
        per_check[who][3] += q.get("cpu_seconds") or 0.0
        costly.append({"check": who, "seconds": round(q["seconds"], 3), "cpu_s": round(q.get("cpu_seconds") or 0, 3),
                       "reads": read,
                       "sql": " ".join(q["sql"].split())[:300]})
    con.close()
    # Where the peak resident memory grew: the queries after which the process's peak rose most.
    # The first statement's peak is the interpreter with its imports: the baseline, not growth.
    growth, before = [], None
    for q in queries:
        peak = q.get("peak_rss_mb")
        if peak is not None:
            if before is None:
                before = peak
            elif peak > before:
                growth.append({"check": q["check"] or "(runner)", "mb": round(peak - before, 1), "peak_mb": round(peak, 1),
                               "sql": " ".join(q["sql"].split())[:200]})
            before = max(before, peak)  # type: ignore[type-var]
    growth.sort(key=lambda e: -e["mb"])
    costly.sort(key=lambda e: -e["cpu_s"])
    checks = sorted(({"check": k, "queries": v[0], "seconds": round(v[1], 3), "scans": v[2], "cpu_s": round(v[3], 3)}
                     for k, v in per_check.items()), key=lambda e: -e["cpu_s"])
    return {"queries": len(queries), "cache_hits": log.get("cache_hits", 0), "scans": {v: scans.get(v, 0) for v in VIEWS},
            "view_references": {v: references.get(v, 0) for v in VIEWS},
            "query_seconds": round(sum(q["seconds"] for q in queries), 3),
            "checks": checks, "slowest": costly[:15], "memory_growth": growth[:8]}


def largest_difference(a: dict, b: dict) -> float:
    """The largest relative difference between two runs' numbers (values and metrics); inf when a status
    or a non-number differs."""
    worst = 0.0

    def walk(x: object, y: object) -> None:
        nonlocal worst
        if isinstance(x, dict) and isinstance(y, dict) and x.keys() == y.keys():
            for key in x:
                walk(x[key], y[key])
        elif isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
            for u, v in zip(x, y, strict=True):
                walk(u, v)
        elif isinstance(x, (int, float)) and isinstance(y, (int, float)) and not isinstance(x, bool):
            if x != y:
                worst = max(worst, abs(x - y) / max(abs(x), abs(y)))
        elif x != y:
            worst = float("inf")

    walk(a, b)
    return worst
