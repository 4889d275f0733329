"""Credit-risk metrics and binning against scikit-learn, scipy and numpy, run live.

Usage: python risk.py FINSIGHT_BINARY DATA_DIR   (DATA_DIR = tests/data)
Exits 1 listing every mismatch.
"""
import io
import os
import subprocess
import sys
import tempfile

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve

BINARY, DATA = sys.argv[1], sys.argv[2]
failures = []


def sql(query, cwd=DATA):
    done = subprocess.run([BINARY, "--format", "csv", "-c", query], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"finsight failed on:\n{query}\n{done.stderr}")
    return pd.read_csv(io.StringIO(done.stdout))


def check_close(what, actual, expected, atol):
    actual, expected = float(actual), float(expected)
    ok = abs(actual - expected) <= atol
    print(f"{'ok' if ok else 'FAIL':4} {what}: {actual!r} vs {expected!r} (difference {abs(actual - expected):.1e}, atol {atol:g})")
    if not ok:
        failures.append(f"{what}: {actual!r} vs {expected!r}")


def reference_metrics(score, label):
    fpr, tpr, _ = roc_curve(label, score)
    auc = roc_auc_score(label, score)
    return {"auc": auc, "gini": 2 * auc - 1, "ks_roc": float(np.max(tpr - fpr)),
            "ks_2samp": ks_2samp(score[label == 1], score[label == 0]).statistic}


def compare(what, path, cwd, score_column, label_column, groups=None):
    frame = pd.read_csv(os.path.join(cwd, path)) if path.endswith(".csv") else pd.read_parquet(os.path.join(cwd, path))
    got = sql(f"""SELECT auc({score_column}, {label_column}) AS auc, gini({score_column}, {label_column}) AS gini,
                         ks_statistic({score_column}, {label_column}) AS ks FROM '{path}'""", cwd=cwd).iloc[0]
    expected = reference_metrics(frame[score_column].to_numpy(), frame[label_column].to_numpy())
    check_close(f"{what}: auc vs sklearn roc_auc_score", got["auc"], expected["auc"], 1e-12)
    check_close(f"{what}: gini vs 2 roc_auc_score - 1", got["gini"], expected["gini"], 1e-12)
    check_close(f"{what}: ks_statistic vs max(tpr - fpr) of sklearn roc_curve", got["ks"], expected["ks_roc"], 1e-12)
    check_close(f"{what}: ks_statistic vs scipy ks_2samp", got["ks"], expected["ks_2samp"], 1e-12)


# 1. The German credit model scores (7-variable logistic regression, REFERENCE.md 3b).
compare("german credit p_bad_numeric7", "model_scores.csv", os.path.join(DATA, "german_credit"), "p_bad_numeric7", "bad")

# 2. 200,000 scores rounded to 2 decimals (heavy ties), an event rate of 5%, and a weak signal.
rng = np.random.default_rng(11)
n = 200_000
label = (rng.random(n) < 0.05).astype(np.int64)
score = np.round(rng.normal(0.0, 1.0, n) + 0.6 * label, 2)
with tempfile.TemporaryDirectory() as tmp:
    pd.DataFrame({"score": score, "label": label}).to_parquet(os.path.join(tmp, "scores.parquet"))
    compare("200k tied scores", "scores.parquet", tmp, "score", "label")

    # 3. Per group, as a monitoring query would run it: AUC by month.
    month = rng.integers(1, 13, n)
    pd.DataFrame({"score": score, "label": label, "month": month}).to_parquet(os.path.join(tmp, "monthly.parquet"))
    got = sql("SELECT month, auc(score, label) AS auc FROM 'monthly.parquet' GROUP BY month ORDER BY month", cwd=tmp)
    worst = 0.0
    for m, value in zip(got["month"], got["auc"]):
        mask = month == m
        worst = max(worst, abs(value - roc_auc_score(label[mask], score[mask])))
    check_close("auc per month (12 groups), largest difference from sklearn", worst, 0.0, 1e-12)

