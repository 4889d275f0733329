"""Cleaning functions against rapidfuzz, pandas, scipy and python-stdnum, run live. String similarities: jaro_similarity, jaro_winkler_similarity and
token_set_ratio on 20,000 pairs of names with typing errors (swapped, dropped, doubled and
replaced characters, reordered and repeated words, case, CJK and accented names, empty strings).

Usage: python cleaning.py FINSIGHT_BINARY WORK_DIR
Exits 1 listing every mismatch.
"""
import os
import subprocess
import sys

import numpy as np
import pandas as pd
from rapidfuzz import fuzz
from rapidfuzz.distance import Jaro, JaroWinkler

BINARY, WORK = sys.argv[1], sys.argv[2]
failures = []
rng = np.random.default_rng(37)

GIVEN = ["Wei", "Fang", "Li Na", "Xiu Ying", "Oliver", "Amelia", "José", "Zoë", "Siobhán", "Muhammad", "Anne-Marie"]
FAMILY = ["WANG", "Li", "Zhang", "Smith", "O'Brien", "García", "Müller", "Nguyen", "张", "王", "欧阳"]
CJK = ["张伟", "王芳", "李娜", "刘洋", "欧阳娜娜", "陈静"]


def typo(name):
    chars = list(name)
    for _ in range(rng.integers(0, 3)):
        if not chars:
            break
        i = int(rng.integers(0, len(chars)))
        kind = rng.integers(0, 5)
        if kind == 0 and i + 1 < len(chars):
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        elif kind == 1:
            del chars[i]
        elif kind == 2:
            chars.insert(i, chars[i])
        elif kind == 3:
            chars[i] = "aeiouxyz王é"[int(rng.integers(0, 10))]
        else:
            chars[i] = chars[i].swapcase()
    words = "".join(chars).split(" ")
    if rng.random() < 0.3:
        words = words[::-1]
    if rng.random() < 0.1:
        words = words + words[:1]
    return " ".join(words)


pairs = []
for _ in range(20_000):
    base = (rng.choice(CJK) if rng.random() < 0.2
            else f"{rng.choice(GIVEN)} {rng.choice(FAMILY)}")
    other = typo(base) if rng.random() < 0.8 else f"{rng.choice(GIVEN)} {rng.choice(FAMILY)}"
    pairs.append((base, other))
pairs += [("", ""), ("", "a"), ("a", ""), ("   ", "a"), ("MARTHA", "MARHTA"), ("DIXON", "DICKSONX")]
frame = pd.DataFrame(pairs, columns=["a", "b"])
path = os.path.join(WORK, "names.parquet")
frame.to_parquet(path)

out = os.path.join(WORK, "scores.parquet")
done = subprocess.run([BINARY, "-c", f"""COPY (SELECT row_number() OVER () AS k, a, b,
    jaro_similarity(a, b) AS jaro, jaro_winkler_similarity(a, b) AS jw, token_set_ratio(a, b) AS tsr
    FROM '{path}') TO '{out}'"""], capture_output=True, text=True)
if done.returncode != 0:
    raise SystemExit(f"finsight failed:\n{done.stderr}")
got = pd.read_parquet(out)
print(f"     {len(got)} pairs, e.g. {got.iloc[0]['a']!r} vs {got.iloc[0]['b']!r}")
for label, column, reference in [("jaro_similarity vs rapidfuzz Jaro.similarity", "jaro", Jaro.similarity),
                                 ("jaro_winkler_similarity vs rapidfuzz JaroWinkler.similarity", "jw",
                                  JaroWinkler.similarity),
                                 ("token_set_ratio vs rapidfuzz fuzz.token_set_ratio", "tsr", fuzz.token_set_ratio)]:
    expected = np.array([reference(a, b) for a, b in zip(got["a"], got["b"])])
    difference = np.abs(got[column].to_numpy() - expected)
    worst = int(np.argmax(difference))
    ok = difference[worst] <= 1e-9
    print(f"{'ok' if ok else 'FAIL':4} {label}, {len(got)} pairs, largest difference {difference[worst]:.1e}"
          + ("" if ok else f" at {got['a'][worst]!r} vs {got['b'][worst]!r}: {got[column][worst]} vs {expected[worst]}"))
    if not ok:
        failures.append(label)

# Imputation, winsorizing and outlier fences per group against pandas and scipy: 40 groups of 1 to
# 400 rows, lognormal amounts with 15% missing, one group with nothing present.
from scipy.stats import median_abs_deviation
from scipy.stats.mstats import winsorize

