"""What one HTML page shows of passing and skipped results: a wide table's audit makes thousands of them.

Failing, warning and error results always show everything. Passing and skipped ones show their details
(metrics, tables, charts, SQL) and charts while within the budgets below, in page order; the page says
what it left out, and report.json keeps all of it.
"""

from __future__ import annotations

from auditor.report import CheckResult

# What one page shows of passing and skipped results, in page order; failing, warning and error results
# always show everything. 1,000 columns made 4,051 results: 945 charts were 4.7 MB of a 9.9 MB page, and
# the metrics of results nobody needs to open another 2.1 MB. report.json keeps all of it.
PASSING_CHARTS_MAX = 150  # charts of passing results drawn
PASSING_DETAILS_MAX = 1000  # passing results with their details (metrics, tables, charts, SQL)


def page_budget(grouped: list[tuple[str, list[CheckResult]]]) -> tuple[set[int], set[int]]:
    """The results (by id()) whose details the page shows, and those whose charts it draws: every result
    not passing or skipped; passing or skipped ones while within PASSING_DETAILS_MAX results and
    PASSING_CHARTS_MAX charts."""
    detailed, charted, passing, charts = set(), set(), 0, 0
    for _, checks in grouped:
        for check in checks:
            n = len((check.evidence or {}).get("charts") or [])
            if check.status not in ("pass", "skip"):
                detailed.add(id(check))
                charted.add(id(check))
                continue
            passing += 1
            if passing <= PASSING_DETAILS_MAX:
                detailed.add(id(check))
                if n and charts + n <= PASSING_CHARTS_MAX:
                    charted.add(id(check))
                    charts += n
    return detailed, charted
