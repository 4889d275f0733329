"""Utility and cost of differentially private releases, on the demo bank.

    python3 benches/dp_utility.py FINSIGHT_BINARY DEMO_DIR [--runs 10] [--timing-runs 5]

Releases card spend by region and segment (the first query of
sql/dp_release.sql: COUNT, SUM and AVG of amounts in [0, 500], one group and
at most 100 transactions per customer) at epsilon 0.1, 1 and 10, --runs times
each, and reports the median relative error of the released group sums and
counts against the exact, unbounded figures of a plain query, and against
the exact *bounded* figures (the same rows kept, no noise), which separates
the noise from the bias of contribution bounding. Then times the DP query
against the same plain aggregate, each in a fresh process, and prints the
medians with their range. The tables are copied without the demo's policy,
so no budget is spent.
"""
import argparse
import io
import os
import shutil
import statistics
import subprocess
import tempfile
import time

import pandas as pd

parser = argparse.ArgumentParser()
parser.add_argument("binary")
parser.add_argument("demo")
parser.add_argument("--runs", type=int, default=10)
parser.add_argument("--timing-runs", type=int, default=5)
args = parser.parse_args()

work = tempfile.mkdtemp(prefix="finsight-dp-utility-")
for table in ("transactions", "customers"):
    shutil.copytree(os.path.join(args.demo, table), os.path.join(work, table))

FROM = ("FROM transactions t JOIN customers c ON t.customer_id = c.customer_id "
        "WHERE t.ts >= TIMESTAMP '2025-01-01 00:00:00' GROUP BY c.region, c.segment")


def dp_query(epsilon, seed=None):
    seed_option = f", seed = {seed}" if seed is not None else ""
    return (
        f"SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS (epsilon = {epsilon}, delta = 1e-6, "
        f"privacy_unit_column = t.customer_id, max_groups_contributed = 1, max_rows_per_group = 100{seed_option}) "
        f"c.region, c.segment, COUNT(*) AS n, SUM(t.amount, 0, 500) AS s, AVG(t.amount, 0, 500) AS mean {FROM}"
    )


PLAIN = f"SELECT c.region, c.segment, count(*) AS n, sum(t.amount) AS s, avg(t.amount) AS mean {FROM}"


def sql(query):
    done = subprocess.run([args.binary, "--dir", work, "--format", "csv", "-c", query],
                          capture_output=True, text=True, check=True)
    return pd.read_csv(io.StringIO(done.stdout))


exact = sql(PLAIN).set_index(["region", "segment"])
# The bounded truth: the rows a DP release with seed 7 keeps, summed without
# noise (epsilon so large that the noise is below a cent).
bounded = sql(dp_query(1e12, seed=7)).set_index(["region", "segment"])
print(f"{len(exact)} groups; exact total spend {exact.s.sum():,.0f}, "
      f"bounded (clamped to 500, <= 100 rows per customer) {bounded.s.sum():,.0f}")
print("| epsilon | released groups | median rel. error of sums vs exact | vs bounded | of counts vs exact | vs bounded |")
print("|---|---|---|---|---|---|")
for epsilon in (0.1, 1, 10):
    errors = {"s_exact": [], "s_bounded": [], "n_exact": [], "n_bounded": []}
    released = []
    for run in range(args.runs):
        # The same seed as the bounded truth: the difference is the noise only.
        out = sql(dp_query(epsilon, seed=7)).set_index(["region", "segment"])
        released.append(len(out))
        for key, row in out.iterrows():
            errors["s_exact"].append(abs(row.s - exact.s[key]) / exact.s[key])
            errors["s_bounded"].append(abs(row.s - bounded.s[key]) / bounded.s[key])
            errors["n_exact"].append(abs(row.n - exact.n[key]) / exact.n[key])
            errors["n_bounded"].append(abs(row.n - bounded.n[key]) / bounded.n[key])
    med = {k: statistics.median(v) for k, v in errors.items()}
    print(f"| {epsilon} | {min(released)}-{max(released)} of {len(exact)} | {med['s_exact']:.2%} | "
          f"{med['s_bounded']:.3%} | {med['n_exact']:.2%} | {med['n_bounded']:.3%} |")


def timed(query):
    times = []
    for _ in range(args.timing_runs):
        started = time.perf_counter()
        subprocess.run([args.binary, "--dir", work, "--format", "csv", "-c", query],
                       capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times), max(times)


plain = timed(PLAIN)
private = timed(dp_query(1.0))
print(f"plain aggregate: median {plain[0]:.3f} s (range {plain[1]:.3f}-{plain[2]:.3f}), "
      f"DP release: median {private[0]:.3f} s (range {private[1]:.3f}-{private[2]:.3f}), "
      f"overhead x{private[0] / plain[0]:.2f}")
shutil.rmtree(work)
