#!/usr/bin/env python
"""`make bench`: the shape matrix, each shape's full audit against its one-pass floor and a peer.

Shapes (benchmarks/shapes.py; the example's generator for tall): tall (the example at --sizes rows a
side), wide (--wide columns x 20,000 rows a side, and 600 x 50), long_log (2M rows, 2,160 hourly
windows), high_card (2M rows a side, a 1M-distinct text column, a 5,000-value sensitive column) and
multiclass (20 classes). Data is generated once under benchmarks/data/ and reused.

Per shape, in the same run: the audit as a child process (json only, its query log on): wall and CPU
time, peak RSS, statements and scans per table, checks in error, the planted problems found; the floor
(benchmarks/floor.py over every file the audit reads, plus the start-up of `auditor --version`);
Evidently's DataDriftPreset where it applies (tall at the smallest size, wide), in its own venv; and
with --render, report.html and report.md rendered from the report (time and size). Figures go to
benchmarks/results/bench.json.

    python benchmarks/run.py [--shapes tall,wide,long_log,high_card,multiclass] [--sizes 1000000,10000000]
                             [--wide 1000,2000] [--no-peer] [--render] [--memory-limit 512MB] [--threads N]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path

import shapes
import yaml
from measure import analyse_query_log, run_child
from peer import compare_verdicts, run_peer

from auditor.engine.duckdb_engine import default_memory_limit

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
EXAMPLE = ROOT / "examples" / "credit_scoring"
PYTHON = sys.executable
AUDITOR = [PYTHON, "-m", "auditor.cli"]
SHAPES = ("tall", "wide", "long_log", "high_card", "multiclass")
ENGINE_ENV: dict[str, str] = {}  # AUDITOR_MEMORY_LIMIT / AUDITOR_THREADS from --memory-limit / --threads
RATIO_MAX, RSS_MAX_MB, PEER_MIN, SMALL_WIDE_S = 3.0, 1024, 20.0, 3.0
HTML_MAX_MB, MD_MAX_CHARS = 5.0, 60_000


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def tall(rows: int) -> shapes.Shape:
    """The example project at `rows` a side (its own generator, seeded), as a Shape."""
    folder = BENCH / "data" / str(rows)
    files = {n: folder / f"{n}.parquet" for n in ("reference", "current", "predictions")}
    if not all(p.is_file() for p in files.values()):
        say(f"generating the example at {rows:,} rows a side ...")
        partial = folder.with_name(f"{rows}.partial")
        run = run_child([PYTHON, str(EXAMPLE / "generate.py"), "--rows", str(rows), "--log-rows", str(rows),
                         "--out", str(partial)], cwd=ROOT)
        if run.returncode != 0:
            raise SystemExit(f"bench: generating {rows:,} rows failed:\n{run.stderr[-2000:]}")
        partial.rename(folder)
    config = yaml.safe_load((EXAMPLE / "audit.yaml").read_text())
    config["datasets"] = {name: {"path": str(path)} for name, path in files.items()}
    config.pop("catalog", None)  # tables only the data dictionary measures: not the audit's cost
    config["schema"] = str(EXAMPLE / config["schema"])
    planted = [{"check": "deployment.feature_drift", "subject": c, "found_if": ["warn", "fail"], "what": f"{c} drifts"}
               for c in ("income", "employment_type")]
    planted += [{"check": "data.duplicates", "subject": "id", "found_if": ["fail"], "what": "150 ids twice"},
                {"check": "data.null_rate", "subject": "debt_ratio", "found_if": ["fail"], "what": "debt_ratio null jump"},
                {"check": "modeling.disparate_impact", "subject": "sex", "found_if": ["fail"], "what": "women approved less"}]
    peer = {"numeric": ["age", "income", "debt_ratio", "credit_history_months", "num_accounts"],
            "categorical": ["employment_type", "region", "sex"], "drifted": ["income", "employment_type"]}
    return shapes.Shape(f"tall {rows / 1e6:g}M rows", files, config, planted, peer)


def generated(name: str, folder: Path, *args: int) -> shapes.Shape:
    """A shape, its files written by a child process: a child forked from a parent that held the data would
    start with the parent's peak RSS in its own."""
    run = run_child([PYTHON, str(BENCH / "shapes.py"), name, str(folder), *map(str, args)], cwd=ROOT)
    if run.returncode != 0:
        raise SystemExit(f"bench: generating {name} failed:\n{run.stderr[-2000:]}")
    return getattr(shapes, name)(folder, *args)  # the files exist: nothing is written again


