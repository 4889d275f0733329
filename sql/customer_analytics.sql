-- Customer analytics on the demo bank, end to end in SQL: purchase
-- summaries, BG/NBD + Gamma-Gamma lifetime value, churn risk (model-based
-- and supervised), RFM and k-means segments, and suitable cross-sell
-- recommendations (association rules and item-item similarity).
--
--   finsight --dir demo_data run sql/customer_analytics.sql
--
-- Card purchases (positive, not fraud) up to 2025-06-30, in weeks.

CREATE OR REPLACE VIEW purchases AS
SELECT customer_id, ts, amount FROM transactions WHERE amount > 0 AND NOT is_fraud;

CREATE TABLE summary AS
SELECT customer_id, s.frequency AS frequency, s.recency AS recency, s."T" AS t,
       s.monetary_value AS monetary_value
FROM (SELECT customer_id, customer_summary(ts, amount, DATE '2025-06-30', 'weeks') AS s
      FROM purchases GROUP BY customer_id);

-- 1. Fit the two models once and keep them as a row of a table: they are
--    plain structs, reusable by any later query (or saved with COPY TO).
CREATE TABLE models AS
SELECT (SELECT bgnbd_fit(frequency, recency, t) FROM summary) AS purchases,
       (SELECT gamma_gamma_fit(frequency, monetary_value) FROM summary) AS spend;

ASSERT (SELECT purchases['converged'] AND spend['converged'] FROM models), 'both models converged';
ASSERT (SELECT purchases['r'] > 0 AND purchases['alpha'] > 0 AND purchases['a'] > 0 AND purchases['b'] > 0
        FROM models), 'BG/NBD parameters are positive';
ASSERT (SELECT spend['p'] > 0 AND spend['q'] > 1 AND spend['v'] > 0 FROM models),
  'Gamma-Gamma parameters are positive and the mean spend exists (q > 1)';
-- The Gamma-Gamma model assumes spend per purchase is independent of frequency.
ASSERT (SELECT abs(corr(frequency, monetary_value)) FROM summary WHERE frequency > 0) < 0.3,
  'spend is (nearly) independent of purchase frequency';

SELECT round(purchases['r'], 4) AS r, round(purchases['alpha'], 4) AS alpha,
       round(purchases['a'], 4) AS a, round(purchases['b'], 4) AS b,
       round(spend['p'], 3) AS p, round(spend['q'], 3) AS q, round(spend['v'], 3) AS v
FROM models;

-- 2. Per-customer value and churn risk.
CREATE TABLE customer_value AS
SELECT s.customer_id, s.frequency, s.recency, s.t, s.monetary_value,
       bgnbd_p_alive(m.purchases, s.frequency, s.recency, s.t) AS p_alive,
       churn_probability(m.purchases, s.frequency, s.recency, s.t) AS churn_risk,
       bgnbd_expected_purchases(m.purchases, 13, s.frequency, s.recency, s.t) AS purchases_next_quarter,
       gamma_gamma_expected_spend(m.spend, s.frequency, s.monetary_value) AS expected_spend,
       clv(m.purchases, m.spend, s.frequency, s.recency, s.t, s.monetary_value, 12, 0.01, 'weeks') AS clv_12m
FROM summary s CROSS JOIN models m;

ASSERT NOT EXISTS (SELECT 1 FROM customer_value
                   WHERE p_alive NOT BETWEEN 0 AND 1 OR churn_risk NOT BETWEEN 0 AND 1),
  'probabilities are in [0, 1]';
ASSERT NOT EXISTS (SELECT 1 FROM customer_value WHERE clv_12m < 0 OR purchases_next_quarter < 0),
  'values are non-negative';
-- Customers who closed their account in the window should look churned.
ASSERT (SELECT avg(v.churn_risk) FILTER (WHERE c.status = 'closed')
             > 2 * avg(v.churn_risk) FILTER (WHERE c.status = 'active')
        FROM customer_value v JOIN customers c USING (customer_id)),
  'closed customers score at least twice the churn risk of active ones';

