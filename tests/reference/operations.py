"""Operations statistics against scipy, statsmodels and scikit-uplift, run live.

Usage: python operations.py FINSIGHT_BINARY WORK_DIR
Writes seeded synthetic campaign, sales and survey data to WORK_DIR as CSV,
asks finsight for ab_test_proportions, ab_test_means, chi_square_test,
price_elasticity and qini_coefficient, and compares every statistic with the
reference library's value computed on the same rows: statistics and p-values
to 1e-9 (relative for large values), as the issue requires. Exits 1 listing
every mismatch.
"""
import io
import subprocess
import sys

import numpy as np
import pandas as pd
import scipy
import sklift
import statsmodels
import statsmodels.api as sm
from scipy import stats
from sklift.metrics import qini_auc_score
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

BINARY, WORK = sys.argv[1], sys.argv[2]
failures = []
rng = np.random.default_rng(20261203)


def sql(query):
    done = subprocess.run([BINARY, "--format", "csv", "-c", query], cwd=WORK, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"finsight failed on:\n{query}\n{done.stderr}")
    return pd.read_csv(io.StringIO(done.stdout))


def check_close(what, actual, expected, tol=1e-9):
    actual, expected = float(actual), float(expected)
    difference = abs(actual - expected)
    ok = difference <= tol * max(1.0, abs(expected))
    print(f"{'ok' if ok else 'FAIL':4} {what}: {actual!r} vs {expected!r} (difference {difference:.1e})")
    if not ok:
        failures.append(f"{what}: {actual!r} vs {expected!r}")


print(f"scipy {scipy.__version__}, statsmodels {statsmodels.__version__}, scikit-uplift {sklift.__version__}")

# --- A/B tests: three campaigns of different size and effect ---------------
rows = []
for campaign, (n_control, n_treatment, p_control, p_treatment) in enumerate(
        [(4_000, 4_200, 0.040, 0.052), (900, 1_100, 0.10, 0.10), (25_000, 24_000, 0.012, 0.017)], start=1):
    for treated, n, p in [(0, n_control, p_control), (1, n_treatment, p_treatment)]:
        converted = rng.random(n) < p
        # Spend: heavy-tailed and with different spread per arm (Welch's case).
        spend = np.round(rng.lognormal(3.0 + 0.1 * treated, 0.8 + 0.3 * treated, n), 2)
        rows.append(pd.DataFrame({"campaign": campaign, "treated": treated,
                                  "converted": converted.astype(int), "spend": spend}))
ab = pd.concat(rows, ignore_index=True)
ab.to_csv(f"{WORK}/ab.csv", index=False)

fields = {"p": ["rate_control", "rate_treatment", "effect", "ci_low", "ci_high", "z", "p_value"],
          "p90": ["ci_low", "ci_high"],
          "m": ["mean_control", "mean_treatment", "effect", "ci_low", "ci_high", "t", "df", "p_value"],
          "m99": ["ci_low", "ci_high"]}
columns = ", ".join(f"{s}['{f}'] AS {s}_{f}" for s, names in fields.items() for f in names)
got = sql(f"""
    SELECT campaign, {columns}
    FROM (SELECT campaign,
                 ab_test_proportions(treated, converted) AS p,
                 ab_test_proportions(treated, converted, 0.9) AS p90,
                 ab_test_means(treated, spend) AS m,
                 ab_test_means(treated, spend, 0.99) AS m99
          FROM 'ab.csv' GROUP BY campaign) ORDER BY campaign""")
got = got.set_index("campaign")
for campaign, frame in ab.groupby("campaign"):
    g = got.loc[campaign]
    control, treatment = frame[frame.treated == 0], frame[frame.treated == 1]
    counts = np.array([treatment.converted.sum(), control.converted.sum()])
    nobs = np.array([len(treatment), len(control)])
    z, p = proportions_ztest(counts, nobs)
    low, high = confint_proportions_2indep(counts[0], nobs[0], counts[1], nobs[1], method="wald", compare="diff")
    low90, high90 = confint_proportions_2indep(counts[0], nobs[0], counts[1], nobs[1], method="wald",
                                               compare="diff", alpha=0.10)
    what = f"campaign {campaign} ab_test_proportions"
    check_close(f"{what} rate_control", g["p_rate_control"], counts[1] / nobs[1])
    check_close(f"{what} rate_treatment", g["p_rate_treatment"], counts[0] / nobs[0])
    check_close(f"{what} effect", g["p_effect"], counts[0] / nobs[0] - counts[1] / nobs[1])
    check_close(f"{what} z", g["p_z"], z)
    check_close(f"{what} p_value", g["p_p_value"], p)
    check_close(f"{what} ci_low", g["p_ci_low"], low)
    check_close(f"{what} ci_high", g["p_ci_high"], high)
    check_close(f"{what} ci_low (90%)", g["p90_ci_low"], low90)
    check_close(f"{what} ci_high (90%)", g["p90_ci_high"], high90)

    welch = stats.ttest_ind(treatment.spend, control.spend, equal_var=False)
    ci, ci99 = welch.confidence_interval(0.95), welch.confidence_interval(0.99)
    what = f"campaign {campaign} ab_test_means"
    check_close(f"{what} mean_control", g["m_mean_control"], control.spend.mean())
    check_close(f"{what} mean_treatment", g["m_mean_treatment"], treatment.spend.mean())
    check_close(f"{what} effect", g["m_effect"], treatment.spend.mean() - control.spend.mean())
    check_close(f"{what} t", g["m_t"], welch.statistic)
    check_close(f"{what} df", g["m_df"], welch.df)
    check_close(f"{what} p_value", g["m_p_value"], welch.pvalue)
    check_close(f"{what} ci_low", g["m_ci_low"], ci.low)
    check_close(f"{what} ci_high", g["m_ci_high"], ci.high)
    check_close(f"{what} ci_low (99%)", g["m99_ci_low"], ci99.low)
    check_close(f"{what} ci_high (99%)", g["m99_ci_high"], ci99.high)

