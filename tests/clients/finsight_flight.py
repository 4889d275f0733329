"""Helpers for driving a real `finsight serve` from Python clients.

Used by tests/clients/flight_clients.py (the client tests) and
benches/flight_load.py (the load script). pyarrow.flight has no Flight SQL
client, so the few Flight SQL protobuf messages the tests send by hand are
encoded here (Any + CommandStatementQuery, CancelFlightInfoRequest).
"""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pyarrow.flight as flight

PASSWORD_SUFFIX = "-demo"  # the demo policy's passwords: user name + "-demo"


class Server:
    """`finsight serve` on a private copy of a demo directory, port 0."""

    def __init__(self, binary, demo_dir, *flags, copy=True):
        self.binary = binary
        if copy:
            self.workdir = tempfile.mkdtemp(prefix="finsight-serve-")
            self.dir = os.path.join(self.workdir, "data")
            shutil.copytree(demo_dir, self.dir)
            # The copy gets an audit trail of its own.
            for stale in ("audit.db", "audit.db-wal", "audit.db-shm"):
                path = os.path.join(self.dir, ".finsight", stale)
                if os.path.exists(path):
                    os.remove(path)
        else:
            self.workdir = None
            self.dir = demo_dir
        self.log = tempfile.NamedTemporaryFile(prefix="finsight-serve-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [binary, "serve", "--dir", self.dir, "--addr", "127.0.0.1:0", *flags],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        line = self.proc.stdout.readline()
        match = re.search(r"listening on (grpc(?:\+tls)?)://([\d.]+):(\d+)", line)
        if not match:
            self.proc.kill()
            raise RuntimeError(f"server did not start: {line!r}\n{self.stderr()}")
        self.scheme, self.host, self.port = match.group(1), match.group(2), int(match.group(3))
        self.uri = f"{self.scheme}://{self.host}:{self.port}"

    def stderr(self):
        with open(self.log.name) as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def rss_kb(self, field="VmRSS"):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return None

    def terminate(self, timeout=60):
        """SIGTERM and wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def cli(self, *args, user=None):
        """The same data through the shell (`finsight -c`), CSV output."""
        cmd = [self.binary, "--dir", self.dir, "--format", "csv"]
        if user:
            cmd += ["--user", user]
        out = subprocess.run(cmd + list(args), capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"finsight {args} failed: {out.stderr}")
        return out.stdout

    def audit_rows(self, where="TRUE"):
        """Rows of the audit trail (read as the auditor, through the shell)."""
        import csv
        import io

        text = self.cli(
            "-c",
            f"SELECT seq, user_name, kind, statement, status, error, rows, detail FROM audit.log WHERE {where} ORDER BY seq",
            user="audrey",
        )
        return list(csv.DictReader(io.StringIO(text)))


def adbc_connect(uri, user, password=None, **db_kwargs):
    import adbc_driver_flightsql.dbapi as flight_sql

    kwargs = {"username": user, "password": password if password is not None else user + PASSWORD_SUFFIX}
    kwargs.update(db_kwargs)
    return flight_sql.connect(uri, db_kwargs=kwargs, autocommit=True)


# --- Flight SQL messages by hand, for pyarrow.flight ---------------------------

def _varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number, payload):
    """A length-delimited protobuf field."""
    return _varint((number << 3) | 2) + _varint(len(payload)) + payload


def any_message(type_name, payload):
    return _field(1, f"type.googleapis.com/{type_name}".encode()) + _field(2, payload)


def statement_query(sql):
    """Any(CommandStatementQuery{query})."""
    return any_message("arrow.flight.protocol.sql.CommandStatementQuery", _field(1, sql.encode()))


def cancel_flight_info_request(info):
    """CancelFlightInfoRequest{info}."""
    return _field(1, info.serialize())


class PyarrowClient:
    """pyarrow.flight with the bearer token of a basic-auth login."""

    def __init__(self, uri, user, password=None, login_headers=(), **client_kwargs):
        self.client = flight.FlightClient(uri, **client_kwargs)
        header = self.client.authenticate_basic_token(
            user,
            password if password is not None else user + PASSWORD_SUFFIX,
            flight.FlightCallOptions(headers=list(login_headers)),
        )
        self.options = flight.FlightCallOptions(headers=[header])
        self.header = header

    def info(self, sql):
        return self.client.get_flight_info(
            flight.FlightDescriptor.for_command(statement_query(sql)), self.options
        )

    def reader(self, info):
        return self.client.do_get(info.endpoints[0].ticket, self.options)

    def query(self, sql):
        return self.reader(self.info(sql)).read_all()

    def cancel(self, info):
        results = list(
            self.client.do_action(
                flight.Action("CancelFlightInfo", cancel_flight_info_request(info)), self.options
            )
        )
        # CancelFlightInfoResult{status}: field 1 varint.
        body = results[0].body.to_pybytes()
        return body[1] if len(body) >= 2 else 0

    def close(self):
        self.client.close()


def wait_until(predicate, timeout=30, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
