-- PII detection quality on a labelled sample: positives are the demo
-- bank's identifiers embedded in free text (compact and grouped layouts,
-- English and Chinese), negatives are the numbers that fill banking text
-- (amounts, timestamps, ids, references, sort codes, UK National Insurance
-- numbers, which detect_pii does not cover) plus hand-written sentences.
-- "Hard" negatives are 16-digit order numbers: about one in ten passes
-- the Luhn check by chance and is (wrongly) reported as a card number.
--
--   finsight --dir demo_data run tests/data/pii/precision_recall.sql
-- (tests/integration/privacy.rs runs it and checks the result.)

CREATE TABLE labelled AS
SELECT 'email' AS label, 'Please update my e-mail to ' || email || ', thanks' AS text FROM customers WHERE email IS NOT NULL
UNION ALL SELECT 'email', '请发到' || upper(email) || '谢谢' FROM customers WHERE email IS NOT NULL AND customer_id % 3 = 0
UNION ALL SELECT 'phone', '客户来电 ' || phone FROM customers WHERE phone IS NOT NULL
UNION ALL SELECT 'phone', 'call me on ' || regexp_replace(phone, '^(\+\d{2})(\d{4})(\d{3})(\d+)$', '$1 $2 $3 $4') FROM customers WHERE phone IS NOT NULL AND customer_id % 2 = 0
UNION ALL SELECT 'phone', 'mobile ' || substr(phone, 4) FROM customers WHERE phone LIKE '+861%' AND customer_id % 2 = 1
UNION ALL SELECT 'card_pan', 'Dispute on card ' || card_number || ' yesterday' FROM customers
UNION ALL SELECT 'card_pan', 'card no. ' || regexp_replace(card_number, '(\d{4})(\d{4})(\d{4})(\d{4})', '$1-$2-$3-$4') FROM customers WHERE customer_id % 2 = 0
UNION ALL SELECT 'cn_resident_id', '身份证号' || national_id || '已核验' FROM customers WHERE country = 'CN'
UNION ALL SELECT 'iban', 'Transfer to ' || iban || ' please' FROM accounts WHERE iban IS NOT NULL
UNION ALL SELECT 'iban', 'IBAN: ' || regexp_replace(iban, '(.{4})(.{4})(.{4})(.{4})(.{4})(.*)', '$1 $2 $3 $4 $5 $6') FROM accounts WHERE iban IS NOT NULL AND account_id % 2 = 0
UNION ALL SELECT 'ip_address', 'login from ' || ip_address || ' on ' || platform FROM app_events WHERE event_id % 10 = 0
UNION ALL SELECT 'none', 'Payment of ' || amount || ' ' || currency || ' at merchant ' || merchant_id || ' (MCC ' || mcc || ') on ' || ts
  FROM transactions WHERE transaction_id % 10 = 0
UNION ALL SELECT 'none', 'Session ' || session_id || ' ' || event_type || ' at ' || ts FROM app_events WHERE event_id % 20 = 0
UNION ALL SELECT 'none', 'Account ' || account_id || ' opened ' || open_date || ', balance ' || balance || ', sort code 20-00-' || lpad(CAST(account_id % 100 AS VARCHAR), 2, '0')
  FROM accounts
UNION ALL SELECT 'none', 'NI number ' || national_id FROM customers WHERE country = 'GB'
UNION ALL SELECT 'none', 'Reference ' || CAST(transaction_id * 1000003 + 17 AS VARCHAR) FROM transactions WHERE transaction_id % 50 = 0
UNION ALL SELECT 'none', text FROM (VALUES
  ('Loan approved for 250000.00 GBP at 4.35% over 25 years'),
  ('Branch 0042 closes at 17:30 on 2024-12-24'),
  ('Version 10.2.3.4.5 of the app crashed'),
  ('Order 20240630123456 shipped'),
  ('Customer asked about the 12 month fixed rate bond'),
  ('客户咨询理财产品, 金额50000元'),
  ('Ticket #88213 escalated to level 2'),
  ('The meeting is at 10:30:00 in room 4'),
  ('Invoice INV-2024-000123 paid'),
  ('Card ending 1111 was frozen')) AS t(text)
UNION ALL SELECT 'hard_negative', 'Order ' || CAST(4000000000000000 + transaction_id * 7919 AS VARCHAR) || ' shipped'
  FROM transactions WHERE transaction_id % 50 = 0;

CREATE TABLE detected AS SELECT label, detect_pii(text) AS found FROM labelled;

CREATE TABLE pii_quality AS
SELECT kind,
       sum(CASE WHEN label = kind AND array_has(found, kind) THEN 1 ELSE 0 END) AS true_positives,
       sum(CASE WHEN label <> kind AND array_has(found, kind) THEN 1 ELSE 0 END) AS false_positives,
       sum(CASE WHEN label = kind AND NOT array_has(found, kind) THEN 1 ELSE 0 END) AS false_negatives,
       sum(CASE WHEN label <> kind AND label <> 'hard_negative' AND array_has(found, kind) THEN 1 ELSE 0 END)
         AS false_positives_without_hard
FROM detected CROSS JOIN (VALUES ('email'), ('phone'), ('card_pan'), ('iban'), ('cn_resident_id'), ('ip_address')) AS k(kind)
GROUP BY kind;

SELECT kind, true_positives, false_positives, false_negatives,
       round(CAST(true_positives AS DOUBLE) / (true_positives + false_positives), 4) AS precision,
       round(CAST(true_positives AS DOUBLE) / (true_positives + false_positives_without_hard), 4) AS precision_without_hard,
       round(CAST(true_positives AS DOUBLE) / (true_positives + false_negatives), 4) AS recall
FROM pii_quality ORDER BY kind;

SELECT label, count(*) AS texts FROM labelled GROUP BY label ORDER BY label;
