"""Real Flight SQL clients against a real `finsight serve`.

    python flight_clients.py FINSIGHT_BINARY DEMO_DIR SCENARIO

Each scenario starts its own server(s) on loopback, on a private copy of the
demo directory (so it has an audit trail of its own), and exits 1 on the
first failed check. Scenarios:

  clients   ADBC (fetch_arrow_table, pandas) and pyarrow.flight as users with
            different policies; prepared statements; metadata calls; results
            checked against the raw Parquet files and against the shell.
  errors    bad SQL, unknown table, denied statements, wrong password,
            missing/forged/expired tokens, login lockout, malformed Flight
            messages, a client disconnecting mid-stream, cancellation.
  limits    per-user concurrency cap, query timeout, per-query memory limit.
  shutdown  SIGTERM with a query in flight: cancelled after the grace
            period, exit 0, audit trail intact and complete.
  tls       TLS with a self-signed certificate (openssl).
  dp        differential privacy: a DP-only role over ADBC and pyarrow.flight,
            the budget shared with the shell, two clients racing for it.
"""

import os
import subprocess
import sys
import tempfile
import threading
import time

import pyarrow as pa
import pyarrow.flight as flight
import pyarrow.parquet as pq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from finsight_flight import PyarrowClient, Server, adbc_connect, wait_until  # noqa: E402

BINARY, DEMO = sys.argv[1], sys.argv[2]
CHECKS = 0


def check(condition, what):
    global CHECKS
    CHECKS += 1
    if not condition:
        raise AssertionError(what)


def expect_error(fn, code_class, *fragments):
    """Runs fn; it must raise a Flight/ADBC error of code_class whose message
    contains every fragment. Returns the message."""
    try:
        fn()
    except code_class as e:
        message = str(e)
        for fragment in fragments:
            check(fragment in message, f"error {message!r} should mention {fragment!r}")
        return message
    except Exception as e:  # noqa: BLE001
        raise AssertionError(f"expected {code_class}, got {type(e).__name__}: {e}")
    raise AssertionError(f"expected {code_class}, but the call succeeded")


# pyarrow raises RESOURCE_EXHAUSTED as ArrowInvalid, not as a FlightError.
ANY_GRPC_ERROR = (flight.FlightError, pa.ArrowException)


def raw_table(name):
    return pq.read_table(os.path.join(DEMO, name))


# A slow query at demo scale 0.01: a self-join of transactions (~3e9 pairs).
SLOW = "SELECT count(*) FROM transactions a CROSS JOIN transactions b WHERE a.amount > b.amount"
# Many rows, streamed: every transaction five times over.
MANY_ROWS = (
    "SELECT t.*, k.value AS copy FROM transactions t CROSS JOIN generate_series(1, 5) AS k"
)


