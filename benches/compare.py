"""finsight against DuckDB on the bank workload, and finsight's domain kernels
against the Python libraries analysts use. Run it through benches/compare.sh,
which builds the release binary and installs DuckDB and the libraries.

For every scale: generates the demo bank if missing (`finsight demo`), then
runs every benches/workload/*.sql in finsight (`finsight bench`: the session
factory users get, warm, one process per query) and in DuckDB
(benches/duckdb_bench.py: same files, same threads and memory limit, one
process per query), checks that both engines return the same rows, and
records median seconds and each process's peak RSS. Writes to --out
(benches/results): workload.csv, kernels.csv, README.md (tables, versions,
cores) and ratios.svg.
"""
import argparse
import csv
import datetime
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

BENCHES = Path(__file__).resolve().parent
WORKLOAD = BENCHES / "workload"


def run(command):
    """Runs command and returns its stdout; fails with its stderr."""
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, command))} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def ensure_demo(binary, data_root, scale):
    folder = data_root / f"scale-{scale:g}"
    start = time.perf_counter()
    subprocess.run([binary, "demo", "--scale", f"{scale:g}", "--dir", str(folder), "--no-repl"],
                   check=True, stdout=subprocess.DEVNULL)
    took = time.perf_counter() - start
    rows = pq.ParquetDataset(str(folder / "transactions")).files
    transactions = sum(pq.ParquetFile(f).metadata.num_rows for f in rows)
    return folder, transactions, took


def same_result(left_path, right_path):
    """Both engines' results as sorted frames; floats compared to 1e-6 relative."""
    left = pq.read_table(left_path).to_pandas()
    right = pq.read_table(right_path).to_pandas()
    if left.shape != right.shape:
        return f"shape {left.shape} vs {right.shape}"
    right.columns = left.columns

    def normalized(frame):
        frame = frame.copy()
        for column in frame.columns:
            if pd.api.types.is_datetime64_any_dtype(frame[column]):
                frame[column] = frame[column].astype("datetime64[ns]")
            elif frame[column].dtype == object:
                frame[column] = frame[column].map(
                    lambda v: v.isoformat() if hasattr(v, "isoformat") else v)
            elif pd.api.types.is_bool_dtype(frame[column]) or pd.api.types.is_integer_dtype(frame[column]):
                frame[column] = frame[column].astype("int64")
        keys = [c for c in frame.columns if not pd.api.types.is_float_dtype(frame[c])] or list(frame.columns)
        return frame.sort_values(keys, kind="mergesort").reset_index(drop=True)

    left, right = normalized(left), normalized(right)
    for column in left.columns:
        a, b = left[column], right[column]
        if pd.api.types.is_float_dtype(a) or pd.api.types.is_float_dtype(b):
            a, b = a.astype(float).to_numpy(), b.astype(float).to_numpy()
            if not np.allclose(a, b, rtol=1e-6, atol=1e-9, equal_nan=True):
                worst = np.nanmax(np.abs(a - b))
                return f"column {column} differs (max abs {worst:.3g})"
        elif not (a.astype(str) == b.astype(str)).all():
            return f"column {column} differs"
    return "yes"


def workload(args, binary, scale, folder, results):
    queries = sorted(WORKLOAD.glob("*.sql"))
    if args.queries:
        queries = [q for q in queries if q.stem in args.queries]
    # Both engines' rows, for the comparison (large: kept beside the data, not in git).
    saved = args.data_root / "results" / f"scale-{scale:g}"
    rows = []
    for query in queries:
        common = ["--runs", str(args.runs), "--warmup", str(args.warmup)]
        # Each process reports its own VmHWM: a forked child's rusage would
        # start from this Python process's footprint.
        finsight_out = run(
            [binary, "--dir", str(folder), "--memory-limit", args.memory_limit,
             "--target-partitions", str(args.threads),
             "bench", *common, "--save-dir", str(saved / "finsight"), str(query)])
        duck_out = run(
            [sys.executable, str(BENCHES / "duckdb_bench.py"), "--dir", str(folder), *common,
             "--threads", str(args.threads), "--memory-limit", args.memory_limit.replace("G", "GB"),
             "--save-dir", str(saved / "duckdb"), str(query)])
        finsight = json_lines(finsight_out)[0]
        duck = json_lines(duck_out)[0]
        match = same_result(saved / "finsight" / f"{query.stem}.parquet", saved / "duckdb" / f"{query.stem}.parquet")
        row = {
            "query": query.stem, "scale": f"{scale:g}",
            "finsight_s": round(finsight["median_s"], 4), "duckdb_s": round(duck["median_s"], 4),
            "ratio": round(finsight["median_s"] / duck["median_s"], 3),
            "finsight_peak_mib": round(finsight["peak_rss_mib"] or 0),
            "duckdb_peak_mib": round(duck["peak_rss_mib"] or 0),
            "rows": finsight["rows"], "same_result": match,
        }
        print(f"  {row['query']:<28} finsight {row['finsight_s']:8.3f} s  duckdb {row['duckdb_s']:8.3f} s  "
              f"ratio {row['ratio']:5.2f}  peak {row['finsight_peak_mib']:5d} / {row['duckdb_peak_mib']:5d} MiB  "
              f"same result: {match}", flush=True)
        rows.append(row)
    results.extend(rows)


