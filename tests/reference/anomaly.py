"""isolation_forest_fit / isolation_forest_score against scikit-learn's IsolationForest, run live
on the demo bank's card transactions (fraud bursts: several purchases within hours, often abroad,
at 2.5 times the usual amount).

Usage: python anomaly.py FINSIGHT_BINARY DEMO_DIR
Exits 1 listing every mismatch.
"""
import io
import subprocess
import sys

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

BINARY, DEMO = sys.argv[1], sys.argv[2]
failures = []


def sql(query):
    done = subprocess.run([BINARY, "--dir", DEMO, "--format", "csv", "-c", query], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"finsight failed on:\n{query}\n{done.stderr}")
    return pd.read_csv(io.StringIO(done.stdout))


def check(what, ok, detail):
    print(f"{'ok' if ok else 'FAIL':4} {what}: {detail}")
    if not ok:
        failures.append(f"{what}: {detail}")


FEATURES = """
WITH card AS (
  SELECT t.transaction_id, t.is_fraud, t.amount,
         CAST(date_part('hour', t.ts) AS DOUBLE) AS hour,
         CASE WHEN t.channel = 'online' THEN 1.0 ELSE 0.0 END AS online,
         CASE WHEN t.country <> c.country THEN 1.0 ELSE 0.0 END AS abroad,
         CAST(count(*) OVER w AS DOUBLE) AS tx_24h,
         sum(t.amount) OVER w AS spend_24h
  FROM transactions t JOIN customers c ON t.customer_id = c.customer_id
  WHERE t.card_id IS NOT NULL
  WINDOW w AS (PARTITION BY t.card_id ORDER BY t.ts RANGE BETWEEN INTERVAL '1 day' PRECEDING AND CURRENT ROW))
"""
COLUMNS = ["amount", "hour", "online", "abroad", "tx_24h", "spend_24h"]
columns = ", ".join(COLUMNS)
got = sql(FEATURES + f"""
, forest AS (SELECT isolation_forest_fit({columns}, 100, 256, 42) AS model FROM card)
SELECT card.transaction_id, CAST(card.is_fraud AS INT) AS is_fraud, {columns},
       isolation_forest_score(forest.model, {columns}) AS score
FROM card CROSS JOIN forest ORDER BY card.transaction_id""")
X, fraud = got[COLUMNS].to_numpy(), got["is_fraud"].to_numpy()
print(f"     {len(got)} card transactions, {fraud.sum()} fraudulent, features {COLUMNS}")

reference = IsolationForest(n_estimators=100, max_samples=256, random_state=0).fit(X)
sklearn_score = -reference.score_samples(X)
# Two scikit-learn forests differ by their random draws; that spread is the yardstick.
other = -IsolationForest(n_estimators=100, max_samples=256, random_state=1).fit(X).score_samples(X)
rho = spearmanr(got["score"], sklearn_score).statistic
rho_sklearn = spearmanr(other, sklearn_score).statistic
check("isolation_forest_score vs scikit-learn score_samples, Spearman rank correlation >= 0.9",
      rho >= 0.9, f"{rho:.4f} (scikit-learn seed 1 vs seed 0: {rho_sklearn:.4f})")

auc, auc_sklearn, auc_other = (roc_auc_score(fraud, s) for s in (got["score"], sklearn_score, other))
check("fraud AUC of isolation_forest_score within 0.03 of scikit-learn's",
      abs(auc - auc_sklearn) <= 0.03, f"{auc:.4f} vs {auc_sklearn:.4f} (scikit-learn seed 1: {auc_other:.4f})")
check("the forest separates fraud (AUC > 0.75)", auc > 0.75, f"{auc:.4f}")

# Scores on scikit-learn's scale: means agree within the spread of two scikit-learn forests.
gap, gap_sklearn = abs(got["score"].mean() - sklearn_score.mean()), abs(other.mean() - sklearn_score.mean())
check("mean score within 0.01 of scikit-learn's", gap <= 0.01,
      f"{got['score'].mean():.4f} vs {sklearn_score.mean():.4f} (seed 1: {other.mean():.4f}, gap {gap_sklearn:.4f})")

if failures:
    print("\n".join(["", "MISMATCHES:"] + failures))
    sys.exit(1)
print("all anomaly reference checks passed")
