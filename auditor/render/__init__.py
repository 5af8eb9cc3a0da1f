"""Renderers: each reads only an AuditReport and returns text or bytes."""
