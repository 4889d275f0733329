"""Group-fairness metrics against fairlearn, run live.

Usage: python fairness.py FINSIGHT_BINARY DATA_DIR [DEMO_DIR]   (DATA_DIR = tests/data)
On the German credit model scores (german_credit/model_scores.csv: y_true =
1 - bad, the loan was repaid; y_pred = approve) by sex, by age group and by
their intersection, and on the demo bank's loans (DEMO_DIR, from `finsight
demo`: y_true = not defaulted, y_pred = approved) by gender, age band, region
and gender x age band, every finsight fairness aggregate and every rate of
fairness_report must equal fairlearn's to 1e-12; disparate impact must equal
AIF360's; calibration_by_group must equal scikit-learn's calibration_curve
per group; group_thresholds' thresholds must equal a brute-force search over
every candidate threshold. Exits 1 listing every mismatch.
"""
import io
import os
import subprocess
import sys

import aif360
import fairlearn
import numpy as np
import pandas as pd
import sklearn
from aif360.datasets import BinaryLabelDataset
from aif360.metrics import BinaryLabelDatasetMetric
from fairlearn.metrics import (MetricFrame, demographic_parity_difference, demographic_parity_ratio,
                               equalized_odds_difference, false_negative_rate, false_positive_rate,
                               selection_rate, true_positive_rate)
from sklearn.calibration import calibration_curve
from sklearn.metrics import precision_score

BINARY, DATA = sys.argv[1], sys.argv[2]
failures = []


def sql(query, directory=DATA):
    # tests/data is not a bank directory: its queries name files relative to it.
    options = [] if directory == DATA else ["--dir", os.path.abspath(directory)]
    done = subprocess.run([BINARY, "--format", "csv", *options, "-c", query], cwd=directory,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"finsight failed on:\n{query}\n{done.stderr}")
    return pd.read_csv(io.StringIO(done.stdout))


def check_close(what, actual, expected, atol=1e-12):
    actual, expected = float(actual), float(expected)
    ok = abs(actual - expected) <= atol
    print(f"{'ok' if ok else 'FAIL':4} {what}: {actual!r} vs {expected!r} (difference {abs(actual - expected):.1e})")
    if not ok:
        failures.append(f"{what}: {actual!r} vs {expected!r}")


def check_metrics(dataset, table, directory, label_sql, prediction_sql, y_true, y_pred, groups):
    """The six aggregates and fairness_report's rates against fairlearn, and
    disparate impact against AIF360, for every grouping in `groups`."""
    for name, (expression, sensitive) in groups.items():
        name = f"{dataset} by {name}"
        args = f"{expression}, {label_sql}, {prediction_sql}"
        got = sql(f"""
            SELECT demographic_parity_diff({args}) AS dpd, demographic_parity_ratio({args}) AS dpr,
                   equal_opportunity_diff({args}) AS eod, equalized_odds_diff({args}) AS eqodds,
                   predictive_parity_diff({args}) AS ppd, false_negative_rate_diff({args}) AS fnrd
            FROM {table}""", directory).iloc[0]
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
        reference = sensitive.value_counts().idxmax()
        inner = f"SELECT {args} FROM {table}"
        report = sql(f"""
            SELECT group_name, rows, selection_rate, true_positive_rate, false_positive_rate, precision,
                   disparate_impact
            FROM fairness_report('{quoted(inner)}', '{reference}', 0.1, 0.8, 1)""", directory)
        frame_by_group = MetricFrame(
            metrics={"count": lambda t, p: len(t), "selection_rate": selection_rate,
                     "tpr": true_positive_rate, "fpr": false_positive_rate,
                     "precision": lambda t, p: precision_score(t, p, zero_division=0)},
            y_true=y_true, y_pred=y_pred, sensitive_features=sensitive).by_group
        for _, row in report.iterrows():
            group = row["group_name"]
            expected = frame_by_group.loc[group]
            check_close(f"{name}={group}: rows", row["rows"], expected["count"], 0)
            check_close(f"{name}={group}: selection_rate", row["selection_rate"], expected["selection_rate"])
            check_close(f"{name}={group}: true_positive_rate", row["true_positive_rate"], expected["tpr"])
            check_close(f"{name}={group}: false_positive_rate", row["false_positive_rate"], expected["fpr"])
            check_close(f"{name}={group}: precision", row["precision"], expected["precision"])
            if group != reference:
                # AIF360: P(granted | unprivileged) / P(granted | privileged),
                # the reference group as the privileged one.
                members = pd.DataFrame({"granted": np.asarray(y_pred, dtype=float),
                                        "member": (sensitive == group).to_numpy(),
                                        "privileged": (sensitive == reference).astype(float).to_numpy()})
                members = members[members.member | (members.privileged == 1)]
                binary = BinaryLabelDataset(df=members[["granted", "privileged"]], label_names=["granted"],
                                            protected_attribute_names=["privileged"],
                                            favorable_label=1.0, unfavorable_label=0.0)
                impact = BinaryLabelDatasetMetric(binary, unprivileged_groups=[{"privileged": 0.0}],
                                                  privileged_groups=[{"privileged": 1.0}]).disparate_impact()
                check_close(f"{name}={group}: disparate_impact (AIF360)", row["disparate_impact"], impact)
        if len(report) != len(frame_by_group):
            failures.append(f"{name}: {len(report)} groups vs {len(frame_by_group)}")


