"""The reference's statistics kept across runs (an incremental nightly run).

The reference rarely changes between nights. When a cache folder is given (the history root's
`cache/`, or `engine.cache_dir`), every engine answer that reads only the reference is kept in a file
(auditor.engine.stored), under a key of what those answers depend on:

- the reference's content fingerprint (auditor.engine.fingerprint: never modification times), and
  how the config defines it (its `datasets.reference` entry);
- auditor's and DuckDB's versions, the engine and its settings (threads: a float sum may differ in its
  last bit across thread counts; the answers must be the ones this run would compute).

The statements a check sends are the same text whatever the cache, so a run with an unchanged
reference sends the same statements and gets the same answers: its check values are identical to an
uncached run's. A reference without a fingerprint (a table of a database that changes in place) is
never cached.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from auditor.config import AuditConfig, EngineSettings
from auditor.engine.base import Engine
from auditor.engine.fingerprint import Fingerprint
from auditor.engine.stored import StoredResults, cache_key
from auditor.version import __version__

VIEWS = frozenset({"reference"})


def open_cache(folder: Path, config: AuditConfig, settings: EngineSettings, engine: Engine,
               fingerprint: Fingerprint | None, warn: Callable[[str], None]) -> StoredResults | None:
    """The kept answers for this reference (loaded; empty on a miss), or None when it cannot be keyed."""
    spec = config.datasets.reference
    if spec is None or fingerprint is None or fingerprint.digest is None:
        return None
    # The settings as this run took them (AUDITOR_THREADS and the like applied), not as the file says.
    shaping = settings.model_dump(mode="json", exclude={"cache_dir", "temp_directory"})
    parts: dict[str, Any] = {"fingerprint": fingerprint.digest, "reference": spec.model_dump(mode="json"),
                             "auditor": __version__, "duckdb": duckdb.__version__, "engine": engine.kind,
                             "settings": shaping, "cores": os.cpu_count()}
    store = StoredResults(folder, cache_key(parts), VIEWS).load()
    if store.warning:
        warn(store.warning)
    return store


def cache_info(store: StoredResults | None, saved: Path | None) -> dict[str, Any] | None:
    """What report.json says of the cache: its file, the answers it gave and the answers it took."""
    if store is None:
        return None
    return {"file": str(saved or store.path), "key": store.key, "answers_reused": store.hits,
            "answers_kept": len(store.added), "hit": store.hits > 0}
