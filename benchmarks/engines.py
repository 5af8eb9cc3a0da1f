#!/usr/bin/env python
"""`make bench-engines`: the example's full audit on DuckDB and on Spark (local[2]), at 20k and 1M rows a side.

Each audit runs as a child process (`auditor run`, json only) with its query log. For each engine and size:
wall time, the number of statements, and whether every result's status equals DuckDB's and every value
is equal within 1e-9 relative (the parity tests' tolerance for exact values; approximate counts, marked
`~` in the report, may differ more and are counted apart). Spark's time includes starting its session
(10-17 s on this machine). The CPU and memory of Spark's JVM are not the child's own, so only wall time
is compared. Figures go to benchmarks/results/engines.json. Needs pyspark (the test extras) and Java 17.

    python benchmarks/engines.py [--rows 20000,1000000] [--master local[2]]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import shapes
from measure import largest_difference, run_child
from run import AUDITOR, BENCH, ROOT, tall

EXACT_REL = 1e-9


def audit(shape: shapes.Shape, out: Path, engine: dict | None) -> tuple[dict, dict]:
    label = (engine or {}).get("kind", "duckdb")
    config = dict(shape.config)
    if engine:
        config["engine"] = engine
    path = shapes.write_config(shapes.Shape(shape.name, shape.files, config), out / label, ["json"])
    log = out / f"{label}.queries.json"
    print(f"bench-engines: {shape.name} on {label} ...", file=sys.stderr, flush=True)
    run = run_child([*AUDITOR, "run", str(path), "--as-of", shape.as_of, "--format", "json"],
                    env={**os.environ, "AUDITOR_QUERY_LOG": str(log)}, cwd=ROOT)
    if run.returncode not in (0, 1):
        raise SystemExit(f"bench-engines: the {label} run failed:\n{run.stderr[-2000:]}")
    report = json.loads((out / label / "report" / "report.json").read_text())
    statements = len(json.loads(log.read_text())["queries"])
    results = {f"{c['id']}|{c['subject']}": c for c in report["checks"]}
    return {"engine": label, "wall_s": round(run.wall_s, 2), "statements": statements,
            "results": len(results)}, results


def agreement(duck: dict, spark: dict) -> dict:
    """How Spark's results compare with DuckDB's: statuses, exact values (1e-9), approximate ones."""
    same_status = sum(1 for k, r in duck.items() if k in spark and spark[k]["status"] == r["status"])
    exact, approximate, differ = 0, 0, []
    for key, r in duck.items():
        other = spark.get(key)
        if other is None:
            differ.append(key)
            continue
        # `queries` counts an engine's statements (Spark runs no EXPLAIN): not a measure of the data.
        worst = largest_difference([r["value"], {k: v for k, v in r["metrics"].items() if k != "queries"}],
                                   [other["value"], {k: v for k, v in other["metrics"].items() if k != "queries"}])
        if worst <= EXACT_REL:
            exact += 1
        elif "~" in (r.get("message") or "") or "approx" in json.dumps(r.get("metrics")):
            approximate += 1
        else:
            differ.append(f"{key} ({worst:.1e})")
    return {"results": len(duck), "same_status": same_status, "equal_1e-9": exact,
            "approximate_only": approximate, "differ": differ}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="20000,1000000", help="rows a side, comma-separated")
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()
    rows_list = [int(r) for r in args.rows.split(",")]
    summary = []
    for rows in rows_list:
        shape = tall(rows)
        out = BENCH / "results" / f"engines-{rows}"
        duck, duck_results = audit(shape, out, None)
        spark, spark_results = audit(shape, out, {"kind": "spark", "master": args.master})
        summary.append({"rows": rows, "duckdb": duck, "spark": spark, "spark_over_duckdb":
                        round(spark["wall_s"] / duck["wall_s"], 1), "agreement": agreement(duck_results, spark_results)})
    payload = {"master": args.master, "cores": os.cpu_count(), "load": os.getloadavg(), "sizes": summary}
    (BENCH / "results").mkdir(exist_ok=True)
    (BENCH / "results" / "engines.json").write_text(json.dumps(payload, indent=1))
    print(f"| rows a side | DuckDB wall s | statements | Spark {args.master} wall s | statements | Spark / DuckDB "
          "| same status | equal to 1e-9 | approximate only | differ |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for s in summary:
        a = s["agreement"]
        print(f"| {s['rows']:,} | {s['duckdb']['wall_s']:.1f} | {s['duckdb']['statements']} | {s['spark']['wall_s']:.1f} | "
              f"{s['spark']['statements']} | {s['spark_over_duckdb']}x | {a['same_status']} of {a['results']} | "
              f"{a['equal_1e-9']} | {a['approximate_only']} | {len(a['differ'])} |")
        for key in a["differ"][:10]:
            print(f"    differs: {key}")
    print(f"load {payload['load'][0]:.1f} on {payload['cores']} cores; figures: {BENCH / 'results' / 'engines.json'}")


if __name__ == "__main__":
    main()