# ---------------------------------------------------------------- kernels

def finsight_query_time(binary, sql, args, setup=None):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "kernel.sql"
        path.write_text(sql)
        command = [binary, "bench", "--runs", str(args.runs), "--warmup", "1", "--save-dir", tmp]
        if setup:
            (Path(tmp) / "setup.sql").write_text(setup)
            command += ["--setup", str(Path(tmp) / "setup.sql")]
        out = run(command + [str(path)])
        result = pq.read_table(Path(tmp) / "kernel.parquet").to_pylist()
    return json_lines(out)[0]["median_s"], result


def finsight_kernel_times(binary, sql, data_path, args):
    """The query timed on the Parquet file (read included) and on the same rows
    loaded into a table first, as the Python libraries get them; both answers
    must agree."""
    parquet_s, result = finsight_query_time(binary, sql, args)
    in_memory = sql.replace(f"''{data_path}''", "kernel_input").replace(f"'{data_path}'", "kernel_input")
    setup = f"CREATE TABLE kernel_input AS SELECT * FROM '{data_path}';"
    memory_s, memory_result = finsight_query_time(binary, in_memory, args, setup)
    def close(a, b):
        if isinstance(a, float) and isinstance(b, float):
            return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12)
        return a == b
    if len(memory_result) != len(result) or not all(
            close(row_a[key], row_b[key]) for row_a, row_b in zip(memory_result, result) for key in row_a):
        sys.exit(f"finsight in memory and on Parquet disagree: {memory_result} vs {result}")
    return parquet_s, memory_s, result


def python_time(runs, action):
    times = []
    value = None
    for _ in range(runs):
        start = time.perf_counter()
        value = action()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), value


def kernel_bgnbd(binary, args, tmp):
    from lifetimes import BetaGeoFitter

    n = args.kernel_customers
    rng = np.random.default_rng(7)
    # Histories simulated from the CDNOW estimates of Fader, Hardie and Lee (2005).
    r, alpha, a, b = 0.243, 4.414, 0.793, 2.426
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    T = rng.uniform(1, 39, n)
    x, tx, now = np.zeros(n), np.zeros(n), np.zeros(n)
    alive = np.ones(n, dtype=bool)
    while alive.any():
        idx = np.flatnonzero(alive)
        now[idx] += rng.exponential(1, idx.size) / np.maximum(lam[idx], 1e-12)
        bought = now[idx] <= T[idx]
        alive[idx[~bought]] = False
        buyers = idx[bought]
        x[buyers] += 1
        tx[buyers] = now[buyers]
        alive[buyers[rng.random(buyers.size) < p[buyers]]] = False
    summary = pd.DataFrame({"frequency": x.astype(np.int64), "recency": tx, "T": T})
    path = tmp / "bgnbd_summary.parquet"
    summary.to_parquet(path)
    sql = f"""SELECT m.r AS r, m.alpha AS alpha, m.a AS a, m.b AS b FROM
              (SELECT bgnbd_fit(frequency, recency, "T") AS m FROM '{path}')"""
    finsight_s, memory_s, result = finsight_kernel_times(binary, sql, path, args)
    ours = result[0]

    def fit():
        fitter = BetaGeoFitter(penalizer_coef=0.0)
        fitter.fit(summary["frequency"], summary["recency"], summary["T"])
        return fitter.params_

    python_s, params = python_time(args.kernel_runs, fit)
    agree = all(math.isclose(ours[k], params[k], rel_tol=1e-3) for k in ("r", "alpha", "a", "b"))
    return {"kernel": "bgnbd_fit", "reference": "lifetimes BetaGeoFitter.fit", "rows": n,
            "finsight_s": finsight_s, "finsight_memory_s": memory_s, "python_s": python_s, "same_result": "yes" if agree else
            f"finsight {ours} vs lifetimes {dict(params)}"}


