"""Group-fairness metrics against fairlearn, run live.

Usage: python fairness.py FINSIGHT_BINARY DATA_DIR   (DATA_DIR = tests/data)
On the German credit model scores (german_credit/model_scores.csv: y_true =
1 - bad, the loan was repaid; y_pred = approve) by sex, by age group and by
their intersection, every finsight fairness aggregate must equal fairlearn's
metric to 1e-12. Exits 1 listing every mismatch.
"""
import io
import subprocess
import sys

import fairlearn
import pandas as pd
from fairlearn.metrics import (MetricFrame, demographic_parity_difference, demographic_parity_ratio,
                               equalized_odds_difference, false_negative_rate, false_positive_rate,
                               selection_rate, true_positive_rate)
from sklearn.metrics import precision_score

BINARY, DATA = sys.argv[1], sys.argv[2]
failures = []


def sql(query):
    done = subprocess.run([BINARY, "--format", "csv", "-c", query], cwd=DATA, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"finsight failed on:\n{query}\n{done.stderr}")
    return pd.read_csv(io.StringIO(done.stdout))


def check_close(what, actual, expected, atol=1e-12):
    actual, expected = float(actual), float(expected)
    ok = abs(actual - expected) <= atol
    print(f"{'ok' if ok else 'FAIL':4} {what}: {actual!r} vs {expected!r} (difference {abs(actual - expected):.1e})")
    if not ok:
        failures.append(f"{what}: {actual!r} vs {expected!r}")


frame = pd.read_csv(f"{DATA}/german_credit/model_scores.csv")
y_true, y_pred = 1 - frame["bad"], frame["approve"]
groups = {
    "sex": ("sex", frame["sex"]),
    "age_group": ("age_group", frame["age_group"]),
    # Intersectional: one group per (sex, age group) pair.
    "sex x age_group": ("sex || '/' || age_group", frame["sex"] + "/" + frame["age_group"]),
}
print(f"fairlearn {fairlearn.__version__}")
for name, (expression, sensitive) in groups.items():
    got = sql(f"""
        SELECT demographic_parity_diff({expression}, 1 - bad, approve) AS dpd,
               demographic_parity_ratio({expression}, 1 - bad, approve) AS dpr,
               equal_opportunity_diff({expression}, 1 - bad, approve) AS eod,
               equalized_odds_diff({expression}, 1 - bad, approve) AS eqodds,
               predictive_parity_diff({expression}, 1 - bad, approve) AS ppd,
               false_negative_rate_diff({expression}, 1 - bad, approve) AS fnrd
        FROM 'german_credit/model_scores.csv'""").iloc[0]
    kwargs = {"sensitive_features": sensitive}
    check_close(f"{name}: demographic_parity_diff", got["dpd"],
                demographic_parity_difference(y_true, y_pred, **kwargs))
    check_close(f"{name}: demographic_parity_ratio", got["dpr"],
                demographic_parity_ratio(y_true, y_pred, **kwargs))
    check_close(f"{name}: equalized_odds_diff", got["eqodds"],
                equalized_odds_difference(y_true, y_pred, **kwargs))
    by_group = MetricFrame(metrics={"precision": lambda t, p: precision_score(t, p, zero_division=0),
                                    "fnr": false_negative_rate, "tpr": true_positive_rate},
                           y_true=y_true, y_pred=y_pred, **kwargs)
    gaps = by_group.difference(method="between_groups")
    # fairlearn >= 0.10's equal_opportunity_difference is exactly this TPR gap.
    check_close(f"{name}: equal_opportunity_diff (MetricFrame true_positive_rate)", got["eod"], gaps["tpr"])
    check_close(f"{name}: predictive_parity_diff (MetricFrame precision)", got["ppd"], gaps["precision"])
    check_close(f"{name}: false_negative_rate_diff (MetricFrame)", got["fnrd"], gaps["fnr"])

# fairness_report's per-group rates against MetricFrame.by_group.
for name, (expression, sensitive) in groups.items():
    inner = f"SELECT {expression}, 1 - bad, approve FROM 'german_credit/model_scores.csv'"
    report = sql(f"""
        SELECT group_name, rows, selection_rate, true_positive_rate, false_positive_rate, precision
        FROM fairness_report('{inner.replace("'", "''")}', '{sensitive.iloc[0]}', 0.1, 0.8, 1)""")
    frame_by_group = MetricFrame(
        metrics={"count": lambda t, p: len(t), "selection_rate": selection_rate,
                 "tpr": true_positive_rate, "fpr": false_positive_rate,
                 "precision": lambda t, p: precision_score(t, p, zero_division=0)},
        y_true=y_true, y_pred=y_pred, sensitive_features=sensitive).by_group
    for _, row in report.iterrows():
        expected = frame_by_group.loc[row["group_name"]]
        check_close(f"{name}={row['group_name']}: rows", row["rows"], expected["count"], 0)
        check_close(f"{name}={row['group_name']}: selection_rate", row["selection_rate"], expected["selection_rate"])
        check_close(f"{name}={row['group_name']}: true_positive_rate", row["true_positive_rate"], expected["tpr"])
        check_close(f"{name}={row['group_name']}: false_positive_rate", row["false_positive_rate"], expected["fpr"])
        check_close(f"{name}={row['group_name']}: precision", row["precision"], expected["precision"])
    if len(report) != len(frame_by_group):
        failures.append(f"{name}: {len(report)} groups vs {len(frame_by_group)}")

if failures:
    print(f"{len(failures)} mismatches")
    sys.exit(1)
print("all fairness metrics equal fairlearn")
