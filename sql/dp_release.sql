-- Differentially private release: card spend by region and segment, within a privacy budget.
--
-- Run it as an analyst, whose role has a budget of epsilon 10 per dataset in
-- any 30 days (src/demo/policy.toml):
--   finsight run --dir demo_data --user adam sql/dp_release.sql
-- or as the researcher dana, who may read customers and transactions only
-- through DP aggregates. As the data owner it spends from the tables' own
-- budgets. Every release is charged to both datasets it reads (transactions
-- and customers) and recorded in the audit trail; the analyst sees what is
-- left in privacy.budgets.

-- Spend in the first half of 2025 per region and segment. Each customer is
-- one privacy unit: at most one group (a customer has one region and
-- segment) and at most 100 transactions per group, each clamped to
-- [0, 500]. Groups with too few customers are not released.
SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS (
         epsilon = 1.0, delta = 1e-6,
         privacy_unit_column = t.customer_id,
         max_groups_contributed = 1, max_rows_per_group = 100)
       c.region, c.segment,
       COUNT(DISTINCT t.customer_id) AS customers,
       COUNT(*) AS transactions,
       round(SUM(t.amount, 0, 500), 0) AS spend,
       round(AVG(t.amount, 0, 500), 2) AS mean_amount
FROM transactions t JOIN customers c ON t.customer_id = c.customer_id
WHERE t.ts >= TIMESTAMP '2025-01-01 00:00:00'
GROUP BY c.region, c.segment
ORDER BY c.region, c.segment;

-- What it cost, without spending anything.
EXPLAIN SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS (
         epsilon = 1.0, delta = 1e-6,
         privacy_unit_column = t.customer_id,
         max_groups_contributed = 1, max_rows_per_group = 100)
       c.region, c.segment, COUNT(*) AS transactions, SUM(t.amount, 0, 500) AS spend
FROM transactions t JOIN customers c ON t.customer_id = c.customer_id
GROUP BY c.region, c.segment;

-- The release was charged to both datasets.
ASSERT (SELECT min(epsilon_spent) FROM privacy.budgets
        WHERE user_name = current_user() AND dataset IN ('transactions', 'customers')) >= 1.0,
       'the release is charged to transactions and customers';

-- Customers per branch region: the regions come from the public branch
-- list (public_groups), so every region appears, without a threshold.
SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS (
         epsilon = 0.5, privacy_unit_column = customer_id, public_groups = branches)
       region, COUNT(DISTINCT customer_id) AS customers
FROM customers
GROUP BY region
ORDER BY region;

-- A release beyond the budget is refused before it runs.
-- expect error: privacy budget exceeded
SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS (
         epsilon = 50, delta = 1e-6, privacy_unit_column = customer_id)
       segment, COUNT(*) FROM customers GROUP BY segment;

-- What is left.
SELECT dataset, epsilon_limit, epsilon_spent, epsilon_remaining, budget_window, queries
FROM privacy.budgets
WHERE user_name = current_user() AND dataset IN ('transactions', 'customers')
ORDER BY dataset;
