-- Cleaning the demo bank's customer records before analysis: the records of
-- three source systems (customers_raw: core banking, online and branch
-- sign-ups, the call centre) with names typed twice, phone numbers, e-mails,
-- IDs and birth dates in mixed formats, missing values and mistyped
-- incomes. Standardise, fix outliers and gaps, then link the records that
-- are one person and keep one row each.
--
--   finsight --dir demo_data run sql/data_cleaning.sql
--
-- customers_raw.true_customer_id is the demo's answer key: nothing below
-- compares on it; it only scores the result at the end.

-- 1. What came in.
SELECT source, count(*) AS records,
       count(*) FILTER (WHERE phone IS NULL) AS no_phone,
       count(*) FILTER (WHERE email IS NULL) AS no_email,
       count(*) FILTER (WHERE national_id IS NULL) AS no_id,
       count(*) FILTER (WHERE income IS NULL) AS no_income
FROM customers_raw GROUP BY source ORDER BY records DESC;

-- 2. Standard forms. Names: full-width folded, spaces squeezed; the key for
-- matching drops the spaces a Chinese IME leaves between characters and
-- puts the words of other names in order (so "Smith, John" meets "John
-- Smith"). British files write dates day first, which parse_date reads only
-- when told.
CREATE TABLE customers_clean AS
SELECT raw_id, source, country, city,
       squeeze_whitespace(to_halfwidth(full_name)) AS name,
       CASE WHEN country = 'CN' THEN replace(squeeze_whitespace(to_halfwidth(full_name)), ' ', '')
            ELSE array_to_string(array_sort(string_to_array(
                   lower(squeeze_whitespace(replace(full_name, ',', ' '))), ' ')), ' ')
       END AS name_key,
       CASE WHEN country = 'GB'
            THEN parse_date(birth_date_text, '%Y-%m-%d', '%Y/%m/%d', '%d/%m/%Y', '%d %b %Y', '%d-%b-%Y')
            ELSE parse_date(birth_date_text) END AS birth_date,
       birth_date_text,
       phone_e164(phone, country) AS phone, phone AS phone_raw,
       email_normalize(email) AS email, email AS email_raw,
       CASE WHEN country = 'CN' THEN cn_resident_id_upgrade(replace(national_id, ' ', ''))
            ELSE upper(replace(national_id, ' ', '')) END AS national_id,
       national_id AS national_id_raw,
       income
FROM customers_raw;

-- A second key for blocking that survives a mistyped birth date: how the
-- surname sounds (Soundex; Chinese names by their characters) and the birth
-- year.
CREATE TABLE customers_keyed AS
SELECT *, CASE WHEN country = 'CN' THEN name_key
               ELSE soundex(CASE WHEN strpos(name, ',') > 0 THEN split_part(name, ',', 1)
                                 ELSE split_part(name, ' ', array_length(string_to_array(name, ' '))) END)
          END || '/' || CAST(date_part('year', birth_date) AS VARCHAR) AS name_block
FROM customers_clean;

ASSERT NOT EXISTS (SELECT raw_id, phone_raw FROM customers_clean WHERE phone IS NULL AND phone_raw IS NOT NULL),
  'every phone number reads as a valid E.164 number';
ASSERT NOT EXISTS (SELECT raw_id, email_raw FROM customers_clean WHERE email IS NULL AND email_raw IS NOT NULL),
  'every e-mail address normalises';
ASSERT NOT EXISTS (SELECT raw_id, birth_date_text FROM customers_clean WHERE birth_date IS NULL AND birth_date_text IS NOT NULL),
  'every birth date reads in one of the formats';
ASSERT NOT EXISTS (SELECT raw_id, national_id_raw FROM customers_clean
                   WHERE country = 'CN' AND national_id_raw IS NOT NULL AND NOT cn_resident_id_is_valid(national_id)),
  'every Chinese resident ID is valid in its 18-character form';
ASSERT (SELECT count(DISTINCT phone) * 1.0 / count(DISTINCT phone_raw) FROM customers_clean) < 0.95,
  'standard forms merge the formats of one number';

-- 3. Incomes: a typed income 100 times too large stands out on the log
-- scale within its country, 4.6 units (ln 100) above the rest, where
-- incomes spread by about 0.6 (MAD / 0.6745): a fence at robust z 5 flags
-- the typing errors and leaves the private bank's clients alone, which the
-- textbook 3.5 does not (it flags 2.5% of incomes here). Flag them, set
-- them aside, and fill them and the missing ones with the country's median.
CREATE TABLE incomes_checked AS
SELECT raw_id, country, income,
       mad_outlier(ln(income), 5) OVER (PARTITION BY country) AS income_outlier
FROM customers_clean;

CREATE TABLE incomes_filled AS
SELECT raw_id, income, income_outlier,
       impute_median(CASE WHEN income_outlier THEN NULL ELSE income END) OVER (PARTITION BY country) AS income_filled,
       income IS NULL OR income_outlier AS income_imputed
FROM incomes_checked;

-- Why the median: a mean fill is pulled up by the private bank's incomes,
-- and a mode fill of incomes in 10,000 bands by the most common band only.
SELECT country, round(max(mean_fill)) AS mean_fill, round(max(median_fill)) AS median_fill,
       max(band_fill) AS mode_band_fill
FROM (SELECT country,
             CASE WHEN income IS NULL THEN impute_mean(income) OVER (PARTITION BY country) END AS mean_fill,
             CASE WHEN income IS NULL THEN impute_median(income) OVER (PARTITION BY country) END AS median_fill,
             CASE WHEN income IS NULL THEN impute_mode(CAST(floor(income / 10000) * 10000 AS BIGINT))
                                           OVER (PARTITION BY country) END AS band_fill
      FROM incomes_checked WHERE NOT coalesce(income_outlier, false))
GROUP BY country ORDER BY country;

SELECT count(*) FILTER (WHERE income IS NULL) AS missing,
       count(*) FILTER (WHERE income_outlier) AS outliers,
       count(*) FILTER (WHERE income_imputed) AS imputed
FROM incomes_filled;

ASSERT NOT EXISTS (SELECT raw_id FROM incomes_filled WHERE income_filled IS NULL), 'every record has an income after imputation';
-- Checked against the answer key: the core-banking income is the true one.
ASSERT (SELECT count(*) FILTER (WHERE NOT f.income_outlier) FROM incomes_filled f
        JOIN customers_raw r USING (raw_id) JOIN customers c ON c.customer_id = r.true_customer_id
        WHERE f.income > c.income * 50) = 0,
  'every income typed 100 times too large is flagged';
ASSERT (SELECT avg(CASE WHEN income_outlier THEN 1.0 ELSE 0.0 END) FROM incomes_filled WHERE income IS NOT NULL) < 0.02,
  'fewer than 2% of incomes are flagged';

-- For models, incomes clipped to the country's 1st and 99th percentiles
-- (scipy's mstats.winsorize); Tukey's fences flag more than the MAD rule on
-- a skewed variable, which is why the MAD rule did the flagging above.
SELECT country,
       count(*) FILTER (WHERE income_outlier) AS mad_flags, count(*) FILTER (WHERE tukey) AS tukey_flags,
       max(income_filled) AS largest, max(income_model) AS largest_winsorized
FROM (SELECT f.*, c.country,
             iqr_outlier(f.income) OVER (PARTITION BY c.country) AS tukey,
             winsorize(f.income_filled, 0.01, 0.01) OVER (PARTITION BY c.country) AS income_model
      FROM incomes_filled f JOIN customers_clean c USING (raw_id))
GROUP BY country ORDER BY country;

-- The accounts' IBANs pass their ISO 13616 check and are stored in the
-- electronic form.
ASSERT NOT EXISTS (SELECT account_id, iban FROM accounts
                   WHERE iban IS NOT NULL AND (NOT iban_is_valid(iban) OR iban_normalize(iban) <> iban)),
  'every IBAN is valid and in its electronic form';

-- 4. Link the records of one person. Records are compared only within a
-- block: those that share a phone, an e-mail, an ID, a birth date, or how
-- the surname sounds and the birth year. The score is the mean over the
-- columns both records have: Jaro-Winkler on the name key, exact for the
-- rest.
CREATE TABLE record_pairs AS
SELECT * FROM dedup_candidates('customers_keyed', 'raw_id',
  'name_key, birth_date:exact, phone:exact, email:exact, national_id:exact',
  'phone, email, national_id, birth_date, name_block', 0.8);

SELECT blocked_on, count(*) AS pairs, round(avg(score), 3) AS mean_score
FROM record_pairs GROUP BY blocked_on ORDER BY pairs DESC LIMIT 8;

-- For a reviewer: the linked pairs whose names differ most, with two more
-- measures of how far apart they are.
SELECT a.name AS name_a, b.name AS name_b, round(p.score, 3) AS score,
       round(jaro_winkler_similarity(lower(a.name), lower(b.name)), 3) AS jaro_winkler,
       round(jaro_similarity(lower(a.name), lower(b.name)), 3) AS jaro,
       token_set_ratio(lower(a.name), lower(b.name)) AS token_set,
       double_metaphone(a.name) = double_metaphone(b.name) AS sounds_alike
FROM record_pairs p JOIN customers_clean a ON a.raw_id = p.id_a JOIN customers_clean b ON b.raw_id = p.id_b
ORDER BY p.name_key_similarity, p.id_a LIMIT 10;

CREATE TABLE record_clusters AS
SELECT * FROM dedup_clusters('customers_keyed', 'raw_id',
  'name_key, birth_date:exact, phone:exact, email:exact, national_id:exact',
  'phone, email, national_id, birth_date, name_block', 0.8);

SELECT cluster_size, count(*) AS records FROM record_clusters GROUP BY cluster_size ORDER BY cluster_size;

-- 5. One row per person (a golden record): the core-banking record first,
-- each field it lacks filled from the person's next record that has it
-- (fill_backward over the records in order of trust), the income the
-- median of those actually recorded.
CREATE TABLE customers_deduplicated AS
SELECT person_id, records, name, birth_date, phone, email, national_id, income
FROM (SELECT k.cluster_id AS person_id, k.cluster_size AS records, c.name, c.birth_date,
             fill_backward(c.phone) OVER person AS phone,
             fill_backward(c.email) OVER person AS email,
             fill_backward(c.national_id) OVER person AS national_id,
             median(CASE WHEN f.income_imputed THEN NULL ELSE f.income END) OVER (PARTITION BY k.cluster_id) AS income,
             row_number() OVER person AS trust
      FROM record_clusters k
      JOIN customers_clean c ON c.raw_id = k.id
      JOIN incomes_filled f ON f.raw_id = k.id
      WINDOW person AS (PARTITION BY k.cluster_id
                        ORDER BY CASE c.source WHEN 'core_banking' THEN 0 WHEN 'online' THEN 1 ELSE 2 END, c.raw_id))
WHERE trust = 1;

ASSERT (SELECT count(*) FILTER (WHERE phone IS NOT NULL) * 1.0 / count(*) FROM customers_deduplicated) > 0.97,
  'the golden records have a phone number for nearly everyone';

-- 6. Scored against the answer key, pair by pair: of the pairs of records
-- put in one cluster, how many are one person (precision), and of the
-- pairs that are one person, how many were put together (recall).
CREATE TABLE linkage_truth AS
SELECT k.id AS raw_id, k.cluster_id, r.true_customer_id
FROM record_clusters k JOIN customers_raw r ON r.raw_id = k.id;

CREATE TABLE linkage_score AS
WITH linked_pairs AS (
  SELECT a.raw_id AS x, b.raw_id AS y, a.true_customer_id = b.true_customer_id AS same_person
  FROM linkage_truth a JOIN linkage_truth b ON a.cluster_id = b.cluster_id AND a.raw_id < b.raw_id),
true_pairs AS (
  SELECT a.raw_id AS x, b.raw_id AS y, a.cluster_id = b.cluster_id AS linked
  FROM linkage_truth a JOIN linkage_truth b ON a.true_customer_id = b.true_customer_id AND a.raw_id < b.raw_id)
SELECT (SELECT count(*) FROM true_pairs) AS true_pairs,
       (SELECT count(*) FROM linked_pairs) AS linked_pairs,
       (SELECT avg(CASE WHEN same_person THEN 1.0 ELSE 0.0 END) FROM linked_pairs) AS pair_precision,
       (SELECT avg(CASE WHEN linked THEN 1.0 ELSE 0.0 END) FROM true_pairs) AS pair_recall,
       (SELECT count(*) FROM customers_deduplicated) AS people_found,
       (SELECT count(DISTINCT true_customer_id) FROM customers_raw) AS people;

SELECT true_pairs, linked_pairs, round(pair_precision, 4) AS pair_precision, round(pair_recall, 4) AS pair_recall,
       people_found, people FROM linkage_score;

ASSERT (SELECT pair_precision FROM linkage_score) >= 0.95, 'linkage precision is at least 0.95';
ASSERT (SELECT pair_recall FROM linkage_score) >= 0.95, 'linkage recall is at least 0.95';
ASSERT (SELECT abs(people_found - people) * 1.0 / people FROM linkage_score) < 0.02,
  'one row per person: within 2% of the true number of customers';
