"""Per-group rates and gaps against fairlearn 0.15; intervals and tests against scipy."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from fairlearn import metrics as flm
from scipy.stats import binomtest, chi2_contingency
from sklearn.metrics import accuracy_score, precision_score

from auditor.metrics.group_rates import (
    MISSING,
    Group,
    gap,
    holm,
    holm_pair,
    run_scan,
    two_proportion_pvalue,
    wilson_interval,
)
from auditor.metrics.performance import model_columns
from tests.modeling_helpers import view_of

TOL = 1e-9


def frame(seed: int = 0, n: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sex = rng.choice(["female", "male"], n).astype(object)
    sex[rng.random(n) < 0.05] = None  # missing values form their own group
    region = rng.choice(["north", "south", "east"], n).astype(object)
    label = (rng.random(n) < np.where(sex == "female", 0.4, 0.6)).astype(int)
    score = np.clip(rng.random(n) * 0.8 + 0.2 * label - 0.1 * (sex == "female"), 0, 1)
    df = pd.DataFrame({"sex": sex, "region": region, "label": label, "score": score,
                       "prediction": (score >= 0.5).astype(int)})
    # "west": a group of one row; "nowhere": a group with no positive labels.
    one = pd.DataFrame({"sex": ["male"], "region": ["west"], "label": [1], "score": [0.9], "prediction": [1]})
    none = pd.DataFrame({"sex": ["female"] * 5, "region": ["nowhere"] * 5, "label": [0] * 5,
                         "score": [0.1, 0.6, 0.7, 0.2, 0.3], "prediction": [0, 1, 1, 0, 0]})
    return pd.concat([df, one, none], ignore_index=True)


def scan_of(df, tmp_path, sensitive=("sex", "region")):
    engine, ds = view_of(df, tmp_path)
    cols = model_columns(ds, label="label", prediction="prediction", score="score")
    return run_scan(engine, dataset="current", view=ds.view, cols=cols, sensitive=list(sensitive))


def fairlearn_frame(df, features):
    filled = df[features].fillna(MISSING)
    sf = filled[features[0]] if len(features) == 1 else filled
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return flm.MetricFrame(
            metrics={"selection_rate": flm.selection_rate, "true_positive_rate": flm.true_positive_rate,
                     "false_positive_rate": flm.false_positive_rate, "false_negative_rate": flm.false_negative_rate,
                     "accuracy": accuracy_score,
                     "precision": lambda y, p: precision_score(y, p, zero_division=np.nan)},
            y_true=df.label, y_pred=df.prediction, sensitive_features=sf)


@pytest.mark.parametrize("features", [["sex"], ["region"], ["sex", "region"]])
def test_group_rates_match_fairlearn(tmp_path, features):
    df = frame()
    scan = scan_of(df, tmp_path)
    attribute = "×".join(features)
    ours = {g.name: g for g in scan.groups[attribute]}
    expected = fairlearn_frame(df, features).by_group
    expected = expected[expected.selection_rate.notna()]  # fairlearn lists empty cells of the cross product
    assert len(ours) == len(expected)
    for key, row in expected.iterrows():
        name = "×".join(key) if isinstance(key, tuple) else key
        group = ours[name]
        mask = np.logical_and.reduce([df[f].fillna(MISSING) == part
                                      for f, part in zip(features, name.split("×"), strict=True)])
        assert group.rows == int(mask.sum())
        rates = group.rates
        for metric in ("selection_rate", "accuracy"):
            assert rates[metric] == pytest.approx(row[metric], abs=TOL)
        assert rates["mean_score"] == pytest.approx(df.score[mask].mean(), abs=TOL)
        has_positives = df.label[mask].sum() > 0
        for metric in ("true_positive_rate", "false_negative_rate"):
            if has_positives:
                assert rates[metric] == pytest.approx(row[metric], abs=TOL)
            else:  # fairlearn says 0 for a group with no positives (silently); undefined is None here
                assert rates[metric] is None and row[metric] == 0.0
        if (df.label[mask] == 0).any():
            assert rates["false_positive_rate"] == pytest.approx(row["false_positive_rate"], abs=TOL)
        else:
            assert rates["false_positive_rate"] is None
        if np.isnan(row["precision"]):
            assert rates["precision"] is None
        else:
            assert rates["precision"] == pytest.approx(row["precision"], abs=TOL)


def test_summary_gaps_match_fairlearn(tmp_path):
    df = frame(seed=1)
    scan = scan_of(df, tmp_path)
    groups = scan.groups["region"]
    sf = df.region
    dp = gap(groups, "selection_rate", min_group_size=1)
    assert dp.difference == pytest.approx(flm.demographic_parity_difference(df.label, df.prediction,
                                                                             sensitive_features=sf), abs=TOL)
    assert dp.ratio == pytest.approx(flm.demographic_parity_ratio(df.label, df.prediction, sensitive_features=sf),
                                     abs=TOL)
    # Equalized odds: fairlearn counts the no-positive group's TPR as 0; we leave that group out of the
    # TPR comparison, which equals fairlearn on the groups where both rates are defined.
    # "nowhere" has no positives (TPR undefined), "west" no negatives (FPR undefined): both leave out
    # only the undefined rate; fairlearn would count it as 0.
    assert gap(groups, "true_positive_rate", min_group_size=1) == \
        gap([g for g in groups if g.name != "nowhere"], "true_positive_rate", min_group_size=1)
    assert gap(groups, "false_positive_rate", min_group_size=1) == \
        gap([g for g in groups if g.name != "west"], "false_positive_rate", min_group_size=1)
    defined = df[~df.region.isin(["nowhere", "west"])]
    eligible = [g for g in groups if g.name not in ("nowhere", "west")]
    tpr = gap(eligible, "true_positive_rate", min_group_size=1)
    fpr = gap(eligible, "false_positive_rate", min_group_size=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        eod = flm.equalized_odds_difference(defined.label, defined.prediction, sensitive_features=defined.region)
        eor = flm.equalized_odds_ratio(defined.label, defined.prediction, sensitive_features=defined.region)
        eo = flm.MetricFrame(metrics=flm.true_positive_rate, y_true=defined.label, y_pred=defined.prediction,
                             sensitive_features=defined.region)
    assert max(tpr.difference, fpr.difference) == pytest.approx(eod, abs=TOL)
    assert min(tpr.ratio, fpr.ratio) == pytest.approx(eor, abs=TOL)
    assert tpr.difference == pytest.approx(eo.difference(), abs=TOL)
    assert tpr.ratio == pytest.approx(eo.ratio(), abs=TOL)


def test_small_groups_are_not_graded(tmp_path):
    df = frame(seed=2)
    groups = scan_of(df, tmp_path).groups["region"]
    big = gap(groups, "selection_rate", min_group_size=30)
    assert "west" not in (big.max_group, big.min_group) and "nowhere" not in (big.max_group, big.min_group)
    assert big.max_group in {"north", "south", "east"}


def test_missing_values_form_a_group(tmp_path):
    df = frame(seed=3)
    names = [g.name for g in scan_of(df, tmp_path).groups["sex"]]
    assert names == [MISSING, "female", "male"]
    assert any(name.startswith(f"{MISSING}×") for name in
               [g.name for g in scan_of(df, tmp_path).groups["sex×region"]])


def test_one_scan_for_all_groups_and_the_total(tmp_path):
    df = frame(seed=4)
    engine, ds = view_of(df, tmp_path)
    before = len(engine.log)
    cols = model_columns(ds, label="label", prediction="prediction", score="score")
    scan = run_scan(engine, dataset="current", view=ds.view, cols=cols, sensitive=["sex", "region"])
    assert len(engine.log) - before == 1
    assert scan.overall["rows"] == len(df)
    assert sum(g.rows for g in scan.groups["sex×region"]) == len(df)
    assert sum(c["rows"] for _, c in scan.calibration) == len(df)


@pytest.mark.parametrize("k,n", [(0, 10), (10, 10), (3, 7), (41, 120), (1, 1)])
def test_wilson_matches_scipy(k, n):
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(ci.low, abs=TOL) and hi == pytest.approx(ci.high, abs=TOL)
    assert wilson_interval(0, 0) == (None, None)


@pytest.mark.parametrize("x1,n1,x2,n2", [(40, 100, 60, 100), (5, 30, 9, 31), (300, 1000, 330, 1000)])
def test_two_proportion_z_test_is_the_uncorrected_chi_square(x1, n1, x2, n2):
    _, p, _, _ = chi2_contingency([[x1, n1 - x1], [x2, n2 - x2]], correction=False)
    assert two_proportion_pvalue(x1, n1, x2, n2) == pytest.approx(p, rel=1e-9)
    assert two_proportion_pvalue(0, 10, 0, 12) == 1.0


def test_holm_adjustment():
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def family(groups, rates, minimum):
    """Every eligible pair on every rate, Holm-adjusted the plain way (the oracle of holm_pair)."""
    raw = {}
    for rate in rates:
        eligible = sorted((g for g in groups if g.rows >= minimum and g.rates[rate] is not None), key=lambda g: g.name)
        for i, a in enumerate(eligible):
            for b in eligible[i + 1:]:
                raw[(rate, a.name, b.name)] = two_proportion_pvalue(*a.successes(rate), *b.successes(rate))
    return dict(zip(raw, holm(list(raw.values())), strict=True))


def test_the_pair_behind_a_gap_is_adjusted_over_every_eligible_pair(tmp_path):
    groups = scan_of(frame(seed=5), tmp_path).groups["region"]
    rates = ["selection_rate", "true_positive_rate"]
    adjusted = family(groups, rates, 30)
    assert len(adjusted) == 2 * 3  # north, south, east: 3 pairs per rate
    for (rate, a, b), expected in adjusted.items():
        assert holm_pair(groups, rates, rate, b, a, min_group_size=30) == (pytest.approx(expected, rel=1e-12), 6)
    assert holm_pair(groups, rates, "selection_rate", "north", "(nowhere)", min_group_size=30) == (None, 6)


def test_holm_of_one_pair_among_thousands_of_groups():
    """300 groups (44,850 pairs a rate) with ties and a real gap: the same as adjusting the whole family."""
    rng = np.random.default_rng(3)
    groups = [Group("g", f"g{i:03d}", {"rows": n, "predicted": n, "selected": int(x)})
              for i, (n, x) in enumerate(zip(rng.integers(30, 60, 300), rng.integers(5, 25, 300), strict=True))]
    groups[7] = Group("g", "g007", {"rows": 50, "predicted": 50, "selected": 49})
    adjusted = family(groups, ["selection_rate"], 30)
    for a, b in (("g007", "g100"), ("g001", "g002"), ("g050", "g051")):
        key = ("selection_rate", *sorted([a, b]))
        got, size = holm_pair(groups, ["selection_rate"], "selection_rate", a, b, min_group_size=30)
        assert size == len(adjusted) == 300 * 299 // 2 and got == pytest.approx(adjusted[key], rel=1e-9)


def test_fairlearn_says_zero_silently_where_we_say_none():
    """The documented difference: fairlearn's TPR of a group without positives is 0, with no warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert flm.true_positive_rate([0, 0], [1, 0], pos_label=1) == 0.0


def test_scan_without_score_or_sensitive_columns(tmp_path):
    df = frame(seed=6).drop(columns=["score"])
    engine, ds = view_of(df, tmp_path)
    cols = model_columns(ds, label="label", prediction="prediction", score=None)
    scan = run_scan(engine, dataset="current", view=ds.view, cols=cols, sensitive=[])
    assert scan.overall["rows"] == len(df) and scan.groups == {} and scan.calibration == []
    assert scan.overall["tp"] == int(((df.label == 1) & (df.prediction == 1)).sum())
