-- Market risk of the demo bank's client portfolios with the risk functions:
-- historical, Gaussian, Cornish-Fisher and 10-day bootstrap VaR, expected
-- shortfall, RiskMetrics EWMA volatility, and performance ratios against an
-- equal-weighted market index.
--
--   finsight --dir demo_data run sql/market_risk.sql
--
-- Conventions: P&L in the instruments' currency, losses negative; VaR and
-- ES are reported as positive losses; quantiles follow numpy's default.

CREATE TABLE instrument_returns AS
SELECT symbol, date, asset_class,
       close / lag(close) OVER (PARTITION BY symbol ORDER BY date) - 1 AS ret,
       close - lag(close) OVER (PARTITION BY symbol ORDER BY date) AS change
FROM market_prices;

-- 1. RiskMetrics volatility per instrument, and its latest value.
CREATE TABLE instrument_volatility AS
SELECT symbol, date, ret,
       ewma_volatility(ret, 0.94) OVER (PARTITION BY symbol ORDER BY date) AS ewma_vol
FROM instrument_returns WHERE ret IS NOT NULL;

ASSERT NOT EXISTS (SELECT 1 FROM instrument_volatility WHERE ewma_vol < 0 OR ewma_vol IS NULL),
  'EWMA volatility is defined and non-negative on every day';

SELECT symbol, round(ewma_vol * sqrt(252), 4) AS annualised_ewma_vol
FROM (SELECT symbol, ewma_vol, row_number() OVER (PARTITION BY symbol ORDER BY date DESC) AS latest
      FROM instrument_volatility)
WHERE latest = 1 ORDER BY annualised_ewma_vol DESC LIMIT 5;

-- 2. Daily P&L per portfolio (positions held at today's quantities).
CREATE TABLE portfolio_pnl AS
SELECT p.portfolio_id, r.date, sum(p.quantity * r.change) AS pnl
FROM positions p JOIN instrument_returns r ON p.symbol = r.symbol
WHERE r.change IS NOT NULL
GROUP BY p.portfolio_id, r.date;

CREATE TABLE portfolio_var AS
SELECT portfolio_id, count(*) AS days,
       var_historical(pnl, 0.99) AS var_99,
       expected_shortfall(pnl, 0.975) AS es_975,
       expected_shortfall(pnl, 0.99) AS es_99,
       var_parametric(pnl, 0.99) AS var_99_normal,
       var_cornish_fisher(pnl, 0.99) AS var_99_cornish_fisher,
       var_monte_carlo(pnl, 0.99, 10, 2000, 42) AS var_99_10day
FROM portfolio_pnl GROUP BY portfolio_id;

ASSERT (SELECT count(*) FROM portfolio_var) > 0, 'some portfolios';
ASSERT NOT EXISTS (SELECT 1 FROM portfolio_var WHERE es_99 < var_99 - 1e-9),
  'expected shortfall is at least VaR at the same confidence';
ASSERT (SELECT avg(CASE WHEN var_99_10day > var_99 THEN 1.0 ELSE 0.0 END) FROM portfolio_var WHERE var_99 > 0) > 0.95,
  'ten-day VaR exceeds one-day VaR for almost every portfolio';
-- Square-root-of-time is the textbook ten-day scaling; the bootstrap should be near it.
ASSERT (SELECT median(var_99_10day / (var_99_normal * sqrt(10))) FROM portfolio_var WHERE var_99_normal > 0)
       BETWEEN 0.7 AND 1.3,
  'bootstrap ten-day VaR is close to the square-root-of-time Gaussian figure';

SELECT round(sum(var_99), 0) AS sum_var_99, round(sum(es_975), 0) AS sum_es_975,
       round(sum(var_99_normal), 0) AS sum_var_99_normal,
       round(sum(var_99_cornish_fisher), 0) AS sum_var_99_cf,
       round(sum(var_99_10day), 0) AS sum_var_99_10day
FROM portfolio_var;

-- 3. Performance of each instrument against the equal-weighted market.
CREATE TABLE market_index AS
SELECT date, avg(ret) AS market_ret FROM instrument_returns WHERE ret IS NOT NULL GROUP BY date;

CREATE TABLE instrument_performance AS
SELECT r.symbol, r.asset_class,
       sharpe_ratio(r.ret, 0, 252) AS sharpe,
       sortino_ratio(r.ret, 0, 252) AS sortino,
       max_drawdown(r.ret, r.date) AS max_drawdown,
       beta(r.ret, m.market_ret) AS beta
FROM instrument_returns r JOIN market_index m USING (date)
WHERE r.ret IS NOT NULL
GROUP BY r.symbol, r.asset_class;

ASSERT NOT EXISTS (SELECT 1 FROM instrument_performance WHERE max_drawdown > 0 OR max_drawdown < -1),
  'drawdowns are between -100% and 0';
-- The index is the average of the instruments, so their betas average 1.
ASSERT (SELECT abs(avg(beta) - 1) FROM instrument_performance) < 1e-9,
  'betas against the equal-weighted index average one';

SELECT asset_class, count(*) AS instruments, round(avg(sharpe), 3) AS avg_sharpe,
       round(min(max_drawdown), 3) AS worst_drawdown, round(avg(beta), 3) AS avg_beta
FROM instrument_performance GROUP BY asset_class ORDER BY asset_class;

-- 4. Backtest: each portfolio's rolling Gaussian VaR (the last 250 days'
-- mean and standard deviation, known the evening before) against the P&L of
-- the day, scored by Kupiec, Christoffersen and the Basel traffic light.
CREATE TABLE var_forecasts AS
SELECT portfolio_id, date, pnl,
       -(avg(pnl) OVER w - 2.3263478740408408 * stddev(pnl) OVER w) AS var_99,
       count(pnl) OVER w AS window_days
