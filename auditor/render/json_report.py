"""report.json: the report as JSON, the source of truth every other format is rendered from."""

from __future__ import annotations

import json

from auditor.report import AuditReport


def render_json(report: AuditReport) -> str:
    # allow_nan=False: a NaN that slipped through is a bug, not a valid report.
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
