-- The BG/NBD input per customer (as lifetimes' summary_data_from_transaction_data,
-- daily periods): frequency = repeat purchase days, recency = first to last
-- purchase day, T = first purchase day to the end of observation.
WITH days AS (
    SELECT DISTINCT customer_id, CAST(ts AS DATE) AS day
    FROM transactions
)
SELECT customer_id,
       count(*) - 1 AS frequency,
       max(day) - min(day) AS recency,
       DATE '2025-06-30' - min(day) AS t
FROM days
GROUP BY customer_id;
