"""Built-in checks. Importing this package registers them all."""

from auditor.checks import data, drift, profile, scoping  # noqa: F401
