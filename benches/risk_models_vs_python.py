#!/usr/bin/env python3
"""The risk models of issue 37 against their Python references, on the same Parquet files
(written by pyarrow, zstd, as a bank's lake would hold them). Each side is timed over --runs
fresh runs (median, min and max): finsight as the whole `finsight -c` process (start, Parquet
read, the query); Python as the library call on data already in memory (the read not counted),
so the comparison favours Python.

  isolation forest  1M transactions x 6 features: fit (100 trees of 256 rows) and score every
                    row, against scikit-learn's IsolationForest fit + score_samples (n_jobs=1
                    and n_jobs=2, this machine's cores);
  VaR backtest      10,000 desks x 500 days: var_backtest grouped by desk, against the
                    Kupiec/Christoffersen formulas vectorised with numpy/scipy over the groups;
  component VaR     200 portfolios x 20 instruments x 750 days: component_var grouped by
                    (portfolio, symbol), against numpy's covariance matrix per portfolio.

  python3 benches/risk_models_vs_python.py target/release/finsight DIR [--runs 5]
"""
import argparse
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import binom, chi2, norm
from sklearn.ensemble import IsolationForest


def timed(runs, action):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times)


def show(label, ours, theirs, name):
    print(f"{label:18} finsight {ours[0]:7.3f} s ({ours[1]:.3f}-{ours[2]:.3f})   {name} {theirs[0]:7.3f} s "
          f"({theirs[1]:.3f}-{theirs[2]:.3f})   ratio {ours[0] / theirs[0]:.2f}", flush=True)


def finsight(binary, directory, query):
    def run():
        subprocess.run([binary, "--format", "csv", "-c", query], cwd=directory, check=True,
                       stdout=subprocess.DEVNULL)
    return run


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("dir", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    binary = str(Path(args.binary).resolve())
    rng = np.random.default_rng(37)

    # Isolation forest.
    rows = 1_000_000
    X = np.c_[rng.lognormal(3, 1.2, rows), rng.integers(0, 24, rows), rng.random(rows) < 0.3,
              rng.random(rows) < 0.05, rng.poisson(2, rows), rng.lognormal(4, 1, rows)].astype(float)
    columns = ["amount", "hour", "online", "abroad", "tx_24h", "spend_24h"]
    pd.DataFrame(X, columns=columns).to_parquet(args.dir / "features.parquet", compression="zstd")
    features = ", ".join(columns)
    query = (f"WITH f AS (SELECT isolation_forest_fit({features}, 100, 256, 42) AS m FROM 'features.parquet') "
             f"SELECT sum(isolation_forest_score(f.m, {features})) FROM 'features.parquet' CROSS JOIN f")
    ours = timed(args.runs, finsight(binary, args.dir, query))
    for jobs in (1, 2):
        theirs = timed(args.runs, lambda: IsolationForest(n_estimators=100, max_samples=256, random_state=0,
                                                          n_jobs=jobs).fit(X).score_samples(X))
        show("isolation forest", ours, theirs, f"scikit-learn (n_jobs={jobs})")

    # VaR backtests.
    desks, days = 10_000, 500
    pnl = rng.standard_t(4, (desks, days))
    var = np.full((desks, days), 3.0) * rng.uniform(0.8, 1.2, (desks, 1))
    pd.DataFrame({"desk": np.repeat(np.arange(desks), days), "day": np.tile(np.arange(days), desks),
                  "pnl": pnl.ravel(), "var": var.ravel()}).to_parquet(args.dir / "desks.parquet", compression="zstd")

    def numpy_backtest():
        hits = (pnl < -var).astype(np.int64)
        x, p = hits.sum(axis=1), 0.01
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = x / days
            lr = -2 * ((days - x) * np.log(1 - p) + x * np.log(p)
                       - np.where(x < days, (days - x) * np.log1p(-rate), 0) - np.where(x > 0, x * np.log(rate), 0))
            n01 = ((hits[:, :-1] == 0) & (hits[:, 1:] == 1)).sum(axis=1)
            n11 = ((hits[:, :-1] == 1) & (hits[:, 1:] == 1)).sum(axis=1)
            n10 = ((hits[:, :-1] == 1) & (hits[:, 1:] == 0)).sum(axis=1)
            n00 = days - 1 - n01 - n11 - n10
            def xlogy(a, b):
                return np.where(a > 0, a * np.log(np.where(a > 0, b, 1)), 0)
            pi0, pi1, pi = n01 / np.maximum(n00 + n01, 1), n11 / np.maximum(n10 + n11, 1), (n01 + n11) / (days - 1)
            ind = -2 * (xlogy(n00 + n10, 1 - pi) + xlogy(n01 + n11, pi) - xlogy(n00, 1 - pi0) - xlogy(n01, pi0)
                        - xlogy(n10, 1 - pi1) - xlogy(n11, pi1))
        return chi2.sf(lr, 1), chi2.sf(ind, 1), chi2.sf(lr + ind, 2), binom.cdf(x, days, p)

    ours = timed(args.runs, finsight(binary, args.dir,
                                     "SELECT count(b['kupiec_p_value']) FROM (SELECT var_backtest(pnl, var, day, 0.99) AS b "
                                     "FROM 'desks.parquet' GROUP BY desk)"))
    theirs = timed(args.runs, numpy_backtest)
    show("VaR backtest", ours, theirs, "numpy/scipy")

    # Component VaR.
    portfolios, instruments, horizon = 200, 20, 750
    changes = rng.standard_normal((horizon, instruments)) @ rng.normal(0, 1, (instruments, instruments)) * 0.1
    weights = rng.integers(1, 100, (portfolios, instruments)).astype(float)
    position_pnl = weights[:, None, :] * changes[None, :, :]  # portfolio x day x instrument
    total = position_pnl.sum(axis=2)
    pd.DataFrame({"portfolio": np.repeat(np.arange(portfolios), horizon * instruments),
                  "day": np.tile(np.repeat(np.arange(horizon), instruments), portfolios),
                  "symbol": np.tile(np.arange(instruments), portfolios * horizon),
                  "pnl": position_pnl.ravel(), "total": np.repeat(total.ravel(), instruments)}
                 ).to_parquet(args.dir / "book.parquet", compression="zstd")

    def numpy_components():
        cov, mean, z = np.cov(changes, rowvar=False), changes.mean(axis=0), norm.ppf(0.01)
        out = []
        for w in weights:
            sigma = np.sqrt(w @ cov @ w)
            out.append(-(w * mean + z * w * (cov @ w) / sigma))
        return out

    ours = timed(args.runs, finsight(binary, args.dir,
                                     "SELECT sum(c) FROM (SELECT component_var(pnl, total, 0.99) AS c "
                                     "FROM 'book.parquet' GROUP BY portfolio, symbol)"))
    theirs = timed(args.runs, numpy_components)
    show("component VaR", ours, theirs, "numpy")


if __name__ == "__main__":
    main()
