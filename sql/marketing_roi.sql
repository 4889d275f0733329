-- Marketing campaign evaluation on the demo bank: each campaign was a
-- randomised test (customers drawn at random into treatment, contacted, or
-- control, not contacted). For each campaign: the lift in response rate
-- with its confidence interval and p-value (two-proportion z-test), the
-- incremental value per customer (Welch's t-test), and the return on the
-- campaign's cost; then an uplift model (who responds *because* of the
-- contact), evaluated by decile and by its Qini coefficient on later
-- campaigns.
--
--   finsight demo --dir bank --no-repl
--   finsight run --dir bank sql/marketing_roi.sql
--
-- Campaign costs (campaigns.cost_per_contact, fixed_cost) are the bank's
-- full-scale costs: on a small demo bank the fixed costs dominate and ROI is
-- negative; from --scale 0.2 up half of the campaigns pay back.

CREATE VIEW responses AS
SELECT r.campaign_id, k.name AS campaign, k.start_date, r.customer_id,
       CAST(r.group_name = 'treatment' AS INT) AS treated, CAST(r.responded AS INT) AS responded,
       coalesce(r.response_value, 0) AS value, r.contacted_at, c.segment,
       CASE WHEN (k.start_date - c.birth_date) / 365.25 < 35 THEN 'under 35' ELSE '35 and over' END AS age_group
FROM campaign_responses r
JOIN campaigns k USING (campaign_id)
JOIN customers c USING (customer_id);

-- Integrity of the experiment. Control customers must never have been
-- contacted, and the arms must be the 50/50 split the randomisation drew:
-- a sample ratio mismatch (|z| > 3.29, p < 0.001) means the assignment or
-- the logging is broken and the campaign's result cannot be trusted.
ASSERT NOT EXISTS (SELECT 1 FROM responses WHERE treated = 0 AND contacted_at IS NOT NULL),
  'control customers were never contacted';
ASSERT NOT EXISTS (SELECT 1 FROM responses WHERE treated = 1 AND contacted_at IS NULL),
  'every treated customer was contacted';
ASSERT NOT EXISTS (
  SELECT campaign_id FROM responses GROUP BY campaign_id
  HAVING abs(sum(treated) - count(*) / 2.0) / sqrt(count(*) / 4.0) > 3.29),
  'no sample ratio mismatch between treatment and control';

-- 1. Each campaign's effect and return.
CREATE TABLE campaign_results AS
SELECT k.campaign_id, k.name, k.channel, t.rates, t.spend,
       t.rates['n_treatment'] * k.cost_per_contact + k.fixed_cost AS cost,
       -- What the contacts brought beyond what the same customers would
       -- have done anyway: the per-customer difference times those contacted.
       t.rates['effect'] * t.rates['n_treatment'] AS incremental_responders,
       t.spend['effect'] * t.spend['n_treatment'] AS incremental_value
FROM (SELECT campaign_id,
             ab_test_proportions(treated, responded) AS rates,
             ab_test_means(treated, value) AS spend
      FROM responses GROUP BY campaign_id) t
JOIN campaigns k USING (campaign_id);

SELECT name, channel, rates['n_treatment'] AS contacted, rates['n_control'] AS control,
       round(100 * rates['rate_treatment'], 2) AS response_pct, round(100 * rates['rate_control'], 2) AS control_pct,
       round(100 * rates['effect'], 2) AS lift_pts,
       '[' || round(100 * rates['ci_low'], 2) || ', ' || round(100 * rates['ci_high'], 2) || ']' AS lift_ci_95,
       round(rates['p_value'], 4) AS p_value,
       round(incremental_responders, 1) AS extra_responders,
       round(incremental_value, 0) AS extra_value, round(cost, 0) AS cost,
       round((incremental_value - cost) / cost, 2) AS roi
FROM campaign_results ORDER BY campaign_id;

-- All campaigns together: is contacting customers worth it at all?
SELECT r['n_treatment'] AS contacted, r['n_control'] AS control, round(100 * r['effect'], 3) AS lift_pts,
       round(100 * r['ci_low'], 3) AS ci_low_pts, round(100 * r['ci_high'], 3) AS ci_high_pts,
       round(r['p_value'], 6) AS p_value
FROM (SELECT ab_test_proportions(treated, responded) AS r FROM responses);

