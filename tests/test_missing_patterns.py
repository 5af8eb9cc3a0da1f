"""data.null_rate's missing-together chart: the most frequent patterns of missing values, as pandas counts them."""

from __future__ import annotations

import duckdb

from tests.conftest import results

ROWS = """
SELECT i AS id, 20 + i % 50 AS age,
       CASE WHEN i % 5 = 0 THEN NULL ELSE 1000.0 + i END AS income,
       CASE WHEN i % 5 = 0 THEN 'NaN'::DOUBLE WHEN i % 7 = 0 THEN NULL ELSE 0.3 END AS debt_ratio,
       CASE WHEN i % 11 = 0 THEN NULL ELSE ['north', 'south'][1 + i % 2] END AS region,
       ['female', 'male'][1 + (i // 3) % 2] AS sex,
       (i % 3 > 0)::INTEGER AS label, ((i * 13) % 100) / 100.0 AS score,
       (((i * 13) % 100) >= 50)::INTEGER AS prediction
FROM range(1000) t(i)
"""


def test_patterns_match_pandas_and_sit_with_the_most_missing_column(project, audit):
    report = audit(project(current=ROWS), stages=["data"])
    by_column = results(report, "data.null_rate")
    carriers = [r for r in by_column.values() if r.evidence.get("charts")]
    assert [r.subject for r in carriers] == ["debt_ratio"]  # NaN counts as missing: 20% + 11.4%
    [chart] = carriers[0].evidence["charts"]
    [found] = carriers[0].evidence["tables"]
    assert chart["kind"] == "heatmap" and chart["x"] == ["debt_ratio", "income", "region"]
    frame = duckdb.sql(ROWS).df()
    flags = frame[["debt_ratio", "income", "region"]].isna()
    expected = flags.value_counts()  # pandas: NaN and None are both missing
    got = {tuple(v == 1.0 for v in row): int(label.split(" rows")[0].replace(",", ""))
           for row, label in zip(chart["values"], chart["y"], strict=True)}
    assert got == {tuple(k): int(v) for k, v in expected.items()}
    assert found["rows"][0][2] == "(none missing)" and sum(r[0] for r in found["rows"]) == 1000
