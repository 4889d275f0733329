-- Recency, frequency and monetary (RFM) quintile scores per customer, with
-- ties broken by customer_id so every engine gives the same scores, and the
-- named segment of the 11-segment grid (\h rfm_segment shows the grid).

CREATE TABLE rfm AS
WITH summary AS (
  SELECT customer_id,
         DATE '2025-06-30' - CAST(max(ts) AS DATE) AS recency_days,
         count(*) AS frequency,
         sum(amount) AS monetary
  FROM transactions
  GROUP BY customer_id
)
SELECT customer_id, recency_days, frequency, monetary,
       ntile(5) OVER (ORDER BY recency_days DESC, customer_id) AS r_score,
       ntile(5) OVER (ORDER BY frequency, customer_id) AS f_score,
       ntile(5) OVER (ORDER BY monetary, customer_id) AS m_score
FROM summary;

CREATE TABLE rfm_named AS
SELECT *, rfm_segment(r_score, f_score, m_score) AS segment FROM rfm;

ASSERT (SELECT count(DISTINCT segment) FROM rfm_named) = 11, 'all eleven segments are populated';

ASSERT (SELECT avg(monetary) FROM rfm_named WHERE segment = 'Champions')
     > (SELECT avg(monetary) FROM rfm_named WHERE segment = 'Hibernating'),
  'Champions outspend Hibernating customers';

ASSERT (SELECT count(*) FROM rfm) = (SELECT count(DISTINCT customer_id) FROM transactions),
  'one RFM row per active customer';

ASSERT NOT EXISTS (SELECT * FROM rfm WHERE r_score NOT BETWEEN 1 AND 5 OR f_score NOT BETWEEN 1 AND 5),
  'scores are quintiles';

-- Best customers buy more recently, more often and spend more.
ASSERT (SELECT avg(monetary) FROM rfm WHERE r_score = 5 AND f_score = 5)
     > (SELECT avg(monetary) FROM rfm WHERE r_score = 1 AND f_score = 1),
  'RFM 5-5 customers outspend 1-1 customers';

SELECT segment, count(*) AS customers, round(avg(recency_days), 1) AS avg_recency_days,
       round(avg(frequency), 1) AS avg_purchases, round(avg(monetary), 2) AS avg_spend
FROM rfm_named
GROUP BY segment
ORDER BY avg_spend DESC;