def matrix(args: argparse.Namespace) -> list[shapes.Shape]:
    data = BENCH / "data"
    chosen: list[shapes.Shape] = []
    for name in args.shapes.split(","):
        if name == "tall":
            chosen += [tall(int(rows)) for rows in args.sizes.split(",")]
        elif name == "wide":
            chosen += [generated("wide", data / f"wide-{n}", int(n)) for n in args.wide.split(",")]
            small = generated("wide", data / "wide-600x50", 600, 50)
            small.name, small.peer = "wide 600 cols x 50 rows", None
            chosen.append(small)
        elif name in SHAPES:
            chosen.append(generated(name, data / name))
        else:
            raise SystemExit(f"bench: unknown shape '{name}'; choose from {', '.join(SHAPES)}")
    return chosen


def startup() -> float:
    """`auditor --version` wall time, the median of three: no audit can start faster."""
    return statistics.median(run_child([*AUDITOR, "--version"], cwd=ROOT).wall_s for _ in range(3))


def run_audit(shape: shapes.Shape, out: Path) -> dict:
    config = shapes.write_config(shape, out, ["json"])
    log = out / "queries.json"
    env = {**os.environ, **ENGINE_ENV, "AUDITOR_QUERY_LOG": str(log)}
    run = run_child(["nice", *AUDITOR, "run", str(config), "--as-of", shape.as_of, "--out", str(out / "report"),
                     "--format", "json"], env=env, cwd=ROOT)
    if run.returncode not in (0, 1):  # 1: the planted problems fail checks, as they should
        return {**run.to_dict(), "failed": run.stderr.strip()[-2000:]}
    result = run.to_dict()
    analysis = analyse_query_log(log)
    result.update({k: analysis[k] for k in ("queries", "scans", "view_references", "checks", "memory_growth")})
    result["checks"] = result["checks"][:8]
    report = json.loads((out / "report" / "report.json").read_text())
    result["status"], result["counts"] = report["status"], report["counts"]
    result["report_json_bytes"] = (out / "report" / "report.json").stat().st_size
    result["errors"] = [f"{c['id']}{' ' + c['subject'] if c.get('subject') else ''}: {c['message'].splitlines()[0]}"
                        for c in report["checks"] if c["status"] == "error"]
    result["planted"] = shapes.found(shape, report)
    result["drift"] = {c["subject"]: {"status": c["status"], "value": c["value"]}
                       for c in report["checks"] if c["id"] == "deployment.feature_drift" and c.get("subject")}
    return result


def run_floor(shape: shapes.Shape, start_s: float) -> dict:
    limits = [arg for key, flag in (("AUDITOR_THREADS", "--threads"), ("AUDITOR_MEMORY_LIMIT", "--memory-limit"))
              if key in ENGINE_ENV for arg in (flag, ENGINE_ENV[key])]
    run = run_child(["nice", PYTHON, str(BENCH / "floor.py"), *map(str, shape.files.values()), *limits], cwd=ROOT)
    if run.returncode != 0:
        return {**run.to_dict(), "failed": run.stderr.strip().splitlines()[-1:]}
    return {**run.to_dict(), "startup_s": round(start_s, 3), "floor_s": round(run.wall_s + start_s, 3)}


def render(out: Path) -> dict:
    """report.html and report.md from the saved report.json: time and sizes."""
    run = run_child(["nice", *AUDITOR, "render", str(out / "report" / "report.json"), "--format", "html,md",
                     "--out", str(out / "rendered")], cwd=ROOT)
    html, md = out / "rendered" / "report.html", out / "rendered" / "report.md"
    return {**run.to_dict(), "html_mb": round(html.stat().st_size / 1e6, 2) if html.is_file() else None,
            "md_chars": len(md.read_text()) if md.is_file() else None}