groups = []
for g, n in enumerate(rng.integers(1, 400, 40)):
    amount = np.round(rng.lognormal(5, 1.3, n), 2)
    amount[rng.random(n) < (0.15 if g else 1.0)] = np.nan
    category = rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1]).astype(object)
    category[rng.random(n) < 0.2] = None
    groups.append(pd.DataFrame({"g": g, "seq": rng.permutation(n), "amount": amount, "category": category}))
frame = pd.concat(groups).sample(frac=1.0, random_state=2).reset_index(drop=True)
frame.to_parquet(os.path.join(WORK, "amounts.parquet"))
out = os.path.join(WORK, "cleaned.parquet")
done = subprocess.run([BINARY, "-c", f"""COPY (SELECT g, seq, amount, category,
    impute_mean(amount) OVER p AS mean_fill, impute_median(amount) OVER p AS median_fill,
    impute_mode(category) OVER p AS mode_fill,
    fill_forward(amount) OVER o AS ffill, fill_backward(category) OVER o AS bfill,
    winsorize(amount, 0.05, 0.1) OVER p AS winsorized,
    iqr_outlier(amount) OVER p AS iqr, mad_outlier(amount, 3.0) OVER p AS mad
    FROM '{os.path.join(WORK, "amounts.parquet")}'
    WINDOW p AS (PARTITION BY g), o AS (PARTITION BY g ORDER BY seq)) TO '{out}'"""], capture_output=True, text=True)
if done.returncode != 0:
    raise SystemExit(f"finsight failed:\n{done.stderr}")
got = pd.read_parquet(out).sort_values(["g", "seq"]).reset_index(drop=True)
ref = frame.sort_values(["g", "seq"]).reset_index(drop=True)
by = ref.groupby("g")
expected = {
    "mean_fill": ref["amount"].fillna(by["amount"].transform("mean")),
    "median_fill": ref["amount"].fillna(by["amount"].transform("median")),
    "mode_fill": ref["category"].fillna(by["category"].transform(
        lambda c: c.mode().iloc[0] if c.notna().any() else None)),
    "ffill": by["amount"].ffill(),
    "bfill": by["category"].bfill(),
}


def per_group(function):
    out = pd.Series(np.nan, index=ref.index, dtype=object)
    for _, rows in by:
        present = rows["amount"].dropna()
        if len(present):
            out[present.index] = function(present.to_numpy())
    return out


expected["winsorized"] = per_group(lambda a: np.asarray(winsorize(a, limits=(0.05, 0.1))))


def tukey(a):
    q1, q3 = np.percentile(a, [25, 75])
    return (a < q1 - 1.5 * (q3 - q1)) | (a > q3 + 1.5 * (q3 - q1))


def mad_rule(a):
    spread = median_abs_deviation(a, scale="normal")
    return np.abs(a - np.median(a)) / spread > 3.0 if spread > 0 else a != np.median(a)


expected["iqr"], expected["mad"] = per_group(tukey), per_group(mad_rule)
labels = {"mean_fill": "impute_mean vs pandas fillna(groupby mean)",
          "median_fill": "impute_median vs pandas fillna(groupby median)",
          "mode_fill": "impute_mode vs pandas fillna(mode()[0])", "ffill": "fill_forward vs pandas groupby ffill",
          "bfill": "fill_backward vs pandas groupby bfill (strings)",
          "winsorized": "winsorize vs scipy.stats.mstats.winsorize(limits=(0.05, 0.1))",
          "iqr": "iqr_outlier vs numpy percentile fences (k 1.5)",
          "mad": "mad_outlier vs scipy median_abs_deviation(scale='normal') (threshold 3)"}
for column, label in labels.items():
    a, e = got[column], expected[column]
    both_missing = a.isna() & pd.isna(e)
    if column in ("mean_fill", "median_fill", "ffill", "winsorized"):
        close = np.isclose(a.astype(float), e.astype(float), rtol=1e-12, atol=0)
    else:
        close = a.astype(object) == e.astype(object)
    bad = int((~(both_missing | close)).sum())
    print(f"{'ok' if bad == 0 else 'FAIL':4} {label}, {len(got)} rows in 40 groups, rows that differ: {bad}")
    if bad:
        failures.append(label)
changed = {"imputed": int(ref["amount"].isna().sum() - got["median_fill"].isna().sum()),
           "winsorized": int((got["winsorized"] != got["amount"]).sum() - got["amount"].isna().sum()),
           "iqr outliers": int(got["iqr"].fillna(False).sum()), "mad outliers": int(got["mad"].fillna(False).sum())}
print(f"     rows changed or flagged: {changed}")
if min(changed.values()) == 0:
    failures.append(f"the data should exercise every function: {changed}")

