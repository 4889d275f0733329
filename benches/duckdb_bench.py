"""DuckDB's side of benches/compare.py: times SQL files the way `finsight bench` does.

Usage: python benches/duckdb_bench.py --dir DATA [--runs 5] [--warmup 1]
           [--threads N] [--memory-limit 4GB] [--save-dir DIR] FILE.sql...

Every table folder of DATA (TABLE/*.parquet, as `finsight demo` writes them)
becomes a view over read_parquet, so the workload's SQL runs unchanged. Each
file's statements are run and their results fetched as Arrow tables
(`--warmup` untimed, then `--runs` timed); one JSON line per file, like
`finsight bench`.
"""
import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq


def statements(text):
    """Splits at top-level semicolons (the workload has none inside strings)."""
    parts = []
    for part in text.split(";"):
        body = "\n".join(line for line in part.splitlines() if not line.strip().startswith("--"))
        if body.strip():
            parts.append(part)
    return parts


def peak_rss_mib():
    """VmHWM of this process (the interpreter, DuckDB and the results), MiB."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True, type=Path)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--memory-limit")
    parser.add_argument("--save-dir", type=Path)
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args()

    con = duckdb.connect()
    con.execute(f"SET threads = {args.threads}")
    if args.memory_limit:
        con.execute(f"SET memory_limit = '{args.memory_limit}'")
    for table in sorted(os.listdir(args.dir)):
        folder = args.dir / table
        if folder.is_dir() and not table.startswith(".") and any(folder.glob("*.parquet")):
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{folder}/*.parquet')")

    for file in args.files:
        parts = statements(file.read_text())
        if not parts:
            sys.exit(f"{file}: no SQL statement to time")

        def run_once():
            result = None
            for sql in parts:
                result = con.sql(sql)
                result = result.to_arrow_table() if result is not None else None
            return result

        for _ in range(args.warmup):
            run_once()
        seconds = []
        for _ in range(max(args.runs, 1)):
            start = time.perf_counter()
            result = run_once()
            seconds.append(time.perf_counter() - start)
        if args.save_dir is not None and result is not None:
            args.save_dir.mkdir(parents=True, exist_ok=True)
            pq.write_table(result, args.save_dir / f"{file.stem}.parquet")
        print(json.dumps({
            "query": file.stem,
            "seconds": seconds,
            "median_s": statistics.median(seconds),
            "rows": 0 if result is None else result.num_rows,
            "peak_rss_mib": peak_rss_mib(),
        }), flush=True)


if __name__ == "__main__":
    main()
