#!/usr/bin/env python
"""`make bench-cache`: an incremental nightly run against a `--no-cache` run, on the example at 10M rows.

Three audits of the same data as child processes, each with its query log: `--no-cache`, a cold run that
fills the cache (engine.cache_dir), and a warm run that reuses it. For each: wall and CPU time, peak RSS,
and the statements that read the reference (how many, their CPU seconds, and the rows they fetched: for
the exact-KS refinements, the values of the few bins the current data needs). The warm run's check values
must be identical to the `--no-cache` run's; the bench says whether they are, and if not, by how much they
differ against how much two uncached runs differ (the cold run fills the cache but computes everything:
at millions of rows DuckDB's parallel avg and stddev_pop may move in their last bits from run to run,
whatever the cache). Target: the warm run takes at most 0.6x the wall time of the `--no-cache` run.
Figures go to benchmarks/results/cache.json.

    python benchmarks/cache.py [--rows 10000000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

import duckdb
import shapes
from measure import largest_difference, run_child, views_read
from run import AUDITOR, BENCH, ROOT, tall

TARGET = 0.6


def reference_statements(log: Path) -> dict:
    """The statements of a query log that read the reference: count, CPU seconds, rows fetched."""
    con = duckdb.connect()
    queries = json.loads(log.read_text())["queries"]
    reading = [q for q in queries if "reference" in views_read(con, q["sql"])]
    con.close()
    return {"statements": len(queries), "reference_statements": len(reading),
            "reference_cpu_s": round(sum(q["cpu_seconds"] or 0 for q in reading), 3),
            "reference_rows_fetched": sum(q["rows_fetched"] or 0 for q in reading),
            "reference_by_check": sorted({q["check"] or "(attach)" for q in reading})}


def audit(shape: shapes.Shape, out: Path, label: str, *extra: str) -> tuple[dict, dict]:
    config = shapes.write_config(shape, out, ["json"])
    log = out / f"{label}.queries.json"
    report_dir = out / label
    run = run_child(["nice", *AUDITOR, "run", str(config), "--as-of", shape.as_of, "--out", str(report_dir),
                     "--format", "json", *extra], env={**os.environ, "AUDITOR_QUERY_LOG": str(log)}, cwd=ROOT)
    if run.returncode not in (0, 1):
        raise SystemExit(f"bench-cache: the {label} run failed:\n{run.stderr[-2000:]}")
    report = json.loads((report_dir / "report.json").read_text())
    values = {f"{c['id']}|{c['subject']}": [c["status"], c["value"], c["metrics"]] for c in report["checks"]}
    return {"label": label, **run.to_dict(), **reference_statements(log), "cache": report["run"].get("cache")}, values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args()
    shape = tall(args.rows)
    out = BENCH / "results" / f"cache-{args.rows}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    shape.config.setdefault("engine", {})["cache_dir"] = str(out / "cache")
    runs, values = [], {}
    for label, extra in (("no-cache", ("--no-cache",)), ("cold", ()), ("warm", ())):
        print(f"bench-cache: {label} run of {shape.name} ...", file=sys.stderr, flush=True)
        found, values[label] = audit(shape, out, label, *extra)
        runs.append(found)
    by = {r["label"]: r for r in runs}
    ratio = by["warm"]["wall_s"] / by["no-cache"]["wall_s"]
    identical = values["warm"] == values["no-cache"]
    differs = largest_difference(values["warm"], values["no-cache"])
    baseline = largest_difference(values["cold"], values["no-cache"])
    summary = {"shape": shape.name, "rows": args.rows, "runs": runs, "warm_over_no_cache": round(ratio, 3),
               "cpu_ratio": round(by["warm"]["cpu_s"] / by["no-cache"]["cpu_s"], 3),
               "identical_values": identical, "largest_relative_difference": differs,
               "uncached_runs_differ_by": baseline, "target": TARGET, "met": ratio <= TARGET,
               "load": os.getloadavg()}
    (BENCH / "results").mkdir(exist_ok=True)
    (BENCH / "results" / "cache.json").write_text(json.dumps(summary, indent=1))
    print("| run | wall s | CPU s | RSS MB | statements | reading the reference | their CPU s | rows fetched |")
    print("|---|---|---|---|---|---|---|---|")
    for r in runs:
        print(f"| {r['label']} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['peak_rss_mb']:.0f} | {r['statements']} | "
              f"{r['reference_statements']} | {r['reference_cpu_s']:.2f} | {r['reference_rows_fetched']:,} |")
    print(f"warm / no-cache: {ratio:.2f}x wall, {summary['cpu_ratio']:.2f}x CPU (target {TARGET}x); "
          f"values identical: {identical} (largest relative difference {differs:.1e}; two uncached runs differ "
          f"by {baseline:.1e}); load {summary['load'][0]:.1f}")


if __name__ == "__main__":
    main()
