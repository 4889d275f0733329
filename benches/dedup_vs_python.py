#!/usr/bin/env python3
"""Record linkage (dedup_clusters) against the same linkage in pandas + rapidfuzz + scipy, on the
demo bank's raw customer records standardised by sql/data_cleaning.sql (customers_keyed written
to Parquet by finsight once, then read by both sides), with that script's arguments: four blocking
columns, Jaro-Winkler on the name key and exact comparisons on four more columns.

Each side is timed over --runs fresh runs (median, min and max): finsight as the whole
`finsight -c` process (start, Parquet read, blocking, scoring, components); Python with the
records already in memory (the read not counted): self-joins per blocking column in pandas,
rapidfuzz's process.cpdist (vectorised C++, workers=-1) for the names, numpy for the exact
columns, scipy's connected_components. Both must find the same number of clusters.

  python3 benches/dedup_vs_python.py target/release/finsight DIR [--scales 1 10] [--runs 5]

Measured (2 cores, 24 GB): scale 1, 115,168 records: finsight 1.13 s (1.10-1.20), Python 3.38 s
(2.87-4.69), the same 100,325 clusters. Scale 10, 1,151,066 records: finsight 87 s, peak RSS
4.1 GB; the Python side is killed out of memory (its self-join on the birth date).
"""
import argparse
import re
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
from rapidfuzz.distance import JaroWinkler
from rapidfuzz.process import cpdist
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

ROOT = Path(__file__).resolve().parent.parent


def timed(runs, action):
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - start)
    return (statistics.median(times), min(times), max(times)), result


def python_linkage(records, compare, blocking, threshold):
    found = []
    for b in blocking:
        keyed = records[["row", b]].dropna()
        keyed = keyed[keyed[b] != ""]
        joined = keyed.merge(keyed, on=b)
        found.append(joined.loc[joined["row_x"] < joined["row_y"], ["row_x", "row_y"]].to_numpy())
    pairs = np.unique(np.concatenate(found), axis=0)
    a, b = pairs[:, 0], pairs[:, 1]
    total, count = np.zeros(len(pairs)), np.zeros(len(pairs))
    for column, how in compare:
        values = records[column].to_numpy(dtype=object)
        x, y = values[a], values[b]
        present = np.array([p is not None and q is not None and p == p and q == q and p != "" and q != ""
                            for p, q in zip(x, y)], dtype=bool)
        if how == "exact":
            similarity = (x[present] == y[present]).astype(float)
        else:
            similarity = cpdist(list(x[present]), list(y[present]), scorer=JaroWinkler.similarity, workers=-1)
        total[present] += similarity
        count[present] += 1
    with np.errstate(invalid="ignore"):
        score = total / count
    keep = score >= threshold
    graph = coo_matrix((np.ones(keep.sum()), (a[keep], b[keep])), shape=(len(records), len(records)))
    return connected_components(graph, directed=False)[1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("dir", type=Path)
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    binary = str(Path(args.binary).resolve())
    script = (ROOT / "sql" / "data_cleaning.sql").read_text(encoding="utf-8")
    clean_select = re.search(r"CREATE TABLE customers_clean AS\s+(SELECT.*?);", script, re.S).group(1)
    keyed_select = re.search(r"CREATE TABLE customers_keyed AS\s+(SELECT.*?);", script, re.S).group(1)
    call = re.search(r"dedup_clusters\('customers_keyed', (.*?)\);", script, re.S).group(1)
    quoted = re.findall(r"'([^']*)'", call)
    threshold = float(re.findall(r"([0-9.]+)\s*$", call.strip())[0])
    compare = [(c.split(":")[0].strip(), (c.split(":") + ["jaro_winkler"])[1].strip()) for c in quoted[1].split(",")]
    blocking = [b.strip() for b in quoted[2].split(",")]
    for scale in args.scales:
        demo = args.dir / f"demo-{scale:g}"
        subprocess.run([binary, "demo", "--scale", str(scale), "--dir", str(demo), "--no-repl"], check=True,
                       stdout=subprocess.DEVNULL)
        clean = demo / "customers_keyed.parquet"
        subprocess.run([binary, "--dir", str(demo), "-c",
                        f"CREATE VIEW customers_clean AS {clean_select}; COPY ({keyed_select}) TO '{clean}'"],
                       check=True, stdout=subprocess.DEVNULL)
        query = (f"CREATE VIEW customers_keyed AS SELECT * FROM '{clean}'; "
                 f"SELECT count(DISTINCT cluster_id) FROM dedup_clusters('customers_keyed', {call})")

        def ours():
            done = subprocess.run([binary, "--format", "csv", "-c", query], check=True, capture_output=True,
                                  text=True)
            return int(done.stdout.strip().splitlines()[-1])

        records = pd.read_parquet(clean)
        records["row"] = np.arange(len(records))
        for column in {c for c, _ in compare} | set(blocking):
            records[column] = records[column].astype("string").astype(object).where(records[column].notna(), None)
            records[column] = records[column].map(lambda v: v.strip() if isinstance(v, str) else v)
        mine, clusters = timed(args.runs, ours)
        theirs, components = timed(args.runs, lambda: python_linkage(records, compare, blocking, threshold))
        reference = len(np.unique(components))
        print(f"scale {scale:g}: {len(records):,} records, finsight {mine[0]:.2f} s ({mine[1]:.2f}-{mine[2]:.2f}), "
              f"pandas+rapidfuzz+scipy {theirs[0]:.2f} s ({theirs[1]:.2f}-{theirs[2]:.2f}), "
              f"ratio {mine[0] / theirs[0]:.2f}; clusters {clusters:,} vs {reference:,}"
              + ("" if clusters == reference else "  MISMATCH"), flush=True)


if __name__ == "__main__":
    main()
