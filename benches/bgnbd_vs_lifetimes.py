"""bgnbd_fit in finsight against lifetimes' BetaGeoFitter on the same summary.

Usage: python benches/bgnbd_vs_lifetimes.py FINSIGHT_BINARY [CUSTOMERS]
(the release binary; the venv of tests/run.sh has lifetimes). Simulates
CUSTOMERS (default 1,000,000) BG/NBD histories from the CDNOW estimates,
writes them to Parquet, then times:
  finsight: the whole process, start-up and Parquet read included, for
            SELECT bgnbd_fit(frequency, recency, T) FROM 'summary.parquet'
  lifetimes: BetaGeoFitter(penalizer_coef=0).fit(frequency, recency, T)
            on the same data already in memory
and prints both fits and the speed-up.
"""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter

binary = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
rng = np.random.default_rng(7)
r, alpha, a, b = 0.243, 4.414, 0.793, 2.426
lam = rng.gamma(r, 1 / alpha, n)
p = rng.beta(a, b, n)
T = rng.uniform(1, 39, n)
x = np.zeros(n)
tx = np.zeros(n)
alive = np.ones(n, dtype=bool)
now = np.zeros(n)
while alive.any():
    idx = np.flatnonzero(alive)
    now[idx] += rng.exponential(1, idx.size) / np.maximum(lam[idx], 1e-12)
    bought = now[idx] <= T[idx]
    done = idx[~bought]
    alive[done] = False
    buyers = idx[bought]
    x[buyers] += 1
    tx[buyers] = now[buyers]
    dropped = buyers[rng.random(buyers.size) < p[buyers]]
    alive[dropped] = False
summary = pd.DataFrame({"frequency": x.astype(np.int64), "recency": tx, "T": T})

with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "summary.parquet")
    summary.to_parquet(path)
    query = "SELECT m.r, m.alpha, m.a, m.b, m.log_likelihood, m.converged FROM " \
            "(SELECT bgnbd_fit(frequency, recency, \"T\") AS m FROM 'summary.parquet')"
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        out = subprocess.run([binary, "--format", "csv", "-c", query], cwd=tmp,
                             capture_output=True, text=True, check=True)
        runs.append(time.perf_counter() - start)
    ours = out.stdout.strip().splitlines()[1]
finsight_seconds = min(runs)

if os.environ.get("SKIP_LIFETIMES"):
    print(f"finsight bgnbd_fit: {finsight_seconds:.2f} s; {out.stdout.strip().splitlines()[1]}")
    sys.exit(0)
start = time.perf_counter()
bgf = BetaGeoFitter(penalizer_coef=0.0).fit(summary["frequency"], summary["recency"], summary["T"])
lifetimes_seconds = time.perf_counter() - start

print(f"customers: {n:,} (repeat buyers {int((x > 0).sum()):,})")
print(f"finsight  bgnbd_fit: {finsight_seconds:8.2f} s (best of 3, whole process)  r, alpha, a, b, LL, converged = {ours}")
print(f"lifetimes BetaGeoFitter.fit: {lifetimes_seconds:8.2f} s  "
      f"r, alpha, a, b = {', '.join(f'{bgf.params_[k]:.6f}' for k in 'r alpha a b'.split())}")
print(f"speed-up: {lifetimes_seconds / finsight_seconds:.1f}x")