FROM portfolio_pnl
WINDOW w AS (PARTITION BY portfolio_id ORDER BY date ROWS BETWEEN 250 PRECEDING AND 1 PRECEDING);

CREATE TABLE var_backtests AS
SELECT portfolio_id, var_backtest(pnl, var_99, date, 0.99) AS b
FROM var_forecasts WHERE window_days = 250
GROUP BY portfolio_id;

ASSERT (SELECT count(*) FROM var_backtests WHERE b['observations'] > 0) > 0, 'portfolios with a year of forecasts';
ASSERT NOT EXISTS (SELECT 1 FROM var_backtests
                   WHERE b['traffic_light'] <> basel_traffic_light(b['exceedances'], b['observations'], 0.99)),
  'the backtest''s zone is the traffic light of its own count';

SELECT b['traffic_light'] AS zone, count(*) AS portfolios,
       round(avg(b['exceedance_rate']), 4) AS avg_exceedance_rate,
       sum(CASE WHEN b['kupiec_p_value'] < 0.05 THEN 1 ELSE 0 END) AS kupiec_rejects,
       sum(CASE WHEN b['christoffersen_p_value'] < 0.05 THEN 1 ELSE 0 END) AS clustering_rejects
FROM var_backtests GROUP BY zone ORDER BY zone;

-- 5. Where the risk sits: component VaR of each position of the largest
-- portfolio (Gaussian, by Euler allocation, and historical), and the
-- marginal VaR per unit held.
-- A portfolio may hold a symbol in several lots: one position per symbol,
-- so each position has one row per day.
CREATE TABLE position_pnl AS
SELECT p.portfolio_id, p.symbol, p.quantity, r.date, p.quantity * r.change AS pnl,
       sum(p.quantity * r.change) OVER (PARTITION BY p.portfolio_id, r.date) AS portfolio_pnl
FROM (SELECT portfolio_id, symbol, sum(quantity) AS quantity FROM positions GROUP BY portfolio_id, symbol) p
JOIN instrument_returns r ON p.symbol = r.symbol
WHERE r.change IS NOT NULL;

CREATE TABLE component_vars AS
SELECT portfolio_id, symbol,
       component_var(pnl, portfolio_pnl, 0.99) AS component_var_99,
       component_var(pnl, portfolio_pnl, 0.99) / first_value(quantity) AS marginal_var_99,
       component_var_historical(pnl, portfolio_pnl, 0.99) AS component_var_99_historical
FROM position_pnl GROUP BY portfolio_id, symbol;

ASSERT (SELECT max(abs(c.total - v.var_99_normal) / v.var_99_normal)
        FROM (SELECT portfolio_id, sum(component_var_99) AS total FROM component_vars GROUP BY portfolio_id) c
        JOIN portfolio_var v USING (portfolio_id) WHERE v.var_99_normal > 0) < 1e-9,
  'Gaussian components add up to each portfolio''s variance-covariance VaR';
ASSERT (SELECT max(abs(c.total - v.var_99) / v.var_99)
        FROM (SELECT portfolio_id, sum(component_var_99_historical) AS total FROM component_vars GROUP BY portfolio_id) c
        JOIN portfolio_var v USING (portfolio_id) WHERE v.var_99 > 0) < 1e-6,
  'historical components add up to each portfolio''s historical VaR';

SELECT c.symbol, round(c.component_var_99, 0) AS component,
       round(100 * c.component_var_99 / v.var_99_normal, 1) AS pct_of_var,
       round(c.marginal_var_99, 4) AS marginal_per_unit,
       round(c.component_var_99_historical, 0) AS component_historical
FROM component_vars c JOIN portfolio_var v USING (portfolio_id)
WHERE c.portfolio_id = (SELECT portfolio_id FROM portfolio_var ORDER BY var_99_normal DESC LIMIT 1)
ORDER BY c.component_var_99 DESC;
