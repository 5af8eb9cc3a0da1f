"""`run.provenance`: what a report was made from, so a reader can tell whether two reports saw the
same data, config and code.

- `datasets` and `catalog`: each source's content fingerprint (auditor.engine.fingerprint) with the
  paths, sizes and modification times of its files;
- `config`: the file's sha256, and the git commit it sits at with a dirty flag (uncommitted changes
  to tracked files, or the config itself not committed as it is) when it is in a repository;
- `packages`: auditor, Python, DuckDB, pandera, scipy, numpy, pandas, pyarrow;
- `engine`: the engine and the settings it ran with;
- `host` and `user` (left out with `outputs.provenance_identity: false`).
"""

from __future__ import annotations

import getpass
import hashlib
import importlib.metadata
import platform
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from auditor.config import AuditConfig, EngineSettings
from auditor.engine.base import Engine
from auditor.engine.catalog import CatalogEntry
from auditor.engine.fingerprint import Fingerprint, Fingerprinter, sql_inputs
from auditor.version import __version__

PACKAGES = ("duckdb", "pandera", "scipy", "numpy", "pandas", "pyarrow")
GIT_TIMEOUT_S = 10


def package_versions() -> dict[str, str | None]:
    """The versions of auditor, Python and the packages its numbers come from (None: not installed)."""
    versions: dict[str, str | None] = {"auditor": __version__, "python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def identity() -> dict[str, str | None]:
    """Where and as whom the audit ran."""
    try:
        user: str | None = getpass.getuser()
    except (OSError, KeyError):  # no login name in a bare container
        user = None
    return {"host": socket.gethostname() or None, "user": user}


def git_state(config_path: Path) -> dict[str, Any] | None:
    """{commit, dirty} of the repository holding the config, or None outside one (or without git)."""
    folder = config_path.resolve().parent
    if not any((p / ".git").exists() for p in (folder, *folder.parents)):
        return None

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True,
                                  timeout=GIT_TIMEOUT_S, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit:
        return None
    tracked = git("status", "--porcelain", "--untracked-files=no")
    config = git("status", "--porcelain", "--", str(config_path.resolve()))
    return {"commit": commit.strip(), "dirty": bool((tracked or "").strip() or (config or "").strip())}


def config_provenance(config: AuditConfig) -> dict[str, Any]:
    """The config's sha256 (of the file's bytes; of its validated content for a config given as a mapping)."""
    if config.path is not None:
        digest = hashlib.sha256(config.path.read_bytes()).hexdigest()
        return {"path": str(config.path), "sha256": digest, "git": git_state(config.path)}
    content = config.model_dump_json(by_alias=True).encode()
    return {"path": None, "sha256": hashlib.sha256(content).hexdigest(), "git": None}


def fingerprint_sources(config: AuditConfig, catalog: Sequence[CatalogEntry] = ()
                        ) -> tuple[dict[str, Fingerprint], dict[str, Fingerprint]]:
    """Each dataset's and catalog table's fingerprint; a `sql` source after the sources it reads by name."""
    printer = Fingerprinter(base_dir=config.base_dir)
    specs = {name: spec for name in ("reference", "current", "predictions")
             if (spec := getattr(config.datasets, name)) is not None}
    pending = dict(specs)
    while pending:
        ready = [n for n, s in pending.items() if not s.sql or not (set(_tables(s.sql)) & (set(pending) - {n}))]
        for name in ready or list(pending):  # a cycle of queries: fingerprinted as they are (without one)
            printer.source(name, pending.pop(name))
    datasets = {name: printer.known[name] for name in specs}
    tables = {}
    for entry in catalog:
        tables[entry.table.name] = printer.source(entry.table.name, entry.item)
    return datasets, tables


def _tables(sql: str) -> list[str]:
    try:
        return sql_inputs(sql)[0]
    except Exception:  # unparseable: its fingerprint says so
        return []


def engine_settings(engine: Engine, settings: EngineSettings) -> dict[str, Any]:
    """The engine and the settings it ran with (as DuckDB took them; the temp directory as configured;
    Spark's version, master or remote, and the configured conf)."""
    if engine.kind == "spark":
        return engine.settings_summary()
    threads, memory = engine.query("SELECT current_setting('threads'), current_setting('memory_limit')")[0]
    return {"name": "duckdb", "threads": int(threads), "memory_limit": str(memory),
            "temp_directory": settings.temp_directory}


def provenance(config: AuditConfig, engine: Engine, datasets: dict[str, Fingerprint],
               catalog: dict[str, Fingerprint], settings: EngineSettings) -> dict[str, Any]:
    """`run.provenance` of a run."""
    out: dict[str, Any] = {
        "datasets": {name: fp.to_dict() for name, fp in datasets.items()},
        "catalog": {name: fp.to_dict() for name, fp in catalog.items()},
        "config": config_provenance(config),
        "packages": package_versions(),
        "engine": engine_settings(engine, settings),
    }
    if config.outputs.provenance_identity:
        out.update(identity())
    return out