# --- Chi-square test of independence: channel x region, and a 2x2 -----------
channels = rng.choice(["app", "web", "branch", "phone"], size=6_000, p=[0.5, 0.3, 0.15, 0.05])
region_weights = {"app": [0.5, 0.3, 0.2], "web": [0.4, 0.35, 0.25], "branch": [0.3, 0.3, 0.4], "phone": [0.4, 0.3, 0.3]}
regions = np.array([rng.choice(["north", "south", "east"], p=region_weights[c]) for c in channels])
survey = pd.DataFrame({"channel": channels, "region": regions, "complained": (rng.random(6_000) < 0.1).astype(int)})
survey.to_csv(f"{WORK}/survey.csv", index=False)
for rows_col, cols_col in [("channel", "region"), ("channel", "complained")]:
    got = sql(f"""SELECT t['chi_square'] AS chi2, t['dof'] AS dof, t['p_value'] AS p, t['cramers_v'] AS v, t['n'] AS n
                  FROM (SELECT chi_square_test({rows_col}, {cols_col}) AS t FROM 'survey.csv')""").iloc[0]
    table = pd.crosstab(survey[rows_col], survey[cols_col])
    chi2, p, dof, _ = stats.chi2_contingency(table, correction=False)
    v = stats.contingency.association(table, method="cramer", correction=False)
    what = f"chi_square_test({rows_col}, {cols_col})"
    check_close(f"{what} statistic", got["chi2"], chi2)
    check_close(f"{what} dof", got["dof"], dof)
    check_close(f"{what} p_value", got["p"], p)
    check_close(f"{what} cramers_v", got["v"], v)

# --- Price elasticity: weekly sales of three products -------------------------
sales = []
for product, (elasticity, level) in {"card_fx": (-1.7, 6.0), "overdraft": (-0.6, 4.0), "savings": (-2.4, 7.0)}.items():
    price = np.round(rng.uniform(0.5, 9.5, 156), 2)
    units = np.round(np.exp(level + elasticity * np.log(price) + rng.normal(0, 0.25, 156)), 1)
    sales.append(pd.DataFrame({"product": product, "price": price, "units": units}))
sales = pd.concat(sales, ignore_index=True)
sales.to_csv(f"{WORK}/sales.csv", index=False)
got = sql("""SELECT product, e['elasticity'] AS e, e['std_error'] AS se, e['t'] AS t, e['p_value'] AS p,
                    e['intercept'] AS a, e['r_squared'] AS r2
             FROM (SELECT product, price_elasticity(units, price) AS e FROM 'sales.csv' GROUP BY product)""")
for _, g in got.iterrows():
    frame = sales[sales["product"] == g["product"]]
    fit = sm.OLS(np.log(frame.units), sm.add_constant(np.log(frame.price))).fit()
    what = f"price_elasticity {g['product']}"
    check_close(f"{what} elasticity", g["e"], fit.params["price"])
    check_close(f"{what} std_error", g["se"], fit.bse["price"])
    check_close(f"{what} t", g["t"], fit.tvalues["price"])
    check_close(f"{what} p_value", g["p"], fit.pvalues["price"], tol=1e-9)
    check_close(f"{what} intercept", g["a"], fit.params["const"])
    check_close(f"{what} r_squared", g["r2"], fit.rsquared)

# --- Qini coefficient: an uplift model with ties, on a randomised campaign ----
n = 20_000
persuadability = rng.normal(0, 1, n)
treated = (rng.random(n) < 0.5).astype(int)
converted = (rng.random(n) < 0.03 + treated * 0.02 * (1 + np.tanh(persuadability))).astype(int)
# A noisy model, rounded so that many customers tie.
predicted = np.round(persuadability + rng.normal(0, 1, n), 1)
uplift = pd.DataFrame({"segment": rng.integers(1, 4, n), "predicted": predicted, "treated": treated,
                       "converted": converted})
uplift.to_csv(f"{WORK}/uplift.csv", index=False)
got = sql("""SELECT segment, qini_coefficient(predicted, treated, converted) AS q,
                    qini_coefficient(-predicted, treated, converted) AS q_reversed
             FROM 'uplift.csv' GROUP BY segment""")
for _, g in got.iterrows():
    frame = uplift[uplift.segment == g["segment"]]
    check_close(f"qini_coefficient segment {g['segment']}", g["q"],
                qini_auc_score(frame.converted, frame.predicted, frame.treated), tol=1e-12)
    check_close(f"qini_coefficient segment {g['segment']} (reversed ranking)", g["q_reversed"],
                qini_auc_score(frame.converted, -frame.predicted, frame.treated), tol=1e-12)

if failures:
    print(f"\n{len(failures)} mismatches:")
    for f in failures:
        print("  " + f)
    sys.exit(1)
print("all operations statistics match their references")
