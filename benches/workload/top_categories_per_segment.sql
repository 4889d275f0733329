-- The five merchant categories with the most spend in each customer segment.
WITH spend AS (
    SELECT c.segment, t.merchant_category,
           sum(t.amount) AS spend, count(*) AS transactions
    FROM transactions t
    JOIN customers c ON c.customer_id = t.customer_id
    GROUP BY c.segment, t.merchant_category
), ranked AS (
    SELECT segment, merchant_category, spend, transactions,
           row_number() OVER (PARTITION BY segment ORDER BY spend DESC, merchant_category) AS rank
    FROM spend
)
SELECT segment, rank, merchant_category, spend, transactions
FROM ranked
WHERE rank <= 5
ORDER BY segment, rank;