# 4. Binning edges on the German credit characteristics: numpy's linspace and quantile, and the
#    monotonic merge against scikit-learn's isotonic regression of the fine bins' bad rates.
credit = pd.read_parquet(os.path.join(DATA, "german_credit", "germancredit.parquet"))
bad = (credit["creditability"] == "bad").to_numpy(dtype=float)
for column in ["duration_in_month", "credit_amount", "age_in_years"]:
    x = credit[column].to_numpy(dtype=float)
    for bins in [4, 10]:
        got = sql(f"""SELECT array_to_string(equal_width_edges({column}, {bins}), '|') AS width,
                             array_to_string(equal_frequency_edges({column}, {bins}), '|') AS freq,
                             array_to_string(monotonic_edges({column}, creditability = 'bad', {bins}), '|') AS mono
                      FROM 'germancredit.parquet'""", cwd=os.path.join(DATA, "german_credit")).fillna("").iloc[0]
        parse = lambda text: [float(v) for v in str(text).split("|") if v != ""]
        width = np.linspace(x.min(), x.max(), bins + 1)[1:-1]
        quantiles = np.quantile(x, [k / bins for k in range(1, bins)])
        freq = []
        for q in quantiles:
            if q > x.min() and (not freq or q > freq[-1]):
                freq.append(q)
        what = f"{column}, {bins} bins"
        if parse(got["width"]) != list(width):
            failures.append(f"equal_width_edges {what}: {got['width']} vs numpy {list(width)}")
        if parse(got["freq"]) != freq:
            failures.append(f"equal_frequency_edges {what}: {got['freq']} vs numpy {freq}")
        # Fine bins as finsight's equal-frequency bins (checked above), then isotonic regression of the bin
        # bad rates weighted by bin size, in the direction of corr(x, bad); merged bins = runs of equal fits.
        fine = np.asarray(freq)
        index = np.searchsorted(fine, x, side="right")
        counts = np.bincount(index, minlength=len(fine) + 1)
        events = np.bincount(index, weights=bad, minlength=len(fine) + 1)
        fitted = IsotonicRegression(increasing=bool(np.cov(x, bad)[0, 1] >= 0)).fit(
            np.arange(len(counts)), events / counts, sample_weight=counts).predict(np.arange(len(counts)))
        mono = [float(fine[i]) for i in range(len(fine)) if not np.isclose(fitted[i], fitted[i + 1], rtol=0, atol=1e-12)]
        if parse(got["mono"]) != mono:
            failures.append(f"monotonic_edges {what}: {got['mono']} vs isotonic regression {mono}")
        print(f"ok   {what}: equal_width_edges = numpy.linspace, equal_frequency_edges = numpy.quantile, "
              f"monotonic_edges = isotonic regression ({len(mono) + 1} bins)"
              if parse(got["width"]) == list(width) and parse(got["freq"]) == freq and parse(got["mono"]) == mono
              else f"FAIL {what}")

# 5. PSI of a shifted score distribution: numpy shares over the baseline's equal-frequency bins.
with tempfile.TemporaryDirectory() as tmp:
    rng = np.random.default_rng(5)
    baseline_scores = np.round(rng.normal(600, 50, 40_000), 1)
    current_scores = np.round(rng.normal(610, 55, 30_000), 1)
    pd.DataFrame({"score": np.concatenate([baseline_scores, current_scores]),
                  "is_actual": np.r_[np.zeros(40_000, bool), np.ones(30_000, bool)]}).to_parquet(
        os.path.join(tmp, "psi.parquet"))
    got = sql("SELECT psi_scores(score, is_actual, 10) AS psi FROM 'psi.parquet'", cwd=tmp).iloc[0]["psi"]
    quantiles = np.quantile(baseline_scores, [k / 10 for k in range(1, 10)])
    edges = []
    for q in quantiles:
        if q > baseline_scores.min() and (not edges or q > edges[-1]):
            edges.append(q)
    e = np.bincount(np.searchsorted(edges, baseline_scores, side="right"), minlength=len(edges) + 1) / len(baseline_scores)
    a = np.bincount(np.searchsorted(edges, current_scores, side="right"), minlength=len(edges) + 1) / len(current_scores)
    e, a = np.maximum(e, 1e-4), np.maximum(a, 1e-4)
    check_close("psi_scores vs numpy shares over the baseline deciles", got, float(np.sum((a - e) * np.log(a / e))), 1e-12)