-- The demo campaigns do work (every campaign has a positive true uplift);
-- with 5,000 customers or more in the tests the pooled 95% interval must
-- exclude zero. (Below that the test is underpowered and the assertion has
-- nothing to say: the demo's smallest banks have a few hundred per arm.)
ASSERT NOT EXISTS (
  SELECT 1 FROM (SELECT ab_test_proportions(treated, responded) AS r FROM responses)
  WHERE r['n_treatment'] + r['n_control'] >= 5000 AND r['ci_low'] <= 0),
  'the campaigns raise the response rate (pooled 95% interval above zero)';

-- Is the response to contact independent of the customer segment? (Chi-square
-- test among the treated; a small p-value means the segments respond differently,
-- which is what targeting can exploit.)
SELECT t['n'] AS customers, round(t['chi_square'], 3) AS chi_square, t['dof'] AS dof,
       round(t['p_value'], 6) AS p_value, round(t['cramers_v'], 4) AS cramers_v
FROM (SELECT chi_square_test(segment, responded) AS t FROM responses WHERE treated = 1);

-- 2. An uplift model: the lift observed per (segment, age group) in the 2023
-- campaigns (a two-model, "T-learner" estimate), used to rank the customers
-- of the 2024 campaigns.
CREATE TABLE uplift_model AS
SELECT segment, age_group,
       avg(responded) FILTER (WHERE treated = 1) - avg(responded) FILTER (WHERE treated = 0) AS predicted_uplift,
       count(*) AS training_rows
FROM responses WHERE start_date < DATE '2024-01-01'
GROUP BY segment, age_group;

SELECT segment, age_group, round(100 * predicted_uplift, 2) AS predicted_uplift_pts, training_rows
FROM uplift_model ORDER BY predicted_uplift DESC;

CREATE TABLE scored AS
SELECT r.*, coalesce(m.predicted_uplift, 0) AS predicted_uplift,
       ntile(10) OVER (ORDER BY coalesce(m.predicted_uplift, 0) DESC, r.customer_id, r.campaign_id) AS decile
FROM responses r LEFT JOIN uplift_model m USING (segment, age_group)
WHERE r.start_date >= DATE '2024-01-01';

-- Uplift by decile of predicted uplift (decile 1 = most persuadable): the
-- observed lift should fall from the top deciles to the bottom ones.
SELECT decile, count(*) AS customers, round(100 * avg(predicted_uplift), 2) AS predicted_pts,
       round(100 * avg(responded) FILTER (WHERE treated = 1), 2) AS treated_pct,
       round(100 * avg(responded) FILTER (WHERE treated = 0), 2) AS control_pct,
       round(100 * (avg(responded) FILTER (WHERE treated = 1) - avg(responded) FILTER (WHERE treated = 0)), 2)
         AS observed_lift_pts
FROM scored GROUP BY decile ORDER BY decile;

-- The Qini coefficient of the model on the 2024 campaigns, overall and per
-- campaign (1 = perfect ranking, 0 = random).
SELECT * FROM (
  SELECT 'all 2024 campaigns' AS campaigns, count(*) AS customers,
         round(qini_coefficient(predicted_uplift, treated, responded), 4) AS qini
  FROM scored
  UNION ALL
  SELECT campaign, count(*), round(qini_coefficient(predicted_uplift, treated, responded), 4)
  FROM scored GROUP BY campaign)
ORDER BY customers DESC;

-- Targeting the top 30% by predicted uplift: the lift there, against
-- contacting everybody, with the tests' intervals.
SELECT target, r['n_treatment'] + r['n_control'] AS customers, round(100 * r['effect'], 2) AS lift_pts,
       round(100 * r['ci_low'], 2) AS ci_low_pts, round(100 * r['ci_high'], 2) AS ci_high_pts
FROM (SELECT CASE WHEN decile <= 3 THEN 'top 30%' ELSE 'other 70%' END AS target,
             ab_test_proportions(treated, responded) AS r
      FROM scored GROUP BY 1)
ORDER BY target DESC;

-- The model must rank better than random where there is enough data to
-- tell (2,000 customers or more in the 2024 campaigns).
ASSERT NOT EXISTS (
  SELECT 1 FROM (SELECT count(*) AS n, qini_coefficient(predicted_uplift, treated, responded) AS qini FROM scored)
  WHERE n >= 2000 AND qini <= 0),
  'the uplift model ranks better than random (Qini above zero)';
