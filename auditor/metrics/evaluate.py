"""Every metric of a task on one dataset: the scans (confusion cells, the ranking) and the metrics.

modeling.performance and deployment.performance_over_time ask this of the same data with the same
SQL, so the engine runs each scan once per run.
"""

from __future__ import annotations

from collections.abc import Mapping

from auditor.engine import rollup
from auditor.engine.sql import bind, select_list
from auditor.metrics.cells import binary_measures, binary_names, binary_source
from auditor.metrics.performance import (
    CONFUSION_MATRIX_SQL,
    ModelColumns,
    binary_metrics,
    multiclass_metrics,
    regression_aggregates,
    regression_metrics,
)
from auditor.metrics.ranking import rank_whole


def binary_counts(engine, view: str, cols: ModelColumns) -> tuple[dict[str, float | None], str]:
    """One scan of a binary dataset: confusion counts, score sums and CBPE's expected counts, grouped
    by (label, prediction) cells and added up (auditor.metrics.cells).

    modeling.performance and deployment.performance_over_time both ask this of the reference:
    the same SQL and parameters from here, so the engine runs the scan once per run.
    """
    source = binary_source(view, cols)
    grouped, sql = rollup.grouped(engine, source, keys=[], sizes={}, wanted=[()], measures=binary_measures(*binary_names(cols)),
                                  params=bind(source, cols.params))
    return grouped[()][()], sql


def compute_metrics(engine, view: str, cols: ModelColumns, *, task: str,
                    counts: Mapping[str, object] | None = None) -> tuple[dict[str, float | None], list[str]]:
    """Every metric of `task` on one dataset, and the SQL that produced it.

    Binary: one aggregate query (or `counts` from a cached scan) plus the ranking query.
    Multiclass: the confusion matrix query. Regression: one aggregate query.
    """
    if task == "regression":
        aggs = regression_aggregates(cols.label, cols.prediction)
        sql = f"SELECT {select_list(aggs)} FROM {view}"
        return regression_metrics(dict(zip(aggs, engine.query_one(sql), strict=True))), [sql]
    if task == "multiclass":
        sql = CONFUSION_MATRIX_SQL.format(label=cols.label, pred=cols.prediction, view=view)
        return multiclass_metrics(engine.query(sql)), [sql]
    statements = []
    if counts is None:
        counts, sql = binary_counts(engine, view, cols)
        statements.append(sql)
    ranking = None
    if cols.score and cols.label:
        ranking, sql = rank_whole(engine, view, label=cols.label, score=cols.score,
                                  rows=int(counts.get("scored_labelled") or 0), params=cols.params)
        statements.extend(sql)
    return binary_metrics(counts, ranking), statements
