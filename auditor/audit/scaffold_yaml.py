"""The text of the audit.yaml `auditor init` writes: YAML with the comments a person needs to finish it.

Written by hand rather than dumped, because the comments are half of it: what was guessed and how,
the TODOs of the project card, and the sensitive attributes left commented out for a person to confirm.
Every value goes through `yaml.safe_dump` of a scalar, so a column named `a: b` or `#x` stays one value.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import yaml

CARD_TODOS = (  # (field, the question a person answers)
    ("problem_statement", "TODO: the problem the model solves, for whom, and the decision it drives"),
    ("owner", "TODO: who answers for the model (a team or a person)"),
    ("intended_use", "TODO: what the model may be used for"),
    ("out_of_scope", "TODO: what the model must not be used for"),
)


def scalar(value: Any) -> str:
    """One YAML scalar, quoted when it needs to be."""
    return yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10_000).strip().removesuffix(
        "\n...").strip()


def flow_list(values: list[str]) -> str:
    return "[" + ", ".join(scalar(v) for v in values) + "]"


def _source(table: Any) -> str:
    if table.entry.item.path:
        return f"{{path: {scalar(table.written)}}}"
    return f"{{table: {scalar(table.name)}, database: {scalar(table.written)}}}"


def render_config(*, tables: Mapping[str, Any], rest: list[Any], how: str, task: str, target: dict[str, Any],
                  notes: list[str], sensitive: list[str], sources: list[str], now: datetime, name: str) -> str:
    current = tables["current"]
    roles = dict(current.roles)
    log = tables.get("predictions")
    for role in ("timestamp", "model_version", "latency"):  # log-only roles may sit in the prediction log
        if role not in roles and log is not None and role in log.roles:
            roles[role] = log.roles[role]
    lines = [
        f"# Written by `auditor init` on {now:%Y-%m-%d} from {', '.join(sources)}.",
        "# Check every guess below (marked 'guessed') and fill in the TODOs, then: auditor run <this file>",
        "# Paths are relative to this file. Reference: docs/configuration.md of auditor.",
        "version: 1",
        "",
        "project:",
        f"  name: {scalar(name)}",
    ]
    for key, todo in CARD_TODOS:
        lines.append(f"  {key}: {scalar(todo)}")
    lines += [
        "  stakeholders: []            # TODO: who is affected by the model's decisions",
        "  success_metrics: []         # TODO: e.g. [{metric: roc_auc, target: 0.75}] (rmse with direction: below)",
        "  # deployment: {mode: batch, latency_budget_ms: 200}   # TODO: how the model is served",
        "",
        f"task: {task}",
    ]
    if target:
        lines += ["", "target:"]
        lines += [f"  {key}: {scalar(value)}   # TODO: confirm (guessed)" for key, value in target.items()]
        lines.append("  # favorable_outcome: negative   # when a positive prediction harms the person (a risk flag)")
    for note in notes:
        lines.append(f"# guessed {note}")
    lines += ["", f"datasets:   # picked {how}"]
    for role in ("reference", "current", "predictions"):
        if role in tables:
            lines.append(f"  {role}: {_source(tables[role])}")
    found = [r for r in ("id", "timestamp", "label", "prediction", "score", "model_version", "latency") if r in roles]
    if found:
        lines += ["", "columns:   # roles guessed from the column names and types"]
        lines += [f"  {role}: {scalar(roles[role])}" for role in found]
    else:
        lines += ["", "columns: {}   # TODO: no role found by name: set label, score or prediction, id, timestamp"]
    if sensitive:
        lines.append(f"  # sensitive: {flow_list(sensitive)}   # TODO: confirm: found by name, for the fairness checks")
    else:
        lines.append("  # sensitive: [sex, region]   # TODO: the sensitive attributes, for the fairness checks")
    if rest:
        lines += ["", "catalog:   # the other tables given: described in the data dictionary, not audited"]
        lines += [f"  - {_source(t)}" for t in rest]
    lines += ["", "outputs: {dir: reports, formats: [json, html, md]}", ""]
    return "\n".join(lines)
