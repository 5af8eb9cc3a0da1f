"""pandera schemas on whole tables: loading a schema, compiling its built-in checks to one SQL
query per table, dtypes, regexes RE2 reads alike, rules answered from value counts, custom checks
on streamed chunks, and `auditor infer-schema`.

May import: `auditor.errors`, `auditor.config`, `auditor.engine` and modules of this folder.
Never a check or a renderer.
"""
