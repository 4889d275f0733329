#!/usr/bin/env python3
"""fairness_report against fairlearn's MetricFrame on the same scored applications.

Writes N scored applications (10 groups, label, prediction) to Parquet with
finsight, then times, best of 3:
  finsight  the whole `finsight -c "SELECT * FROM fairness_report(...)"` process:
            start, Parquet read and the report;
  fairlearn MetricFrame with selection rate, TPR, FPR, precision and count by
            group on the data already in memory (the Parquet read not counted).

  python3 benches/fairness_vs_fairlearn.py target/release/finsight DIR [--rows 10000000]
"""
import argparse
import subprocess
import time
from pathlib import Path

import pandas as pd
from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate
from sklearn.metrics import precision_score


def best_of(runs, action):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("dir", type=Path)
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    data = args.dir / f"applications_{args.rows}.parquet"
    if not data.exists():
        # Deterministic pseudo-random groups and outcomes from the row number.
        subprocess.run([args.binary, "-c", f"""
            COPY (SELECT 'group_' || CAST((value * 7919) % 10 AS VARCHAR) AS grp,
                         CAST((value * 104729) % 100 < 70 AS INT) AS repaid,
                         CAST((value * 1299709 + value / 3) % 100 < 55 + (value % 10) AS INT) AS approved
                  FROM generate_series(1, {args.rows})) TO '{data}'"""], check=True, stdout=subprocess.DEVNULL)
    query = (f"SELECT * FROM fairness_report('SELECT grp, repaid, approved FROM ''{data}''', 'group_0')")
    finsight = best_of(3, lambda: subprocess.run([args.binary, "-c", query], check=True, stdout=subprocess.DEVNULL))

    frame = pd.read_parquet(data)
    metrics = {"count": lambda t, p: len(t), "selection_rate": selection_rate, "tpr": true_positive_rate,
               "fpr": false_positive_rate, "precision": lambda t, p: precision_score(t, p, zero_division=0)}
    fairlearn = best_of(3, lambda: MetricFrame(metrics=metrics, y_true=frame["repaid"], y_pred=frame["approved"],
                                               sensitive_features=frame["grp"]).by_group)
    print(f"{args.rows:,} applications, 10 groups")
    print(f"finsight fairness_report (process, Parquet read included): {finsight:.3f} s")
    print(f"fairlearn MetricFrame (in memory):                          {fairlearn:.3f} s")
    print(f"speed-up: {fairlearn / finsight:.1f}x")


if __name__ == "__main__":
    main()