def quoted(text):
    return text.replace("'", "''")


def check_calibration(dataset, table, directory, group_sql, label_sql, score_sql, frame, group, label, score):
    """calibration_by_group against sklearn's calibration_curve per group."""
    inner = f"SELECT {group_sql}, {label_sql}, {score_sql} FROM {table}"
    for bins in (10, 7):
        got = sql(f"""SELECT group_name, bin, rows, mean_score, observed_rate, expected_calibration_error
                      FROM calibration_by_group('{quoted(inner)}', {bins}) ORDER BY group_name, bin""", directory)
        for name, part in frame.groupby(group):
            mine = got[got.group_name == str(name)]
            prob_true, prob_pred = calibration_curve(part[label], part[score], n_bins=bins, strategy="uniform")
            what = f"{dataset} calibration_by_group({bins} bins) {name}"
            if len(mine) != len(prob_true):
                failures.append(f"{what}: {len(mine)} bins vs {len(prob_true)}")
                continue
            for k in range(len(mine)):
                check_close(f"{what} bin {mine.bin.iloc[k]} observed_rate", mine.observed_rate.iloc[k], prob_true[k])
                check_close(f"{what} bin {mine.bin.iloc[k]} mean_score", mine.mean_score.iloc[k], prob_pred[k])
            counts = np.bincount(np.searchsorted(np.linspace(0, 1, bins + 1)[1:-1], part[score]), minlength=bins)
            counts = counts[counts > 0]
            check_close(f"{what} rows", mine.rows.sum(), counts.sum(), 0)
            ece = float(np.sum(counts / counts.sum() * np.abs(prob_true - prob_pred)))
            check_close(f"{what} expected_calibration_error", mine.expected_calibration_error.iloc[0], ece)


def check_thresholds(dataset, table, directory, group_sql, label_sql, score_sql, decision_sql, frame, group,
                     label, score, decision):
    """group_thresholds against a brute-force search: for each group, every
    candidate threshold (each distinct score, and +inf), the highest one whose
    rate is closest to the target."""
    inner = f"SELECT {group_sql}, {label_sql}, {score_sql}, {decision_sql} FROM {table}"
    for constraint in ("selection_rate", "true_positive_rate"):
        got = sql(f"""SELECT group_name, threshold, target, selection_rate_after, true_positive_rate_after,
                             accuracy_before, accuracy_after
                      FROM group_thresholds('{quoted(inner)}', '{constraint}')""", directory)
        positives = frame[label] == 1
        if constraint == "selection_rate":
            target = frame[decision].mean()
        else:
            target = frame.loc[positives, decision].mean()
        for _, row in got.iterrows():
            part = frame[frame[group].astype(str) == row["group_name"]]
            candidates = np.concatenate([[np.inf], np.sort(part[score].unique())[::-1]])
            if constraint == "selection_rate":
                rates = np.array([(part[score] >= t).mean() for t in candidates])
            else:
                rates = np.array([(part.loc[part[label] == 1, score] >= t).mean() for t in candidates])
            best = candidates[int(np.argmin(np.abs(rates - target)))]  # the first, i.e. highest, of ties
            what = f"{dataset} group_thresholds({constraint}) {row['group_name']}"
            check_close(f"{what} target", row["target"], target)
            if np.isinf(best) or np.isinf(row["threshold"]):
                ok = np.isinf(best) and np.isinf(row["threshold"])
                print(f"{'ok' if ok else 'FAIL':4} {what} threshold: {row['threshold']} vs {best}")
                if not ok:
                    failures.append(f"{what} threshold {row['threshold']} vs {best}")
            else:
                check_close(f"{what} threshold", row["threshold"], best, 0)
            chosen = part[score] >= best
            check_close(f"{what} selection_rate_after", row["selection_rate_after"], chosen.mean())
            check_close(f"{what} true_positive_rate_after", row["true_positive_rate_after"],
                        chosen[part[label] == 1].mean())
            check_close(f"{what} accuracy_before", row["accuracy_before"], (part[decision] == part[label]).mean())
            check_close(f"{what} accuracy_after", row["accuracy_after"], (chosen == (part[label] == 1)).mean())


