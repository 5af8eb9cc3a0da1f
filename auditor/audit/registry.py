"""The check registry: `@check` names a check, its stage, defaults and needs.

A check is a plain function `fn(ctx) -> Iterable[CheckResult]`. Its one-line
docstring is its catalogue entry (`auditor checks`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from auditor.report import STAGES, CheckResult, Direction

# What a check may need. Datasets are by name; roles are keys of `columns:` in the config.
DATASET_NEEDS = ("reference", "current", "predictions")
ROLE_NEEDS = ("id", "timestamp", "label", "prediction", "score", "sensitive", "model_version", "latency")


@dataclass(frozen=True)
class CheckSpec:
    id: str
    stage: str
    title: str
    fn: Callable[..., Iterable[CheckResult]]
    defaults: dict[str, Any] = field(default_factory=dict)
    needs: tuple[str, ...] = ()
    direction: Direction = "above"

    @property
    def description(self) -> str:
        doc = (self.fn.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""

    @property
    def options(self) -> list[str]:
        return sorted({"enabled", *self.defaults})


REGISTRY: dict[str, CheckSpec] = {}


def check(
    check_id: str,
    *,
    title: str,
    defaults: dict[str, Any] | None = None,
    needs: Iterable[str] = (),
    direction: Direction = "above",
) -> Callable:
    """Register a check. Its stage is the id's prefix (`data.null_rate` -> data)."""
    stage = check_id.split(".", 1)[0]
    if stage not in STAGES:
        raise ValueError(f"check id {check_id!r} must start with a stage: {', '.join(STAGES)}")
    needs = tuple(needs)
    unknown = set(needs) - set(DATASET_NEEDS) - set(ROLE_NEEDS)
    if unknown:
        raise ValueError(f"check {check_id}: unknown needs {sorted(unknown)}")

    def register(fn: Callable) -> Callable:
        if check_id in REGISTRY:
            raise ValueError(f"check {check_id} registered twice")
        REGISTRY[check_id] = CheckSpec(check_id, stage, title, fn, dict(defaults or {}), needs, direction)
        return fn

    return register
