-- Fairness audit of the demo bank's credit model before it goes live, as a
-- model-risk team runs it: rates and gaps per group (gender, age band,
-- region, gender x age band), calibration by group, a post-processing
-- mitigation with its effect, and the bank's policy as ASSERTs on the
-- decisions that will be used, so CI fails when a model breaks it.
--
--   finsight demo --dir bank --no-repl
--   finsight run --dir bank sql/fairness_audit.sql
--
-- loans.model_score is the model's probability of default; a loan is
-- approved when it is below 0.25. label = repaid (the favourable outcome
-- happened), prediction = approved. The demo generator overstates women's
-- risk on purpose (+0.35 on the logit); on the demo's few thousand loans
-- that is smaller than the sampling noise of most gaps, while the age gap in
-- equal opportunity (young applicants who would repay are refused more
-- often) is not, which is what the mitigation below corrects.
--
-- Policy (a typical model-risk standard; the numbers are arguments):
--   P1  four-fifths rule: every group's approval rate >= 0.8 x the
--       reference group's, for gender, age band, region and gender x age band;
--   P2  equal opportunity: true positive rates (approval among those who
--       repay) within 0.1 of the reference group, for gender and age band;
--   P3  calibration in the large: per gender and age band, mean predicted PD
--       within 0.05 of the observed default rate (groups of 100 loans or
--       more: below that the observed rate alone is noisier than 0.05);
--   groups under 30 loans are reported as too small, not compared.

CREATE VIEW loan_decisions AS
SELECT l.loan_id, l.gender, age_band(l.age_at_application, 15, 60) AS age_band, c.region,
       CAST(NOT l.defaulted AS INT) AS repaid, CAST(l.approved AS INT) AS approved,
       l.model_score
FROM loans l JOIN customers c USING (customer_id);

-- 1. The current model, group by group.
SELECT 'gender' AS attribute, group_name, rows, round(selection_rate, 3) AS approval_rate,
       round(true_positive_rate, 3) AS tpr, round(false_positive_rate, 3) AS fpr,
       round(disparate_impact, 3) AS disparate_impact, too_small, passed
FROM fairness_report('SELECT gender, repaid, approved FROM loan_decisions', 'M', 0.1, 0.8, 30)
UNION ALL
SELECT 'age_band', group_name, rows, round(selection_rate, 3), round(true_positive_rate, 3),
       round(false_positive_rate, 3), round(disparate_impact, 3), too_small, passed
FROM fairness_report('SELECT age_band, repaid, approved FROM loan_decisions', '30-44', 0.1, 0.8, 30)
UNION ALL
SELECT 'region', group_name, rows, round(selection_rate, 3), round(true_positive_rate, 3),
       round(false_positive_rate, 3), round(disparate_impact, 3), too_small, passed
FROM fairness_report('SELECT region, repaid, approved FROM loan_decisions', 'central', 0.1, 0.8, 30)
UNION ALL
SELECT 'gender x age_band', group_name, rows, round(selection_rate, 3), round(true_positive_rate, 3),
       round(false_positive_rate, 3), round(disparate_impact, 3), too_small, passed
FROM fairness_report('SELECT gender || ''/'' || age_band, repaid, approved FROM loan_decisions', 'M/30-44', 0.1, 0.8, 30)
ORDER BY attribute, group_name;

