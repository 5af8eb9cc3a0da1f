"""The engine: one connection per run, the datasets attached to it, and the SQL building blocks.

Everything that scans data lives here: the engine interface and its query log (`base`), one
implementation per engine (`duckdb_engine`; `spark_engine`, which runs DuckDB's SQL translated by
`spark_sql`), the engine a config asks for (`connect`), quoting and type helpers (`sql`), datasets as
views (`sources`), and the shared aggregates checks are made of: per-column summaries, value counts, exact quantiles, rollups of fine groupings, time windows,
repeated values and binning. Checks call these and get small results back.

May import: `auditor.errors`, `auditor.config` (dataset specs), `auditor.stats` (pure statistics)
and other modules of this folder. Never a check, the audit framework or a renderer: the engine
knows no check.
"""
