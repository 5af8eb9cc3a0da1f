"""Model metrics from small aggregates: classification and regression (scikit-learn's definitions),
the ranking behind ROC AUC and average precision, per-group rates and gaps (fairlearn's), slices,
CBPE's label-free estimate and the paired comparison of two models.

May import: `auditor.engine`, `auditor.stats` and modules of this folder. Never a check or a renderer.
"""
