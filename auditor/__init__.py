"""auditor: batch reports and data-quality audits for machine-learning systems."""

__version__ = "0.1.0"