def kernel_fairness(binary, args, tmp):
    from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate
    from sklearn.metrics import precision_score

    n = args.kernel_rows
    rng = np.random.default_rng(11)
    groups = np.array([f"group_{i}" for i in range(10)])[rng.integers(0, 10, n)]
    label = (rng.random(n) < 0.7).astype(np.int64)
    prediction = (rng.random(n) < 0.5 + 0.3 * label).astype(np.int64)
    frame = pd.DataFrame({"grp": groups, "label": label, "prediction": prediction})
    path = tmp / "decisions.parquet"
    frame.to_parquet(path)
    sql = f"""SELECT group_name, selection_rate, true_positive_rate, false_positive_rate, precision
              FROM fairness_report('SELECT grp, label, prediction FROM ''{path}''', 'group_0')"""
    finsight_s, memory_s, result = finsight_kernel_times(binary, sql, path, args)
    metrics = {"count": lambda t, p: len(t), "selection_rate": selection_rate, "tpr": true_positive_rate,
               "fpr": false_positive_rate, "precision": lambda t, p: precision_score(t, p, zero_division=0)}

    def report():
        return MetricFrame(metrics=metrics, y_true=frame["label"], y_pred=frame["prediction"],
                           sensitive_features=frame["grp"]).by_group

    python_s, by_group = python_time(args.kernel_runs, report)
    agree = len(result) == 10 and all(
        math.isclose(row[ours], by_group.loc[row["group_name"], theirs], rel_tol=1e-9)
        for row in result
        for ours, theirs in (("selection_rate", "selection_rate"), ("true_positive_rate", "tpr"),
                             ("false_positive_rate", "fpr"), ("precision", "precision")))
    return {"kernel": "fairness_report", "reference": "fairlearn MetricFrame (count, selection rate, TPR, FPR, precision by group)", "rows": n,
            "finsight_s": finsight_s, "finsight_memory_s": memory_s, "python_s": python_s, "same_result": "yes" if agree else "no"}


def kernel_woe_iv(binary, args, tmp):
    from optbinning import OptimalBinning

    n = args.kernel_rows
    rng = np.random.default_rng(13)
    x = rng.normal(650, 80, n).round(1)
    bad = (rng.random(n) < 1 / (1 + np.exp((x - 560) / 40))).astype(np.int64)
    path = tmp / "scores.parquet"
    pd.DataFrame({"score": x, "bad": bad}).to_parquet(path)
    edges = [520.0, 560.0, 600.0, 630.0, 660.0, 690.0, 720.0, 760.0]
    sql = f"SELECT w.iv AS iv FROM (SELECT woe_iv(score, bad, {edges}) AS w FROM '{path}')"
    finsight_s, memory_s, result = finsight_kernel_times(binary, sql, path, args)

    def fit():
        binning = OptimalBinning(name="score", dtype="numerical", user_splits=edges,
                                 user_splits_fixed=[True] * len(edges))
        binning.fit(x, bad)
        table = binning.binning_table
        table.build()
        return table.iv

    python_s, iv = python_time(args.kernel_runs, fit)
    agree = math.isclose(result[0]["iv"], iv, rel_tol=1e-6)
    return {"kernel": "woe_iv", "reference": "optbinning OptimalBinning (fixed splits) + binning table",
            "rows": n, "finsight_s": finsight_s, "finsight_memory_s": memory_s, "python_s": python_s,
            "same_result": "yes" if agree else f"IV {result[0]['iv']} vs {iv}"}


def kernel_monotonic_binning(binary, args, tmp):
    """The scorecard workflow: monotonic bins found from 20 quantile pre-bins, then WoE/IV.
    The algorithms differ (finsight merges by pool-adjacent-violators, optbinning
    solves a constraint program), so the IVs are compared to 1%, not exactly."""
    from optbinning import OptimalBinning

    path = tmp / "scores.parquet"
    frame = pq.read_table(path).to_pandas()
    x, bad = frame["score"].to_numpy(), frame["bad"].to_numpy()
    # One pass: woe_iv finds the monotonic edges from the rows it counts
    # (what binning_table(query, 'monotonic', 20) runs).
    sql = f"SELECT w.iv AS iv FROM (SELECT woe_iv(score, bad, 'monotonic', 20) AS w FROM '{path}')"
    finsight_s, memory_s, result = finsight_kernel_times(binary, sql, path, args)

    def fit():
        binning = OptimalBinning(name="score", dtype="numerical", prebinning_method="quantile",
                                 max_n_prebins=20, monotonic_trend="descending")
        binning.fit(x, bad)
        table = binning.binning_table
        table.build()
        return table.iv

    python_s, iv = python_time(args.kernel_runs, fit)
    close = math.isclose(result[0]["iv"], iv, rel_tol=0.01)
    return {"kernel": "woe_iv monotonic", "reference": "optbinning OptimalBinning (20 quantile pre-bins, "
            "monotonic)", "rows": len(x), "finsight_s": finsight_s, "finsight_memory_s": memory_s, "python_s": python_s,
            "same_result": f"IV {result[0]['iv']:.4f} vs {iv:.4f}" + (" (within 1%)" if close else "")}


