"""Built-in checks. Importing this package registers them all."""

from auditor.checks import data, deployment, deployment_performance, drift, profile, scoping  # noqa: F401
