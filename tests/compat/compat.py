"""The SQL analysts already write, run on finsight and on DuckDB.

    python tests/compat/compat.py FINSIGHT_BINARY [--only NAME] [--report FILE]

Every idiom of tests/compat/idioms.sql runs on DuckDB (the reference) and on a
real `finsight serve` through Flight SQL, the path BI tools take, over the
same Parquet files, which DuckDB writes from tests/compat/data.sql. Results
are compared as Arrow values: same number of columns, same rows (as a
multiset unless the idiom says `-- ordered`), numbers within 1e-9 relative,
column names too where the idiom says `-- names`.

An idiom is one or more statements; the last one's result is compared.
Directives in the comments before it:

    -- idiom: NAME                   required, unique
    -- from: WHERE IT COMES FROM     the documentation it is taken from
    -- duckdb: SQL                   DuckDB's spelling of the last statement, when the
                                     dialects differ
    -- ordered / -- names            compare row order / column names
    -- known: REASON                 expected to fail on finsight, and why

`{out}` in a statement is a directory of the engine's own (COPY, CREATE
TABLE AS ... files). Exit status 1 when an idiom fails that is not known to
fail, when a known failure passes (the list must stay true), when an idiom
does not run on DuckDB (then it is not a reference), or when the pass rate
is below --min-rate.
"""

import argparse
import datetime
import decimal
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile

import duckdb
import pyarrow as pa

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "clients"))
from finsight_flight import PyarrowClient, Server  # noqa: E402

TABLES = ["customers", "accounts", "transactions", "regions", "monthly_sales", "quarterly", "events", "baskets"]
PASSWORD = "compat-suite"


class Idiom:
    def __init__(self, name):
        self.name = name
        self.source = ""
        self.statements = []
        self.duckdb = None
        self.ordered = False
        self.names = False
        self.known = None
        self.line = 0


def parse_idioms(path):
    """Idioms from the annotated SQL file: statements end with `;` at a line end."""
    idioms, current, buffer = [], None, []
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        directive = re.match(r"--\s*(idiom|from|duckdb|ordered|names|known)\b:?\s*(.*)$", stripped)
        if directive and not buffer:
            key, value = directive.group(1), directive.group(2).strip()
            if key == "idiom":
                current = Idiom(value)
                current.line = number
                idioms.append(current)
            elif current is None:
                raise SystemExit(f"{path}:{number}: directive before the first -- idiom:")
            elif key == "from":
                current.source = value
            elif key == "duckdb":
                current.duckdb = value
            elif key == "ordered":
                current.ordered = True
            elif key == "names":
                current.names = True
            elif key == "known":
                current.known = value
            continue
        if stripped.startswith("--") and not buffer:
            continue
        if not stripped and not buffer:
            continue
        if current is None:
            raise SystemExit(f"{path}:{number}: statement before the first -- idiom:")
        buffer.append(line)
        if stripped.endswith(";"):
            current.statements.append("\n".join(buffer).strip().rstrip(";"))
            buffer = []
    if buffer:
        raise SystemExit(f"{path}: the last statement does not end with ';'")
    seen = set()
    for idiom in idioms:
        if idiom.name in seen:
            raise SystemExit(f"{path}:{idiom.line}: idiom {idiom.name} appears twice")
        seen.add(idiom.name)
        if not idiom.statements:
            raise SystemExit(f"{path}:{idiom.line}: idiom {idiom.name} has no statement")
    return idioms


# --- values ------------------------------------------------------------------

def normalize(value):
    """A comparable form of one Arrow value, whatever type each engine chose."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, decimal.Decimal)):
        value = float(value)
        return "NaN" if math.isnan(value) else value
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return ("ts", value.isoformat())
    if isinstance(value, datetime.date):
        return ("ts", datetime.datetime(value.year, value.month, value.day).isoformat())
    if isinstance(value, datetime.time):
        return ("time", value.isoformat())
    if isinstance(value, datetime.timedelta):
        return ("interval", 0, value.days * 86_400_000_000_000 + value.seconds * 1_000_000_000 + value.microseconds * 1000)
    if isinstance(value, pa.lib.MonthDayNano):
        return ("interval", value.months, value.days * 86_400_000_000_000 + value.nanoseconds)
    if isinstance(value, bytes):
        return ("bytes", value.hex())
    if isinstance(value, dict):
        return ("struct",) + tuple((k, normalize(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        # A map arrives as a list of (key, value) pairs.
        return ("list",) + tuple(normalize(v) for v in value)
    return value


def sort_key(row):
    def key(v):
        if v is None:
            return (0, "")
        if isinstance(v, float):
            return (1, f"{v:.9g}")
        return (2, repr(v))

    return tuple(key(v) for v in row)


def same(a, b):
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, float) and isinstance(b, float):
        return a == b or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def rows_of(table):
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return [tuple(normalize(c[r]) for c in columns) for r in range(table.num_rows)]


def compare(idiom, expected, actual):
    """None when equal, else what differs."""
    if expected.num_columns != actual.num_columns:
        return f"{actual.num_columns} columns {actual.column_names}, DuckDB has {expected.num_columns} {expected.column_names}"
    if idiom.names:
        if [n.lower() for n in expected.column_names] != [n.lower() for n in actual.column_names]:
            return f"column names {actual.column_names}, DuckDB {expected.column_names}"
    want, got = rows_of(expected), rows_of(actual)
    if len(want) != len(got):
        return f"{len(got)} rows, DuckDB {len(want)}: first {got[:3]} vs {want[:3]}"
    if not idiom.ordered:
        want, got = sorted(want, key=sort_key), sorted(got, key=sort_key)
    for i, (w, g) in enumerate(zip(want, got)):
        if not same(w, g):
            return f"row {i}: {g} vs DuckDB {w}"
    return None


# --- engines -----------------------------------------------------------------

def write_data(data_dir):
    """The suite's tables as Parquet files written by DuckDB."""
    con = duckdb.connect()
    with open(os.path.join(HERE, "data.sql"), encoding="utf-8") as f:
        con.execute(f.read())
    for table in TABLES:
        con.execute(f"COPY {table} TO '{os.path.join(data_dir, table)}.parquet' (FORMAT parquet)")
    con.close()


