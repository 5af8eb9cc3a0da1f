"""The peer: Evidently's DataDriftPreset in its own venv, never in the project's.

Evidently 0.7 needs pandas < 3 (0.7.23 does not declare it but imports pandas internals that
pandas 3 removed), while the project runs pandas 3: so the venv pins pandas<3.

The venv (benchmarks/.venv-evidently, gitignored) is created on first use. Where Evidently
cannot be installed, the peer is skipped with the reason; the benchmark goes on.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from measure import run_child

# What the example plants (examples/credit_scoring/README.md): these two drift, the rest do not.
DRIFTED = {"income", "employment_type"}
NUMERIC = ["age", "income", "debt_ratio", "credit_history_months", "num_accounts"]
CATEGORICAL = ["employment_type", "region", "sex"]


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
              "evidently", "pandas<3", "pyarrow"]]
    for step in steps:
        try:
            done = subprocess.run(step, capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, f"cannot install Evidently ({' '.join(step[:3])}: {exc})"
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            return None, f"cannot install Evidently ({' '.join(step[:3])}: {tail[0]})"
    return python, None


def run_peer(data: Path, *, rows: int, bench: Path) -> dict:
    python, why = ensure_venv(bench)
    if python is None:
        return {"skipped": why}
    cmd = [str(python), str(bench / "peer_evidently.py"), str(data / "reference.parquet"),
           str(data / "current.parquet"), "--numeric", ",".join(NUMERIC), "--categorical", ",".join(CATEGORICAL)]
    run = run_child(cmd)
    if run.returncode != 0:
        return {"skipped": f"Evidently failed: {run.stderr.strip().splitlines()[-1] if run.stderr.strip() else run.returncode}"}
    out = json.loads(run.stdout)
    return {"rows": rows, "run": run.to_dict(), **out}


def compare_verdicts(ours: dict[str, dict], theirs: dict[str, dict]) -> list[dict]:
    """One row per feature: what was planted, our status, Evidently's verdict, and whether the two agree."""
    rows = []
    for column in NUMERIC + CATEGORICAL:
        mine = ours.get(column, {"status": "missing", "value": None})
        other = theirs.get(column, {"drift": None, "method": "-", "score": float("nan")})
        ours_drift = mine["status"] in ("warn", "fail")
        rows.append({"column": column, "expected": "drift" if column in DRIFTED else "stable",
                     "ours_status": mine["status"], "ours_value": mine["value"],
                     "evidently_drift": other["drift"], "evidently_method": other["method"],
                     "evidently_score": other["score"], "agree": ours_drift == bool(other["drift"])})
    return rows
