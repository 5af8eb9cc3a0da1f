"""Built-in checks. Importing this package registers them all."""

from auditor.checks import challenger, data, deployment, deployment_drift, deployment_performance, drift, fairness, modeling, profile, quality, schema, scoping  # noqa: F401
