"""report.json: the report as JSON, the source of truth every other format is rendered from.

One top-level key per line, and one dataset or check result per line inside their lists, each
compact: a report of thousands of results stays small (indented, a 2,000-column audit was twice the
size), a result's change is one line of a diff, and `jq` or any JSON reader takes it as it is.
"""

from __future__ import annotations

import json
from typing import Any

from auditor.report import AuditReport


def _compact(value: Any) -> str:
    # allow_nan=False: a NaN that slipped through is a bug, not a valid report.
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def render_json(report: AuditReport) -> str:
    data = report.to_dict()
    lines = ["{"]
    for n, (key, value) in enumerate(data.items()):
        comma = "," if n < len(data) - 1 else ""
        if isinstance(value, list) and value:
            lines.append(f" {_compact(key)}: [")
            lines += [f"  {_compact(item)}{',' if i < len(value) - 1 else ''}" for i, item in enumerate(value)]
            lines.append(f" ]{comma}")
        else:
            lines.append(f" {_compact(key)}: {_compact(value)}{comma}")
    return "\n".join(lines) + "\n}\n"