print(f"fairlearn {fairlearn.__version__}, aif360 {aif360.__version__}, scikit-learn {sklearn.__version__}")

# German credit (Statlog), the model scores in tests/data.
frame = pd.read_csv(f"{DATA}/german_credit/model_scores.csv")
frame["repaid"] = 1 - frame["bad"]
frame["safety"] = 1 - frame["p_bad_numeric7"]
table = "'german_credit/model_scores.csv'"
check_metrics("german credit", table, DATA, "1 - bad", "approve", frame["repaid"], frame["approve"], {
    "sex": ("sex", frame["sex"]),
    "age_group": ("age_group", frame["age_group"]),
    # Intersectional: one group per (sex, age group) pair.
    "sex x age_group": ("sex || '/' || age_group", frame["sex"] + "/" + frame["age_group"]),
})
check_calibration("german credit", table, DATA, "sex", "bad", "p_bad_numeric7", frame, "sex", "bad",
                  "p_bad_numeric7")
check_thresholds("german credit", table, DATA, "age_group", "1 - bad", "1 - p_bad_numeric7", "approve", frame,
                 "age_group", "repaid", "safety", "approve")

# The demo bank's loans, read straight from its Parquet files.
if len(sys.argv) > 3:
    demo = sys.argv[3]
    loans = pd.read_parquet(f"{demo}/loans")
    customers = pd.read_parquet(f"{demo}/customers")[["customer_id", "region"]]
    loans = loans.merge(customers, on="customer_id")
    band = (loans["age_at_application"] // 15 * 15).astype(int)
    loans["age_band"] = np.where(loans["age_at_application"] >= 60, "60+",
                                 band.astype(str) + "-" + (band + 14).astype(str))
    loans["repaid"] = (~loans["defaulted"]).astype(int)
    loans["approved_int"] = loans["approved"].astype(int)
    loans["defaulted_int"] = loans["defaulted"].astype(int)
    loans["safety"] = 1 - loans["model_score"]
    table = "loans l JOIN customers c USING (customer_id)"
    band_sql = "age_band(l.age_at_application, 15, 60)"
    check_metrics("demo loans", table, demo, "CAST(NOT l.defaulted AS INT)", "CAST(l.approved AS INT)",
                  loans["repaid"], loans["approved_int"], {
                      "gender": ("l.gender", loans["gender"]),
                      "age band": (band_sql, loans["age_band"]),
                      "region": ("c.region", loans["region"]),
                      "gender x age band": (f"l.gender || '/' || {band_sql}",
                                            loans["gender"] + "/" + loans["age_band"]),
                  })
    check_calibration("demo loans", table, demo, "l.gender", "CAST(l.defaulted AS INT)", "l.model_score", loans,
                      "gender", "defaulted_int", "model_score")
    check_thresholds("demo loans", table, demo, band_sql, "CAST(NOT l.defaulted AS INT)", "1 - l.model_score",
                     "CAST(l.approved AS INT)", loans, "age_band", "repaid", "safety", "approved_int")

if failures:
    print(f"{len(failures)} mismatches")
    sys.exit(1)
print("all fairness metrics equal fairlearn")