def write_policy(binary, data_dir):
    """One engineer with raw access and files: the suite checks SQL, not policies."""
    hashed = subprocess.run(
        [binary, "policy", "hash-password"], input=PASSWORD + "\n", capture_output=True, text=True, check=True
    ).stdout.strip()
    os.makedirs(os.path.join(data_dir, ".finsight"), exist_ok=True)
    with open(os.path.join(data_dir, ".finsight", "policy.toml"), "w") as f:
        f.write(
            "[roles.engineer]\nraw = [\"*\"]\nfiles = true\n\n"
            f"[users.compat]\nroles = [\"engineer\"]\npassword_hash = \"{hashed}\"\n"
        )


def duckdb_session(data_dir):
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for table in TABLES:
        con.execute(f"CREATE VIEW {table} AS FROM read_parquet('{os.path.join(data_dir, table)}.parquet')")
    return con


def run_duckdb(con, idiom, out):
    # `-- duckdb:` spells the last statement; the ones before it run as written.
    statements = idiom.statements[:-1] + [idiom.duckdb] if idiom.duckdb else idiom.statements
    result = None
    for statement in statements:
        relation = con.sql(statement.replace("{out}", out))
        result = relation.to_arrow_table() if relation is not None else None
    return result


def run_finsight(client, idiom, out):
    result = None
    for statement in idiom.statements:
        result = client.query(statement.replace("{out}", out))
    return result


def first_line(error):
    text = str(error).strip()
    text = re.sub(r"^.*?Flight error: ", "", text, flags=re.S)
    return text.splitlines()[0][:300] if text else type(error).__name__


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binary")
    parser.add_argument("--only", help="run the idioms whose name contains this")
    parser.add_argument("--report", help="write a Markdown list of the results here")
    parser.add_argument("--min-rate", type=float, default=0.0, help="fail below this pass rate (percent)")
    args = parser.parse_args()

    idioms = parse_idioms(os.path.join(HERE, "idioms.sql"))
    if args.only:
        idioms = [i for i in idioms if args.only in i.name]
    work = tempfile.mkdtemp(prefix="finsight-compat-")
    data_dir = os.path.join(work, "data")
    os.makedirs(data_dir)
    write_data(data_dir)
    write_policy(args.binary, data_dir)

    passed, failed, known_failed, stale, broken = [], [], [], [], []
    with Server(args.binary, data_dir, copy=False) as server:
        client = PyarrowClient(server.uri, "compat", PASSWORD)
        con = duckdb_session(data_dir)
        for n, idiom in enumerate(idioms):
            duck_out = os.path.join(work, "duckdb", str(n))
            ours_out = os.path.join(work, "finsight", str(n))
            os.makedirs(duck_out)
            os.makedirs(ours_out)
            try:
                expected = run_duckdb(con, idiom, duck_out)
            except Exception as e:  # noqa: BLE001 - any DuckDB failure disqualifies the idiom
                broken.append((idiom, first_line(e)))
                continue
            try:
                actual = run_finsight(client, idiom, ours_out)
                problem = compare(idiom, expected, actual)
            except Exception as e:  # noqa: BLE001 - an error is a result of its own
                problem = "error: " + first_line(e)
            if problem is None:
                (stale if idiom.known else passed).append(idiom)
            elif idiom.known:
                known_failed.append((idiom, problem))
            else:
                failed.append((idiom, problem))
            if not server.alive():
                failed.append((idiom, "the server died:\n" + server.stderr()[-2000:]))
                break
        client.close()

    total = len(idioms) - len(broken)
    ok = len(passed) + len(stale)
    rate = 100.0 * ok / total if total else 0.0
    for idiom, problem in failed:
        print(f"FAIL {idiom.name} (idioms.sql:{idiom.line}): {problem}")
    for idiom, problem in broken:
        print(f"NOT A REFERENCE {idiom.name} (idioms.sql:{idiom.line}): DuckDB: {problem}")
    for idiom in stale:
        print(f"PASSES BUT MARKED KNOWN {idiom.name} (idioms.sql:{idiom.line}): remove its -- known:")
    for idiom, problem in known_failed:
        print(f"known {idiom.name}: {idiom.known} [{problem[:160]}]")
    print(f"compat: {ok} of {total} idioms give DuckDB's result ({rate:.1f}%); "
          f"{len(known_failed)} known differences, {len(failed)} unexpected failures")
    if args.report:
        with open(args.report, "w") as f:
            f.write(f"{ok} of {total} idioms ({rate:.1f}%) give DuckDB {duckdb.__version__}'s result.\n\n")
            f.write("| idiom | from | finsight |\n|---|---|---|\n")
            for idiom in idioms:
                status = "pass"
                for i, p in failed + known_failed:
                    if i is idiom:
                        status = "differs: " + (idiom.known or p).replace("|", "\\|")
                f.write(f"| {idiom.name} | {idiom.source} | {status} |\n")
    shutil.rmtree(work, ignore_errors=True)
    if rate < args.min_rate:
        print(f"pass rate {rate:.1f}% is below --min-rate {args.min_rate}%")
    sys.exit(1 if failed or stale or broken or rate < args.min_rate else 0)


if __name__ == "__main__":
    main()