-- 3. RFM segments with their value.
CREATE TABLE rfm_value AS
SELECT customer_id, churn_risk, clv_12m,
       rfm_segment(CAST(ntile(5) OVER (ORDER BY t - recency DESC, customer_id) AS BIGINT),
                   CAST(ntile(5) OVER (ORDER BY frequency, customer_id) AS BIGINT),
                   CAST(ntile(5) OVER (ORDER BY monetary_value, customer_id) AS BIGINT)) AS segment
FROM customer_value;

ASSERT (SELECT avg(clv_12m) FROM rfm_value WHERE segment = 'Champions')
     > (SELECT avg(clv_12m) FROM rfm_value WHERE segment = 'Lost'),
  'Champions are worth more than Lost customers';

SELECT segment, count(*) AS customers, round(avg(churn_risk), 3) AS avg_churn_risk,
       round(avg(clv_12m), 2) AS avg_clv_12m, round(sum(clv_12m), 0) AS total_clv_12m
FROM rfm_value GROUP BY segment ORDER BY avg_clv_12m DESC;

-- 4. Supervised churn: logistic regression of closing on the RFM summary.
CREATE TABLE churn_model AS
SELECT logistic_regression_fit(c.status = 'closed', v.frequency, v.t - v.recency, v.t,
                               ln(1 + v.monetary_value)) AS m
FROM customer_value v JOIN customers c USING (customer_id);

ASSERT (SELECT m['converged'] FROM churn_model), 'the churn model converged';
-- With an intercept the fitted probabilities average to the observed rate.
ASSERT (SELECT abs(avg(logistic_regression_predict(m.m, v.frequency, v.t - v.recency, v.t,
                                                   ln(1 + v.monetary_value)))
                   - avg(CASE WHEN c.status = 'closed' THEN 1.0 ELSE 0.0 END))
        FROM customer_value v JOIN customers c USING (customer_id) CROSS JOIN churn_model m) < 0.005,
  'mean predicted churn matches the observed rate';

-- 5. Behavioural segments: k-means on standardised log features.
CREATE TABLE features AS
SELECT customer_id,
       (ln(1 + frequency) - avg(ln(1 + frequency)) OVER ()) / stddev(ln(1 + frequency)) OVER () AS f,
       ((t - recency) - avg(t - recency) OVER ()) / stddev(t - recency) OVER () AS r,
       (ln(1 + monetary_value) - avg(ln(1 + monetary_value)) OVER ()) / stddev(ln(1 + monetary_value)) OVER () AS m
FROM customer_value;

CREATE TABLE segmentation AS SELECT kmeans_fit(4, f, r, m, 42) AS model FROM features;

ASSERT (SELECT model['converged'] FROM segmentation), 'k-means converged';

SELECT kmeans_assign(s.model, f, r, m) AS cluster, count(*) AS customers,
       round(avg(v.clv_12m), 2) AS avg_clv_12m, round(avg(v.churn_risk), 3) AS avg_churn_risk
FROM features x JOIN customer_value v USING (customer_id) CROSS JOIN segmentation s
GROUP BY cluster ORDER BY avg_clv_12m DESC;

-- 6. Cross-sell: "clients holding X also hold Y" from the portfolios,
--    recommended only when suitable: the product's risk level (SRRI 1-7)
--    must not exceed the client's risk tolerance, and the client must not
--    already hold it. Rank by lift, then confidence; top 3 per client.
CREATE TABLE rules AS
SELECT * FROM association_rules('SELECT DISTINCT customer_id, symbol FROM positions', 0.01, 0.2)
WHERE array_length(consequent) = 1 AND lift > 1;