# 6. Market risk on 40 simulated portfolios (fat-tailed P&L, returns against a benchmark): numpy's
#    quantile for historical VaR/ES, scipy for the Gaussian and Cornish-Fisher VaR, empyrical for
#    Sharpe, Sortino, beta and maximum drawdown.
import empyrical
from scipy.stats import kurtosis, norm, skew

with tempfile.TemporaryDirectory() as tmp:
    rng = np.random.default_rng(21)
    portfolios, days = 40, 750
    bench = rng.normal(0.0003, 0.01, days)
    rows = []
    for p in range(portfolios):
        pnl = rng.standard_t(4, days) * rng.uniform(1_000, 5_000) + rng.normal(50, 10)
        ret = 0.8 * bench + rng.normal(0.0002, 0.008, days) * (1 + p / portfolios)
        rows.append(pd.DataFrame({"portfolio": p, "day": np.arange(days), "pnl": pnl, "ret": ret, "bench": bench}))
    frame = pd.concat(rows).sample(frac=1.0, random_state=3)  # shuffled: order comes from `day`
    frame.to_parquet(os.path.join(tmp, "portfolios.parquet"))
    got = sql("""SELECT portfolio, var_historical(pnl, 0.99) AS var, expected_shortfall(pnl, 0.975) AS es,
                        var_parametric(pnl, 0.99) AS var_n, var_cornish_fisher(pnl, 0.99) AS var_cf,
                        var_monte_carlo(pnl, 0.99, 1, 200000, 11) AS var_mc,
                        sharpe_ratio(ret, 0.0001, 252) AS sharpe, sortino_ratio(ret, 0, 252) AS sortino,
                        beta(ret, bench) AS beta, max_drawdown(ret, day) AS mdd
                 FROM 'portfolios.parquet' GROUP BY portfolio ORDER BY portfolio""", cwd=tmp)
    worst = {k: 0.0 for k in ["var", "es", "var_n", "var_cf", "sharpe", "sortino", "beta", "mdd", "var_mc"]}
    for _, row in got.iterrows():
        g = frame[frame["portfolio"] == row["portfolio"]].sort_values("day")
        pnl, ret = g["pnl"].to_numpy(), g["ret"].to_numpy()
        q975 = np.quantile(pnl, 0.025)
        mean, sd = pnl.mean(), pnl.std(ddof=1)
        z = norm.ppf(0.01)
        s, k = skew(pnl), kurtosis(pnl)
        z_cf = z + (z**2 - 1) * s / 6 + (z**3 - 3 * z) * k / 24 - (2 * z**3 - 5 * z) * s**2 / 36
        expected = {
            "var": -np.quantile(pnl, 0.01), "es": -pnl[pnl <= q975].mean(),
            "var_n": -(mean + sd * z), "var_cf": -(mean + sd * z_cf),
            "sharpe": empyrical.sharpe_ratio(ret, risk_free=0.0001, annualization=252),
            "sortino": empyrical.sortino_ratio(ret, required_return=0, annualization=252),
            "beta": empyrical.beta(ret, g["bench"].to_numpy()), "mdd": empyrical.max_drawdown(ret),
        }
        for key, value in expected.items():
            worst[key] = max(worst[key], abs(row[key] - value) / abs(value))
        # A bootstrap of 200,000 one-day draws puts about 1/750 of the draws on each historical
        # value, so its 1% quantile is the 7th or the 8th smallest P&L (7/750 and 8/750 are each
        # more than 3 standard errors from 1%): VaR between -x(8) and -x(7).
        ordered = np.sort(pnl)
        if not (-ordered[7] - 1e-9 <= row["var_mc"] <= -ordered[6] + 1e-9):
            worst["var_mc"] = max(worst["var_mc"], 1.0)
    labels = {"var": "var_historical vs -numpy.quantile", "es": "expected_shortfall vs numpy tail mean",
              "var_n": "var_parametric vs scipy norm.ppf", "var_cf": "var_cornish_fisher vs scipy skew/kurtosis",
              "sharpe": "sharpe_ratio vs empyrical", "sortino": "sortino_ratio vs empyrical",
              "beta": "beta vs empyrical", "mdd": "max_drawdown vs empyrical (rows shuffled)"}
    for key, label in labels.items():
        check_close(f"{label}, {portfolios} portfolios, largest relative difference", worst[key], 0.0, 1e-9)
    check_close("var_monte_carlo (200,000 one-day draws) between the 7th and 8th worst day, portfolios outside",
                worst["var_mc"], 0.0, 0.0)

