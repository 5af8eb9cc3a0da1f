"""Built-in checks. Importing this package registers them all."""

from auditor.checks import data, profile, scoping  # noqa: F401