def scenario_clients():
    customers = raw_table("customers").to_pandas()
    south = customers[customers.region == "south"]
    with Server(BINARY, DEMO) as server:
        # --- ADBC as adam: analyst, row filter region = south, masks -----------
        adam = adbc_connect(server.uri, "adam")
        cur = adam.cursor()
        cur.execute("SELECT customer_id, email, region, national_id FROM customers ORDER BY customer_id")
        table = cur.fetch_arrow_table()
        check(table.num_rows == len(south), f"adam sees {table.num_rows} customers, raw south has {len(south)}")
        check(set(table.column("region").to_pylist()) == {"south"}, "adam sees only the south region")
        check(
            table.column("customer_id").to_pylist() == sorted(south.customer_id.tolist()),
            "adam sees exactly the south customers",
        )
        raw_emails = set(customers.email.dropna())
        seen_emails = [e for e in table.column("email").to_pylist() if e is not None]
        check(not raw_emails.intersection(seen_emails), "no raw email reaches the analyst")
        check(all("*" in e for e in seen_emails if e), "emails are masked")
        raw_ids = set(customers.national_id.dropna())
        check(not raw_ids.intersection(table.column("national_id").drop_null().to_pylist()), "no raw national id")

        # pandas, and the same figures as the shell gives the same user.
        cur.execute("SELECT segment, count(*) AS n, avg(risk_tolerance) AS rt FROM customers GROUP BY segment ORDER BY segment")
        frame = cur.fetch_df()
        shell = server.cli(
            "-c", "SELECT segment, count(*) AS n, avg(risk_tolerance) AS rt FROM customers GROUP BY segment ORDER BY segment",
            user="adam",
        )
        shell_rows = [line.split(",") for line in shell.strip().splitlines()[1:]]
        check(
            [[r.segment, str(r.n)] for r in frame.itertuples()] == [[s[0], s[1]] for s in shell_rows],
            f"ADBC and the shell agree for adam:\n{frame}\n{shell}",
        )
        expected = south.groupby("segment").size().sort_index()
        check(list(frame.n) == list(expected.values), "segment counts match the raw Parquet (south)")

        # Prepared statements with bound parameters (`?` and `$1`), under the row filter.
        south_id = int(south.customer_id.iloc[0])
        north_id = int(customers[customers.region != "south"].customer_id.iloc[0])
        cur.execute("SELECT customer_id, region FROM customers WHERE customer_id = ?", parameters=(south_id,))
        check(cur.fetchall() == [(south_id, "south")], "prepared statement finds a south customer")
        cur.execute("SELECT customer_id FROM customers WHERE customer_id = ?", parameters=(north_id,))
        check(cur.fetchall() == [], "the row filter applies to prepared statements")
        cur.execute(
            "SELECT count(*) FROM customers WHERE segment = $1 AND signup_date >= CAST($2 AS DATE)",
            parameters=("mass", "2020-01-01"),
        )
        expected_n = int(((south.segment == "mass") & (south.signup_date >= pd_date("2020-01-01"))).sum())
        check(cur.fetchone()[0] == expected_n, "two bound parameters")
        # The same prepared statement, re-executed with new values.
        for value in (south_id, int(south.customer_id.iloc[1])):
            cur.execute("SELECT customer_id FROM customers WHERE customer_id = ?", parameters=(value,))
            check(cur.fetchall() == [(value,)], "re-executing with new parameters")

        # executeUpdate (CommandStatementUpdate): a view of adam's own, which
        # keeps his row filter and masks.
        stmt = cur.adbc_statement
        stmt.set_sql_query("CREATE VIEW my_segments AS SELECT segment, email FROM customers")
        stmt.execute_update()
        cur.execute("SELECT count(*), count(DISTINCT segment) FROM my_segments")
        n, _ = cur.fetchone()
        check(n == len(south), "a view created over Flight keeps the row filter")
        expect_error(
            lambda: (stmt.set_sql_query("DROP TABLE customers"), stmt.execute_update()),
            Exception,
            "permission denied",
        )

        # Metadata calls.
        info = adam.adbc_get_info()
        check(info["vendor_name"] == "finsight", f"GetSqlInfo: {info}")
        check(set(adam.adbc_get_table_types()) >= {"TABLE", "VIEW"}, "GetTableTypes")
        objects = adam.adbc_get_objects(depth="columns").read_all().to_pylist()
        tables = {
            t["table_name"]: [c["column_name"] for c in t["table_columns"]]
            for catalog in objects
            for schema in catalog["catalog_db_schemas"]
            if schema["db_schema_name"] == "public"
            for t in schema["db_schema_tables"]
        }
        check({"customers", "transactions", "loans"} <= set(tables), f"GetTables lists the demo tables: {sorted(tables)}")
        check("email" in tables["customers"], "GetTables with schemas gives the columns")
        schema = adam.adbc_get_table_schema("customers")
        check(schema.field("customer_id").type == pa.int64(), "GetTables schema types")
        check(schema.field("email").type == pa.string(), "view types reach clients as plain strings")
        catalogs = [c["catalog_name"] for c in objects]
        check("datafusion" in catalogs, f"GetCatalogs: {catalogs}")
        adam.close()

        # --- pyarrow.flight as maria: marketing, consent-filtered --------------
        maria = PyarrowClient(server.uri, "maria")
        flight_table = maria.query("SELECT customer_id FROM customers ORDER BY customer_id")
        shell = server.cli("-c", "SELECT customer_id FROM customers ORDER BY customer_id", user="maria")
        shell_ids = [int(x) for x in shell.strip().splitlines()[1:]]
        check(flight_table.column(0).to_pylist() == shell_ids, "pyarrow.flight and the shell agree for maria")
        check(0 < len(shell_ids) < len(customers), "maria sees only consenting customers")
        expect_error(
            lambda: maria.query("SELECT * FROM loans"),
            flight.FlightUnauthorizedError,
            "permission denied",
        )
        # Raw Flight calls: the standard Flight SQL metadata command as an Any.
        maria.close()

        # --- A role and purpose chosen at login (x-finsight-role/-purpose) -----
        north = customers[customers.region == "north"]
        rita = PyarrowClient(server.uri, "rita", login_headers=[(b"x-finsight-role", b"analyst")])
        check(
            rita.query("SELECT count(*) FROM customers").column(0)[0].as_py() == len(north),
            "rita as analyst sees her region (north) only",
        )
        rita.close()
        rita = PyarrowClient(server.uri, "rita")  # her first role: risk, all regions
        check(
            rita.query("SELECT count(*) FROM customers").column(0)[0].as_py() == len(customers),
            "rita as risk sees every region",
        )
        rita.close()
        expect_error(
            lambda: PyarrowClient(server.uri, "rita", login_headers=[(b"x-finsight-role", b"privacy_officer")]),
            flight.FlightUnauthorizedError,
            "does not have role 'privacy_officer'",
        )
        expect_error(
            lambda: PyarrowClient(server.uri, "maria", login_headers=[(b"x-finsight-purpose", b"fraud")]),
            flight.FlightUnauthorizedError,
            "may not process data for purpose 'fraud'",
        )

        # --- The same table, two users, different rows and masks ---------------
        olivia = adbc_connect(server.uri, "olivia")  # privacy officer: raw
        ocur = olivia.cursor()
        ocur.execute("SELECT count(*), count(DISTINCT email) FROM customers")
        n_all, n_emails = ocur.fetchone()
        check(n_all == len(customers), "the privacy officer sees every customer")
        ocur.execute("SELECT email FROM customers WHERE customer_id = ?", parameters=(south_id,))
        raw_email = customers.set_index("customer_id").email[south_id]
        check(ocur.fetchone()[0] == raw_email, "the privacy officer sees the raw email")
        olivia.close()

        # Every statement above is in the audit trail under its user.
        rows = server.audit_rows("kind = 'statement' AND user_name IN ('adam', 'maria', 'olivia')")
        by_user = {}
        for row in rows:
            by_user.setdefault(row["user_name"], []).append(row)
        # adam: ten statements over ADBC and one in the shell; each exactly once.
        check(len(by_user.get("adam", [])) == 11, f"adam's statements audited: {len(by_user.get('adam', []))}")
        check(any("/* parameters: $1 = " in r["statement"] for r in by_user["adam"]), "bound values are audited")
        check(any(r["status"] == "denied" for r in by_user["maria"]), "maria's denied statement is audited")
        logins = server.audit_rows("kind = 'login'")
        check({r["user_name"] for r in logins} >= {"adam", "maria", "olivia"}, "logins are audited")
        check(server.alive(), "server still up")


