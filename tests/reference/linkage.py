"""dedup_candidates and dedup_clusters against an independent record linkage in pandas, rapidfuzz
and scipy, run live on the demo bank's raw customer records (customers_raw), standardised by the
statements of sql/data_cleaning.sql that build customers_clean and customers_keyed, with that
script's linkage arguments.

The reference blocks by self-joining on each blocking column (NULL and empty values block
nothing), scores the pairs with rapidfuzz's JaroWinkler.similarity and exact comparisons averaged
over the columns both records have, keeps those at the threshold, and takes connected components
with scipy.sparse.csgraph. Pairs, scores and clusters must be the same; precision and recall
against the answer key (true_customer_id) are printed and must reach 0.95.

Usage: python linkage.py FINSIGHT_BINARY DEMO_DIR WORK_DIR
Exits 1 listing every mismatch.
"""
import io
import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd
from rapidfuzz.distance import JaroWinkler
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

BINARY, DEMO, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
failures = []


def check(what, ok, detail):
    print(f"{'ok' if ok else 'FAIL':4} {what}: {detail}")
    if not ok:
        failures.append(f"{what}: {detail}")


def sql(query):
    done = subprocess.run([BINARY, "--dir", DEMO, "--format", "csv", "-c", query], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"finsight failed on:\n{query}\n{done.stderr}")
    return pd.read_csv(io.StringIO(done.stdout), dtype=str, keep_default_na=False, na_values=[""])


script = open(os.path.join(ROOT, "sql", "data_cleaning.sql"), encoding="utf-8").read()
clean_select = re.search(r"CREATE TABLE customers_clean AS\s+(SELECT.*?);", script, re.S).group(1)
keyed_select = re.search(r"CREATE TABLE customers_keyed AS\s+(SELECT.*?);", script, re.S).group(1)
call = re.search(r"dedup_clusters\('customers_keyed', (.*?)\);", script, re.S).group(1)
arguments = re.findall(r"'([^']*)'|([0-9.]+)", call)
id_column, compare, blocking = (a for a, _ in arguments[:3])
threshold = float(arguments[3][1])
compare = [(c.split(":")[0].strip(), (c.split(":") + ["jaro_winkler"])[1].strip()) for c in compare.split(",")]
blocking = [b.strip() for b in blocking.split(",")]
print(f"     data_cleaning.sql links on {compare}, blocks on {blocking}, threshold {threshold}")

clean_path = os.path.join(WORK, "customers_keyed.parquet")
subprocess.run([BINARY, "--dir", DEMO, "-c",
                f"CREATE VIEW customers_clean AS {clean_select}; COPY ({keyed_select}) TO '{clean_path}'"],
               check=True, capture_output=True)
view = f"CREATE VIEW customers_keyed AS SELECT * FROM '{clean_path}';"
spec = f"'{id_column}', '{', '.join(f'{c}:{how}' for c, how in compare)}', '{', '.join(blocking)}', {threshold}"
ours_pairs = sql(view + f"SELECT id_a, id_b, score FROM dedup_candidates('customers_keyed', {spec})")
ours_clusters = sql(view + f"SELECT id, cluster_id FROM dedup_clusters('customers_keyed', {spec})")

records = pd.read_parquet(clean_path)
records["row"] = np.arange(len(records))
for c, _ in compare + [(b, None) for b in blocking]:
    records[c] = records[c].astype("string")

# Blocking: every pair of rows sharing a non-empty value of some blocking column.
found = []
for b in blocking:
    keyed = records[["row", b]].dropna()
    keyed = keyed[keyed[b].str.strip() != ""]
    keyed = keyed.assign(key=keyed[b].str.strip())
    joined = keyed.merge(keyed, on="key")
    found.append(joined.loc[joined["row_x"] < joined["row_y"], ["row_x", "row_y"]])
candidates = pd.concat(found).drop_duplicates().to_numpy()


def similarity(how, x, y):
    if how == "exact":
        return float(x == y)
    return JaroWinkler.similarity(x, y)


scores = []
for a, b in candidates:
    values = []
    for c, how in compare:
        x, y = records.at[a, c], records.at[b, c]
        if pd.isna(x) or pd.isna(y) or not x.strip() or not y.strip():
            continue
        values.append(similarity(how, x.strip(), y.strip()))
    scores.append(np.mean(values) if values else np.nan)
scores = np.array(scores)
keep = scores >= threshold
ids = records[id_column].astype(str).to_numpy()
expected = {tuple(sorted((ids[a], ids[b]), key=int)): s for (a, b), s in zip(candidates[keep], scores[keep])}
got = {(a, b): float(s) for a, b, s in zip(ours_pairs["id_a"], ours_pairs["id_b"], ours_pairs["score"])}
missing, extra = expected.keys() - got.keys(), got.keys() - expected.keys()
worst = max((abs(got[k] - expected[k]) for k in got.keys() & expected.keys()), default=0.0)
check("dedup_candidates: the same pairs as the pandas/rapidfuzz reference", not missing and not extra,
      f"{len(got)} pairs from {len(candidates)} candidates, {len(missing)} missing, {len(extra)} extra")
check("dedup_candidates: scores equal rapidfuzz's Jaro-Winkler and exact means", worst <= 1e-9,
      f"largest difference {worst:.1e}")

graph = coo_matrix((np.ones(keep.sum()), (candidates[keep][:, 0], candidates[keep][:, 1])),
                   shape=(len(records), len(records)))
_, component = connected_components(graph, directed=False)
reference_cluster = pd.Series(ids).groupby(component).transform(lambda s: min(s, key=int)).to_numpy()
ours = dict(zip(ours_clusters["id"], ours_clusters["cluster_id"]))
differ = sum(ours.get(i) != c for i, c in zip(ids, reference_cluster))
check("dedup_clusters: connected components equal scipy's, named by the lowest id", differ == 0,
      f"{len(ids)} records, {len(set(reference_cluster))} clusters, {differ} records differ")

truth = sql("SELECT CAST(raw_id AS VARCHAR) AS raw_id, CAST(true_customer_id AS VARCHAR) AS person FROM customers_raw")
person = dict(zip(truth["raw_id"], truth["person"]))
by_cluster = pd.DataFrame({"id": list(ours), "cluster": list(ours.values())})
by_cluster["person"] = by_cluster["id"].map(person)


def pairs_within(frame, key):
    out = set()
    for _, group in frame.groupby(key):
        members = sorted(group["id"], key=int)
        out.update((a, b) for i, a in enumerate(members) for b in members[i + 1:])
    return out


linked, true = pairs_within(by_cluster, "cluster"), pairs_within(by_cluster, "person")
precision, recall = len(linked & true) / max(len(linked), 1), len(linked & true) / max(len(true), 1)
check("pairwise precision against the answer key >= 0.95", precision >= 0.95,
      f"{precision:.4f} ({len(linked)} linked pairs)")
check("pairwise recall against the answer key >= 0.95", recall >= 0.95, f"{recall:.4f} ({len(true)} true pairs)")

if failures:
    print("\n".join(["", "MISMATCHES:"] + failures))
    sys.exit(1)
print("all linkage reference checks passed")
