"""Trends across runs, from ``report.run["history"]`` (written by auditor.delivery.history).

A check with history gets a sparkline of its value over the last runs and a note
of where it stood last time; the summary gets what changed since the last run.
A report without history renders exactly as before.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

from markupsafe import Markup

from auditor.render.filters import fmt_number, fmt_timestamp

__all__ = ["Trends", "sparkline_svg"]

# The badge colours of the report (light theme values; the line itself follows the text colour).
STATUS_COLOURS = {"pass": "#1a7f37", "warn": "#bf8700", "fail": "#c4202a", "error": "#7a3fc4", "skip": "#8c959f"}
CHANGE_GROUPS = (
    ("new_failure", "New failures"),
    ("new_warning", "New warnings"),
    ("recovered", "Recovered"),
    ("improved", "Improved"),
)
SPARK_W, SPARK_H, PAD = 100, 22, 3


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def sparkline_svg(values: list[Any], statuses: list[str | None], *, label: str) -> str:
    """A tiny inline SVG: the values as a line (gaps where undefined), a dot per run coloured by status."""
    n = len(values)
    nums = [float(v) for v in values if _finite(v)]
    lo, hi = (min(nums), max(nums)) if nums else (0.0, 1.0)
    span = hi - lo or 1.0
    step = (SPARK_W - 2 * PAD) / max(n - 1, 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        y = SPARK_H - PAD - (v - lo) / span * (SPARK_H - 2 * PAD) if hi > lo else SPARK_H / 2
        return round(PAD + i * step, 1), round(y, 1)

    segments, current = [], []
    for i, v in enumerate(values):
        if _finite(v):
            current.append(xy(i, float(v)))
        elif current:
            segments.append(current)
            current = []
    if current:
        segments.append(current)
    parts = [f'<svg class="spark" role="img" aria-label="{escape(label)}" width="{SPARK_W}" height="{SPARK_H}" '
             f'viewBox="0 0 {SPARK_W} {SPARK_H}" xmlns="http://www.w3.org/2000/svg"><title>{escape(label)}</title>']
    for seg in segments:
        if len(seg) > 1:
            pts = " ".join(f"{x},{y}" for x, y in seg)
            parts.append(f'<polyline points="{pts}" fill="none" stroke="currentColor" stroke-opacity="0.55" '
                         'stroke-width="1.3"/>')
    for i, v in enumerate(values):
        if _finite(v):
            x, y = xy(i, float(v))
            r = 2.6 if i == n - 1 else 1.8  # this run stands out
            colour = STATUS_COLOURS.get(statuses[i] or "", "#8c959f")
            parts.append(f'<circle cx="{x}" cy="{y}" r="{r}" fill="{colour}"/>')
    parts.append("</svg>")
    return "".join(parts)


class Trends:
    """Looks up a check's history; builds the 'since the last run' summary."""

    def __init__(self, run: dict[str, Any]) -> None:
        history = run.get("history") if isinstance(run, dict) else None
        self.history = history if isinstance(history, dict) else None
        runs = (self.history or {}).get("runs") or []
        self.labels = [fmt_timestamp(r.get("started_at")) for r in runs] + ["this run"]
        self.checks = {(c.get("id"), c.get("subject")): c for c in (self.history or {}).get("checks") or []}

    def __bool__(self) -> bool:
        return bool(self.history and self.history.get("runs"))

    def check(self, check_id: str, subject: str | None) -> dict[str, Any] | None:
        """Sparkline and a note for one check, or None without history (or with a single value)."""
        entry = self.checks.get((check_id, subject)) if self else None
        if not entry:
            return None
        values, statuses = entry.get("values") or [], entry.get("statuses") or []
        name = check_id.rsplit(".", 1)[-1]
        before = statuses[-2] if len(statuses) > 1 else None
        if before is None:
            note = "new since the last run"
        else:
            note = f"last run: {fmt_number(values[-2], name)} ({before})" if _finite(values[-2]) else (
                f"last run: {before}")
        defined = sum(_finite(v) for v in values)
        label = " · ".join(f"{lab}: {fmt_number(v, name)} ({s or 'not run'})"
                           for lab, v, s in zip(self.labels[-len(values):], values, statuses, strict=False))
        svg = Markup(sparkline_svg(values, statuses, label=f"Trend over {len(values)} runs. {label}")) \
            if defined >= 2 else None
        return {"svg": svg, "note": note, "runs": len(values)}

    def summary(self, anchor_of: dict[tuple[str, str | None], dict[str, Any]]) -> dict[str, Any] | None:
        """What changed since the last run, grouped, each entry linking to its check."""
        if not self:
            return None
        assert self.history is not None
        last = self.history["runs"][-1]
        groups = []
        for kind, title in CHANGE_GROUPS:
            rows = []
            for ch in self.history.get("changes") or []:
                if ch.get("kind") != kind:
                    continue
                check = anchor_of.get((ch.get("id"), ch.get("subject")))
                name = str(ch.get("id", "")).rsplit(".", 1)[-1]
                rows.append({
                    "anchor": check["anchor"] if check else None,
                    "title": check["title"] if check else ch.get("id"),
                    "subject": ch.get("subject"),
                    "was": f"{ch.get('previous_status') or 'not run'}"
                           + (f" {fmt_number(ch.get('previous_value'), name)}" if _finite(ch.get("previous_value"))
                              else ""),
                    "now": f"{ch.get('status')}" + (f" {fmt_number(ch.get('value'), name)}"
                                                    if _finite(ch.get("value")) else ""),
                    "status": ch.get("status"),
                })
            if rows:
                groups.append({"kind": kind, "title": title, "rows": rows})
        return {
            "previous": f"{fmt_timestamp(last.get('started_at'))} ({last.get('status')})",
            "runs": len(self.history["runs"]) + 1,
            "groups": groups,
        }
