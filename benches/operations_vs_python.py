#!/usr/bin/env python3
"""The operations and calibration kernels against the Python libraries
analysts use, on the same rows.

Writes N seeded rows (campaign arm, conversion, spend, two categories, price
and quantity, uplift score, group, label, score) to Parquet with pandas, then
times, best of 3:
  finsight  the whole `finsight -c "SELECT ..."` process: start, Parquet read
            and the aggregate;
  python    the reference call on the data already in memory (reading the
            Parquet file is not counted).

  python3 benches/operations_vs_python.py target/release/finsight DIR [--rows 10000000]
"""
import argparse
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from sklearn.calibration import calibration_curve
from sklift.metrics import qini_auc_score
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest


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
    path = args.dir / f"operations_{args.rows}.parquet"
    rng = np.random.default_rng(7)
    n = args.rows
    if not path.exists():
        treated = rng.integers(0, 2, n)
        price = rng.uniform(1, 10, n)
        frame = pd.DataFrame({
            "treated": treated,
            "converted": (rng.random(n) < 0.03 + 0.01 * treated).astype(np.int64),
            "spend": rng.lognormal(3, 1, n),
            "channel": rng.choice(["app", "web", "branch", "phone"], n),
            "region": rng.choice(["north", "south", "east", "west", "central"], n),
            "price": price,
            "units": np.exp(5 - 1.7 * np.log(price) + rng.normal(0, 0.3, n)),
            "uplift": np.round(rng.normal(0, 1, n), 2),
            "grp": rng.choice([f"group_{k}" for k in range(10)], n),
            "score": rng.random(n),
        })
        frame["label"] = (rng.random(n) < frame["score"]).astype(np.int64)
        frame.to_parquet(path, index=False)
    frame = pd.read_parquet(path)
    source = f"'{path}'"

    def finsight(query):
        return lambda: subprocess.run([args.binary, "--format", "csv", "-c", query], check=True,
                                      capture_output=True)

    t, c = frame[frame.treated == 1], frame[frame.treated == 0]
    cases = [
        ("ab_test_proportions", f"SELECT ab_test_proportions(treated, converted) FROM {source}",
         lambda: (proportions_ztest([t.converted.sum(), c.converted.sum()], [len(t), len(c)]),
                  confint_proportions_2indep(t.converted.sum(), len(t), c.converted.sum(), len(c),
                                             method="wald")),
         "statsmodels proportions_ztest + confint (counts only)"),
        ("ab_test_means", f"SELECT ab_test_means(treated, spend) FROM {source}",
         lambda: stats.ttest_ind(frame.spend[frame.treated == 1], frame.spend[frame.treated == 0],
                                 equal_var=False).confidence_interval(),
         "scipy ttest_ind(equal_var=False)"),
        ("chi_square_test", f"SELECT chi_square_test(channel, region) FROM {source}",
         lambda: stats.chi2_contingency(pd.crosstab(frame.channel, frame.region), correction=False),
         "pandas crosstab + scipy chi2_contingency"),
        ("price_elasticity", f"SELECT price_elasticity(units, price) FROM {source}",
         lambda: sm.OLS(np.log(frame.units), sm.add_constant(np.log(frame.price))).fit(),
         "statsmodels OLS on logs"),
        ("qini_coefficient", f"SELECT qini_coefficient(uplift, treated, converted) FROM {source}",
         lambda: qini_auc_score(frame.converted, frame.uplift, frame.treated),
         "scikit-uplift qini_auc_score"),
        ("calibration_by_group",
         f"SELECT count(*) FROM calibration_by_group('SELECT grp, label, score FROM {source.replace(chr(39), chr(39) * 2)}')",
         lambda: [calibration_curve(part.label, part.score, n_bins=10) for _, part in frame.groupby("grp")],
         "scikit-learn calibration_curve per group"),
    ]
    print(f"{n:,} rows, best of 3 (finsight: whole process incl. Parquet read; Python: in memory)")
    print(f"{'function':22} {'finsight s':>10} {'python s':>10} {'speedup':>8}  reference")
    for name, query, reference, label in cases:
        ours = best_of(3, finsight(query))
        theirs = best_of(3, reference)
        print(f"{name:22} {ours:10.3f} {theirs:10.3f} {theirs / ours:7.1f}x  {label}")


if __name__ == "__main__":
    main()
