-- Daily P&L of client portfolios and 99% one-day historical VaR and expected
-- shortfall, with numpy's default (linear) quantile convention as used by
-- percentile_cont.

CREATE TABLE daily_pnl AS
WITH returns AS (
  SELECT symbol, date, close - lag(close) OVER (PARTITION BY symbol ORDER BY date) AS change
  FROM market_prices
)
SELECT r.date, sum(p.quantity * r.change) AS pnl
FROM positions p JOIN returns r ON p.symbol = r.symbol
WHERE r.change IS NOT NULL
GROUP BY r.date;

ASSERT (SELECT count(*) FROM daily_pnl) > 500, 'two years of trading days';

CREATE TABLE var_99 AS
SELECT -percentile_cont(0.01) WITHIN GROUP (ORDER BY pnl) AS var_99 FROM daily_pnl;

ASSERT (SELECT var_99 FROM var_99) > 0, 'VaR is a positive loss';

ASSERT (SELECT -avg(pnl) FROM daily_pnl, var_99 WHERE pnl <= -var_99) >= (SELECT var_99 FROM var_99),
  'expected shortfall is at least VaR';

SELECT round(v.var_99, 2) AS var_99,
       round(-avg(d.pnl) FILTER (WHERE d.pnl <= -v.var_99), 2) AS es_99,
       count(*) AS days
FROM daily_pnl d CROSS JOIN var_99 v
GROUP BY v.var_99;