def pd_date(text):
    import pandas as pd

    return pd.Timestamp(text).date()


def scenario_errors():
    with Server(BINARY, DEMO, "--max-login-failures", "3", "--login-lockout", "60s") as server:
        import adbc_driver_manager

        adam = adbc_connect(server.uri, "adam")
        cur = adam.cursor()
        expect_error(lambda: cur.execute("SELEC 1"), adbc_driver_manager.ProgrammingError, "INVALID_ARGUMENT", "SELEC")
        expect_error(
            lambda: cur.execute("SELECT * FROM no_such_table"),
            adbc_driver_manager.Error,
            "NOT_FOUND",
            "no_such_table",
        )
        expect_error(
            lambda: cur.execute("SELECT mask_email(1, 2, 3)"), adbc_driver_manager.Error, "mask_email"
        )
        expect_error(
            lambda: cur.execute("DELETE FROM customers"), adbc_driver_manager.Error, "permission denied"
        )
        expect_error(
            lambda: cur.execute("SET datafusion.execution.batch_size = 1"),
            adbc_driver_manager.Error,
            "permission denied",
        )
        expect_error(
            lambda: cur.execute("SELECT * FROM 'customers/part-00000.parquet'"),
            adbc_driver_manager.Error,
        )
        expect_error(
            lambda: cur.execute("SELECT customer_id FROM customers WHERE customer_id = $1"),
            adbc_driver_manager.Error,
            "no values were bound",
        )
        # The connection still works after every error.
        cur.execute("SELECT 41 + 1")
        check(cur.fetchone()[0] == 42, "connection usable after errors")

        # Wrong password, unknown user: the same answer.
        e1 = expect_error(lambda: adbc_connect(server.uri, "adam", "wrong"), adbc_driver_manager.Error, "UNAUTHENTICATED")
        e2 = expect_error(lambda: adbc_connect(server.uri, "nobody", "x"), adbc_driver_manager.Error, "UNAUTHENTICATED")
        check("wrong user name or password" in e1 and "wrong user name or password" in e2, "no user enumeration")
        # Lockout: three failures lock rita out, even with the right password.
        for _ in range(3):
            expect_error(lambda: PyarrowClient(server.uri, "rita", "guess"), flight.FlightUnauthenticatedError)
        expect_error(lambda: PyarrowClient(server.uri, "rita"), ANY_GRPC_ERROR, "resource exhausted", "too many failed logins")
        denied_logins = server.audit_rows("kind = 'login' AND status = 'denied' AND user_name = 'rita'")
        check(len(denied_logins) == 4, f"failed and refused logins audited: {len(denied_logins)}")
        # Other users are not locked out.
        PyarrowClient(server.uri, "maria").close()

        # No token, a forged token.
        raw = flight.FlightClient(server.uri)
        descriptor = flight.FlightDescriptor.for_command(
            __import__("finsight_flight").statement_query("SELECT 1")
        )
        expect_error(lambda: raw.get_flight_info(descriptor), flight.FlightUnauthenticatedError, "log in")
        forged = flight.FlightCallOptions(headers=[(b"authorization", b"Bearer " + b"0" * 64)])
        expect_error(
            lambda: raw.get_flight_info(descriptor, forged), flight.FlightUnauthenticatedError, "unknown or revoked"
        )

        # Malformed Flight messages.
        client = PyarrowClient(server.uri, "adam")
        opts = client.options
        expect_error(
            lambda: client.client.get_flight_info(flight.FlightDescriptor.for_command(b"\xff\x00garbage"), opts),
            ANY_GRPC_ERROR,
        )
        expect_error(
            lambda: client.client.get_flight_info(flight.FlightDescriptor.for_path("customers"), opts),
            ANY_GRPC_ERROR,
        )
        expect_error(lambda: client.client.do_get(flight.Ticket(b"\x0a\x03abc"), opts).read_all(), ANY_GRPC_ERROR)
        expect_error(
            lambda: client.client.do_get(
                flight.Ticket(
                    __import__("finsight_flight").any_message(
                        "arrow.flight.protocol.sql.TicketStatementQuery", b"\x0a\x04nope"
                    )
                ),
                opts,
            ).read_all(),
            ANY_GRPC_ERROR,
            "unknown ticket",
        )
        expect_error(lambda: list(client.client.do_action(flight.Action("Explode", b""), opts)), ANY_GRPC_ERROR, "unknown action")
        expect_error(
            lambda: list(client.client.do_action(flight.Action("CreatePreparedStatement", b"\xff\xff"), opts)),
            ANY_GRPC_ERROR,
        )
        expect_error(lambda: list(client.client.do_action(flight.Action("CancelFlightInfo", b"\x0a\x02\xff\xff"), opts)), ANY_GRPC_ERROR)
        check(server.alive(), "server survives malformed messages")

        # A ticket belongs to the login that planned it.
        info = client.info("SELECT 1 AS one")
        other = PyarrowClient(server.uri, "olivia")
        expect_error(lambda: other.reader(info).read_all(), ANY_GRPC_ERROR, "unknown ticket")
        check(client.reader(info).read_all().column(0).to_pylist() == [1], "owner of the ticket can fetch it")

        # Cancellation before the result is fetched, and while it streams.
        info = client.info(SLOW)
        check(client.cancel(info) == 1, "CancelFlightInfo before DoGet: CANCELLED")
        expect_error(lambda: client.reader(info).read_all(), ANY_GRPC_ERROR, "unknown ticket")
        info = client.info(MANY_ROWS)
        reader = client.reader(info)
        reader.read_chunk()
        check(client.cancel(info) == 1, "CancelFlightInfo while streaming: CANCELLED")

        def drain():
            while True:
                reader.read_chunk()

        expect_error(drain, ANY_GRPC_ERROR, "cancelled")

        # A client that disconnects mid-stream: the server stops the query,
        # records it, frees its memory and keeps serving.
        # The quitter is a separate process, killed (SIGKILL) after its first batch.
        quitter = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys, time; sys.path.insert(0, sys.argv[1]);"
                "from finsight_flight import PyarrowClient;"
                "c = PyarrowClient(sys.argv[2], 'adam'); r = c.reader(c.info(sys.argv[3]));"
                "r.read_chunk(); print('reading', flush=True); time.sleep(600)",
                os.path.dirname(os.path.abspath(__file__)),
                server.uri,
                MANY_ROWS,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        check(quitter.stdout.readline().strip() == "reading", "the quitter got its first batch")
        quitter.kill()
        quitter.wait()
        wait_until(
            lambda: server.audit_rows("error LIKE 'cancelled: the client disconnected%'"),
            what="the disconnected query's audit entry",
        )
        check(client.query("SELECT count(*) AS n FROM customers").column(0)[0].as_py() > 0, "still serving")
        cancelled = server.audit_rows("error LIKE 'cancelled%'")
        check(len(cancelled) == 3, f"three cancelled statements audited: {[r['error'] for r in cancelled]}")

        # An expired token.
    with Server(BINARY, DEMO, "--token-ttl", "1s") as server:
        client = PyarrowClient(server.uri, "adam")
        check(client.query("SELECT 1").num_rows == 1, "fresh token works")
        time.sleep(1.5)
        expect_error(lambda: client.query("SELECT 1"), flight.FlightUnauthenticatedError, "expired")
        check(server.alive(), "server up")


