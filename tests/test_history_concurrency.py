"""A history root shared by runs at once, and runs killed half-way: no record is lost, nothing
published is ever half-written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from auditor.delivery.lock import HOLDER_NAME, LOCK_NAME, RootLock, RootLocked, parse_duration

ROOT = Path(__file__).resolve().parents[1]

# A run in a child process; with STOP_AT set it dies (os._exit, as a kill -9 would) at that step.
CHILD = """
import os, sys
from auditor.delivery import history
stop = os.environ.get("STOP_AT")
if stop:
    def reached(step):
        if step == stop:
            os._exit(9)
    history.reached = reached
from auditor.cli import main
sys.exit(main(sys.argv[1:]))
"""


def start(config: Path, root: Path, **env: str) -> subprocess.Popen:
    environ = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    return subprocess.Popen([sys.executable, "-c", CHILD, "run", str(config), "--out", str(root), "--history",
                             "--format", "json,html", "--stage", "data"], cwd=ROOT,
                            env={**environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def recorded(root: Path) -> tuple[list[str], dict[str, int]]:
    con = duckdb.connect(str(root / "history.duckdb"), read_only=True)
    runs = [r[0] for r in con.execute("SELECT run_id FROM runs ORDER BY run_id").fetchall()]
    per_run = dict(con.execute("SELECT run_id, count(*) FROM results GROUP BY run_id").fetchall())
    con.close()
    return runs, per_run


def published(root: Path) -> dict[str, bytes]:
    """What a reader sees: the database, latest/ and the index."""
    files = {p.name: p.read_bytes() for p in (root / "latest").iterdir()}
    return {**files, "index.html": (root / "index.html").read_bytes(),
            "history.duckdb": (root / "history.duckdb").read_bytes()}


def test_two_runs_at_once_on_one_root_both_land(project, tmp_path):
    config = project()
    root = tmp_path / "reports"
    runs = [start(config, root), start(config, root)]
    for run in runs:
        out, err = run.communicate(timeout=300)
        assert run.returncode in (0, 1), err
    ids = [json.loads(p.read_text())["run"]["id"] for p in root.glob("20*/report.json")]
    assert len(ids) == 2 and len(set(ids)) == 2  # two folders, two distinct run ids
    in_db, per_run = recorded(root)
    assert sorted(ids) == in_db
    checks = [len(json.loads(p.read_text())["checks"]) for p in root.glob("20*/report.json")]
    assert sorted(per_run.values()) == sorted(checks)  # every result of both runs
    assert not [p.name for p in root.iterdir() if p.name.startswith(".") and p.name != LOCK_NAME]


@pytest.mark.parametrize("step", ["reports written", "database copy", "database", "run folder", "latest"])
def test_a_run_killed_at_any_step_leaves_the_root_whole_and_the_next_run_cleans_up(project, tmp_path, step):
    config = project()
    root = tmp_path / "reports"
    night = 1_800_000_000  # each run its own pinned clock, a minute apart, so "newest" is well defined
    first = start(config, root, SOURCE_DATE_EPOCH=str(night))
    first.communicate(timeout=300)
    before = published(root)
    (first_id,), _ = recorded(root)

    killed = start(config, root, STOP_AT=step, SOURCE_DATE_EPOCH=str(night + 60))
    killed.communicate(timeout=300)
    assert killed.returncode == 9
    after = published(root)
    ids, per_run = recorded(root)  # the database opens and holds whole runs only
    assert first_id in ids and all(per_run[i] > 0 for i in ids)
    recorded_now = step not in ("reports written", "database copy")
    assert len(ids) == (2 if recorded_now else 1)
    if step != "latest":
        assert after == {**before, "history.duckdb": after["history.duckdb"]}  # latest/ and the index unchanged
    else:
        assert json.loads(after["report.json"])["run"]["id"] == max(ids)  # the new latest/, whole
    for page in ("index.html", "report.html"):
        assert after[page].rstrip().endswith(b"</html>")

    last = start(config, root, SOURCE_DATE_EPOCH=str(night + 120))
    last.communicate(timeout=300)
    assert last.returncode in (0, 1)
    leftovers = [p.name for p in root.iterdir() if p.name.startswith(".") and p.name != LOCK_NAME]
    assert leftovers == []  # a killed run's partial builds are finished or gone
    ids, _ = recorded(root)
    assert len(ids) == (3 if recorded_now else 2)
    assert json.loads((root / "latest" / "report.json").read_text())["run"]["id"] == max(ids)
    con = duckdb.connect(str(root / "history.duckdb"), read_only=True)
    folders = {f for (f,) in con.execute("SELECT folder FROM runs").fetchall()}
    con.close()
    assert folders == {p.name for p in root.glob("20*")}  # every run recorded has its folder, and only those
    assert all((root / f / "report.json").is_file() for f in folders)


def test_a_held_root_makes_the_next_run_wait_then_exit_3_naming_the_holder(project, tmp_path, capsys):
    from auditor.cli import main

    config = project(config={"outputs": {"dir": "out", "formats": ["json"], "lock_timeout": "1s"}})
    root = tmp_path / "out"
    with RootLock(root, timeout_s=1):
        holder = json.loads((root / HOLDER_NAME).read_text())
        assert main(["run", str(config), "--history", "--stage", "data"]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"process {holder['pid']} of {holder['user']}" in err[0] and "lock_timeout" in err[0]
    assert main(["run", str(config), "--history", "--stage", "data"]) in (0, 1)  # released: the next one runs


def test_lock_timeout_is_validated_and_parsed(project, capsys):
    from auditor.cli import main

    assert parse_duration("90s") == 90 and parse_duration("10m") == 600 and parse_duration("2") == 2
    config = project(config={"outputs": {"dir": "out", "formats": ["json"], "lock_timeout": "soon"}})
    assert main(["run", str(config), "--history"]) == 2
    assert "outputs.lock_timeout" in capsys.readouterr().err
    with pytest.raises(RootLocked):
        with RootLock(config.parent / "x", timeout_s=0.1), RootLock(config.parent / "x", timeout_s=0.1):
            pass
