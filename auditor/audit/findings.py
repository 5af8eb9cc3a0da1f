"""Findings: the failing, warning and error results of a run grouped by the problem they share.

A reviewer should read "ids repeat" once, not once per check that saw it. Every result that needs
attention gets link keys from the facts it carries (its check, `dataset`, `columns` and the window
where it first crossed its line); results that share a key belong to the same finding (a finding is
a connected group, so a result joins a finding through any one of its keys). The rules:

1. **Same column.** Results measuring the same column are one finding, whatever the check and side:
   `income`'s drift, its drift over time and the weak `income` slice; `debt_ratio`'s null rate, its
   null rate per region (the column measured, not the grouping one) and the `debt_ratio` slice;
   `data.duplicates` and the schema's uniqueness on `id`.
2. **Same sensitive attributes.** Fairness checks on overlapping sensitive columns (`sex`,
   `sex×region`, `region`) are one finding: the same treatment measured from different sides. A slice
   on a sensitive column joins them, and so does a sensitive attribute used as a model feature. Fairness never links by column otherwise: a grouping column is not
   what is measured.
3. **Same side of a comparison.** Distribution drift of a dataset (features, prediction, label,
   multivariate) is one finding: the score drifts because its inputs do. Model quality on one dataset
   (performance, calibration, the challenger) is one finding.
4. **Repeated rows repeat their id.** Whole-row duplicates join the id's repeats in the same dataset.
5. **Same first window.** Drift and model-quality results over time that first crossed their line in
   the same window are one incident (income drifting and accuracy falling from the same day).
   Operations (latency, volume, versions) never link by window: a slow service starting the day the
   data drifts is a coincidence until a person says otherwise.
6. **Scoping** gaps (the project card, data availability) are one finding.

Anything else is a finding of its own. Findings are ranked by severity, then lifecycle stage (the
earliest stage among a finding's results), then size. The title comes from the finding's leading
result (the most explanatory family: scoping, repeats, schema, missing values, drift, fairness,
quality, operations, slices), the summary is its message plus who else saw the problem.
"""

from __future__ import annotations

from collections.abc import Iterable

from auditor.report import ATTENTION, SEVERITY, STAGES, CheckResult, Finding

__all__ = ["find", "family", "link_keys"]

FAIRNESS = {"modeling.demographic_parity", "modeling.disparate_impact", "modeling.equal_opportunity",
            "modeling.equalized_odds"}
FAMILIES: dict[str, str] = {
    "scoping.project_card": "scoping", "scoping.data_availability": "scoping",
    "data.duplicates": "repeats",
    "data.schema": "schema",
    "data.null_rate": "missing", "data.subgroup_null_rate": "missing",
    "deployment.feature_drift": "drift", "deployment.prediction_drift": "drift", "deployment.label_drift": "drift",
    "deployment.drift_over_time": "drift", "deployment.multivariate_drift": "drift",
    **dict.fromkeys(FAIRNESS, "fairness"),
    "modeling.performance": "quality", "modeling.calibration": "quality", "modeling.champion_challenger": "quality",
    "deployment.performance_over_time": "quality",
    "deployment.latency": "operations", "deployment.volume": "operations", "deployment.model_versions": "operations",
    "deployment.freshness": "operations", "data.freshness": "operations", "data.volume": "operations",
    "modeling.slices": "slices",
}
# The family whose result best explains a finding leads it (names it); slices are symptoms.
LEAD_ORDER = ("scoping", "repeats", "schema", "missing", "drift", "fairness", "quality", "operations", "other",
              "slices")
# Families linked by the columns they measure (rule 1); the others link only by their own rules.
BY_COLUMN = {"repeats", "schema", "missing", "drift", "slices", "other"}
# Metrics where a windowed check says in which window it first crossed a line (rule 5).
FIRST_WINDOW = ("first_crossed_window", "first_over_budget_window", "first_warn_window", "first_fail_window",
                "first_flagged_window", "first_seen_window")
MAX_NAMED = 3  # columns named in a title; the rest are counted
# The charts that show best where a problem is, first: a group's null rate beats the overall pattern,
# a feature's two distributions beat a window heatmap, the groups' rates beat a slice.
TELLING = ("data.subgroup_null_rate", "deployment.feature_drift", "modeling.demographic_parity",
           "modeling.disparate_impact", "deployment.latency", "deployment.volume", "modeling.calibration",
           "deployment.drift_over_time", "deployment.performance_over_time", "deployment.multivariate_drift",
           "data.null_rate", "modeling.performance")


def family(result: CheckResult) -> str:
    """The kind of problem a check measures (FAMILIES; anything unlisted is 'other')."""
    return FAMILIES.get(result.id, "other")


def _side(dataset: str | None) -> str:
    return dataset or "(no dataset)"


def link_keys(result: CheckResult) -> set[tuple[str, ...]]:
    """The keys a result shares with the others of its finding (the rules above)."""
    fam, cols = family(result), list(result.columns)
    keys: set[tuple[str, ...]] = set()
    if fam == "missing" and result.id == "data.subgroup_null_rate":
        cols = cols[:1]  # "debt_ratio by region" measures debt_ratio; region only groups it
    if fam in BY_COLUMN:
        keys |= {("column", c) for c in cols}
    if fam in ("fairness", "slices") or (result.metrics or {}).get("sensitive_feature"):
        # A slice links here only when a fairness result measures the same column, which makes it sensitive;
        # a sensitive attribute the model takes as input (data.pii) is the same treatment seen from its inputs.
        keys |= {("sensitive", c) for c in cols}
    if fam == "drift" and result.id != "deployment.drift_over_time":
        keys.add(("drift", _side(result.dataset)))
    if fam == "quality" and result.id != "deployment.performance_over_time":
        keys.add(("quality", _side(result.dataset)))
    if fam == "repeats":
        keys.add(("repeats", _side(result.dataset)))
    if fam == "scoping":
        keys.add(("scoping",))
    windows = sorted(str(v) for k in FIRST_WINDOW if (v := (result.metrics or {}).get(k)) is not None)
    if windows and result.stage == "deployment" and fam in ("drift", "quality"):
        keys.add(("window", _side(result.dataset), windows[0]))
    return keys


