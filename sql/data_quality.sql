-- Data-quality gate for the customer and transaction feeds: run before any
-- model is refreshed. `finsight run --dir DATA sql/data_quality.sql`
-- exits 1 at the first failed check, with the values found.

ASSERT (SELECT count(*) = count(DISTINCT customer_id) FROM customers), 'customer_id is unique';

ASSERT NOT EXISTS (
  SELECT transaction_id FROM transactions GROUP BY transaction_id HAVING count(*) > 1
), 'transaction_id is unique';

ASSERT NOT EXISTS (
  SELECT t.transaction_id, t.customer_id
  FROM transactions t LEFT JOIN customers c USING (customer_id)
  WHERE c.customer_id IS NULL
), 'every transaction belongs to a known customer';

ASSERT NOT EXISTS (
  SELECT transaction_id, ts, amount FROM transactions WHERE amount <= 0 OR amount IS NULL
), 'amounts are positive';

ASSERT NOT EXISTS (
  SELECT consent_id, granted_at, withdrawn_at FROM consents WHERE withdrawn_at < granted_at
), 'consent is withdrawn after it is granted';

ASSERT (SELECT count(*) FILTER (WHERE email IS NULL) * 1.0 / count(*) FROM customers) < 0.05,
  'fewer than 5% of customers lack an e-mail address';

-- Summary for the log.
SELECT
  (SELECT count(*) FROM customers) AS customers,
  (SELECT count(*) FROM transactions) AS transactions,
  (SELECT min(ts) FROM transactions) AS first_transaction,
  (SELECT max(ts) FROM transactions) AS last_transaction;
