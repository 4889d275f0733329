-- The privacy toolkit on the demo customers: masking for analysts, keyed
-- pseudonyms that still join, format-preserving card tokens, generalization
-- to a 5-anonymous release, PII discovery, and Parquet encryption at rest.
--
--   finsight --dir demo_data run sql/privacy_toolkit.sql
--
-- Keys come from the keyring (`finsight demo` writes demo keys to
-- demo_data/.finsight/keyring; real deployments pass --keyring FILE). SQL
-- names keys, never holds them. ${scratch_dir} is a temporary directory
-- that `finsight run` provides and removes afterwards.

-- 1. An analyst's view: every direct identifier masked.
CREATE TABLE customers_masked AS
SELECT customer_id, mask_name(name) AS name, mask_email(email) AS email, mask_phone(phone) AS phone,
       mask_card_pan(card_number) AS card_number, mask_national_id(national_id) AS national_id,
       mask_address(address) AS address, city, country, segment
FROM customers;

CREATE TABLE masking_check AS
SELECT c.customer_id, c.email AS raw_email, m.email AS masked_email, c.card_number AS raw_card,
       m.card_number AS masked_card, c.national_id AS raw_id, m.national_id AS masked_id,
       c.birth_date, c.phone AS raw_phone, m.phone AS masked_phone, c.name AS raw_name, m.name AS masked_name
FROM customers c JOIN customers_masked m USING (customer_id);

ASSERT NOT EXISTS (
  SELECT 1 FROM masking_check
  WHERE raw_email IS NOT NULL
    AND split_part(masked_email, '@', 1)
        <> left(split_part(raw_email, '@', 1), 1) || repeat('*', length(split_part(raw_email, '@', 1)) - 1)),
  'no e-mail local part survives mask_email beyond its first character';

ASSERT NOT EXISTS (
  SELECT 1 FROM masking_check
  WHERE length(regexp_replace(masked_card, '[^0-9]', '', 'g')) > 10 OR strpos(masked_card, raw_card) > 0),
  'card numbers show at most the BIN and the last four digits (PCI DSS)';

ASSERT NOT EXISTS (
  SELECT 1 FROM masking_check
  WHERE strpos(masked_id, to_char(birth_date, '%Y%m%d')) > 0),
  'no national ID reveals a date of birth';

ASSERT NOT EXISTS (
  SELECT 1 FROM masking_check
  WHERE raw_phone IS NOT NULL
    AND length(regexp_replace(masked_phone, '[^0-9]', '', 'g')) <> 4),
  'phone numbers keep exactly their last four digits';

ASSERT NOT EXISTS (SELECT 1 FROM masking_check WHERE masked_name = raw_name),
  'no name is left unmasked';

SELECT customer_id, name, email, phone, card_number, national_id, address
FROM customers_masked ORDER BY customer_id LIMIT 5;

-- 2. Pseudonyms: keyed HMAC-SHA-256, deterministic, so a pseudonymized
-- extract still joins, and a different key gives unrelated values.
CREATE TABLE customers_pseudonymized AS
SELECT pseudonymize(customer_id, 'demo_pii') AS customer_key, segment, country FROM customers;

CREATE TABLE accounts_pseudonymized AS
SELECT pseudonymize(customer_id, 'demo_pii') AS customer_key, account_type, balance FROM accounts;

ASSERT (SELECT count(DISTINCT customer_key) FROM customers_pseudonymized) = (SELECT count(*) FROM customers),
  'one distinct pseudonym per customer (no collisions)';

ASSERT (SELECT count(*) FROM customers_pseudonymized c JOIN accounts_pseudonymized a USING (customer_key))
     = (SELECT count(*) FROM customers c JOIN accounts a USING (customer_id)),
  'pseudonymized tables join exactly as the raw ones do';

ASSERT NOT EXISTS (
  SELECT 1 FROM customers
  WHERE pseudonymize(email, 'demo_pii') = pseudonymize(email, 'demo_fpe')),
  'different keys give different pseudonyms';

SELECT segment, country, count(*) AS customers, round(avg(balance), 2) AS avg_balance
FROM customers_pseudonymized JOIN accounts_pseudonymized USING (customer_key)
GROUP BY segment, country ORDER BY segment, country;

-- 3. Card tokens by FF1 format-preserving encryption: same length and
-- layout, a valid Luhn digit, reversible only with the key.
CREATE TABLE card_tokens AS
SELECT customer_id, card_number, tokenize_fpe(card_number, 'demo_fpe', 'luhn') AS token FROM customers;

ASSERT NOT EXISTS (SELECT 1 FROM card_tokens WHERE token = card_number OR length(token) <> length(card_number)),
  'every token differs from its card number and keeps its length';