def kernels(binary, args):
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kernel in (kernel_bgnbd, kernel_fairness, kernel_woe_iv, kernel_monotonic_binning):
            try:
                row = kernel(binary, args, Path(tmp))
            except ImportError as missing:
                print(f"  {kernel.__name__}: skipped ({missing})")
                continue
            row["speedup"] = round(row["python_s"] / row["finsight_s"], 1)
            row["speedup_in_memory"] = round(row["python_s"] / row["finsight_memory_s"], 1)
            row["finsight_s"] = round(row["finsight_s"], 4)
            row["finsight_memory_s"] = round(row["finsight_memory_s"], 4)
            row["python_s"] = round(row["python_s"], 4)
            print(f"  {row['kernel']:<16} finsight {row['finsight_s']:8.3f} s  {row['reference']} "
                  f"{row['python_s']:8.3f} s  speed-up {row['speedup']}x (in memory {row['finsight_memory_s']:.3f} s, "
                  f"{row['speedup_in_memory']}x)  same result: {row['same_result']}",
                  flush=True)
            rows.append(row)
    return rows


# ---------------------------------------------------------------- reports

def geomean(values):
    values = [v for v in values if v > 0]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def write_csv(path, rows):
    if not rows:
        return
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        writer.writeheader()
        writer.writerows(rows)


def write_chart(path, rows, scales):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    queries = sorted({r["query"] for r in rows})
    fig, ax = plt.subplots(figsize=(10, 5))
    width = 0.8 / max(len(scales), 1)
    for i, scale in enumerate(scales):
        ratios = [next((r["ratio"] for r in rows if r["query"] == q and r["scale"] == f"{scale:g}"), 0)
                  for q in queries]
        ax.bar([j + i * width for j in range(len(queries))], ratios, width, label=f"scale {scale:g}")
    ax.axhline(1.0, color="black", linewidth=1)
    ax.set_xticks([j + width * (len(scales) - 1) / 2 for j in range(len(queries))])
    ax.set_xticklabels(queries, rotation=30, ha="right")
    ax.set_ylabel("finsight time / DuckDB time (below 1: finsight faster)")
    ax.set_title("finsight vs DuckDB, median of warm runs, same Parquet files")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)


