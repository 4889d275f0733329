-- Customers x transactions: spend by region and age band.
WITH banded AS (
    SELECT c.region,
           CASE
               WHEN 2025 - CAST(extract(year FROM c.birth_date) AS INT) < 25 THEN '18-24'
               WHEN 2025 - CAST(extract(year FROM c.birth_date) AS INT) < 35 THEN '25-34'
               WHEN 2025 - CAST(extract(year FROM c.birth_date) AS INT) < 50 THEN '35-49'
               WHEN 2025 - CAST(extract(year FROM c.birth_date) AS INT) < 65 THEN '50-64'
               ELSE '65+'
           END AS age_band,
           t.customer_id, t.amount
    FROM transactions t
    JOIN customers c ON c.customer_id = t.customer_id
)
SELECT region, age_band,
       count(*) AS transactions,
       count(DISTINCT customer_id) AS customers,
       sum(amount) AS spend,
       avg(amount) AS avg_amount
FROM banded
GROUP BY region, age_band
ORDER BY region, age_band;
