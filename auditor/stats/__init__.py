"""Statistics: drift distances on small inputs, exact KS and Wasserstein in SQL, Kolmogorov's law.

`distances` and `kolmogorov` are pure (numbers in, numbers out; scipy is the oracle in tests);
`ecdf`, `column_drift` and `drift_relations` reduce a column to those small inputs in SQL.

May import: `auditor.engine` and modules of this folder. Never a check or a renderer.
"""
