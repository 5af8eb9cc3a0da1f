"""The check registry: `@check` names a check, its stage, its options class and what it needs.

A check is a plain function `fn(ctx) -> Iterable[CheckResult]`. Its one-line docstring is its
catalogue entry (`auditor checks`); its options are a `CheckOptions` model (auditor.audit.options).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from auditor.audit.options import CheckOptions, NoOptions
from auditor.config import ROLES
from auditor.report import STAGES, CheckResult, Direction

# What a check may need. Datasets are by name; roles are keys of `columns:` in the config; "target" says
# the check reads the label, prediction or score by the run's decision rule (auditor.audit.target), which
# the runner then checks against the data before any check grades.
DATASET_NEEDS = ("reference", "current", "predictions")
ROLE_NEEDS = ROLES
TARGET_NEED = "target"


@dataclass(frozen=True)
class CheckSpec:
    id: str
    stage: str
    title: str
    fn: Callable[..., Iterable[CheckResult]]
    options: type[CheckOptions] = NoOptions
    needs: tuple[str, ...] = ()

    @property
    def description(self) -> str:
        doc = (self.fn.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""

    @property
    def direction(self) -> Direction:
        """How the check's top-level warn and fail read: bad above them, or below."""
        return self.options.direction

    @property
    def option_names(self) -> list[str]:
        return list(self.options.model_fields)


REGISTRY: dict[str, CheckSpec] = {}


def check(
    check_id: str,
    *,
    title: str,
    options: type[CheckOptions] = NoOptions,
    needs: Iterable[str] = (),
) -> Callable:
    """Register a check. Its stage is the id's prefix (`data.null_rate` -> data)."""
    stage = check_id.split(".", 1)[0]
    if stage not in STAGES:
        raise ValueError(f"check id {check_id!r} must start with a stage: {', '.join(STAGES)}")
    needs = tuple(needs)
    unknown = set(needs) - set(DATASET_NEEDS) - set(ROLE_NEEDS) - {TARGET_NEED}
    if unknown:
        raise ValueError(f"check {check_id}: unknown needs {sorted(unknown)}")

    def register(fn: Callable) -> Callable:
        if check_id in REGISTRY:
            raise ValueError(f"check {check_id} registered twice")
        REGISTRY[check_id] = CheckSpec(check_id, stage, title, fn, options, needs)
        return fn

    return register