# 7. Fraud scores on 30 simulated cards: scipy's zscore and median_abs_deviation per card, pandas'
#    exponentially weighted mean for EWMA volatility, and scipy's chisquare for the Benford test.
from scipy.stats import chisquare, median_abs_deviation, zscore

with tempfile.TemporaryDirectory() as tmp:
    rng = np.random.default_rng(8)
    cards = pd.concat([pd.DataFrame({"card": c, "seq": np.arange(n), "amount": np.round(rng.lognormal(3, 1.2, n), 2)})
                       for c, n in enumerate(rng.integers(5, 400, 30))])
    cards.to_parquet(os.path.join(tmp, "cards.parquet"))
    got = sql("""SELECT card, seq, zscore(amount) OVER (PARTITION BY card) AS z,
                        robust_zscore(amount) OVER (PARTITION BY card) AS rz,
                        ewma_volatility(amount / 1000, 0.94) OVER (PARTITION BY card ORDER BY seq) AS vol
                 FROM 'cards.parquet' ORDER BY card, seq""", cwd=tmp)
    expected_z, expected_rz, expected_vol = [], [], []
    for _, g in cards.sort_values(["card", "seq"]).groupby("card"):
        a = g["amount"].to_numpy()
        expected_z.extend(zscore(a))
        expected_rz.extend((a - np.median(a)) / median_abs_deviation(a, scale="normal"))
        expected_vol.extend(((g["amount"] / 1000) ** 2).ewm(alpha=0.06, adjust=False).mean() ** 0.5)
    for label, column, expected in [("zscore vs scipy.stats.zscore", "z", expected_z),
                                    ("robust_zscore vs scipy median_abs_deviation(scale='normal')", "rz", expected_rz),
                                    ("ewma_volatility vs pandas ewm(alpha=0.06, adjust=False)", "vol", expected_vol)]:
        diff = np.max(np.abs(got[column].to_numpy() - np.asarray(expected)) / np.maximum(np.abs(expected), 1e-12))
        check_close(f"{label}, {len(cards)} transactions, largest relative difference", diff, 0.0, 1e-9)

    got = sql("SELECT t['chi_square'] AS chi, t['p_value'] AS p, t['mad'] AS mad FROM "
              "(SELECT benford_test(amount) AS t FROM 'cards.parquet')", cwd=tmp).iloc[0]
    # The first significant digit of each amount's shortest decimal form (amounts are 0.01 to 1e5).
    digits = np.array([int(repr(abs(a)).lstrip("0.")[0]) for a in cards["amount"] if a != 0])
    observed = np.bincount(digits, minlength=10)[1:]
    benford_p = np.log10(1 + 1 / np.arange(1, 10))
    reference = chisquare(observed, benford_p * observed.sum())
    check_close("benford_test chi_square vs scipy.stats.chisquare", got["chi"], reference.statistic, 1e-9)
    check_close("benford_test p_value vs scipy.stats.chisquare", got["p"], reference.pvalue, 1e-12)
    check_close("benford_test mad vs numpy", got["mad"], np.mean(np.abs(observed / observed.sum() - benford_p)), 1e-15)