-- The Luhn check written out in SQL: double every second digit from the right.
CREATE TABLE token_luhn AS
WITH digits AS (
  SELECT customer_id, pos, CAST(substr(reverse(token), pos, 1) AS INT) AS d
  FROM card_tokens CROSS JOIN generate_series(1, 19) AS g(pos)
  WHERE pos <= length(token))
SELECT customer_id,
       sum(CASE WHEN pos % 2 = 0 THEN (CASE WHEN d * 2 > 9 THEN d * 2 - 9 ELSE d * 2 END) ELSE d END) % 10 AS remainder
FROM digits GROUP BY customer_id;

ASSERT NOT EXISTS (SELECT 1 FROM token_luhn WHERE remainder <> 0)
   AND (SELECT count(*) FROM token_luhn) = (SELECT count(*) FROM customers),
  'every token is a valid-looking card number (passes the Luhn check)';

ASSERT NOT EXISTS (SELECT 1 FROM card_tokens WHERE detokenize_fpe(token, 'demo_fpe', 'luhn') <> card_number),
  'detokenize_fpe recovers every card number';

-- 4. A 5-anonymous release: generalize the quasi-identifiers (age band
-- top-coded at 60, region, gender), then suppress the records of classes
-- still under 5.
CREATE TABLE release_generalized AS
SELECT customer_id,
       age_band((DATE '2025-06-30' - birth_date) / 365.25, 10, 60) AS age_band,
       region, gender, segment
FROM customers;

SELECT k_anonymity(5, birth_date, postcode, gender) AS raw_quasi_identifiers FROM customers;

SELECT * FROM k_anonymity_classes('SELECT age_band, region, gender FROM release_generalized', 5) LIMIT 10;

CREATE TABLE release AS
SELECT * FROM (
  SELECT *, count(*) OVER (PARTITION BY age_band, region, gender) AS class_size FROM release_generalized)
WHERE class_size >= 5;

ASSERT (SELECT k_anonymity(5, age_band, region, gender)['satisfied'] FROM release),
  'the release is 5-anonymous in (age band, region, gender)';

ASSERT (SELECT count(*) FROM release) >= 0.98 * (SELECT count(*) FROM customers),
  'generalization keeps at least 98% of the records (at most 2% suppressed)';

ASSERT (SELECT k_anonymity(5, birth_date, postcode, gender)['satisfied'] FROM customers) = false,
  'the raw quasi-identifiers are not 5-anonymous: generalization was needed';

SELECT l_diversity(2, segment, age_band, region, gender) AS segment_diversity FROM release;

-- 5. PII discovery: the scan finds the identifier columns of the raw
-- table, and none in the masked one.
CREATE TABLE raw_scan AS SELECT * FROM pii_scan('customers', 2000);

ASSERT (SELECT count(*) FROM raw_scan
        WHERE confidence = 'high'
          AND (column_name, pii_type) IN (('email', 'email'), ('phone', 'phone'),
                                          ('card_number', 'card_pan'))) = 3,
  'email, phone and card_number are found with high confidence';

ASSERT EXISTS (SELECT 1 FROM raw_scan WHERE column_name = 'national_id' AND pii_type = 'cn_resident_id' AND matches > 0),
  'Chinese resident IDs are found in national_id';

ASSERT NOT EXISTS (SELECT 1 FROM pii_scan('customers_masked', 2000) WHERE matches > 0),
  'no value of the masked table is detected as PII';

SELECT column_name, pii_type, round(match_rate, 3) AS match_rate, confidence
FROM raw_scan ORDER BY column_name, pii_type;

-- 6. Encryption at rest: Parquet modular encryption, PII columns under
-- their own key, footer under another; it reads back whole.
COPY (SELECT * FROM customers) TO '${scratch_dir}/customers_encrypted.parquet' STORED AS PARQUET OPTIONS (
  'format.crypto.factory_id' 'finsight',
  'format.crypto.factory_options.footer_key' 'demo_parquet_footer',
  'format.crypto.factory_options.column_key' 'demo_parquet_pii',
  'format.crypto.factory_options.columns' 'name,email,phone,card_number,national_id,address');

ASSERT (SELECT count(*) FROM '${scratch_dir}/customers_encrypted.parquet') = (SELECT count(*) FROM customers),
  'the encrypted copy holds every customer';

ASSERT NOT EXISTS (
  SELECT customer_id, name, email, phone, card_number, national_id, address, income
  FROM '${scratch_dir}/customers_encrypted.parquet'
  EXCEPT
  SELECT customer_id, name, email, phone, card_number, national_id, address, income FROM customers),
  'decrypted rows equal the originals';
