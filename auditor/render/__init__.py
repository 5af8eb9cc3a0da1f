"""Renderers: each reads only an AuditReport (report.json's model) and returns text or bytes:
HTML, Markdown, email, JUnit and the history index. Charts are drawn here from the specs that
checks store as data; templates live in the top-level `report_templates/` folder.

May import: `auditor.report`, `auditor.version` and modules of this folder. Never a check, the
engine or the audit framework: a saved report.json renders without them.
"""
