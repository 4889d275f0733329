"""Load and streaming-memory benchmark of `finsight serve`, loopback only.

    python benches/flight_load.py FINSIGHT_BINARY DEMO_DIR [--clients 32] [--seconds 60]
    python benches/flight_load.py FINSIGHT_BINARY DEMO_DIR --stream-rows 10000000

Load mode starts the server on a private copy of DEMO_DIR, connects
--clients ADBC clients (four demo users with different policies, in turn),
each running a mix of demo queries back to back for --seconds, then reports
queries/s and p50/p99 latency, and checks that there was no error and that
the audit trail holds exactly one entry per query run. Exit 1 otherwise.

Stream mode fetches `SELECT * FROM transactions LIMIT N` through
pyarrow.flight, reading slowly at first, and reports the server's peak
resident memory (VmHWM) before and after, against the result's size.
"""

import argparse
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "clients"))
from finsight_flight import PyarrowClient, Server, adbc_connect  # noqa: E402

USERS = ["adam", "rita", "maria", "olivia"]

# (name, sql, parameters): what a BI dashboard over the demo bank asks.
QUERIES = [
    ("segment_summary", "SELECT segment, count(*) AS customers, avg(risk_tolerance) AS risk FROM customers GROUP BY segment ORDER BY segment", None),
    ("monthly_spend", "SELECT date_trunc('month', ts) AS month, count(*) AS n, sum(amount) AS spend FROM transactions GROUP BY 1 ORDER BY 1", None),
    ("rfm", "SELECT customer_id, max(ts) AS last, count(*) AS frequency, sum(amount) AS monetary FROM transactions GROUP BY customer_id ORDER BY monetary DESC LIMIT 100", None),
    ("channel_mix", "SELECT channel, merchant_category, count(*) AS n, avg(amount) AS avg_amount FROM transactions GROUP BY 1, 2 ORDER BY n DESC LIMIT 20", None),
    ("customer_lookup", "SELECT customer_id, email, segment, region FROM customers WHERE customer_id = ?", "customer_id"),
    ("recent_transactions", "SELECT transaction_id, ts, amount, merchant_category FROM transactions WHERE customer_id = ? ORDER BY ts DESC LIMIT 50", "customer_id"),
]


def run_client(index, uri, deadline, results, errors, customer_ids):
    user = USERS[index % len(USERS)]
    try:
        conn = adbc_connect(uri, user)
    except Exception as e:  # noqa: BLE001
        errors.append(f"client {index} ({user}) login: {e}")
        return
    cur = conn.cursor()
    i = index
    latencies = []
    while time.time() < deadline:
        name, sql, param = QUERIES[i % len(QUERIES)]
        i += 1
        params = (customer_ids[i % len(customer_ids)],) if param else None
        start = time.perf_counter()
        try:
            cur.execute(sql, parameters=params)
            cur.fetch_arrow_table()
        except Exception as e:  # noqa: BLE001
            errors.append(f"client {index} ({user}) {name}: {e}")
            continue
        latencies.append((name, user, time.perf_counter() - start))
    cur.close()
    conn.close()
    results.extend(latencies)


def load(args):
    import pyarrow.parquet as pq

    customer_ids = pq.read_table(os.path.join(args.demo, "customers"), columns=["customer_id"]).column(0).to_pylist()[:500]
    with Server(args.binary, args.demo, "--max-queries-per-user", str(args.clients)) as server:
        results, errors = [], []
        started = time.time()
        deadline = started + args.seconds
        threads = [
            threading.Thread(target=run_client, args=(i, server.uri, deadline, results, errors, customer_ids))
            for i in range(args.clients)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.time() - started
        peak_kb = server.rss_kb("VmHWM")
        latencies = sorted(r[2] for r in results)
        n = len(latencies)
        if n == 0:
            print("no query completed", file=sys.stderr)
            return 1

        def pct(p):
            return latencies[min(n - 1, int(p * n))] * 1000

        print(f"{args.clients} clients, {elapsed:.1f} s, {n} queries, {n / elapsed:.1f} queries/s, "
              f"p50 {pct(0.50):.1f} ms, p99 {pct(0.99):.1f} ms, max {latencies[-1] * 1000:.1f} ms, "
              f"errors {len(errors)}, server peak RSS {peak_kb / 1024:.0f} MiB")
        by_query = {}
        for name, _, seconds in results:
            by_query.setdefault(name, []).append(seconds)
        for name, values in sorted(by_query.items()):
            print(f"  {name:20s} n={len(values):6d} median {statistics.median(values) * 1000:8.1f} ms")
        for e in errors[:10]:
            print("ERROR", e, file=sys.stderr)
        # Every query run is in the audit trail exactly once.
        audited = server.audit_rows(f"kind = 'statement' AND user_name IN ({', '.join(repr(u) for u in USERS)})")
        print(f"audit entries for the load users: {len(audited)} (queries completed {n}, failed {len(errors)})")
        ok = not errors and len(audited) == n and server.alive()
        if len(audited) != n:
            print(f"audit trail mismatch: {len(audited)} entries for {n} queries", file=sys.stderr)
        return 0 if ok else 1


def stream(args):
    with Server(args.binary, args.demo, copy=False) as server:
        before = server.rss_kb("VmHWM")
        client = PyarrowClient(server.uri, "olivia")
        info = client.info(f"SELECT * FROM transactions LIMIT {args.stream_rows}")
        reader = client.reader(info)
        rows, nbytes = 0, 0
        started = time.time()
        slow_until = started + 5
        while True:
            try:
                chunk = reader.read_chunk()
            except StopIteration:
                break
            rows += chunk.data.num_rows
            nbytes += chunk.data.nbytes
            if time.time() < slow_until:
                time.sleep(0.05)  # a slow reader: the server must wait, not buffer
        elapsed = time.time() - started
        after = server.rss_kb("VmHWM")
        print(f"streamed {rows} rows ({nbytes / 2**20:.0f} MiB of Arrow data) in {elapsed:.1f} s; "
              f"server peak RSS {before / 1024:.0f} MiB after start, {after / 1024:.0f} MiB after the stream")
        return 0 if rows == args.stream_rows else 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("demo")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--stream-rows", type=int, default=0)
    args = parser.parse_args()
    sys.exit(stream(args) if args.stream_rows else load(args))


if __name__ == "__main__":
    main()