class _Groups:
    """Union-find over result positions."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def root(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, a: int, b: int) -> None:
        ra, rb = self.root(a), self.root(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


STAGE_RANK = {s: i for i, s in enumerate(STAGES)}


def _stage_rank(stage: str) -> int:
    return STAGE_RANK.get(stage, len(STAGE_RANK))


def _lead_key(result: CheckResult, position: int) -> tuple:
    # The most explanatory family, then the worst, earliest, narrowest (sex before sex×region) result.
    return (LEAD_ORDER.index(family(result)), -SEVERITY[result.status], _stage_rank(result.stage),
            len(result.columns), position)


def _names(columns: list[str]) -> str:
    shown = [f"'{c}'" for c in columns[:MAX_NAMED]]
    if len(columns) > MAX_NAMED:
        shown.append(f"{len(columns) - MAX_NAMED} more")
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def _title(lead: CheckResult, members: list[CheckResult]) -> str:
    fam = family(lead)
    same = [r for r in members if family(r) == fam]
    cols = list(dict.fromkeys(c for r in same for c in (r.columns[:1] if r.id == "data.subgroup_null_rate"
                                                         else r.columns)))
    if fam == "scoping":
        return "Scoping gaps: " + ", ".join(dict.fromkeys(r.title for r in same)).lower()
    if fam == "repeats" and cols:
        return f"Repeated values of {_names(cols)}"
    if fam == "repeats":
        return "Repeated rows"
    if fam == "schema" and cols:
        return f"{_names(cols)} {'breaks' if len(cols) == 1 else 'break'} the schema"
    if fam == "missing" and cols:
        return f"Missing values in {_names(cols)}"
    if fam == "drift" and cols:
        return f"Drift in {_names(cols)}"
    if fam == "fairness" and cols:
        return f"Unequal treatment by {_names(cols)}"
    if fam == "quality" and len({r.id for r in same}) > 1:  # calibration and accuracy: the model, not one check
        measured = list(dict.fromkeys(r.subject or r.title.lower() for r in same))
        return "Model quality: " + ", ".join(measured[:MAX_NAMED]) + (" and more" if len(measured) > MAX_NAMED else "")
    if fam == "slices" and cols:
        return f"The model is weaker on some values of {_names(cols)}"
    return lead.title + (f": {lead.subject}" if lead.subject is not None else "")


def _summary(lead: CheckResult, members: list[CheckResult]) -> str:
    """The leading result's message, and who else saw the same problem (one sentence)."""
    message = (lead.message or lead.title).strip().rstrip(".")
    others = [r for r in members if r is not lead]
    if not others:
        return message + "."
    titles = list(dict.fromkeys(r.title for r in others))
    shown = ", ".join(titles[:4]) + (f" and {len(titles) - 4} more" if len(titles) > 4 else "")
    agree = 'results agree' if len(others) > 1 else 'result agrees'
    return f"{message}; {len(others)} more {agree} ({shown})."


def _chart(lead: CheckResult, members: list[CheckResult]) -> dict | None:
    """The most telling chart: the first chart of the result whose check shows the problem best (TELLING),
    the lead's among equals, then the worst result's."""
    drawn = [r for r in [lead, *members] if (r.evidence or {}).get("charts")]
    if not drawn:
        return None
    best = min(drawn, key=lambda r: TELLING.index(r.id) if r.id in TELLING else len(TELLING))
    return {"id": best.id, "subject": best.subject, "index": 0}


def find(results: Iterable[CheckResult]) -> list[Finding]:
    """Group every error, fail and warn result into exactly one finding, worst first."""
    attention = [r for r in results if r.status in ATTENTION]
    groups = _Groups(len(attention))
    owner: dict[tuple[str, ...], int] = {}
    for i, result in enumerate(attention):
        for key in sorted(link_keys(result)):
            if key in owner:
                groups.join(owner[key], i)
            else:
                owner[key] = i
    members: dict[int, list[int]] = {}
    for i in range(len(attention)):
        members.setdefault(groups.root(i), []).append(i)
    findings = []
    for positions in members.values():
        # Worst first inside a finding too, so its results read in the order they matter.
        group = sorted((attention[i] for i in positions),
                       key=lambda r: (-SEVERITY[r.status], _stage_rank(r.stage), r.id, r.subject or ""))
        lead = min(group, key=lambda r: _lead_key(r, group.index(r)))
        findings.append(Finding(
            title=_title(lead, group),
            status=max((r.status for r in group), key=lambda s: SEVERITY[s]),
            stage=min((r.stage for r in group), key=_stage_rank),
            summary=_summary(lead, group),
            results=tuple((r.id, r.subject) for r in group),
            columns=tuple(dict.fromkeys(c for r in group for c in r.columns)),
            chart=_chart(lead, group),
        ))
    return sorted(findings, key=lambda f: (-SEVERITY[f.status], _stage_rank(f.stage), -len(f.results), f.title))