# 8. The scorecard's three-characteristic model (REFERENCE.md 3a): reference.json's coefficients come
#    from lbfgs at its default tolerance, which stops about 1e-3 short; at tol=1e-12 scikit-learn and
#    logistic_regression_fit agree.
reference = __import__("json").load(open(os.path.join(DATA, "german_credit", "reference.json")))
with tempfile.TemporaryDirectory() as tmp:
    def woe(column):
        binning = reference["binning"][column]
        index = np.searchsorted(binning["edges"], credit[column].to_numpy(), side="right")
        return np.array([binning["bins"][i]["woe"] for i in index])
    X = np.c_[woe("duration_in_month"), woe("credit_amount"), woe("age_in_years")]
    pd.DataFrame({"bad": bad.astype(int), "wd": X[:, 0], "wm": X[:, 1], "wg": X[:, 2]}).to_parquet(
        os.path.join(tmp, "woe3.parquet"))
    got = sql("SELECT m['intercept'] AS i, m['coefficients'][1] AS c1, m['coefficients'][2] AS c2, "
              "m['coefficients'][3] AS c3 FROM (SELECT logistic_regression_fit(bad, wd, wm, wg, 'C=1000000') AS m "
              "FROM 'woe3.parquet')", cwd=tmp).iloc[0]
    model = LogisticRegression(C=1e6, tol=1e-12, max_iter=100_000).fit(X, bad.astype(int))
    expected = [model.intercept_[0], *model.coef_[0]]
    worst = max(abs(g - e) for g, e in zip([got["i"], got["c1"], got["c2"], got["c3"]], expected))
    check_close("logistic_regression_fit on the reference WoE vs scikit-learn (tol 1e-12), largest difference",
                worst, 0.0, 1e-6)

# 9. VaR backtests of 12 simulated desks (volatility clusters under a rolling Gaussian VaR, some
#    desks with the VaR understated): Kupiec and Christoffersen from their published likelihood
#    ratios with scipy's chi2, the Basel zone from scipy's binomial CDF. Then component VaR of
#    4 portfolios of 6 correlated instruments against numpy's covariance matrix (Euler allocation,
#    and the marginal VaR as a numerical derivative of sqrt(w' S w) VaR) and numpy's quantile.
from scipy.stats import binom, chi2

def xlogy(x, y):
    return 0.0 if x == 0 else x * np.log(y)

def backtest_reference(pnl, var, confidence):
    hits = (pnl < -var).astype(int)
    n, x, p = len(hits), int(hits.sum()), 1 - confidence
    kupiec = -2 * (xlogy(n - x, 1 - p) + xlogy(x, p) - xlogy(n - x, 1 - x / n) - xlogy(x, x / n))
    t = np.zeros((2, 2))
    np.add.at(t, (hits[:-1], hits[1:]), 1)
    (n00, n01), (n10, n11) = t
    pi0, pi1 = n01 / max(n00 + n01, 1), n11 / max(n10 + n11, 1)
    pi = (n01 + n11) / (n - 1)
    christoffersen = -2 * (xlogy(n00 + n10, 1 - pi) + xlogy(n01 + n11, pi)
                           - xlogy(n00, 1 - pi0) - xlogy(n01, pi0) - xlogy(n10, 1 - pi1) - xlogy(n11, pi1))
    cumulative = binom.cdf(x, n, p)
    zone = "green" if cumulative < 0.95 else ("yellow" if cumulative < 0.9999 else "red")
    return {"x": x, "kupiec": kupiec, "kupiec_p": chi2.sf(kupiec, 1), "ind": christoffersen,
            "ind_p": chi2.sf(christoffersen, 1), "cc_p": chi2.sf(kupiec + christoffersen, 2), "zone": zone}