CREATE TABLE recommendations AS
WITH held AS (SELECT DISTINCT customer_id, symbol FROM positions),
baskets AS (SELECT customer_id, array_agg(symbol) AS symbols FROM held GROUP BY customer_id),
candidates AS (
  SELECT b.customer_id, r.consequent[1] AS product, max(r.lift) AS lift, max(r.confidence) AS confidence
  FROM baskets b JOIN rules r ON array_has_all(b.symbols, r.antecedent)
  WHERE NOT array_has(b.symbols, r.consequent[1])
  GROUP BY b.customer_id, r.consequent[1])
SELECT customer_id, product, lift, confidence, rank FROM (
  SELECT c.*, row_number() OVER (PARTITION BY c.customer_id ORDER BY c.lift DESC, c.confidence DESC, c.product) AS rank
  FROM candidates c
  JOIN customers cu USING (customer_id)
  JOIN products p ON p.product = c.product
  WHERE p.risk_level <= cu.risk_tolerance)
WHERE rank <= 3;

ASSERT (SELECT count(*) FROM recommendations) > 0, 'some clients get a recommendation';
ASSERT NOT EXISTS (SELECT 1 FROM recommendations r JOIN customers c USING (customer_id)
                   JOIN products p ON p.product = r.product WHERE p.risk_level > c.risk_tolerance),
  'no recommendation exceeds the client''s risk tolerance';
ASSERT NOT EXISTS (SELECT 1 FROM recommendations r JOIN positions p
                   ON p.customer_id = r.customer_id AND p.symbol = r.product),
  'no recommendation of a product already held';

SELECT product, count(*) AS clients, round(avg(lift), 2) AS avg_lift
FROM recommendations WHERE rank = 1 GROUP BY product ORDER BY clients DESC LIMIT 5;

-- 7. The same question answered by item-item similarity ("clients who hold
--    X also hold Y"): cosine similarity of the products' holder sets, and a
--    client's score for a product is the sum of its similarities to the
--    products the client holds (item-based collaborative filtering). Same
--    suitability rule; top 3 per client.
CREATE TABLE similar_products AS
SELECT * FROM item_similarity('SELECT DISTINCT customer_id, symbol FROM positions', 5);

ASSERT NOT EXISTS (SELECT 1 FROM similar_products a JOIN similar_products b
                   ON a.item = b.similar_item AND a.similar_item = b.item
                   WHERE abs(a.cosine - b.cosine) > 1e-12),
  'cosine similarity is symmetric';

CREATE TABLE similarity_recommendations AS
WITH held AS (SELECT DISTINCT customer_id, symbol FROM positions),
scores AS (
  SELECT h.customer_id, s.similar_item AS product, sum(s.cosine) AS score
  FROM held h JOIN similar_products s ON s.item = h.symbol
  GROUP BY h.customer_id, s.similar_item)
SELECT customer_id, product, score, rank FROM (
  SELECT s.*, row_number() OVER (PARTITION BY s.customer_id ORDER BY s.score DESC, s.product) AS rank
  FROM scores s
  JOIN customers cu USING (customer_id)
  JOIN products p ON p.product = s.product
  WHERE p.risk_level <= cu.risk_tolerance
    AND NOT EXISTS (SELECT 1 FROM held h WHERE h.customer_id = s.customer_id AND h.symbol = s.product))
WHERE rank <= 3;

ASSERT (SELECT count(DISTINCT customer_id) FROM similarity_recommendations) > 0,
  'some clients get a similarity-based recommendation';
ASSERT NOT EXISTS (SELECT 1 FROM similarity_recommendations r JOIN customers c USING (customer_id)
                   JOIN products p ON p.product = r.product WHERE p.risk_level > c.risk_tolerance),
  'no similarity-based recommendation exceeds the client''s risk tolerance';
ASSERT NOT EXISTS (SELECT 1 FROM similarity_recommendations r JOIN positions p
                   ON p.customer_id = r.customer_id AND p.symbol = r.product),
  'no similarity-based recommendation of a product already held';

SELECT product, count(*) AS clients, round(avg(score), 3) AS avg_score
FROM similarity_recommendations WHERE rank = 1 GROUP BY product ORDER BY clients DESC LIMIT 5;
