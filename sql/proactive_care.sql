-- Proactive care on the demo bank: life-event triggers a relationship
-- manager or the app acts on before the customer asks - birthdays coming
-- up, a salary that stopped arriving, and dormant customers worth
-- reactivating. Each trigger is one query a campaign tool can poll.
--
--   finsight demo --dir bank --no-repl
--   finsight run --dir bank sql/proactive_care.sql
--
-- "Today" is the last day of the data; the horizons are in `care_settings`.

CREATE TABLE care_settings AS
SELECT CAST(max(ts) AS DATE) AS today, 14 AS birthday_days, 90 AS dormant_days, 30 AS recent_app_days
FROM transactions;

-- 1. Birthdays in the next 14 days (today included). Each of the next days
-- is matched on month and day, so the year's end needs no special case;
-- customers born on 29 February celebrate on 28 February in other years.
CREATE TABLE upcoming_birthdays AS
WITH days AS (
  SELECT s.today + CAST(k AS INT) AS day, s.today
  FROM care_settings s CROSS JOIN unnest(range(0, 366)) AS t(k)
  WHERE k < s.birthday_days)
SELECT c.customer_id, c.birth_date, d.day AS birthday,
       CAST(date_part('year', d.day) - date_part('year', c.birth_date) AS INT) AS turning,
       CAST(d.day - d.today AS INT) AS in_days, c.segment
FROM days d
JOIN customers c
  ON date_part('month', c.birth_date) = date_part('month', d.day)
 AND (date_part('day', c.birth_date) = date_part('day', d.day)
      OR (date_part('month', c.birth_date) = 2 AND date_part('day', c.birth_date) = 29
          AND date_part('month', d.day) = 2 AND date_part('day', d.day) = 28
          AND date_part('month', d.day + 1) = 3))
WHERE c.status <> 'closed';

SELECT in_days, count(*) AS customers, count(*) FILTER (WHERE turning % 10 = 0) AS round_birthdays
FROM upcoming_birthdays GROUP BY in_days ORDER BY in_days;

-- Cross-check against a direct computation of each customer's next
-- birthday from the day-of-year arithmetic: the same customers.
ASSERT NOT EXISTS (
  SELECT customer_id FROM customers c CROSS JOIN care_settings s
  WHERE c.status <> 'closed'
    AND date_part('month', c.birth_date) * 100 + date_part('day', c.birth_date) <> 229
    AND (CAST(make_date(CAST(date_part('year', s.today) AS INT), CAST(date_part('month', c.birth_date) AS INT),
                        CAST(date_part('day', c.birth_date) AS INT)) - s.today AS INT) BETWEEN 0 AND s.birthday_days - 1
         OR CAST(make_date(CAST(date_part('year', s.today) AS INT) + 1, CAST(date_part('month', c.birth_date) AS INT),
                           CAST(date_part('day', c.birth_date) AS INT)) - s.today AS INT) BETWEEN 0 AND s.birthday_days - 1)
  EXCEPT
  SELECT customer_id FROM upcoming_birthdays),
  'every customer whose birthday falls in the horizon is listed';

-- 2. Salary stopped or fell: the last full month's salary credits below
-- half of the median of the three months before (or none at all), for
-- customers paid in each of those three months. The demo bank records card
-- spending only, so the trigger is shown on a bank's incoming-payments feed
-- of this shape (customer_id, booked_on, amount, kind); these rows are an
-- illustration: customer 1 is paid steadily, 2 loses half of the salary in
-- June, 3 is not paid in June, 4 was paid only twice before (not enough
-- history), 5 gets a raise.
CREATE TABLE incoming_payments AS
SELECT column1 AS customer_id, CAST(column2 AS DATE) AS booked_on, column3 AS amount, column4 AS kind
FROM (VALUES
  (1, '2025-03-28', 3000.0, 'salary'), (1, '2025-04-28', 3000.0, 'salary'), (1, '2025-05-28', 3050.0, 'salary'),
  (1, '2025-06-27', 3000.0, 'salary'), (1, '2025-06-10', 200.0, 'transfer'),
  (2, '2025-03-25', 4200.0, 'salary'), (2, '2025-04-25', 4100.0, 'salary'), (2, '2025-05-23', 4200.0, 'salary'),
  (2, '2025-06-25', 1900.0, 'salary'),
  (3, '2025-03-01', 2500.0, 'salary'), (3, '2025-04-01', 2500.0, 'salary'), (3, '2025-05-01', 2500.0, 'salary'),
  (3, '2025-06-12', 900.0, 'transfer'),
  (4, '2025-05-15', 2000.0, 'salary'), (4, '2025-06-15', 500.0, 'salary'),
  (5, '2025-03-30', 5000.0, 'salary'), (5, '2025-04-30', 5000.0, 'salary'), (5, '2025-05-30', 5000.0, 'salary'),
  (5, '2025-06-30', 6500.0, 'salary'));