def scenario_limits():
    flags = ("--max-queries-per-user", "2", "--query-timeout", "3s", "--query-memory-limit", "8M")
    with Server(BINARY, DEMO, *flags) as server:
        client = PyarrowClient(server.uri, "adam")
        # Two streams held open (not read: backpressure keeps them running).
        held = [client.reader(client.info(MANY_ROWS)) for _ in range(2)]
        for r in held:
            r.read_chunk()
        expect_error(
            lambda: client.reader(client.info("SELECT 1")).read_all(),
            ANY_GRPC_ERROR,
            "already runs 2 queries",
        )
        # Another user is not affected.
        other = PyarrowClient(server.uri, "olivia")
        check(other.query("SELECT 1 AS x").num_rows == 1, "limits are per user")
        for r in held:
            r.cancel()
        client.close()
        client = PyarrowClient(server.uri, "adam")
        wait_until(lambda: _runs(client, "SELECT 1"), what="slots freed after the streams closed")

        start = time.time()
        expect_error(lambda: client.query(SLOW), ANY_GRPC_ERROR, "timed out after 3 s")
        check(time.time() - start < 20, "the timeout stops the query")
        # A hash join's build side cannot spill: over 8 MiB it fails with a clear error.
        expect_error(
            lambda: olivia_query(server, "SELECT a.*, b.ts AS ts2 FROM transactions a JOIN transactions b ON a.customer_id = b.customer_id"),
            ANY_GRPC_ERROR,
            "memory limit of 8 MiB",
        )
        # A query within the limit completes, and the server keeps serving.
        sorted_rows = olivia_query(server, "SELECT transaction_id, amount FROM transactions ORDER BY amount DESC, transaction_id")
        check(sorted_rows.num_rows == raw_table("transactions").num_rows, "a sort within the limit completes")
        amounts = sorted_rows.column("amount").to_pylist()
        check(amounts == sorted(amounts, reverse=True), "and is sorted")
        check(server.alive(), "server up")
        timeouts = server.audit_rows("error LIKE 'query timed out%'")
        check(len(timeouts) == 1, "the timeout is audited")