def run_shape(shape: shapes.Shape, args: argparse.Namespace, start_s: float) -> dict:
    out = args.results / shape.name.replace(" ", "-")
    say(f"{shape.name}: audit ...")
    audit = run_audit(shape, out)
    say(f"{shape.name}: floor ...")
    floor = run_floor(shape, start_s)
    result = {"shape": shape.name, "files": {n: str(p) for n, p in shape.files.items()}, "audit": audit, "floor": floor,
              "ratio": round(audit["wall_s"] / floor["floor_s"], 2) if "floor_s" in floor else None}
    if args.render and "failed" not in audit:
        say(f"{shape.name}: render ...")
        result["render"] = render(out)
    if shape.peer and not args.no_peer:
        say(f"{shape.name}: Evidently ...")
        peer = run_peer(shape.files["reference"], shape.files["current"], shape.peer, bench=BENCH)
        if not peer.get("skipped"):
            peer["speedup"] = round(peer["run"]["wall_s"] / audit["wall_s"], 1)
            peer["verdicts"] = compare_verdicts(audit.get("drift", {}), peer["columns"], shape.peer)
            peer["agree"] = sum(v["agree"] for v in peer["verdicts"])
            peer.pop("columns")
        result["peer"] = peer
    return result


def targets(results: list[dict]) -> list[dict]:
    rows = []
    for r in results:
        a, name = r["audit"], r["shape"]
        if "failed" in a:
            rows.append({"target": f"{name}: the audit runs", "measured": a["failed"][-200:], "met": False})
            continue
        if r["ratio"] is not None:
            rows.append({"target": f"{name}: within {RATIO_MAX:g}x the floor", "measured": f"{r['ratio']}x", "met": r["ratio"] <= RATIO_MAX})
        rows.append({"target": f"{name}: peak RSS under 1 GB", "measured": f"{a['peak_rss_mb']:.0f} MB",
                     "met": a["peak_rss_mb"] < RSS_MAX_MB})
        rows.append({"target": f"{name}: no check in error", "measured": f"{len(a['errors'])} in error", "met": not a["errors"]})
        missed = [p["what"] for p in a["planted"] if not p["found"]]
        rows.append({"target": f"{name}: planted problems found", "measured": f"{len(a['planted']) - len(missed)} of "
                     f"{len(a['planted'])}" + (f" (missed: {'; '.join(missed)})" if missed else ""), "met": not missed})
        if name.startswith("wide 600"):
            rows.append({"target": "600 x 50 under 3 s", "measured": f"{a['wall_s']:.1f} s", "met": a["wall_s"] < SMALL_WIDE_S})
        peer = r.get("peer")
        if peer and not peer.get("skipped"):
            rows.append({"target": f"{name}: {PEER_MIN:g}x faster than Evidently's DataDriftPreset, same verdicts",
                         "measured": f"{peer['speedup']}x, {peer['agree']} of {len(peer['verdicts'])} verdicts agree",
                         "met": peer["speedup"] >= PEER_MIN and peer["agree"] == len(peer["verdicts"])})
        rendered = r.get("render")
        if rendered and name.startswith("wide 1,000"):
            rows.append({"target": "report.html of 1,000 columns under 5 MB", "measured": f"{rendered['html_mb']} MB",
                         "met": rendered["html_mb"] is not None and rendered["html_mb"] < HTML_MAX_MB})
            rows.append({"target": "report.md of 1,000 columns under 60,000 characters",
                         "measured": f"{rendered['md_chars']:,}" if rendered["md_chars"] else "not written",
                         "met": rendered["md_chars"] is not None and rendered["md_chars"] < MD_MAX_CHARS})
    tall_runs = [r for r in results if r["shape"].startswith("tall") and "failed" not in r["audit"]]
    if len(tall_runs) > 1:
        a, b = tall_runs[0]["audit"]["peak_rss_mb"], tall_runs[-1]["audit"]["peak_rss_mb"]
        rows.append({"target": f"memory from {tall_runs[0]['shape']} to {tall_runs[-1]['shape']} (100M is not run here)",
                     "measured": f"{a:.0f} -> {b:.0f} MB", "met": None})
    return rows


