-- Pricing with a constant-elasticity demand model: estimate each product's
-- price elasticity from its sales history (log-log regression with
-- price_elasticity), then the profit-maximising price and the profit
-- curve around it.
--
--   finsight run sql/pricing.sql
--
-- The demo bank has no price experiments, so the sales history here is
-- generated in SQL: two years of weekly sales of three fee-based products
-- whose price was varied week by week, with a known true elasticity and
-- +-20% noise from a fixed pseudo-random sequence, so the estimate can be
-- checked against the truth. Replace `weekly_sales` with your own
-- (product, week, price, units, unit_cost) history.

CREATE TABLE products_priced AS
SELECT * FROM (VALUES
  ('fx_card_fee',     -1.8, 900.0, 2.0, 4.0, 1.10),
  ('premium_account', -2.6, 4000.0, 6.0, 14.0, 4.00),
  ('overdraft_fee',   -0.7, 300.0, 5.0, 15.0, 2.00)
) AS t(product, true_elasticity, scale, min_price, max_price, unit_cost);

CREATE TABLE weekly_sales AS
SELECT p.product, w.week,
       round(p.min_price + (p.max_price - p.min_price) * ((w.week * 7919) % 104) / 103.0, 2) AS price,
       p.unit_cost, p.true_elasticity
FROM products_priced p CROSS JOIN (SELECT value AS week FROM generate_series(1, 104)) w;

CREATE TABLE sales AS
SELECT s.product, s.week, s.price, s.unit_cost, s.true_elasticity,
       -- units = scale * (price / min_price)^elasticity * noise, noise in [0.8, 1.2]
       round(p.scale * power(s.price / p.min_price, s.true_elasticity)
             * (0.8 + 0.4 * (abs(sin(s.week * 12.9898 + length(s.product)) * 43758.5453)
                             - floor(abs(sin(s.week * 12.9898 + length(s.product)) * 43758.5453)))), 1) AS units
FROM weekly_sales s JOIN products_priced p USING (product);

-- 1. Elasticity per product, with its 95% interval (t on n - 2 degrees of
-- freedom is 1.98 at n = 104).
CREATE TABLE elasticities AS
SELECT product, e['elasticity'] AS elasticity, e['std_error'] AS std_error, e['r_squared'] AS r_squared,
       e['n'] AS weeks, true_elasticity, unit_cost
FROM (SELECT product, price_elasticity(units, price) AS e, max(true_elasticity) AS true_elasticity,
             max(unit_cost) AS unit_cost
      FROM sales GROUP BY product);

SELECT product, round(elasticity, 3) AS elasticity, round(std_error, 3) AS std_error,
       round(elasticity - 1.98 * std_error, 3) AS ci_low, round(elasticity + 1.98 * std_error, 3) AS ci_high,
       round(r_squared, 3) AS r_squared, true_elasticity
FROM elasticities ORDER BY product;

ASSERT NOT EXISTS (SELECT product FROM elasticities WHERE abs(elasticity - true_elasticity) > 3 * std_error),
  'every estimated elasticity is within 3 standard errors of the true one';

-- 2. The optimal price. With demand q = A p^e and unit cost c, profit
-- (p - c) A p^e is maximised where d/dp = 0: p* = c e / (1 + e), defined
-- only for elastic demand (e < -1). Inelastic demand (-1 < e < 0) has no
-- interior optimum: raising the price always raises profit until other
-- limits bind (regulation, competitors), so the query says so instead.
SELECT product, round(elasticity, 3) AS elasticity, unit_cost,
       CASE WHEN elasticity < -1 THEN round(unit_cost * elasticity / (1 + elasticity), 2) END AS optimal_price,
       CASE WHEN elasticity < -1 THEN round(unit_cost * true_elasticity / (1 + true_elasticity), 2) END AS optimal_price_if_known,
       CASE WHEN elasticity >= -1 THEN 'inelastic: no interior optimum, price is limited by other constraints'
            ELSE 'markup ' || round(100 * (elasticity / (1 + elasticity) - 1)) || '% over unit cost' END AS note
FROM elasticities ORDER BY product;

-- 3. Profit relative to the optimum for prices from 60% to 160% of it,
-- under the estimated elasticity (the curve is flat near the optimum, which
-- is why a rough elasticity still prices well).
SELECT e.product, round(m.multiple, 1) AS price_vs_optimum,
       round(power(m.multiple, e.elasticity) * (m.multiple * e.unit_cost * e.elasticity / (1 + e.elasticity) - e.unit_cost)
             / (e.unit_cost * e.elasticity / (1 + e.elasticity) - e.unit_cost), 3) AS profit_vs_optimum
FROM elasticities e
CROSS JOIN (SELECT 0.6 + 0.2 * value AS multiple FROM generate_series(0, 5)) m
WHERE e.elasticity < -1
ORDER BY e.product, m.multiple;

ASSERT NOT EXISTS (
  SELECT 1 FROM elasticities e CROSS JOIN (SELECT 0.6 + 0.2 * value AS multiple FROM generate_series(0, 5)) m
  WHERE e.elasticity < -1
    AND power(m.multiple, e.elasticity) * (m.multiple * e.unit_cost * e.elasticity / (1 + e.elasticity) - e.unit_cost)
        > (e.unit_cost * e.elasticity / (1 + e.elasticity) - e.unit_cost) + 1e-9),
  'no price on the grid beats the computed optimum';