with tempfile.TemporaryDirectory() as tmp:
    rng = np.random.default_rng(34)
    rows, expected = [], {}
    for desk in range(12):
        days = 250 + 125 * (desk % 3)
        vol = np.empty(days + 60)
        vol[0], shock = 0.01, rng.standard_normal(days + 60)
        for t in range(1, days + 60):  # GARCH(1,1): clustered volatility, so clustered exceedances
            vol[t] = np.sqrt(1e-6 + 0.1 * (vol[t - 1] * shock[t - 1]) ** 2 + 0.88 * vol[t - 1] ** 2)
        pnl = 1e6 * vol * shock
        rolling_sd = pd.Series(pnl).rolling(60).std().shift(1).to_numpy()
        var = -norm.ppf(0.01) * rolling_sd * (1.0 - 0.05 * desk)  # later desks understate VaR
        if desk % 4 == 0:  # the true conditional VaR: a correct model
            var = -norm.ppf(0.01) * 1e6 * vol
        pnl, var = pnl[60:], var[60:]
        rows.append(pd.DataFrame({"desk": desk, "day": pd.date_range("2024-01-01", periods=days), "pnl": pnl, "var": var}))
        expected[desk] = backtest_reference(pnl, var, 0.99)
    frame = pd.concat(rows).sample(frac=1.0, random_state=5)
    frame.to_parquet(os.path.join(tmp, "desks.parquet"))
    got = sql("""SELECT desk, b['exceedances'] AS x, b['kupiec_lr'] AS kupiec, b['kupiec_p_value'] AS kupiec_p,
                        b['christoffersen_lr'] AS ind, b['christoffersen_p_value'] AS ind_p,
                        b['conditional_coverage_p_value'] AS cc_p, b['traffic_light'] AS zone
                 FROM (SELECT desk, var_backtest(pnl, var, day, 0.99) AS b FROM 'desks.parquet' GROUP BY desk)
                 ORDER BY desk""", cwd=tmp)
    worst = {k: 0.0 for k in ["x", "kupiec", "kupiec_p", "ind", "ind_p", "cc_p"]}
    zones_differ = 0
    for _, row in got.iterrows():
        e = expected[row["desk"]]
        for key in worst:
            # Relative, except near 0, where a likelihood ratio (5 of 500 at 99% is exactly on the
            # expected rate) or a p-value is compared absolutely.
            floor = 1.0 if key in ("kupiec", "ind") else 1e-300
            worst[key] = max(worst[key], abs(row[key] - e[key]) / max(abs(e[key]), floor) if key != "x" else abs(row[key] - e[key]))
        zones_differ += row["zone"] != e["zone"]
    print(f"     desks: exceedances {list(got['x'])}, zones {list(got['zone'])}")
    check_close("var_backtest exceedances vs numpy, 12 desks (rows shuffled), largest difference", worst["x"], 0, 0)
    for key, label in [("kupiec", "Kupiec LR vs the published formula (absolute below 1)"), ("kupiec_p", "Kupiec p vs scipy chi2.sf"),
                       ("ind", "Christoffersen LR vs the published formula (absolute below 1)"),
                       ("ind_p", "Christoffersen p vs scipy chi2.sf"), ("cc_p", "conditional coverage p vs scipy chi2.sf(df 2)")]:
        check_close(f"var_backtest {label}, 12 desks, largest relative difference", worst[key], 0.0, 1e-9)
    check_close("var_backtest traffic_light vs scipy binom.cdf zones, desks that differ", zones_differ, 0, 0)
    if set(got["zone"]) != {"green", "yellow", "red"} or (got["ind_p"] < 0.05).sum() == 0:
        failures.append("the simulated desks should span the three zones and include clustered exceedances")

    symbols, days = [f"S{i}" for i in range(6)], 500
    correlation = 0.3 + 0.7 * np.eye(6)
    scale = np.array([1.0, 2.0, 0.5, 3.0, 1.5, 0.8])
    changes = rng.multivariate_normal(np.full(6, 0.02), correlation * np.outer(scale, scale), days)
    changes += 0.5 * rng.standard_t(3, (days, 6)) * scale  # fat tails for the historical method
    prices = pd.DataFrame([{"day": d, "symbol": s, "change": changes[d, i]}
                           for d in range(days) for i, s in enumerate(symbols)])
    positions = pd.DataFrame([{"portfolio": p, "symbol": s, "quantity": float(q)}
                              for p in range(4) for s, q in zip(symbols, rng.integers(-50, 200, 6)) if q != 0])
    prices.to_parquet(os.path.join(tmp, "changes.parquet"))
    positions.to_parquet(os.path.join(tmp, "positions.parquet"))
    got = sql("""WITH pnl AS (SELECT p.portfolio, p.symbol, p.quantity, c.day, p.quantity * c.change AS pnl
                              FROM 'positions.parquet' p JOIN 'changes.parquet' c ON p.symbol = c.symbol),
                      book AS (SELECT *, sum(pnl) OVER (PARTITION BY portfolio, day) AS total FROM pnl)
                 SELECT portfolio, symbol, component_var(pnl, total, 0.99) AS component,
                        component_var(pnl, total, 0.99) / first_value(quantity) AS marginal,
                        component_var_historical(pnl, total, 0.99) AS component_hist
                 FROM book GROUP BY portfolio, symbol ORDER BY portfolio, symbol""", cwd=tmp)
    totals = sql("""SELECT portfolio, var_parametric(total, 0.99) AS var_n, var_historical(total, 0.99) AS var_h
                    FROM (SELECT p.portfolio, c.day, sum(p.quantity * c.change) AS total
                          FROM 'positions.parquet' p JOIN 'changes.parquet' c ON p.symbol = c.symbol GROUP BY 1, 2)
                    GROUP BY portfolio ORDER BY portfolio""", cwd=tmp)
    cov, mean, z = np.cov(changes, rowvar=False), changes.mean(axis=0), norm.ppf(0.01)
    index = {s: i for i, s in enumerate(symbols)}

    def covariance_var(w):
        return -(w @ mean + z * np.sqrt(w @ cov @ w))

    worst = {"component": 0.0, "marginal": 0.0, "sum_n": 0.0, "hist": 0.0, "sum_h": 0.0}
    for portfolio, g in got.groupby("portfolio"):
        held = positions[positions["portfolio"] == portfolio]
        w = np.zeros(6)
        w[[index[s] for s in held["symbol"]]] = held["quantity"].to_numpy()
        sigma = np.sqrt(w @ cov @ w)
        total_pnl = changes @ w
        order = np.argsort(total_pnl, kind="stable")
        h = (days - 1) * 0.01
        lo, frac = int(np.floor(h)), h - np.floor(h)
        for _, row in g.iterrows():
            i = index[row["symbol"]]
            component = -(w[i] * mean[i] + z * w[i] * (cov @ w)[i] / sigma)
            step = 1e-4 * max(abs(w[i]), 1.0)
            up, down = w.copy(), w.copy()
            up[i] += step
            down[i] -= step
            marginal = (covariance_var(up) - covariance_var(down)) / (2 * step)
            position_pnl = w[i] * changes[:, i]
            hist = -(position_pnl[order[lo]] + frac * (position_pnl[order[lo + 1]] - position_pnl[order[lo]]))
            worst["component"] = max(worst["component"], abs(row["component"] - component) / abs(component))
            worst["marginal"] = max(worst["marginal"], abs(row["marginal"] - marginal) / abs(marginal))
            worst["hist"] = max(worst["hist"], abs(row["component_hist"] - hist) / max(abs(hist), 1.0))
        total = totals[totals["portfolio"] == portfolio].iloc[0]
        worst["sum_n"] = max(worst["sum_n"], abs(g["component"].sum() - covariance_var(w)) / covariance_var(w),
                             abs(total["var_n"] - covariance_var(w)) / covariance_var(w))
        var_h = -np.quantile(total_pnl, 0.01)
        worst["sum_h"] = max(worst["sum_h"], abs(g["component_hist"].sum() - var_h) / var_h,
                             abs(total["var_h"] - var_h) / var_h)
    check_close("component_var vs numpy Euler allocation w_i (S w)_i / sqrt(w' S w), largest relative difference",
                worst["component"], 0.0, 1e-9)
    check_close("component_var / quantity vs a central difference of numpy's covariance VaR, largest relative difference",
                worst["marginal"], 0.0, 1e-6)
    check_close("sum of component_var and var_parametric vs -(w'mu + z sqrt(w' S w)), largest relative difference",
                worst["sum_n"], 0.0, 1e-9)
    check_close("component_var_historical vs the position's P&L on numpy's 1% scenario, largest relative difference",
                worst["hist"], 0.0, 1e-9)
    check_close("sum of component_var_historical and var_historical vs -numpy.quantile, largest relative difference",
                worst["sum_h"], 0.0, 1e-9)

if failures:
    print("\n".join(["", "MISMATCHES:"] + failures))
    sys.exit(1)
print("all risk reference checks passed")