def print_table(results: list[dict], load: tuple[float, float, float]) -> None:
    print(f"load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} ({os.cpu_count()} cores)\n")
    head = (f"{'shape':<28}{'wall s':>8}{'CPU s':>8}{'RSS MB':>8}{'floor s':>9}{'ratio':>7}{'statements':>11}"
            f"  scans ref/cur/pred  errors  planted")
    print(head)
    print("-" * len(head))
    for r in results:
        a, f = r["audit"], r["floor"]
        if "failed" in a:
            print(f"{r['shape']:<28} failed: {a['failed'][-150:]}")
            continue
        scans = "/".join(str(a["scans"][v]) for v in ("reference", "current", "predictions"))
        found = sum(p["found"] for p in a["planted"])
        print(f"{r['shape']:<28}{a['wall_s']:>8.1f}{a['cpu_s']:>8.1f}{a['peak_rss_mb']:>8.0f}"
              f"{f.get('floor_s', float('nan')):>9.2f}{r['ratio'] or float('nan'):>7.1f}{a['queries']:>11}"
              f"  {scans:<19}{len(a['errors']):>6}  {found}/{len(a['planted'])}")
        peer = r.get("peer")
        if peer:
            print(f"{'':<28}Evidently: " + (f"skipped ({peer['skipped']})" if peer.get("skipped") else
                  f"{peer['run']['wall_s']:.1f} s, {peer['run']['peak_rss_mb']:.0f} MB -> {peer['speedup']}x; "
                  f"{peer['agree']} of {len(peer['verdicts'])} verdicts agree"))
        if r.get("render"):
            rd = r["render"]
            print(f"{'':<28}render html+md: {rd['wall_s']:.1f} s, report.html {rd['html_mb']} MB, report.md "
                  f"{rd['md_chars'] or 0:,} characters")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--sizes", default="1000000,10000000", help="tall: rows a side, comma-separated")
    parser.add_argument("--wide", default="1000,2000", help="wide: columns, comma-separated")
    parser.add_argument("--no-peer", action="store_true", help="skip Evidently")
    parser.add_argument("--render", action="store_true", help="also render report.html and report.md")
    parser.add_argument("--results", type=Path, default=BENCH / "results")
    parser.add_argument("--memory-limit", help="DuckDB memory_limit for the audit and the floor, e.g. 512MB")
    parser.add_argument("--threads", help="DuckDB threads for the audit and the floor")
    args = parser.parse_args(argv)
    if args.memory_limit:
        ENGINE_ENV["AUDITOR_MEMORY_LIMIT"] = args.memory_limit
    if args.threads:
        ENGINE_ENV["AUDITOR_THREADS"] = args.threads
    # Every child starts as an installed package would, with its bytecode compiled.
    compileall.compile_dir(ROOT / "auditor", quiet=1)
    started = datetime.now(UTC)
    chosen = matrix(args)
    start_s = startup()
    results = [run_shape(shape, args, start_s) for shape in chosen]
    load = os.getloadavg()
    print(f"auditor shape matrix, {started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
          f"{', '.join(f'{k}={v}' for k, v in ENGINE_ENV.items()) or f'memory_limit {default_memory_limit()}'}; "
          f"start-up of `auditor --version` {start_s:.2f} s (in every floor)")
    print_table(results, load)
    met = targets(results)
    print("\ntargets:")
    for row in met:
        print(f"  {({True: 'met', False: 'NOT MET', None: '-'})[row['met']]:<8}{row['target']}: {row['measured']}")
    args.results.mkdir(parents=True, exist_ok=True)
    payload = {"started_at": started.isoformat(), "cores": os.cpu_count(), "load_average": load, "engine": ENGINE_ENV,
               "startup_s": start_s, "shapes": results, "targets": met}
    (args.results / "bench.json").write_text(json.dumps(payload, indent=1, default=str))
    print(f"\nfigures: {args.results / 'bench.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
