"""Delivery: reports written to disk atomically, the run history beside them, and email over SMTP.

May import: `auditor.report`, `auditor.render` and modules of this folder. Never a check, the
engine or the audit framework: delivery works from a finished report.
"""
