#!/usr/bin/env python
"""`make bench-render`: what rendering costs against the audit, on the example at its default size.

Runs, as child processes (median of `--repeat`): the audit writing report.json only, then
`auditor render report.json --format X` for each format, and prints wall and CPU time, peak RSS and
the size of each file, with render / json-only. The issue's targets: html under half the json-only
run, report.html under 1 MB. Figures go to benchmarks/results/render.json.

    python benchmarks/render.py [--repeat 3] [--formats html,md,email,junit]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from measure import run_child

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "credit_scoring"
AUDITOR = [sys.executable, "-m", "auditor"]
FILES = {"html": "report.html", "md": "report.md", "email": "email.eml", "junit": "junit.xml"}


def median_run(cmd: list[str], repeat: int) -> dict[str, float]:
    runs = [run_child(cmd, cwd=ROOT) for _ in range(repeat)]
    bad = [r for r in runs if r.returncode not in (0, 1)]
    if bad:
        sys.exit(f"{' '.join(cmd)} failed: {bad[0].stderr.strip()[-400:]}")
    return {"wall_s": statistics.median(r.wall_s for r in runs), "cpu_s": statistics.median(r.cpu_s for r in runs),
            "peak_rss_mb": max(r.peak_rss_mb for r in runs)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--formats", default="html,md,email,junit")
    args = parser.parse_args()
    if not (EXAMPLE / "data" / "current.parquet").exists():
        run_child([sys.executable, str(EXAMPLE / "generate.py")], cwd=ROOT)
    out = Path(tempfile.mkdtemp(prefix="auditor-render-bench-"))
    audit = median_run([*AUDITOR, "run", str(EXAMPLE / "audit.yaml"), "--as-of", "2026-11-27T00:00:00", "--out",
                        str(out), "--format", "json"], args.repeat)
    rows = {"json-only run": {**audit, "bytes": (out / "report.json").stat().st_size}}
    for fmt in args.formats.split(","):
        figures = median_run([*AUDITOR, "render", str(out / "report.json"), "--format", fmt], args.repeat)
        rows[f"render {fmt}"] = {**figures, "bytes": (out / FILES[fmt]).stat().st_size,
                                 "of_json_run": figures["wall_s"] / audit["wall_s"]}
    print(f"{'':16} {'wall s':>8} {'cpu s':>8} {'peak MB':>8} {'size KB':>9} {'/ json run':>10}")
    for name, r in rows.items():
        ratio = f"{r['of_json_run']:.2f}" if "of_json_run" in r else ""
        print(f"{name:16} {r['wall_s']:8.2f} {r['cpu_s']:8.2f} {r['peak_rss_mb']:8.0f} {r['bytes'] / 1024:9.0f} "
              f"{ratio:>10}")
    html = rows.get("render html")
    if html:
        print(f"targets: html render under half the json-only run: {'met' if html['of_json_run'] < 0.5 else 'NOT met'}; "
              f"report.html under 1 MB: {'met' if html['bytes'] < 1_000_000 else 'NOT met'}")
    results = ROOT / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    (results / "render.json").write_text(json.dumps({"when": datetime.now(UTC).isoformat(), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
