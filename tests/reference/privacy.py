"""Privacy functions against Python's standard library and pandas, run live.

Usage: python privacy.py FINSIGHT_BINARY DATA_DIR   (DATA_DIR = tests/data)
- pseudonymize: 5,000 random Unicode strings, every key version and both
  formats, against hmac.new(key, value, sha256);
- k_anonymity, l_diversity, k_anonymity_classes: 20,000 random records over
  three quasi-identifiers (with NULLs), against pandas groupby.
Exits 1 listing every mismatch.
"""
import base64
import hashlib
import hmac
import io
import os
import subprocess
import sys
import tempfile

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

BINARY, DATA = sys.argv[1], sys.argv[2]
KEYRING = os.path.join(DATA, "keyring", "test.keyring")
failures = []


def sql(query):
    done = subprocess.run([BINARY, "--keyring", KEYRING, "--format", "csv", "-c", query],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"finsight failed on:\n{query}\n{done.stderr}")
    return pd.read_csv(io.StringIO(done.stdout), keep_default_na=False, na_values=[""])


def check(what, ok, detail=""):
    print(f"{'ok' if ok else 'FAIL':4} {what} {detail}")
    if not ok:
        failures.append(what)


def keys():
    found = {}
    for line in open(KEYRING, encoding="utf-8"):
        line = line.split("#")[0].strip()
        if "=" in line:
            name, value = (p.strip() for p in line.split("=", 1))
            found[name] = bytes.fromhex(value.removeprefix("hex:"))
    return found


rng = np.random.default_rng(11)
tmp = tempfile.mkdtemp(prefix="finsight-privacy-ref-")

# pseudonymize vs hmac
alphabet = list("abcXYZ019@._-+ ") + ["é", "张", "三", "🙂", "ß"]
values = ["".join(rng.choice(alphabet, size=rng.integers(0, 30))) for _ in range(5000)]
path = os.path.join(tmp, "values.parquet")
pq.write_table(pa.table({"id": np.arange(len(values)), "v": values}), path)
key_table = keys()
for key_name, fmt in [("test_hmac", "hex"), ("test_hmac@1", "hex"), ("test_hmac@2", "base64url")]:
    got = sql(f"SELECT id, pseudonymize(v, '{key_name}', '{fmt}') AS p FROM '{path}' ORDER BY id")
    key = key_table["test_hmac@2" if key_name == "test_hmac" else key_name]
    expected = []
    for v in values:
        mac = hmac.new(key, v.encode("utf-8"), hashlib.sha256).digest()
        expected.append(mac.hex() if fmt == "hex" else base64.urlsafe_b64encode(mac).decode().rstrip("="))
    mismatches = sum(a != b for a, b in zip(got["p"], expected))
    check(f"pseudonymize {key_name} {fmt} on {len(values)} strings equals hmac-sha256", mismatches == 0,
          f"({mismatches} mismatches)")

# k-anonymity and l-diversity vs pandas
n = 20000
frame = pd.DataFrame({
    "band": rng.choice(["20-29", "30-39", "40-49", "50-59", "60+", None], size=n, p=[.2, .25, .25, .15, .149, .001]),
    "region": rng.choice(["N", "S", "E", "W", "C"], size=n, p=[.3, .3, .2, .15, .05]),
    "gender": rng.choice(["F", "M"], size=n),
    "postcode": rng.integers(0, 400, size=n).astype(str),
    "defaulted": rng.random(n) < 0.03,
})
path = os.path.join(tmp, "records.parquet")
pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
for k, qis in [(5, ["band", "region", "gender"]), (3, ["band", "region", "gender", "postcode"])]:
    sizes = frame.groupby(qis, dropna=False).size()
    got = sql(f"SELECT r['classes'] AS classes, r['smallest_class'] AS smallest, r['classes_below_k'] AS below, "
              f"r['records_below_k'] AS records_below FROM (SELECT k_anonymity({k}, {', '.join(qis)}) AS r FROM '{path}')")
    row = got.iloc[0]
    expected = (len(sizes), sizes.min(), int((sizes < k).sum()), int(sizes[sizes < k].sum()))
    actual = (int(row["classes"]), int(row["smallest"]), int(row["below"]), int(row["records_below"]))
    check(f"k_anonymity({k}, {', '.join(qis)}) equals pandas groupby", actual == expected, f"{actual} vs {expected}")
    listed = sql(f"SELECT count(*) AS classes, coalesce(sum(class_size), 0) AS records FROM "
                 f"k_anonymity_classes('SELECT {', '.join(qis)} FROM ''{path}''', {k})").iloc[0]
    check(f"k_anonymity_classes lists the {expected[2]} classes under {k}",
          (int(listed["classes"]), int(listed["records"])) == (expected[2], expected[3]))

distinct = frame.groupby(["band", "region"], dropna=False)["defaulted"].nunique()
got = sql(f"SELECT r['min_distinct'] AS m, r['classes_below_l'] AS below FROM "
          f"(SELECT l_diversity(2, defaulted, band, region) AS r FROM '{path}')").iloc[0]
expected = (int(distinct.min()), int((distinct < 2).sum()))
check("l_diversity(2, defaulted, band, region) equals pandas nunique", (int(got["m"]), int(got["below"])) == expected,
      f"{(int(got['m']), int(got['below']))} vs {expected}")

if failures:
    print(f"{len(failures)} mismatch(es):", *failures, sep="\n  ")
    sys.exit(1)
print("all privacy references match")