-- June 2025 is the last full month (2025 * 12 + 5 in the count below).
CREATE TABLE salary_drop AS
WITH months AS (
  -- The last full month and the three before it, for every payee.
  SELECT p.customer_id, m.month
  FROM (SELECT DISTINCT customer_id FROM incoming_payments WHERE kind = 'salary') p
  CROSS JOIN (
    -- Months counted as year * 12 + month - 1, so that stepping back
    -- crosses a year's start.
    SELECT make_date(CAST((2025 * 12 + 5 - k) / 12 AS INT), CAST((2025 * 12 + 5 - k) % 12 + 1 AS INT), 1) AS month
    FROM unnest(range(0, 4)) AS t(k)) m),
monthly AS (
  SELECT m.customer_id, m.month, coalesce(sum(i.amount), 0) AS salary
  FROM months m LEFT JOIN incoming_payments i
    ON i.customer_id = m.customer_id AND i.kind = 'salary'
   AND CAST(date_trunc('month', i.booked_on) AS DATE) = m.month
  GROUP BY m.customer_id, m.month)
SELECT customer_id,
       max(salary) FILTER (WHERE month = DATE '2025-06-01') AS last_month,
       median(salary) FILTER (WHERE month < DATE '2025-06-01') AS usual,
       count(*) FILTER (WHERE month < DATE '2025-06-01' AND salary > 0) AS paid_months
FROM monthly GROUP BY customer_id;

SELECT customer_id, last_month, usual,
       CASE WHEN last_month = 0 THEN 'salary missing' ELSE 'salary fell by ' || round(100 * (1 - last_month / usual)) || '%' END AS trigger
FROM salary_drop
WHERE paid_months = 3 AND last_month < 0.5 * usual
ORDER BY customer_id;

ASSERT (SELECT array_agg(customer_id ORDER BY customer_id) FROM salary_drop
        WHERE paid_months = 3 AND last_month < 0.5 * usual) = [2, 3],
  'the salary trigger fires for the halved and the missing salary only';

-- 3. Dormant customers worth reactivating: no card spending for 90 days or
-- more, but an active spender before (10 transactions or more) and still
-- opening the app in the last 30 days - engaged, just not spending with us.
CREATE TABLE dormant AS
SELECT t.customer_id, count(*) AS transactions_before, max(t.ts) AS last_transaction,
       CAST(s.today - CAST(max(t.ts) AS DATE) AS INT) AS days_dormant
FROM transactions t JOIN customers c USING (customer_id) CROSS JOIN care_settings s
WHERE c.status <> 'closed'
GROUP BY t.customer_id, s.today, s.dormant_days
HAVING s.today - CAST(max(t.ts) AS DATE) >= s.dormant_days AND count(*) >= 10;

SELECT d.customer_id, d.days_dormant, d.transactions_before,
       count(e.event_id) AS app_events_last_30_days
FROM dormant d
JOIN app_events e ON e.customer_id = d.customer_id
CROSS JOIN care_settings s
WHERE CAST(e.ts AS DATE) > s.today - s.recent_app_days
GROUP BY d.customer_id, d.days_dormant, d.transactions_before
ORDER BY app_events_last_30_days DESC, d.customer_id
LIMIT 20;

-- How often dormancy ends on its own: of the spells of 90 days or more
-- without a transaction in the history, the share that ended with the
-- customer spending again (the baseline any reactivation campaign must
-- beat), by segment. Spells still open at the data's end count as not
-- (yet) reactivated.
SELECT c.segment, count(*) AS dormant_spells,
       round(avg(CASE WHEN g.next_ts IS NOT NULL THEN 1.0 ELSE 0.0 END), 3) AS share_reactivated
FROM (SELECT customer_id, ts, lead(ts) OVER (PARTITION BY customer_id ORDER BY ts) AS next_ts,
             max(ts) OVER () AS data_end
      FROM transactions) g
JOIN customers c USING (customer_id)
WHERE CAST(coalesce(g.next_ts, g.data_end) AS DATE) - CAST(g.ts AS DATE) >= 90
GROUP BY c.segment ORDER BY c.segment;

ASSERT NOT EXISTS (SELECT 1 FROM dormant d JOIN transactions t USING (customer_id) CROSS JOIN care_settings s
                   WHERE CAST(t.ts AS DATE) > s.today - s.dormant_days),
  'dormant customers have no transaction in the dormancy window';