def olivia_query(server, sql):
    client = PyarrowClient(server.uri, "olivia")
    try:
        return client.query(sql)
    finally:
        client.close()


def _runs(client, sql):
    try:
        client.query(sql)
        return True
    except ANY_GRPC_ERROR:
        return False


def scenario_shutdown():
    server = Server(BINARY, DEMO, "--shutdown-grace", "1s")
    try:
        client = PyarrowClient(server.uri, "adam")
        check(client.query("SELECT 1").num_rows == 1, "up")
        finished = {}

        def run_slow():
            try:
                client.query(SLOW)
                finished["result"] = "finished"
            except ANY_GRPC_ERROR as e:
                finished["result"] = str(e)

        thread = threading.Thread(target=run_slow)
        thread.start()
        time.sleep(1.0)
        start = time.time()
        code = server.terminate(timeout=60)
        elapsed = time.time() - start
        thread.join(30)
        check(code == 0, f"exit code 0 after SIGTERM, got {code}: {server.stderr()}")
        check(elapsed < 15, f"stopped within the grace period plus cleanup ({elapsed:.1f} s)")
        check("shutting down" in finished.get("result", ""), f"the in-flight query was cancelled: {finished}")
        rows = server.audit_rows("user_name = 'adam' AND kind = 'statement'")
        check(len(rows) == 2, f"both statements audited: {rows}")
        check(rows[-1]["error"].startswith("cancelled: the server is shutting down"), f"cancelled entry: {rows[-1]}")
        verify = subprocess.run([BINARY, "--dir", server.dir, "audit", "verify"], capture_output=True, text=True)
        check(verify.returncode == 0, f"audit trail intact: {verify.stdout}{verify.stderr}")
        check("panicked" not in server.stderr(), "no panic")
    finally:
        server.close()


