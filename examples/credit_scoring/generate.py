#!/usr/bin/env python
"""Generate the seeded credit-scoring example: reference, current, a production prediction log, and
two tables only the data dictionary reads (applicants' contact details, branch offices).

Every planted problem is listed in README.md beside this file, with the check that should catch it.
Rows are generated and written in chunks (one Parquet row group each), so memory stays flat
whether --rows is 100 thousand or 100 million.

    python examples/credit_scoring/generate.py [--rows N] [--log-rows N] [--out DIR] [--seed 7]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

CHUNK = 1_000_000
# Row groups of DuckDB's own default size: readers parallelise by row group, so a 1M-row file written
# as one group would be read by one thread.
ROW_GROUP = 122_880

EMPLOYMENT = ["salaried", "self_employed", "contract", "unemployed", "retired"]
EMPLOYMENT_P_REF = [0.60, 0.12, 0.10, 0.05, 0.13]
EMPLOYMENT_P_CUR = [0.42, 0.12, 0.30, 0.05, 0.11]  # planted: contract work triples
EMPLOYMENT_LOGIT = np.array([0.3, 0.0, -0.3, -1.2, 0.2])  # effect on the log-odds of repaying
REGIONS = ["north", "south", "east", "west"]
REGION_P = [0.26, 0.25, 0.25, 0.24]
SEXES = ["female", "male"]
VERSIONS = ["v1", "v2"]
CATEGORIES = {"employment_type": EMPLOYMENT, "region": REGIONS, "sex": SEXES, "model_version": VERSIONS}

# Income is log-normal; with sigma 0.5 a x1.15 shift moves it by 0.28 reference standard
# deviations of Wasserstein distance while its PSI stays near 0.07 (the case PSI alone misses).
INCOME_MEDIAN, INCOME_SIGMA = 42_000.0, 0.5
# Ground-truth log-odds of repaying, on roughly standardised features; ~80% repay.
INTERCEPT, COEF_INCOME, COEF_DEBT, COEF_HISTORY = 2.0, 1.3, -1.1, 0.7
FEMALE_PENALTY = 1.6  # the planted unfairness: the model docks women this much log-odds
MODEL_NOISE = 0.3  # the model's estimation error, on the log-odds

FIELDS = [
    ("id", pa.int64()),
    ("ts", pa.timestamp("us")),
    ("age", pa.int64()),
    ("income", pa.float64()),
    ("debt_ratio", pa.float64()),
    ("credit_history_months", pa.int64()),
    ("num_accounts", pa.int64()),
    ("employment_type", pa.string()),
    ("region", pa.string()),
    ("sex", pa.string()),
    ("label", pa.int64()),
    ("score", pa.float64()),
    ("prediction", pa.int64()),
    ("model_version", pa.string()),
]
TABLE_SCHEMA = pa.schema(FIELDS)
LOG_SCHEMA = pa.schema(FIELDS + [("latency_ms", pa.float64())])

# name: (random stream, first day, day after the last, first id, population). Reference is the
# clean training period; current plants income x1.15, a tripling of contract work and a debt
# ratio that goes unreported mostly in the east. Its duplicate ids and bad ages: defect_plan.
BATCHES = {
    "reference": (
        1,
        "2026-06-01",
        "2026-09-01",
        1_000_000_000,
        {"employment_p": EMPLOYMENT_P_REF, "income_mult": 1.0, "debt_null_p": [0.02] * 4},
    ),
    "current": (
        2,
        "2026-10-28",
        "2026-11-27",
        2_000_000_000,
        {"employment_p": EMPLOYMENT_P_CUR, "income_mult": 1.15, "debt_null_p": [0.025, 0.025, 0.40, 0.025]},
    ),
}


def day(iso: str) -> int:
    """Epoch seconds of a UTC date."""
    return int(np.datetime64(iso, "s").astype(np.int64))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def timestamps(rng, lo: int, hi: int, n: int, edges: np.ndarray, weights) -> np.ndarray:
    """Timestamps (µs) of rows lo..hi of n. Each row draws within its own 1/n slice of the volume
    CDF, so chunks come out already sorted, back to back, and every day gets its share of rows."""
    cdf = np.concatenate([[0.0], np.cumsum(weights)]) / np.sum(weights)
    u = (np.arange(lo, hi) + rng.random(hi - lo)) / n
    seconds = np.interp(u, cdf, edges.astype(np.float64))
    return (seconds * 1000).astype(np.int64) * 1000  # millisecond resolution


def applicants(rng, ts, ids, *, employment_p, income_mult, income_coef, debt_null_p, label_shift=0.0) -> dict:
    """Features, true outcome and the model's score for one chunk. Categoricals are codes, -1 = null;
    a missing debt ratio is NaN. income_mult, income_coef and label_shift (added to the true
    log-odds) may vary per row: that is how the log plants its drifts on given days."""
    n = len(ts)
    age = np.clip(np.rint(rng.normal(41, 12, n)), 18, 90).astype(np.int64)
    income = np.round(np.exp(rng.normal(np.log(INCOME_MEDIAN), INCOME_SIGMA, n)) * income_mult, 2)
    debt = np.round(1.5 * rng.beta(2.0, 5.0, n), 4)
    # A credit file cannot start before 18, which ties history to age as in real bureau data.
    history = np.minimum(rng.gamma(2.0, 45.0, n), (age - 18) * 12).astype(np.int64)
    accounts = np.minimum(rng.poisson(1.0 + history / 50.0), 15)
    employment = rng.choice(len(EMPLOYMENT), n, p=employment_p)
    region = rng.choice(len(REGIONS), n, p=REGION_P)
    sex = (rng.random(n) < 0.5).astype(np.int64)  # 0 female, 1 male
    sex[rng.random(n) < 0.005] = -1  # applicant declined to state
    debt_missing = rng.random(n) < np.asarray(debt_null_p)[region]

    # Standardised against fixed reference constants (not the chunk), so drift shows through.
    z_income = (np.log(income) - np.log(INCOME_MEDIAN)) / INCOME_SIGMA
    z_debt = (debt - 0.43) / 0.24
    z_history = (history - 85.0) / 60.0
    rest = INTERCEPT + COEF_HISTORY * z_history + EMPLOYMENT_LOGIT[employment]
    # Truth: repayment depends on capacity (the real debt ratio, even when unreported), never on sex.
    label = rng.random(n) < sigmoid(rest + income_coef * z_income + COEF_DEBT * z_debt + label_shift)
    # The model has the right form but imputes a missing debt ratio with the mean, carries
    # estimation noise, and penalises women: same repayment, lower approval.
    logit = (
        rest
        + COEF_INCOME * z_income
        + COEF_DEBT * np.where(debt_missing, 0.0, z_debt)
        + rng.normal(0.0, MODEL_NOISE, n)
        - FEMALE_PENALTY * (sex == 0)
    )
    score = sigmoid(logit)
    return {
        "id": ids,
        "ts": ts,
        "age": age,
        "income": income,
        "debt_ratio": np.where(debt_missing, np.nan, debt),
        "credit_history_months": history,
        "num_accounts": accounts,
        "employment_type": employment,
        "region": region,
        "sex": sex,
        "label": label.astype(np.int64),
        "score": score,
        "prediction": (score >= 0.5).astype(np.int64),
        "model_version": np.zeros(n, np.int64),
    }


def defect_plan(seed: int, n: int) -> dict:
    """Global row positions of the planted current-data defects, all distinct. Only even rows are
    drawn, so a whole-row twin written at p + 1 never crosses a chunk boundary (CHUNK is even)."""
    rows = np.random.default_rng([seed, 99]).choice(n // 2, 315, replace=False) * 2
    return {
        "twin": rows[:50],
        "id_src": rows[50:150],
        "id_dst": rows[150:250],
        "age_neg": rows[250:290],
        "age_150": rows[290:315],
    }


def plant_defects(c: dict, lo: int, hi: int, plan: dict, id_base: int) -> None:
    def local(key):
        rows = plan[key]
        inside = (rows >= lo) & (rows < hi)
        return rows[inside] - lo, inside

    twin, _ = local("twin")
    for values in c.values():  # the same application submitted twice: identical rows
        values[twin + 1] = values[twin]
    dst, inside = local("id_dst")  # id collisions: another application reuses an id
    c["id"][dst] = id_base + plan["id_src"][inside]
    c["age"][local("age_neg")[0]] = -1  # "unknown" sentinel leaking into the data
    c["age"][local("age_150")[0]] = 150  # typo'd birth year


def to_table(c: dict, schema: pa.Schema) -> pa.Table:
    arrays = []
    for field in schema:
        values = c[field.name]
        if field.name in CATEGORIES:
            arrays.append(pc.take(pa.array(CATEGORIES[field.name]), pa.array(values, mask=values < 0)))
        elif field.name == "label":
            arrays.append(pa.array(values, mask=values < 0))  # -1: label not (yet) known
        elif pa.types.is_floating(field.type):
            arrays.append(pa.array(values, from_pandas=True))  # NaN -> null
        else:
            arrays.append(pa.array(values, type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def write(path: Path, schema: pa.Schema, n: int, make_chunk) -> None:
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for lo in range(0, n, CHUNK):
            writer.write_table(to_table(make_chunk(lo, min(lo + CHUNK, n)), schema), row_group_size=ROW_GROUP)
    print(f"wrote {path} ({n:,} rows)", file=sys.stderr)


def write_batch(out: Path, name: str, n: int, seed: int, plan=None) -> None:
    stream, start, stop, id_base, population = BATCHES[name]
    edges = np.array([day(start), day(stop)])

    def chunk(lo, hi):
        # One generator per (file, chunk): reproducible whatever order or process makes it.
        rng = np.random.default_rng([seed, stream, 1, lo])
        ts = timestamps(rng, lo, hi, n, edges, [1.0])
        c = applicants(rng, ts, id_base + np.arange(lo, hi), income_coef=COEF_INCOME, **population)
        if plan is not None:
            plant_defects(c, lo, hi, plan, id_base)
        return c

    write(out / f"{name}.parquet", TABLE_SCHEMA, n, chunk)


def write_log(out: Path, n: int, seed: int) -> None:
    edges = np.arange(day("2026-10-16"), day("2026-11-27") + 1, 86_400)  # 42 daily windows
    weights = np.random.default_rng([seed, 3, 2]).uniform(0.95, 1.05, len(edges) - 1)
    weights[(day("2026-11-01") - edges[0]) // 86_400] = 0.05  # planted: an ingestion outage

    def chunk(lo, hi):
        rng = np.random.default_rng([seed, 3, 1, lo])
        ts = timestamps(rng, lo, hi, n, edges, weights)
        seconds = ts // 1_000_000
        drifted = seconds >= day("2026-11-16")
        # From 11-16 a new form collects self-declared income: it reads 25% higher, repayment stops
        # tracking it and defaults rise (concept drift), while the model still trusts it.
        c = applicants(
            rng,
            ts,
            3_000_000_000 + np.arange(lo, hi),
            employment_p=EMPLOYMENT_P_REF,
            income_mult=np.where(drifted, 1.25, 1.0),
            income_coef=np.where(drifted, 0.0, COEF_INCOME),
            label_shift=np.where(drifted, -0.8, 0.0),
            debt_null_p=[0.02] * 4,
        )
        c["model_version"] = (seconds >= day("2026-11-06")).astype(np.int64)  # v2 ships on 11-06
        # Log-normal latency, p95 = median * exp(1.645 * 0.35): ~120 ms, ~260 ms from 11-13.
        median = np.where(seconds >= day("2026-11-13"), 146.0, 67.5)
        c["latency_ms"] = np.round(median * np.exp(rng.normal(0.0, 0.35, hi - lo)), 1)
        # Outcomes arrive 7 days later (as of 2026-11-27); a few never arrive.
        c["label"][(seconds >= day("2026-11-20")) | (rng.random(hi - lo) < 0.002)] = -1
        return c

    write(out / "predictions.parquet", LOG_SCHEMA, n, chunk)


FIRST_NAMES = ["Alice", "Bruno", "Chloé", "Dmitri", "Emma", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kofi", "Lena",
               "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Sven", "Tanya"]
LAST_NAMES = ["Adler", "Berger", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Huber", "Ivanova", "Jansen",
              "Keller", "Larsen", "Moreau", "Novak", "Okafor", "Peters", "Quinn", "Rossi", "Schmidt", "Tanaka"]
CONTACT_ROWS = 5_000


def iban(country: str, bban: str) -> str:
    """A valid IBAN (ISO 13616 mod-97 check digits) for a made-up account number, grouped by four."""
    digits = "".join(str(int(ch, 36)) for ch in bban + country) + "00"
    code = f"{country}{98 - int(digits) % 97:02d}{bban}"
    return " ".join(code[i:i + 4] for i in range(0, len(code), 4))


def write_catalog(out: Path, seed: int) -> None:
    """Two tables the audit does not check but the data dictionary describes (audit.yaml's `catalog:`):
    the CRM's contact details of applicants (personal data: data.pii's scan flags every column of it,
    and no report shows a value) and a small CSV of branch offices. Made-up names, reserved example.com
    addresses, Ofcom's drama phone range, IBANs with valid check digits for invented accounts."""
    rng = np.random.default_rng([seed, 5])
    n = CONTACT_ROWS
    first, last = rng.integers(0, len(FIRST_NAMES), n), rng.integers(0, len(LAST_NAMES), n)
    born = np.datetime64("1946-01-01") + rng.integers(0, 365 * 56, n).astype("timedelta64[D]")
    contacts = pa.table({
        "application_id": pa.array(2_000_000_000 + np.sort(rng.choice(100_000, n, replace=False)), pa.int64()),
        "full_name": [f"{FIRST_NAMES[a]} {LAST_NAMES[b]}" for a, b in zip(first, last, strict=True)],
        "email": [f"{FIRST_NAMES[a].lower()}.{LAST_NAMES[b].lower()}{i}@example.com"
                  for i, (a, b) in enumerate(zip(first, last, strict=True))],
        "phone": [f"+44 20 7946 {x:04d}" for x in rng.integers(0, 1000, n)],
        "iban": [iban("DE", f"{x:018d}") for x in rng.integers(10**15, 10**17, n)],
        "birth_date": [str(d) for d in born],
        "postcode": [f"{rng.integers(10, 99)}{rng.integers(100, 999)}" for _ in range(n)],
        "marketing_consent": pa.array(rng.random(n) < 0.35),
        "updated_at": pa.array((day("2026-10-28") + rng.integers(0, 86_400 * 29, n)) * 1_000_000,
                               pa.timestamp("us")),
    })
    pq.write_table(contacts, out / "contacts.parquet", compression="zstd")
    branches = "region,branch,opened,advisers\nnorth,Leeds,2009-04-01,14\nsouth,Brighton,2012-09-15,9\n" \
               "east,Norwich,2015-02-02,6\nwest,Bristol,2008-11-20,12\n"
    (out / "branches.csv").write_text(branches, encoding="utf-8")
    print(f"wrote {out / 'contacts.parquet'} ({n:,} rows) and {out / 'branches.csv'}", file=sys.stderr)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows in reference and in current")
    parser.add_argument("--log-rows", type=int, default=200_000, help="rows in the prediction log")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "data")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.rows < 1000 or args.log_rows < 1000:
        parser.error("--rows and --log-rows must be at least 1000 (the planted defects need room)")
    args.out.mkdir(parents=True, exist_ok=True)

    write_batch(args.out, "reference", args.rows, args.seed)
    write_batch(args.out, "current", args.rows, args.seed, plan=defect_plan(args.seed, args.rows))
    write_log(args.out, args.log_rows, args.seed)
    write_catalog(args.out, args.seed)


if __name__ == "__main__":
    main()
