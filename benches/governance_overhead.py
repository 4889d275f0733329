#!/usr/bin/env python3
"""Query overhead of governance on the saved analyses (sql/*.sql).

Runs every script with the release binary on the same demo bank, several
times per identity, and prints the median wall time of each:

  ungoverned      a copy of the bank without .finsight/policy.toml
  owner           the demo policy, no --user (retention wrapping, audit)
  privacy_officer --user olivia: raw values, every statement audited
  risk            --user rita --role risk: identifiers masked, all rows

The privacy officer sees exactly what the ungoverned session sees, so the
difference between those two is the cost of enforcement itself (the governed
scans, policy checks and the fsynced audit trail). The risk role also pays
for its masks.

  python3 benches/governance_overhead.py target/release/finsight DIR [--scale 0.2] [--runs 5]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

IDENTITIES = {
    "ungoverned": [],
    "owner": [],
    "privacy_officer": ["--user", "olivia"],
    "risk": ["--user", "rita", "--role", "risk"],
}


def run(binary, directory, identity, script):
    start = time.perf_counter()
    result = subprocess.run(
        [binary, "--dir", str(directory), *identity, "run", str(script)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    elapsed = time.perf_counter() - start
    return elapsed, result.returncode, result.stderr.strip().splitlines()[-1:]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("dir", type=Path)
    parser.add_argument("--scale", default="0.2")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    governed = args.dir / "governed"
    ungoverned = args.dir / "ungoverned"
    subprocess.run(
        [args.binary, "demo", "--scale", args.scale, "--dir", str(governed), "--no-repl"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    if not ungoverned.exists():
        # Hard links: the same Parquet files, so the page cache is shared.
        shutil.copytree(governed, ungoverned, copy_function=os.link)
        for name in ("policy.toml", "audit.db", "audit.db-wal", "audit.db-shm"):
            path = ungoverned / ".finsight" / name
            if path.exists():
                path.unlink()

    scripts = sorted(Path("sql").glob("*.sql"))
    print(f"scale {args.scale}, {args.runs} runs each, median seconds")
    header = ["script", *IDENTITIES, "officer/ungoverned", "risk/ungoverned"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    totals = {name: 0.0 for name in IDENTITIES}
    for script in scripts:
        medians = {}
        for name, identity in IDENTITIES.items():
            directory = ungoverned if name == "ungoverned" else governed
            times = []
            status = "ok"
            for _ in range(args.runs):
                elapsed, code, last = run(args.binary, directory, identity, script)
                if code != 0:
                    status = f"exit {code}: {' '.join(last)}"
                times.append(elapsed)
            medians[name] = (statistics.median(times), status)
        failed = [f"{n}: {s}" for n, (_, s) in medians.items() if s != "ok"]
        if failed:
            print(f"| {script.name} | " + "; ".join(failed) + " |", file=sys.stdout)
            continue
        for name in IDENTITIES:
            totals[name] += medians[name][0]
        base = medians["ungoverned"][0]
        cells = [f"{medians[n][0]:.3f}" for n in IDENTITIES]
        cells.append(f"{medians['privacy_officer'][0] / base:.3f}")
        cells.append(f"{medians['risk'][0] / base:.3f}")
        print(f"| {script.name} | " + " | ".join(cells) + " |")
    base = totals["ungoverned"]
    cells = [f"{totals[n]:.3f}" for n in IDENTITIES]
    cells.append(f"{totals['privacy_officer'] / base:.3f}")
    cells.append(f"{totals['risk'] / base:.3f}")
    print("| total | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