-- Calibration by gender: predicted PD against observed default rate per
-- score bin (scikit-learn's calibration_curve per group).
SELECT group_name AS gender, bin_low, bin_high, rows, round(mean_score, 3) AS predicted_pd,
       round(observed_rate, 3) AS observed_default_rate,
       round(expected_calibration_error, 4) AS ece
FROM calibration_by_group('SELECT gender, CAST(1 - repaid AS INT), model_score FROM loan_decisions', 5)
ORDER BY gender, bin_low;

-- 2. Mitigation: one threshold per age band on the score 1 - PD so that
-- every band has the same true positive rate (equal opportunity) at the
-- current overall rate; the effect on each band's rates and accuracy.
CREATE TABLE age_thresholds AS
SELECT * FROM group_thresholds(
  'SELECT age_band, repaid, 1 - model_score, approved FROM loan_decisions', 'true_positive_rate');

SELECT group_name AS age_band, rows, round(1 - threshold, 4) AS max_pd_approved,
       round(selection_rate_before, 3) AS approval_before, round(selection_rate_after, 3) AS approval_after,
       round(true_positive_rate_before, 3) AS tpr_before, round(true_positive_rate_after, 3) AS tpr_after,
       round(false_positive_rate_before, 3) AS fpr_before, round(false_positive_rate_after, 3) AS fpr_after,
       round(accuracy_before, 3) AS accuracy_before, round(accuracy_after, 3) AS accuracy_after
FROM age_thresholds ORDER BY age_band;

-- The decisions that would go live.
CREATE VIEW live_decisions AS
SELECT d.*, CAST(1 - d.model_score >= t.threshold AS INT) AS approved_live
FROM loan_decisions d JOIN age_thresholds t ON d.age_band = t.group_name;

-- 3. The policy, on the live decisions.
-- P1: the four-fifths rule for every attribute (max_gap 1: the rate gaps are
-- checked by P2 where the policy asks for them).
ASSERT (SELECT bool_and(all_passed) FROM fairness_report(
          'SELECT gender, repaid, approved_live FROM live_decisions', 'M', 1.0, 0.8, 30)),
  'P1 four-fifths rule by gender';
ASSERT (SELECT bool_and(all_passed) FROM fairness_report(
          'SELECT age_band, repaid, approved_live FROM live_decisions', '30-44', 1.0, 0.8, 30)),
  'P1 four-fifths rule by age band';
ASSERT (SELECT bool_and(all_passed) FROM fairness_report(
          'SELECT region, repaid, approved_live FROM live_decisions', 'central', 1.0, 0.8, 30)),
  'P1 four-fifths rule by region';
ASSERT (SELECT bool_and(all_passed) FROM fairness_report(
          'SELECT gender || ''/'' || age_band, repaid, approved_live FROM live_decisions', 'M/30-44', 1.0, 0.8, 30)),
  'P1 four-fifths rule by gender x age band';

-- P2: equal opportunity by gender and by age band (groups of 30 or more).
ASSERT NOT EXISTS (
  SELECT group_name FROM fairness_report(
    'SELECT gender, repaid, approved_live FROM live_decisions', 'M', 1.0, 0.0, 30)
  WHERE NOT too_small AND abs(true_positive_rate_gap) > 0.1),
  'P2 equal opportunity by gender';
ASSERT NOT EXISTS (
  SELECT group_name FROM fairness_report(
    'SELECT age_band, repaid, approved_live FROM live_decisions', '30-44', 1.0, 0.0, 30)
  WHERE NOT too_small AND abs(true_positive_rate_gap) > 0.1),
  'P2 equal opportunity by age band';

-- P3: calibration in the large by gender and age band.
ASSERT NOT EXISTS (
  SELECT attribute, grp FROM (
    SELECT 'gender' AS attribute, gender AS grp, count(*) AS n,
           avg(model_score) - avg(1 - repaid) AS miscalibration
    FROM loan_decisions GROUP BY gender
    UNION ALL
    SELECT 'age_band', age_band, count(*), avg(model_score) - avg(1 - repaid)
    FROM loan_decisions GROUP BY age_band)
  WHERE n >= 100 AND abs(miscalibration) > 0.05),
  'P3 calibration in the large within 0.05 per gender and age band';

-- The mitigation keeps the bank's volume and accuracy: overall approvals
-- within 3 points of today's and overall accuracy within 1 point. (Per
-- band, equalising at the overall rate lowers the oldest bands' TPR, and
-- with it their accuracy, by about 3 points: the table above shows it.)
SELECT round(avg(approved), 4) AS approval_before, round(avg(approved_live), 4) AS approval_after,
       round(avg(CASE WHEN approved = repaid THEN 1.0 ELSE 0.0 END), 4) AS accuracy_before,
       round(avg(CASE WHEN approved_live = repaid THEN 1.0 ELSE 0.0 END), 4) AS accuracy_after,
       round(equal_opportunity_diff(age_band, repaid, approved), 4) AS age_tpr_gap_before,
       round(equal_opportunity_diff(age_band, repaid, approved_live), 4) AS age_tpr_gap_after
FROM live_decisions;

ASSERT (SELECT abs(avg(approved_live) - avg(approved)) <= 0.03 FROM live_decisions),
  'the mitigation keeps overall approvals within 3 points';
ASSERT (SELECT avg(CASE WHEN approved_live = repaid THEN 1.0 ELSE 0.0 END)
               >= avg(CASE WHEN approved = repaid THEN 1.0 ELSE 0.0 END) - 0.01
        FROM live_decisions),
  'the mitigation costs at most 1 point of overall accuracy';
