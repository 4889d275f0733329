-- Monthly cohort retention, observed and predicted. A cohort is the month
-- of a customer's first card purchase; retention in month k is the share of
-- the cohort that bought in month k. The BG/NBD model fitted on purchases up
-- to 2024-12-31 then predicts each cohort's purchases in the 2025 holdout,
-- which is compared with what happened (a standard check of a CLV model).
--
--   finsight --dir demo_data run sql/cohort_retention.sql

CREATE OR REPLACE VIEW purchases AS
SELECT customer_id, ts, amount FROM transactions WHERE amount > 0 AND NOT is_fraud;

CREATE TABLE activity AS
SELECT customer_id, date_trunc('month', ts) AS month, min(date_trunc('month', ts)) OVER (PARTITION BY customer_id) AS cohort
FROM purchases GROUP BY customer_id, date_trunc('month', ts);

CREATE TABLE retention AS
SELECT cohort,
       (date_part('year', month) - date_part('year', cohort)) * 12
         + date_part('month', month) - date_part('month', cohort) AS months_since_first,
       count(*) AS active_customers,
       count(*) * 1.0 / max(count(*)) OVER (PARTITION BY cohort) AS retention
FROM activity GROUP BY cohort, month;

ASSERT NOT EXISTS (SELECT 1 FROM retention WHERE retention > 1 OR retention <= 0), 'retention is a share';
ASSERT NOT EXISTS (SELECT 1 FROM retention WHERE months_since_first = 0 AND retention <> 1),
  'every cohort is fully active in its first month';

-- The 2023 cohorts, first six months (rows: cohort; columns: month since first purchase).
SELECT cohort,
       round(max(retention) FILTER (WHERE months_since_first = 1), 3) AS m1,
       round(max(retention) FILTER (WHERE months_since_first = 2), 3) AS m2,
       round(max(retention) FILTER (WHERE months_since_first = 3), 3) AS m3,
       round(max(retention) FILTER (WHERE months_since_first = 6), 3) AS m6,
       round(max(retention) FILTER (WHERE months_since_first = 12), 3) AS m12
FROM retention WHERE cohort < TIMESTAMP '2023-07-01'
GROUP BY cohort ORDER BY cohort;

-- Calibration to 2024-12-31, holdout to 2025-06-30, in weeks.
CREATE TABLE split AS
SELECT customer_id, cohort, s.frequency_cal AS frequency, s.recency_cal AS recency, s."T_cal" AS t,
       s.frequency_holdout AS actual, s.duration_holdout AS holdout_weeks
FROM (SELECT p.customer_id, min(date_trunc('quarter', p.ts)) AS cohort,
             calibration_holdout_summary(p.ts, p.amount, DATE '2024-12-31', DATE '2025-06-30', 'weeks') AS s
      FROM purchases p GROUP BY p.customer_id)
WHERE s IS NOT NULL;

CREATE TABLE holdout_model AS SELECT bgnbd_fit(frequency, recency, t) AS m FROM split;

CREATE TABLE holdout_check AS
SELECT cohort, count(*) AS customers, sum(actual) AS actual_purchases,
       sum(bgnbd_expected_purchases(h.m, holdout_weeks, frequency, recency, t)) AS predicted_purchases
FROM split CROSS JOIN holdout_model h GROUP BY cohort;

-- BG/NBD assumes a stationary purchase rate; the demo bank has December
-- peaks, which the calibration period contains and the January-June holdout
-- does not, so the model over-predicts the holdout, most for the cohorts
-- acquired in the autumn (about +12% overall at scale 1). The check pins the
-- direction and the size of that known bias.
ASSERT (SELECT sum(predicted_purchases) / sum(actual_purchases) FROM holdout_check) BETWEEN 1.0 AND 1.2,
  'BG/NBD over-predicts the Jan-Jun holdout by less than 20% (seasonality)';

SELECT cohort, customers, actual_purchases, round(predicted_purchases, 0) AS predicted_purchases,
       round(predicted_purchases / actual_purchases - 1, 3) AS relative_error
FROM holdout_check ORDER BY cohort;
