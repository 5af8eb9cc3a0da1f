"""The audit framework: the check registry, what a check sees (its context), role resolution, the
decision rule (what label, prediction and score mean) and the runner that turns a config into a report.

After the checks, the run's data dictionary measures, the redaction of personal data and the
provenance are made here too.

May import: `auditor.config`, `auditor.engine`, `auditor.schema` (column descriptions), `auditor.metrics`
(the SQL of label, prediction and score, the slices), `auditor.report`, `auditor.errors` and modules of
this folder; the runner (and only it) imports `auditor.checks` to load the built-in checks.
"""
