-- Monthly cohort retention: customers active in each month since their first month.
WITH active AS (
    SELECT DISTINCT customer_id, date_trunc('month', ts) AS month
    FROM transactions
), cohorts AS (
    SELECT customer_id, min(month) AS cohort
    FROM active
    GROUP BY customer_id
)
SELECT c.cohort,
       (CAST(extract(year FROM a.month) AS INT) - CAST(extract(year FROM c.cohort) AS INT)) * 12
         + CAST(extract(month FROM a.month) AS INT) - CAST(extract(month FROM c.cohort) AS INT) AS months_since,
       count(*) AS active_customers
FROM active a
JOIN cohorts c ON a.customer_id = c.customer_id
GROUP BY 1, 2
ORDER BY 1, 2;