# Identifiers against python-stdnum: IBANs of three countries and mainland-China resident IDs,
# valid ones (the check found by asking stdnum, not by our formula) and single-character errors,
# transpositions and impossible birth dates; every 15-digit form upgraded back to its 18 digits.
from stdnum import iban as std_iban
from stdnum.cn import ric as std_ric

texts, ids, fifteen = [], [], []
digits = "0123456789"
for _ in range(3000):
    country, bban = [("GB", "WEST" + "".join(rng.choice(list(digits), 14))),
                     ("DE", "".join(rng.choice(list(digits), 18))),
                     ("FR", "".join(rng.choice(list(digits), 23)))][int(rng.integers(0, 3))]
    number = country + std_iban.calc_check_digits(country + "00" + bban) + bban
    texts.append(number)
    i = int(rng.integers(4, len(number)))
    texts.append(number[:i] + str((int(number[i]) + 1 + int(rng.integers(0, 9))) % 10) + number[i + 1:]
                 if number[i].isdigit() else number)
    j = int(rng.integers(4, len(number) - 1))
    texts.append(number[:j] + number[j + 1] + number[j] + number[j + 2:])
    texts.append(" ".join(number[k:k + 4] for k in range(0, len(number), 4)).lower())
for _ in range(3000):
    year, month, day = int(rng.integers(1930, 2006)), int(rng.integers(1, 13)), int(rng.integers(1, 32))
    body = f"{rng.choice(['110105', '310115', '440106', '440305', '510107', '420106'])}{year:04}{month:02}{day:02}" \
           f"{int(rng.integers(0, 1000)):03}"
    valid = [body + c for c in "0123456789X" if std_ric.is_valid(body + c)]
    ids.extend(valid or [body + "0"])  # an impossible date: no character makes it valid
    if valid:
        k = int(rng.integers(6, 17))
        ids.append(valid[0][:k] + str((int(valid[0][k]) + 3) % 10) + valid[0][k + 1:])
        if 1900 <= year <= 1999:
            fifteen.append((body[:6] + body[8:], valid[0]))
pd.DataFrame({"t": texts}).to_parquet(os.path.join(WORK, "ibans.parquet"))
pd.DataFrame({"t": ids}).to_parquet(os.path.join(WORK, "ids.parquet"))
pd.DataFrame({"t": [f for f, _ in fifteen], "expected": [e for _, e in fifteen]}).to_parquet(
    os.path.join(WORK, "fifteen.parquet"))


def finsight_frame(query):
    target = os.path.join(WORK, "out.parquet")
    done = subprocess.run([BINARY, "-c", f"COPY ({query}) TO '{target}'"], cwd=WORK, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"finsight failed:\n{done.stderr}")
    return pd.read_parquet(target)


got = finsight_frame("SELECT t, iban_is_valid(t) AS ok, iban_normalize(t) AS normal FROM 'ibans.parquet'")
expected_ok = got["t"].map(std_iban.is_valid)
expected_normal = got["t"].map(lambda t: std_iban.compact(t) if std_iban.is_valid(t) else None)
bad = int((got["ok"] != expected_ok).sum() + (got["normal"].fillna("") != expected_normal.fillna("")).sum())
print(f"{'ok' if bad == 0 else 'FAIL':4} iban_is_valid and iban_normalize vs stdnum.iban, {len(got)} strings "
      f"({int(expected_ok.sum())} valid), disagreements: {bad}")
if bad:
    failures.append("iban vs stdnum")
got = finsight_frame("SELECT t, cn_resident_id_is_valid(t) AS ok FROM 'ids.parquet'")
expected_ok = got["t"].map(std_ric.is_valid)
bad = int((got["ok"] != expected_ok).sum())
print(f"{'ok' if bad == 0 else 'FAIL':4} cn_resident_id_is_valid vs stdnum.cn.ric.is_valid, {len(got)} IDs "
      f"({int(expected_ok.sum())} valid), disagreements: {bad}")
if bad:
    failures.append("cn_resident_id_is_valid vs stdnum")
got = finsight_frame("SELECT expected, cn_resident_id_upgrade(t) AS upgraded FROM 'fifteen.parquet'")
bad = int((got["upgraded"] != got["expected"]).sum())
print(f"{'ok' if bad == 0 else 'FAIL':4} cn_resident_id_upgrade of {len(got)} 15-digit IDs equals the stdnum-valid "
      f"18-digit ID, disagreements: {bad}")
if bad:
    failures.append("cn_resident_id_upgrade")

if failures:
    print("\n".join(["", "MISMATCHES:"] + failures))
    sys.exit(1)
print("all cleaning reference checks passed")
