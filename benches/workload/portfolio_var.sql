-- Daily P&L of every portfolio (positions x daily price changes since the
-- position was opened), then its 99% one-day historical VaR and expected
-- shortfall (losses as positive numbers).
WITH changes AS (
    SELECT symbol, date,
           close - lag(close) OVER (PARTITION BY symbol ORDER BY date) AS change
    FROM market_prices
), pnl AS (
    SELECT p.portfolio_id, c.date, sum(p.quantity * c.change) AS pnl
    FROM positions p
    JOIN changes c ON c.symbol = p.symbol AND c.date >= p.opened_date
    WHERE c.change IS NOT NULL
    GROUP BY p.portfolio_id, c.date
), var AS (
    SELECT portfolio_id, percentile_cont(0.01) WITHIN GROUP (ORDER BY pnl) AS q01
    FROM pnl
    GROUP BY portfolio_id
)
SELECT v.portfolio_id, -v.q01 AS var_99, -avg(p.pnl) AS es_99
FROM var v
JOIN pnl p ON p.portfolio_id = v.portfolio_id AND p.pnl <= v.q01
GROUP BY v.portfolio_id, v.q01;
