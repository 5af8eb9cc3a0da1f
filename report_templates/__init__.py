"""The stock report templates (html/, md/, email/), shipped in the wheel beside `auditor`.

A team overrides any of them with `outputs.templates: DIR` (or `--templates DIR`): see docs/templates.md.
"""