def scenario_tls():
    workdir = tempfile.mkdtemp(prefix="finsight-tls-")
    cert, key = os.path.join(workdir, "cert.pem"), os.path.join(workdir, "key.pem")
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
            "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    with Server(BINARY, DEMO, "--tls-cert", cert, "--tls-key", key) as server:
        check(server.scheme == "grpc+tls", "the server announces TLS")
        with open(cert, "rb") as f:
            root = f.read()
        client = PyarrowClient(server.uri, "adam", tls_root_certs=root)
        check(client.query("SELECT 1 AS one").column(0).to_pylist() == [1], "pyarrow.flight over TLS")
        conn = adbc_connect(
            server.uri, "adam", **{"adbc.flight.sql.client_option.tls_root_certs": root.decode()}
        )
        cur = conn.cursor()
        cur.execute("SELECT count(*) FROM customers")
        check(cur.fetchone()[0] > 0, "ADBC over TLS")
        conn.close()
        plain = f"grpc://{server.host}:{server.port}"
        expect_error(lambda: PyarrowClient(plain, "adam"), ANY_GRPC_ERROR)
        untrusted = lambda: PyarrowClient(server.uri, "adam")  # noqa: E731
        expect_error(untrusted, ANY_GRPC_ERROR)
        check(server.alive(), "server up after plaintext and untrusted clients")


