-- Z-score of each transaction's amount against the customer's own history,
-- then how many are outliers and how often those are fraud.
WITH scored AS (
    SELECT is_fraud,
           (amount - avg(amount) OVER (PARTITION BY customer_id))
             / nullif(stddev_samp(amount) OVER (PARTITION BY customer_id), 0) AS z
    FROM transactions
)
SELECT CASE
           WHEN z IS NULL THEN 'no history'
           WHEN abs(z) >= 4 THEN '4+'
           WHEN abs(z) >= 3 THEN '3-4'
           WHEN abs(z) >= 2 THEN '2-3'
           ELSE '<2'
       END AS z_band,
       count(*) AS transactions,
       sum(CASE WHEN is_fraud THEN 1 ELSE 0 END) AS frauds
FROM scored
GROUP BY 1
ORDER BY 1;
