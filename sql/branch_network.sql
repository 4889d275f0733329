-- Branch and channel network on the demo bank: where each customer lives
-- (estimated from card-present spending), the nearest branch, and each
-- branch's service metrics: customers served, their distance, staff load
-- and how much of their activity is digital.
--
--   finsight demo --dir bank --no-repl
--   finsight run --dir bank sql/branch_network.sql
--
-- Distances are great-circle kilometres (haversine_km, mean Earth radius).

-- A customer's home: the median position of their card-present purchases
-- (point of sale and ATM) in their home city, which ignores trips.
CREATE TABLE customer_homes AS
SELECT t.customer_id, c.city, c.region, c.country,
       median(t.lat) AS lat, median(t.lon) AS lon, count(*) AS located_transactions
FROM transactions t JOIN customers c USING (customer_id)
WHERE t.lat IS NOT NULL AND t.city = c.city AND c.status <> 'closed'
GROUP BY t.customer_id, c.city, c.region, c.country;

-- Nearest branch: every branch in the customer's country is a candidate
-- (a branch never serves across a border); ties go to the lower branch_id.
CREATE TABLE nearest_branch AS
SELECT customer_id, branch_id, km FROM (
  SELECT h.customer_id, b.branch_id, haversine_km(h.lat, h.lon, b.lat, b.lon) AS km,
         row_number() OVER (PARTITION BY h.customer_id
                            ORDER BY haversine_km(h.lat, h.lon, b.lat, b.lon), b.branch_id) AS rank
  FROM customer_homes h JOIN branches b ON b.country = h.country)
WHERE rank = 1;

ASSERT (SELECT count(*) FROM nearest_branch) = (SELECT count(*) FROM customer_homes),
  'every located customer has exactly one nearest branch';
-- Nearest means nearest: no branch in the customer's country is closer.
ASSERT NOT EXISTS (
  SELECT 1 FROM nearest_branch n
  JOIN customer_homes h USING (customer_id)
  JOIN branches b ON b.country = h.country
  WHERE haversine_km(h.lat, h.lon, b.lat, b.lon) < n.km),
  'no branch is closer than the assigned one';

-- Service metrics per branch: customers whose nearest branch it is, the
-- median and 90th-percentile distance they live from it, customers per
-- member of staff, and the share of their last year's transactions made
-- online or in the app (a branch whose customers are mostly digital is a
-- candidate for a smaller format).
CREATE TABLE branch_metrics AS
WITH recent AS (
  SELECT customer_id, count(*) AS transactions,
         count(*) FILTER (WHERE channel IN ('online', 'mobile')) AS digital
  FROM transactions
  WHERE ts >= (SELECT max(ts) FROM transactions) - INTERVAL '365 days'
  GROUP BY customer_id)
SELECT b.branch_id, b.name, b.branch_type, b.city, b.staff,
       count(n.customer_id) AS customers,
       round(median(n.km), 2) AS median_km,
       round(approx_percentile_cont(n.km, 0.9), 2) AS p90_km,
       round(count(n.customer_id) / CAST(b.staff AS DOUBLE), 1) AS customers_per_staff,
       round(sum(r.digital) / CAST(nullif(sum(r.transactions), 0) AS DOUBLE), 3) AS digital_share
FROM branches b
LEFT JOIN nearest_branch n USING (branch_id)
LEFT JOIN recent r USING (customer_id)
GROUP BY b.branch_id, b.name, b.branch_type, b.city, b.staff;

SELECT * FROM branch_metrics ORDER BY customers DESC, branch_id LIMIT 15;

-- Under-served customers: more than 10 km from any branch, by region.
SELECT h.region, count(*) AS located_customers,
       count(*) FILTER (WHERE n.km > 10) AS beyond_10_km,
       round(max(n.km), 1) AS farthest_km
FROM nearest_branch n JOIN customer_homes h USING (customer_id)
GROUP BY h.region ORDER BY beyond_10_km DESC, h.region;

-- Idle branches: nobody's nearest branch (candidates for closure or merger).
SELECT branch_id, name, branch_type, city, staff FROM branch_metrics WHERE customers = 0 ORDER BY branch_id;

ASSERT (SELECT sum(customers) FROM branch_metrics) = (SELECT count(*) FROM nearest_branch),
  'branch metrics account for every assigned customer once';
