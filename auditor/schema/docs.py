"""What a pandera schema says about each column, for the data dictionary: its description (else its
title) and its owner (`metadata: {owner: ...}`).

pandera's YAML reader drops a column's `metadata`, so for a YAML schema the owners are read from the
file itself; a `module:attribute` schema carries them on its columns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from auditor.schema.loading import load_schema


def _owner(metadata: Any) -> str | None:
    owner = metadata.get("owner") if isinstance(metadata, dict) else None
    return str(owner) if owner not in (None, "") else None


def column_docs(spec: str, *, base_dir: Path) -> dict[str, tuple[str | None, str | None]]:
    """{column: (description, owner)} of every column of the schema that says either."""
    schema = load_schema(spec, base_dir=base_dir)
    raw: dict[str, Any] = {}
    path = Path(spec).expanduser()
    path = path if path.is_absolute() else base_dir / path
    if path.is_file():
        try:
            raw = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("columns") or {}
        except (yaml.YAMLError, AttributeError, UnicodeDecodeError):
            raw = {}
    docs = {}
    for name, column in schema.columns.items():
        description = getattr(column, "description", None) or getattr(column, "title", None)
        entry = raw.get(name) if isinstance(raw, dict) else None
        owner = _owner(getattr(column, "metadata", None)) or _owner((entry or {}).get("metadata")
                                                                    if isinstance(entry, dict) else None)
        if description or owner:
            docs[str(name)] = (str(description) if description else None, owner)
    return docs
