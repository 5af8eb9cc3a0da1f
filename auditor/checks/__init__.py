"""Built-in checks, one module per concern. Importing this package registers them all.

A check module may import the audit framework (`auditor.audit`), the report model, the engine,
statistics, metrics and schema folders, but never another check module: what two checks share
lives in a module of its own outside this folder.
"""

from auditor.audit.registry import REGISTRY, CheckSpec
from auditor.checks import (  # noqa: F401  (each module registers its checks)
    arrival,
    challenger,
    data,
    deployment,
    deployment_drift,
    deployment_performance,
    deployment_volume,
    drift,
    fairness,
    leakage,
    modeling,
    multivariate,
    pii,
    profile,
    quality,
    schema,
    scoping,
)
from auditor.report import STAGES


def catalogue() -> list[CheckSpec]:
    """Every registered check, by stage order then id."""
    return sorted(REGISTRY.values(), key=lambda s: (STAGES.index(s.stage), s.id))
