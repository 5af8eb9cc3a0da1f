"""Built-in checks. Importing this package registers them all."""

from auditor.checks import (  # noqa: F401
    challenger,
    data,
    deployment,
    deployment_drift,
    deployment_performance,
    drift,
    fairness,
    modeling,
    profile,
    quality,
    schema,
    scoping,
)
