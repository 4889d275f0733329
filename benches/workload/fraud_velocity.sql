-- Fraud velocity features: per card, the number and sum of transactions in
-- the 24 hours up to each transaction (a time-range window), then the fraud
-- rate by velocity band.
WITH features AS (
    SELECT is_fraud,
           count(*) OVER w AS txns_24h,
           sum(amount) OVER w AS amount_24h
    FROM transactions
    WINDOW w AS (PARTITION BY card_id ORDER BY ts
                 RANGE BETWEEN INTERVAL '1 day' PRECEDING AND CURRENT ROW)
)
SELECT least(txns_24h, 10) AS txns_24h_band,
       count(*) AS transactions,
       sum(CASE WHEN is_fraud THEN 1 ELSE 0 END) AS frauds,
       avg(amount_24h) AS avg_amount_24h,
       max(amount_24h) AS max_amount_24h
FROM features
GROUP BY 1
ORDER BY 1;