def scenario_readme():
    """The README's five-line ADBC example, run as written (only the port differs)."""
    readme = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "README.md")).read()
    marker = readme.index("<!-- flight-example -->")
    start = readme.index("```python\n", marker) + len("```python\n")
    code = readme[start : readme.index("```", start)]
    check(len(code.strip().splitlines()) == 5, f"the README example has five lines:\n{code}")
    with Server(BINARY, DEMO) as server:
        namespace = {}
        exec(code.replace("grpc://127.0.0.1:50051", server.uri), namespace)  # noqa: S102
        df = namespace["df"]
        check(list(df.columns) == ["segment", "customers"], f"columns: {list(df.columns)}")
        south = raw_table("customers").to_pandas().query("region == 'south'")
        check(int(df.customers.sum()) == len(south), "the README's user sees the south region only")


def scenario_dp():
    """Differential privacy over Flight SQL: the DP-only researcher gets DP
    aggregates and nothing else, spends from the same ledger as the shell,
    and two clients racing for the last epsilon cannot both spend it."""
    release = (
        "SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS (epsilon = {eps}, delta = 1e-7, "
        "privacy_unit_column = customer_id) segment, COUNT(*) AS customers FROM customers GROUP BY segment"
    )
    with Server(BINARY, DEMO) as server:
        dana = adbc_connect(server.uri, "dana")
        cur = dana.cursor()
        for sql in (
            "SELECT * FROM customers",
            "SELECT count(*) FROM transactions",
            "SELECT segment FROM customers GROUP BY segment",
        ):
            expect_error(lambda sql=sql: cur.execute(sql), Exception, "permission denied", "only through differentially private")
        cur.execute(release.format(eps=1.0))
        table = cur.fetch_arrow_table()
        check(table.column_names == ["segment", "customers"], f"DP columns: {table.column_names}")
        check(1 <= table.num_rows <= 4, f"{table.num_rows} segments released")
        # pyarrow.flight reaches the same refusal and the same ledger.
        client = PyarrowClient(server.uri, "dana")
        expect_error(lambda: client.query("SELECT email FROM customers"), ANY_GRPC_ERROR, "permission denied")
        check(client.query(release.format(eps=1.0)).num_rows >= 1, "DP over pyarrow.flight")
        # 2.0 of 3.0 spent: two clients race for the last 1.0.
        results = []

        def race():
            conn = adbc_connect(server.uri, "dana")
            try:
                conn.cursor().execute(release.format(eps=1.0))
                results.append("ok")
            except Exception as e:  # noqa: BLE001
                results.append(str(e))
            finally:
                conn.close()

        threads = [threading.Thread(target=race) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check(results.count("ok") == 1, f"exactly one racer spends the last epsilon: {results}")
        check(any("privacy budget exceeded" in r for r in results), f"the other is refused: {results}")
        cur.execute("SELECT dataset, epsilon_spent, epsilon_remaining FROM privacy.budgets WHERE dataset = 'customers'")
        check(cur.fetchall() == [("customers", 3.0, 0.0)], "privacy.budgets over Flight")
        # The shell sees the spends made over Flight: one ledger.
        shell = server.cli("-c", "SELECT epsilon_spent FROM privacy.budgets WHERE dataset = 'customers'", user="dana")
        check(shell.strip().splitlines()[-1] == "3.0", f"the shell sees the Flight spends: {shell}")
        spends = server.audit_rows("kind = 'dp_spend' AND user_name = 'dana'")
        check(len(spends) == 3, f"three spends in the audit trail, got {len(spends)}")
        dana.close()
        client.close()


SCENARIOS = {
    "dp": scenario_dp,
    "readme": scenario_readme,
    "clients": scenario_clients,
    "errors": scenario_errors,
    "limits": scenario_limits,
    "shutdown": scenario_shutdown,
    "tls": scenario_tls,
}

if __name__ == "__main__":
    name = sys.argv[3]
    started = time.time()
    SCENARIOS[name]()
    print(f"{name}: {CHECKS} checks passed in {time.time() - started:.1f} s")
