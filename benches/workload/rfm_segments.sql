-- RFM: recency, frequency and monetary value per customer, quintile scores
-- (ties broken by customer_id so both engines agree) and the segment sizes.
WITH per_customer AS (
    SELECT customer_id,
           DATE '2025-07-01' - CAST(max(ts) AS DATE) AS recency_days,
           count(*) AS frequency,
           sum(amount) AS monetary
    FROM transactions
    GROUP BY customer_id
), scored AS (
    SELECT customer_id, monetary,
           ntile(5) OVER (ORDER BY recency_days DESC, customer_id) AS r,
           ntile(5) OVER (ORDER BY frequency, customer_id) AS f,
           ntile(5) OVER (ORDER BY monetary, customer_id) AS m
    FROM per_customer
)
SELECT CASE
           WHEN r >= 4 AND f >= 4 AND m >= 4 THEN 'champions'
           WHEN r >= 3 AND f >= 3 THEN 'loyal'
           WHEN r >= 4 THEN 'recent'
           WHEN f >= 3 THEN 'at_risk'
           ELSE 'hibernating'
       END AS segment,
       r, f, m,
       count(*) AS customers,
       sum(monetary) AS monetary
FROM scored
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3, 4;
