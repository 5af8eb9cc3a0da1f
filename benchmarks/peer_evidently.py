#!/usr/bin/env python
"""Evidently's DataDriftPreset on the same Parquet files (run by benchmarks/.venv-evidently's python).

Evidently works on pandas DataFrames, so both files are read whole (only the feature columns).
Prints one JSON object: the load and compute times and, per column, Evidently's method, score and
verdict. Evidently picks the method by size: above 1,000 rows, normed Wasserstein for numeric
columns and Jensen-Shannon distance for categorical ones, each with threshold 0.1.

    peer_evidently.py REFERENCE CURRENT --columns columns.json   ({"numeric": [...], "categorical": [...]})
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently import __version__ as evidently_version
from evidently.presets import DataDriftPreset

METRIC_NAME = re.compile(r"^ValueDrift\(column=(?P<column>.*),method=(?P<method>.*),threshold=(?P<threshold>[^,]*)\)$")
# Distances and divergences drift when they reach the threshold; p-values when they fall under it.
DISTANCE = re.compile(r"distance|divergence|PSI|psi|Hellinger", re.IGNORECASE)


def verdicts(snapshot: dict) -> dict[str, dict]:
    out = {}
    for metric in snapshot["metrics"]:
        match = METRIC_NAME.match(metric["metric_name"])
        if not match:
            continue
        score, threshold, method = float(metric["value"]), float(match["threshold"]), match["method"]
        drift = score >= threshold if DISTANCE.search(method) else score < threshold
        out[match["column"]] = {"method": method, "score": score, "threshold": threshold, "drift": drift}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference")
    parser.add_argument("current")
    parser.add_argument("--columns", required=True, help="a JSON file: {numeric: [...], categorical: [...]}")
    args = parser.parse_args(argv)
    with open(args.columns) as listing:
        columns = json.load(listing)
    numeric, categorical = columns["numeric"], columns["categorical"]

    started = time.perf_counter()
    reference = pd.read_parquet(args.reference, columns=numeric + categorical)
    current = pd.read_parquet(args.current, columns=numeric + categorical)
    loaded = time.perf_counter()
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    snapshot = Report([DataDriftPreset()]).run(
        current_data=Dataset.from_pandas(current, data_definition=definition),
        reference_data=Dataset.from_pandas(reference, data_definition=definition),
    ).dict()
    done = time.perf_counter()
    json.dump({"version": evidently_version, "pandas": pd.__version__, "load_s": round(loaded - started, 3),
               "compute_s": round(done - loaded, 3), "columns": verdicts(snapshot)}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