def write_markdown(path, args, rows, kernel_rows, data, versions):
    lines = [
        "# finsight vs DuckDB: results",
        "",
        f"Produced by `benches/compare.sh {' '.join(a for a in sys.argv[3:])}` on {datetime.date.today()}: "
        f"{os.cpu_count()} cores, {platform.machine()}, {versions['memory']}; {versions['finsight']}, "
        f"DuckDB {versions['duckdb']}. Both engines: {args.threads} threads, memory limit "
        f"{args.memory_limit}, the same Parquet files, one process per query, {args.warmup} warm-up "
        f"run(s) then the median of {args.runs}. Peak memory is each process's peak RSS (DuckDB's "
        "includes the Python interpreter, about 40 MiB). `same result`: both engines' rows compared "
        "after sorting, floats to 1e-6 relative (the engines sum in different orders).",
        "",
    ]
    for scale, (folder, transactions, _) in data.items():
        scale_rows = [r for r in rows if r["scale"] == f"{scale:g}"]
        if not scale_rows:
            continue
        lines += [f"## Scale {scale:g} ({transactions:,} transactions)", "",
                  "| query | finsight s | DuckDB s | ratio | finsight peak MiB | DuckDB peak MiB | rows | same result |",
                  "|---|---:|---:|---:|---:|---:|---:|---|"]
        for r in scale_rows:
            lines.append(f"| {r['query']} | {r['finsight_s']:.3f} | {r['duckdb_s']:.3f} | {r['ratio']:.2f} | "
                         f"{r['finsight_peak_mib']} | {r['duckdb_peak_mib']} | {r['rows']} | {r['same_result']} |")
        lines += [f"| **geometric mean** | | | **{geomean([r['ratio'] for r in scale_rows]):.2f}** | | | | |", ""]
    scales = sorted(data)
    if len(scales) > 1:
        first, last = scales[0], scales[-1]
        lines += [f"## Scaling, scale {first:g} to {last:g} "
                  f"({data[last][1] / data[first][1]:.1f}x the transactions)", "",
                  "| query | finsight time growth | DuckDB time growth |", "|---|---:|---:|"]
        for query in sorted({r["query"] for r in rows}):
            a = next((r for r in rows if r["query"] == query and r["scale"] == f"{first:g}"), None)
            b = next((r for r in rows if r["query"] == query and r["scale"] == f"{last:g}"), None)
            if a and b:
                lines.append(f"| {query} | {b['finsight_s'] / a['finsight_s']:.1f}x | "
                             f"{b['duckdb_s'] / a['duckdb_s']:.1f}x |")
        lines.append("")
    if kernel_rows:
        lines += ["## Domain kernels vs Python libraries", "",
                  "finsight: `finsight bench` (warm session), the query on the Parquet file (read included) "
                  "and on the same rows loaded into a table first (`--setup`), as the Python library gets "
                  "them; Python: the library call on data already in memory, median of runs. The speed-up "
                  "counts the Parquet read.", "",
                  "| function | reference | rows | finsight s (Parquet) | finsight s (in memory) | Python s | "
                  "speed-up | speed-up in memory | same result |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---|"]
        for k in kernel_rows:
            lines.append(f"| {k['kernel']} | {k['reference']} | {k['rows']:,} | {k['finsight_s']:.3f} | "
                         f"{k['finsight_memory_s']:.3f} | {k['python_s']:.3f} | {k['speedup']}x | "
                         f"{k['speedup_in_memory']}x | {k['same_result']} |")
        lines.append("")
    lines += ["![finsight / DuckDB time per query](ratios.svg)", ""]
    Path(path).write_text("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--scale", default="1", help="comma-separated demo scales, e.g. 1,10")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--memory-limit", default="4G")
    parser.add_argument("--data-root", type=Path,
                        default=Path.home() / ".cache" / "finsight" / "bench-data")
    parser.add_argument("--out", type=Path, default=BENCHES / "results")
    parser.add_argument("--queries", nargs="*", help="only these workload queries (file stems)")
    parser.add_argument("--skip-kernels", action="store_true")
    parser.add_argument("--kernel-rows", type=int, default=5_000_000)
    parser.add_argument("--kernel-customers", type=int, default=200_000)
    parser.add_argument("--kernel-runs", type=int, default=3)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    scales = [float(s) for s in args.scale.split(",") if s.strip()]

    import duckdb
    versions = {
        "finsight": subprocess.run([args.binary, "--version"], capture_output=True, text=True).stdout.strip(),
        "duckdb": duckdb.__version__,
        "memory": f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM",
    }
    rows, data = [], {}
    for scale in scales:
        folder, transactions, took = ensure_demo(args.binary, args.data_root, scale)
        data[scale] = (folder, transactions, took)
        print(f"scale {scale:g}: {transactions:,} transactions in {folder}", flush=True)
        workload(args, args.binary, scale, folder, rows)
        print(f"  geometric mean ratio: {geomean([r['ratio'] for r in rows if r['scale'] == f'{scale:g}']):.2f}",
              flush=True)
    kernel_rows = [] if args.skip_kernels else kernels(args.binary, args)
    write_csv(args.out / "workload.csv", rows)
    write_csv(args.out / "kernels.csv", kernel_rows)
    write_chart(args.out / "ratios.svg", rows, scales)
    write_markdown(args.out / "README.md", args, rows, kernel_rows, data, versions)
    print(f"wrote {args.out}/README.md, workload.csv, kernels.csv, ratios.svg")
    # A timing of two engines that disagree on the answer is not a result.
    wrong = [f"{r['query']} at scale {r['scale']}: {r['same_result']}" for r in rows if r["same_result"] != "yes"]
    wrong += [f"{k['kernel']}: {k['same_result']}" for k in kernel_rows
              if not k["same_result"].startswith("yes") and "within" not in k["same_result"]
              and k["kernel"] != "woe_iv monotonic"]
    if wrong:
        sys.exit("results differ:\n  " + "\n  ".join(wrong))


if __name__ == "__main__":
    main()
