"""The peer: Evidently's DataDriftPreset in its own venv (pandas 3), never in the project's.

The venv (benchmarks/.venv-evidently, gitignored) is created on first use. Where Evidently cannot be
installed, the peer is skipped with the reason; the benchmark goes on.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from measure import run_child


def ensure_venv(bench: Path) -> tuple[Path | None, str | None]:
    """The Evidently venv's python, or why there is none."""
    venv = bench / ".venv-evidently"
    python = venv / "bin" / "python"
    if python.is_file() and subprocess.run([str(python), "-c", "import evidently"],
                                           capture_output=True).returncode == 0:
        return python, None
    print(f"bench: installing Evidently into {venv.name} (once) ...", file=sys.stderr, flush=True)
    steps = [["python3", "-m", "venv", str(venv)],
             [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
              "evidently", "pandas>=3", "pyarrow"]]
    for step in steps:
        try:
            done = subprocess.run(step, capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, f"cannot install Evidently ({' '.join(step[:3])}: {exc})"
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            return None, f"cannot install Evidently ({' '.join(step[:3])}: {tail[0]})"
    return python, None


def run_peer(reference: Path, current: Path, columns: dict, *, bench: Path) -> dict:
    """Evidently's DataDriftPreset on the `columns` ({"numeric": [...], "categorical": [...]}) of the pair."""
    python, why = ensure_venv(bench)
    if python is None:
        return {"skipped": why}
    listing = bench / "results" / "peer-columns.json"
    listing.parent.mkdir(parents=True, exist_ok=True)
    listing.write_text(json.dumps({"numeric": columns["numeric"], "categorical": columns["categorical"]}))
    run = run_child(["nice", str(python), str(bench / "peer_evidently.py"), str(reference), str(current),
                     "--columns", str(listing)])
    if run.returncode != 0:
        return {"skipped": f"Evidently failed: {run.stderr.strip().splitlines()[-1] if run.stderr.strip() else run.returncode}"}
    return {"run": run.to_dict(), **json.loads(run.stdout)}


def compare_verdicts(ours: dict[str, dict], theirs: dict[str, dict], columns: dict) -> list[dict]:
    """One row per feature: what was planted, our status, Evidently's verdict, and whether the two agree."""
    rows = []
    drifted = set(columns.get("drifted", []))
    for column in columns["numeric"] + columns["categorical"]:
        mine = ours.get(column, {"status": "missing", "value": None})
        other = theirs.get(column, {"drift": None, "method": "-", "score": float("nan")})
        rows.append({"column": column, "expected": "drift" if column in drifted else "stable",
                     "ours_status": mine["status"], "ours_value": mine["value"],
                     "evidently_drift": other["drift"], "evidently_method": other["method"],
                     "evidently_score": other["score"],
                     "agree": (mine["status"] in ("warn", "fail")) == bool(other["drift"])})
    return rows
