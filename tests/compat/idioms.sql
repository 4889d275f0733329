-- The compatibility suite: idioms from the DuckDB, PostgreSQL, Snowflake and
-- BigQuery documentation, written against the tables of data.sql. Each runs
-- on DuckDB (the reference) and on finsight; see compat.py for the
-- directives. Grouped by topic, as the documentation is.

-- ============================================================== joins

-- idiom: join_using_where_unqualified
-- from: PostgreSQL 7.2.1.1 joined tables (USING); the issue's example
SELECT count(*) FROM customers JOIN accounts USING (customer_id) WHERE customer_id % 7 = 3;

-- idiom: join_using_select_unqualified
-- from: PostgreSQL 7.2.1.1 (a USING column appears once, unqualified)
SELECT customer_id, name, account_id FROM customers JOIN accounts USING (customer_id) ORDER BY account_id;

-- idiom: join_using_group_by_unqualified
-- from: DuckDB docs, SELECT / FROM and JOIN clauses
SELECT customer_id, count(*) AS n FROM accounts JOIN transactions USING (account_id, customer_id) GROUP BY customer_id;

-- idiom: join_using_order_by_unqualified
-- from: PostgreSQL 7.2.1.1
SELECT customer_id, product FROM customers JOIN accounts USING (customer_id) ORDER BY customer_id, product;
-- ordered

-- idiom: join_using_star
-- from: PostgreSQL 7.2.1.1 (SELECT * lists the USING column once)
SELECT * FROM regions JOIN (SELECT region, count(*) AS customers FROM customers GROUP BY region) c USING (region);
-- names

-- idiom: join_using_left_unqualified
-- from: PostgreSQL 7.2.1.1 (LEFT JOIN USING: the merged column is the left one)
SELECT region, manager, n FROM regions LEFT JOIN (SELECT region, count(*) AS n FROM customers GROUP BY region) c USING (region);

-- idiom: join_using_full_outer_coalesced
-- from: PostgreSQL 7.2.1.1 (FULL JOIN USING: the merged column is COALESCE of both)
SELECT region, manager, n FROM regions FULL JOIN (SELECT region, count(*) AS n FROM customers GROUP BY region) c USING (region);

-- idiom: join_using_three_tables
-- from: DuckDB docs, JOIN clause
SELECT count(*), sum(amount) FROM customers JOIN accounts USING (customer_id) JOIN transactions USING (account_id) WHERE region = 'north';

-- idiom: join_using_expression_on_column
-- from: BigQuery docs, USING clause
SELECT customer_id * 10 AS k, count(*) AS n FROM customers JOIN accounts USING (customer_id) GROUP BY 1 HAVING count(*) > 1;

-- idiom: natural_join
-- from: PostgreSQL 7.2.1.1 (NATURAL)
SELECT count(*) FROM customers NATURAL JOIN regions;

-- idiom: inner_join_on
-- from: PostgreSQL tutorial 2.6
SELECT c.name, a.product, a.balance FROM customers c JOIN accounts a ON a.customer_id = c.customer_id WHERE a.balance > 4000;

-- idiom: left_join_is_null_anti
-- from: PostgreSQL tutorial 2.6 (outer joins)
SELECT r.region FROM regions r LEFT JOIN customers c ON c.region = r.region WHERE c.customer_id IS NULL;

-- idiom: right_join
-- from: DuckDB docs, JOIN clause
SELECT r.manager, count(c.customer_id) AS n FROM customers c RIGHT JOIN regions r ON c.region = r.region GROUP BY r.manager;

-- idiom: full_outer_join
-- from: PostgreSQL 7.2.1.1
SELECT r.region AS a, c.region AS b FROM regions r FULL OUTER JOIN (SELECT DISTINCT region FROM customers) c ON r.region = c.region;

-- idiom: cross_join
-- from: PostgreSQL 7.2.1.1
SELECT count(*) FROM regions CROSS JOIN (SELECT DISTINCT product FROM accounts) p;

-- idiom: comma_join
-- from: SQL-92 implicit join
SELECT count(*) FROM customers c, accounts a WHERE a.customer_id = c.customer_id AND c.region = 'east';

-- idiom: self_join
-- from: PostgreSQL tutorial 2.6 (self join)
SELECT a.customer_id, count(*) AS pairs FROM accounts a JOIN accounts b ON a.customer_id = b.customer_id AND a.account_id < b.account_id GROUP BY a.customer_id;

-- idiom: non_equi_join_between
-- from: DuckDB docs, inequality joins
SELECT c.customer_id, count(*) AS n FROM customers c JOIN accounts a ON a.opened_on BETWEEN c.birth_date + INTERVAL 70 YEAR AND c.birth_date + INTERVAL 72 YEAR GROUP BY c.customer_id;

-- idiom: semi_join_exists
-- from: PostgreSQL 9.23 subquery expressions (EXISTS)
SELECT name FROM customers c WHERE EXISTS (SELECT 1 FROM accounts a WHERE a.customer_id = c.customer_id AND a.product = 'loan');

-- idiom: anti_join_not_exists
-- from: PostgreSQL 9.23 (NOT EXISTS)
SELECT customer_id FROM customers c WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.customer_id = c.customer_id);

-- idiom: semi_join_in_subquery
-- from: PostgreSQL 9.23 (IN)
SELECT count(*) FROM transactions WHERE account_id IN (SELECT account_id FROM accounts WHERE product = 'card');

-- idiom: anti_join_not_in
-- from: PostgreSQL 9.23 (NOT IN)
SELECT count(*) FROM customers WHERE customer_id NOT IN (SELECT customer_id FROM accounts WHERE customer_id IS NOT NULL);

-- idiom: semi_join_keyword
-- from: DuckDB docs, SEMI and ANTI joins
SELECT count(*) FROM customers SEMI JOIN accounts ON customers.customer_id = accounts.customer_id;

-- idiom: anti_join_keyword
-- from: DuckDB docs, SEMI and ANTI joins
SELECT customer_id FROM customers ANTI JOIN accounts ON customers.customer_id = accounts.customer_id;

-- idiom: lateral_join
-- from: PostgreSQL 7.2.1.5 LATERAL subqueries
SELECT c.customer_id, t.total FROM customers c, LATERAL (SELECT sum(amount) AS total FROM transactions x WHERE x.customer_id = c.customer_id) t WHERE c.customer_id <= 5;

-- idiom: asof_join
-- from: DuckDB docs, ASOF JOIN
SELECT t.tx_id, a.account_id FROM transactions t ASOF JOIN accounts a ON t.account_id = a.account_id AND t.ts >= a.opened_on WHERE t.tx_id <= 20;
-- known: DataFusion 55 has no ASOF join (sqlparser reads only Snowflake's MATCH_CONDITION form, which DataFusion does not plan); take the latest earlier row with a LATERAL subquery (ORDER BY ts DESC LIMIT 1) or last_value over a window

-- idiom: join_on_multiple_conditions_or
-- from: PostgreSQL 7.2.1.1 (ON with any condition)
SELECT count(*) FROM customers c JOIN regions r ON c.region = r.region OR r.rank = 4;

-- ============================================================== set operations

-- idiom: union_distinct
-- from: PostgreSQL 7.4 combining queries
SELECT region FROM customers UNION SELECT region FROM regions;

-- idiom: union_all
-- from: PostgreSQL 7.4
SELECT count(*) FROM (SELECT region FROM customers UNION ALL SELECT region FROM regions);

-- idiom: intersect
-- from: PostgreSQL 7.4
SELECT region FROM customers INTERSECT SELECT region FROM regions;

-- idiom: except
-- from: PostgreSQL 7.4
SELECT region FROM regions EXCEPT SELECT region FROM customers;

-- idiom: intersect_all
-- from: PostgreSQL 7.4 (ALL keeps duplicates)
SELECT product FROM accounts INTERSECT ALL SELECT product FROM accounts WHERE account_id % 2 = 0;

-- idiom: except_all
-- from: PostgreSQL 7.4
SELECT product FROM accounts EXCEPT ALL SELECT product FROM accounts WHERE account_id % 2 = 0;

-- idiom: union_order_by_limit
-- from: PostgreSQL 7.4 (ORDER BY applies to the union)
SELECT name AS label FROM customers WHERE customer_id < 4 UNION ALL SELECT manager FROM regions ORDER BY label LIMIT 5;
-- ordered

-- idiom: union_by_name
-- from: DuckDB docs, UNION BY NAME
SELECT region, manager FROM regions UNION ALL BY NAME SELECT 'west' AS region, 'Wes' AS manager;

-- idiom: union_type_widening
-- from: PostgreSQL 10.5 UNION type resolution
SELECT 1 AS x UNION ALL SELECT 2.5 UNION ALL SELECT NULL;

-- ============================================================== aggregates and grouping

-- idiom: group_by_all
-- from: DuckDB docs, GROUP BY ALL
SELECT region, segment, count(*) AS n FROM customers GROUP BY ALL;

-- idiom: group_by_ordinal
-- from: PostgreSQL 7.2.3 (GROUP BY output column position)
SELECT region, count(*) FROM customers GROUP BY 1;

-- idiom: group_by_alias
-- from: DuckDB docs, GROUP BY (select-list aliases)
SELECT upper(region) AS r, count(*) FROM customers GROUP BY r;

-- idiom: having
-- from: PostgreSQL tutorial 2.7
SELECT region, avg(income) AS avg_income FROM customers GROUP BY region HAVING count(*) >= 10 AND avg(income) > 0;

-- idiom: rollup
-- from: PostgreSQL 7.2.4 GROUPING SETS, CUBE, ROLLUP
SELECT region, segment, count(*) FROM customers GROUP BY ROLLUP (region, segment);

-- idiom: cube
-- from: PostgreSQL 7.2.4
SELECT region, product, sum(revenue) FROM monthly_sales GROUP BY CUBE (region, product);

-- idiom: grouping_sets
-- from: PostgreSQL 7.2.4
SELECT region, month, sum(revenue) FROM monthly_sales GROUP BY GROUPING SETS ((region), (month), ());

-- idiom: grouping_function
-- from: PostgreSQL 9.21 (GROUPING)
SELECT region, product, GROUPING(region, product) AS g, sum(revenue) FROM monthly_sales GROUP BY ROLLUP (region, product);

-- idiom: aggregate_filter
-- from: PostgreSQL 4.2.7 aggregate expressions (FILTER)
SELECT region, count(*) FILTER (WHERE income > 50000) AS rich, count(*) AS n FROM customers GROUP BY region;

-- idiom: count_distinct
-- from: PostgreSQL 4.2.7
SELECT count(DISTINCT region), count(DISTINCT segment), count(segment), count(*) FROM customers;

-- idiom: sum_distinct
-- from: PostgreSQL 4.2.7
SELECT sum(DISTINCT mcc), avg(DISTINCT mcc) FROM transactions;

-- idiom: string_agg_ordered
-- from: PostgreSQL 9.21 (string_agg with ORDER BY)
SELECT region, string_agg(name, ', ' ORDER BY name) AS names FROM customers WHERE customer_id <= 12 GROUP BY region;

-- idiom: array_agg_ordered
-- from: PostgreSQL 9.21 (array_agg)
SELECT region, array_agg(customer_id ORDER BY customer_id) AS ids FROM customers WHERE customer_id <= 12 GROUP BY region;

-- idiom: list_aggregate
-- from: DuckDB docs, list aggregate
SELECT region, list(customer_id ORDER BY customer_id) AS ids FROM customers WHERE customer_id <= 12 GROUP BY region;

-- idiom: median
-- from: DuckDB docs, median
SELECT region, median(income) FROM customers GROUP BY region;

-- idiom: percentile_cont_within_group
-- from: PostgreSQL 9.21 ordered-set aggregates
SELECT percentile_cont(0.9) WITHIN GROUP (ORDER BY amount) FROM transactions;

-- idiom: percentile_disc_within_group
-- from: PostgreSQL 9.21 ordered-set aggregates
SELECT region, percentile_disc(0.5) WITHIN GROUP (ORDER BY income) FROM customers GROUP BY region;

-- idiom: quantile_cont
-- from: DuckDB docs, quantile_cont
SELECT quantile_cont(amount, 0.25) AS q1, quantile_cont(amount, 0.75) AS q3 FROM transactions;

-- idiom: mode_within_group
-- from: PostgreSQL 9.21 (mode() WITHIN GROUP)
SELECT mode() WITHIN GROUP (ORDER BY x) AS m FROM (VALUES ('b'), ('a'), ('b'), ('c'), (NULL)) AS t(x);

-- idiom: mode_function
-- from: DuckDB docs, mode
SELECT g, mode(x) AS m FROM (VALUES (1, 5), (1, 5), (1, 7), (2, 8), (2, 9), (2, 9), (2, NULL)) AS t(g, x) GROUP BY g;

-- idiom: arg_max
-- from: DuckDB docs, arg_max / max_by
SELECT region, arg_max(name, income) AS richest FROM customers GROUP BY region;

-- idiom: max_by
-- from: Snowflake/Spark MAX_BY
SELECT channel, max_by(tx_id, amount) AS biggest, min_by(tx_id, amount) AS smallest FROM transactions GROUP BY channel;

-- idiom: bool_and_or
-- from: PostgreSQL 9.21 (bool_and, bool_or)
SELECT region, bool_and(is_active), bool_or(is_active) FROM customers GROUP BY region;

-- idiom: every_aggregate
-- from: SQL standard EVERY
SELECT every(income > 10000) FROM customers;
-- duckdb: SELECT bool_and(income > 10000) FROM customers

-- idiom: count_if
-- from: DuckDB/Snowflake COUNT_IF
SELECT count_if(amount < 0) FROM transactions;

-- idiom: stddev_variance
-- from: PostgreSQL 9.21 statistical aggregates
SELECT stddev_samp(amount), stddev_pop(amount), var_samp(amount), var_pop(amount) FROM transactions;

-- idiom: corr_covar_regr
-- from: PostgreSQL 9.21 statistical aggregates
SELECT corr(amount, mcc), covar_pop(amount, mcc), covar_samp(amount, mcc), regr_slope(amount, tx_id), regr_intercept(amount, tx_id), regr_r2(amount, tx_id) FROM transactions;

-- idiom: approx_count_distinct
-- from: DuckDB/BigQuery APPROX_COUNT_DISTINCT (both are HyperLogLog estimates: the bounds are checked)
SELECT approx_count_distinct(customer_id) BETWEEN 36 AND 44 AS plausible FROM customers;

-- idiom: first_last_ordered
-- from: DuckDB docs, first / last with ORDER BY
SELECT region, first(name ORDER BY customer_id) AS f, last(name ORDER BY customer_id) AS l FROM customers GROUP BY region;

-- idiom: any_value
-- from: PostgreSQL 16 / DuckDB any_value (one value per group)
SELECT region, any_value(region) AS r FROM customers GROUP BY region;

-- idiom: bit_and_or_xor
-- from: PostgreSQL 9.21 (bit_and, bit_or)
SELECT bit_and(mcc), bit_or(mcc), bit_xor(mcc) FROM transactions;

-- idiom: aggregate_of_expression
-- from: PostgreSQL tutorial 2.7
SELECT sum(CASE WHEN amount > 0 THEN amount ELSE 0 END) AS credit, sum(amount) FILTER (WHERE amount < 0) AS debit FROM transactions;

-- idiom: avg_decimal
-- from: PostgreSQL 9.21 (avg of numeric)
SELECT product, avg(balance), sum(balance), min(balance), max(balance) FROM accounts GROUP BY product;

-- idiom: global_aggregate_empty_input
-- from: SQL standard (an aggregate without GROUP BY returns one row)
SELECT count(*), sum(amount), max(ts) FROM transactions WHERE amount > 1e9;

-- idiom: group_by_empty_input
-- from: SQL standard (GROUP BY over no rows returns no rows)
SELECT channel, count(*) FROM transactions WHERE amount > 1e9 GROUP BY channel;

-- idiom: distinct_on
-- from: PostgreSQL 7.3.3 DISTINCT ON
SELECT DISTINCT ON (region) region, name, income FROM customers WHERE income IS NOT NULL ORDER BY region, income DESC;
-- ordered

-- idiom: select_distinct_multiple
-- from: PostgreSQL 7.3.3 DISTINCT
SELECT DISTINCT region, segment FROM customers;

-- ============================================================== windows

-- idiom: row_number_partition
-- from: PostgreSQL tutorial 3.5 window functions
SELECT customer_id, account_id, row_number() OVER (PARTITION BY customer_id ORDER BY account_id) AS n FROM accounts;

-- idiom: rank_dense_rank
-- from: PostgreSQL 9.22 window functions
SELECT mcc, tx_id, rank() OVER (ORDER BY mcc) AS r, dense_rank() OVER (ORDER BY mcc) AS d FROM transactions WHERE tx_id <= 30;

-- idiom: percent_rank_cume_dist
-- from: PostgreSQL 9.22
SELECT customer_id, percent_rank() OVER (ORDER BY income) AS p, cume_dist() OVER (ORDER BY income) AS c FROM customers WHERE income IS NOT NULL;

-- idiom: ntile
-- from: PostgreSQL 9.22
SELECT customer_id, ntile(4) OVER (ORDER BY customer_id) AS quartile FROM customers;

-- idiom: lag_lead_default
-- from: PostgreSQL 9.22 (lag/lead with offset and default)
SELECT tx_id, lag(amount, 1, 0) OVER (PARTITION BY account_id ORDER BY ts) AS prev, lead(amount, 2) OVER (PARTITION BY account_id ORDER BY ts) AS next2 FROM transactions;

-- idiom: first_last_value_frame
-- from: PostgreSQL 9.22 (frame clause matters for last_value)
SELECT tx_id, first_value(amount) OVER w AS f, last_value(amount) OVER w AS l FROM transactions WINDOW w AS (PARTITION BY account_id ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING);

-- idiom: nth_value
-- from: PostgreSQL 9.22
SELECT tx_id, nth_value(amount, 2) OVER (PARTITION BY account_id ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS second FROM transactions;

-- idiom: running_sum_rows
-- from: PostgreSQL 4.2.8 window function calls
SELECT tx_id, sum(amount) OVER (PARTITION BY account_id ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running FROM transactions;

-- idiom: moving_average_rows
-- from: DuckDB docs, window functions (framing)
SELECT tx_id, avg(amount) OVER (PARTITION BY account_id ORDER BY ts ROWS BETWEEN 2 PRECEDING AND 2 FOLLOWING) AS smooth FROM transactions;

-- idiom: range_interval_frame
-- from: PostgreSQL 4.2.8 (RANGE with an interval offset)
SELECT tx_id, count(*) OVER (PARTITION BY account_id ORDER BY ts RANGE BETWEEN INTERVAL 30 DAY PRECEDING AND CURRENT ROW) AS n30 FROM transactions;

-- idiom: range_numeric_frame
-- from: PostgreSQL 4.2.8 (RANGE with a numeric offset)
SELECT customer_id, sum(income) OVER (ORDER BY customer_id RANGE BETWEEN 3 PRECEDING AND 1 FOLLOWING) AS s FROM customers;

-- idiom: groups_frame
-- from: PostgreSQL 4.2.8 (GROUPS frames)
SELECT tx_id, count(*) OVER (ORDER BY mcc GROUPS BETWEEN 1 PRECEDING AND CURRENT ROW) AS n FROM transactions WHERE tx_id <= 50;

-- idiom: window_without_order
-- from: PostgreSQL tutorial 3.5 (whole-partition aggregate)
SELECT customer_id, income, income - avg(income) OVER (PARTITION BY region) AS diff FROM customers;

-- idiom: count_over_empty
-- from: PostgreSQL tutorial 3.5 (OVER ())
SELECT customer_id, count(*) OVER () AS total FROM customers WHERE region = 'west';

-- idiom: qualify
-- from: DuckDB/Snowflake QUALIFY
SELECT account_id, tx_id, amount FROM transactions QUALIFY row_number() OVER (PARTITION BY account_id ORDER BY amount DESC) = 1;

-- idiom: named_window
-- from: PostgreSQL 7.2.5 WINDOW clause
SELECT tx_id, sum(amount) OVER w AS s, max(amount) OVER w AS m FROM transactions WINDOW w AS (PARTITION BY channel ORDER BY tx_id);

-- idiom: window_exclude_current_row
-- from: PostgreSQL 4.2.8 (frame EXCLUDE)
SELECT customer_id, avg(income) OVER (PARTITION BY region ORDER BY customer_id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING EXCLUDE CURRENT ROW) AS others FROM customers;
-- known: frame EXCLUDE does not parse in DataFusion 55; subtract the row: (sum(x) OVER w - x) / (count(x) OVER w - 1)

-- idiom: lag_ignore_nulls
-- from: Snowflake/DuckDB LAG ... IGNORE NULLS
SELECT customer_id, lag(income IGNORE NULLS) OVER (ORDER BY customer_id) AS prev_income FROM customers;

-- idiom: last_value_ignore_nulls
-- from: Snowflake LAST_VALUE ... IGNORE NULLS (fill forward)
SELECT customer_id, last_value(segment IGNORE NULLS) OVER (ORDER BY customer_id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS filled FROM customers;

-- idiom: window_filter
-- from: DuckDB docs, FILTER on window aggregates
SELECT tx_id, count(*) FILTER (WHERE amount < 0) OVER (PARTITION BY account_id ORDER BY ts) AS debits FROM transactions;

-- idiom: window_over_aggregate
-- from: PostgreSQL tutorial 3.5 (window over a grouped result)
SELECT region, count(*) AS n, sum(count(*)) OVER () AS total, rank() OVER (ORDER BY count(*) DESC) AS r FROM customers GROUP BY region;

-- idiom: running_share
-- from: BigQuery docs, window function calls (cumulative share)
SELECT channel, sum(amount) AS s, sum(amount) / sum(sum(amount)) OVER () AS share FROM transactions GROUP BY channel;

-- ============================================================== dates and times

-- idiom: date_trunc_month
-- from: PostgreSQL 9.9.2 date_trunc
SELECT date_trunc('month', ts) AS month, count(*) FROM transactions GROUP BY 1;

-- idiom: date_trunc_week_quarter
-- from: PostgreSQL 9.9.2 date_trunc
SELECT date_trunc('week', ts) AS w, date_trunc('quarter', ts) AS q FROM transactions WHERE tx_id % 97 = 1;

-- idiom: extract_fields
-- from: PostgreSQL 9.9.1 EXTRACT
SELECT EXTRACT(YEAR FROM ts) AS y, EXTRACT(MONTH FROM ts) AS m, EXTRACT(DAY FROM ts) AS d, EXTRACT(HOUR FROM ts) AS h FROM transactions WHERE tx_id <= 10;

-- idiom: extract_dow_doy
-- from: PostgreSQL 9.9.1 (dow: Sunday is 0; doy)
SELECT EXTRACT(DOW FROM ts) AS dow, EXTRACT(DOY FROM ts) AS doy FROM transactions WHERE tx_id <= 10;

-- idiom: extract_epoch
-- from: PostgreSQL 9.9.1 (epoch)
SELECT EXTRACT(EPOCH FROM ts) AS e FROM transactions WHERE tx_id <= 5;

-- idiom: date_part
-- from: PostgreSQL 9.9.1 date_part
SELECT date_part('year', birth_date) AS y, date_part('quarter', birth_date) AS q FROM customers;

-- idiom: year_month_day_functions
-- from: DuckDB docs, date part functions
SELECT year(ts), month(ts), day(ts), hour(ts), minute(ts) FROM transactions WHERE tx_id <= 5;

-- idiom: dayofweek_dayname
-- from: DuckDB docs, dayofweek / dayname
SELECT dayofweek(ts), dayname(ts), monthname(ts) FROM transactions WHERE tx_id <= 7;

-- idiom: isodow_week
-- from: PostgreSQL 9.9.1 (isodow, week)
SELECT EXTRACT(ISODOW FROM ts) AS isodow, EXTRACT(WEEK FROM ts) AS wk FROM transactions WHERE tx_id <= 10;

-- idiom: timestamp_plus_interval
-- from: PostgreSQL 9.9 date/time operators
SELECT ts + INTERVAL '1 day' AS tomorrow, ts - INTERVAL '2 hours' AS earlier FROM transactions WHERE tx_id <= 3;

-- idiom: date_plus_interval_month_end
-- from: PostgreSQL 9.9 (adding a month clamps to the month's end)
SELECT DATE '2024-01-31' + INTERVAL '1 month' AS d;

-- idiom: date_plus_integer
-- from: PostgreSQL 9.9 (date + integer days)
SELECT opened_on + 30 AS due FROM accounts WHERE account_id <= 3;

-- idiom: date_minus_date
-- from: PostgreSQL 9.9 (date - date is a number of days)
SELECT DATE '2024-03-01' - DATE '2024-02-01' AS days;

-- idiom: timestamp_minus_timestamp
-- from: PostgreSQL 9.9 (timestamp - timestamp is an interval)
SELECT TIMESTAMP '2024-03-01 12:00:00' - TIMESTAMP '2024-02-28 06:30:00' AS gap;

-- idiom: age_function
-- from: PostgreSQL 9.9 age(timestamp, timestamp)
SELECT age(TIMESTAMP '2024-03-15', TIMESTAMP '2001-01-20') AS a;

-- idiom: datediff_day
-- from: DuckDB/Snowflake DATEDIFF
SELECT datediff('day', DATE '2024-01-01', DATE '2024-03-01') AS d;

-- idiom: date_diff_month_boundaries
-- from: DuckDB docs, date_diff (counts month boundaries crossed)
SELECT date_diff('month', DATE '2024-01-31', DATE '2024-02-01') AS m, date_diff('year', DATE '2023-12-31', DATE '2024-01-01') AS y;

-- idiom: date_diff_columns
-- from: DuckDB docs, date_diff
SELECT customer_id, date_diff('year', birth_date, DATE '2024-06-30') AS years FROM customers;

-- idiom: date_sub_function
-- from: DuckDB docs, date_sub (complete parts)
SELECT date_sub('month', DATE '2024-01-31', DATE '2024-03-30') AS m;

-- idiom: date_add_function
-- from: DuckDB docs, date_add
SELECT date_add(DATE '2024-01-31', INTERVAL 1 MONTH) AS d;

-- idiom: last_day
-- from: DuckDB/Snowflake LAST_DAY
SELECT last_day(DATE '2024-02-10') AS leap, last_day(DATE '2023-02-10') AS plain;

-- idiom: make_date
-- from: PostgreSQL 9.9 make_date
SELECT make_date(2024, 2, 29) AS d;

-- idiom: make_timestamp
-- from: PostgreSQL 9.9 make_timestamp
SELECT make_timestamp(2024, 2, 29, 13, 45, 30.5) AS t;

-- idiom: strftime
-- from: DuckDB docs, strftime
SELECT strftime(ts, '%Y-%m-%d %H:%M') AS s FROM transactions WHERE tx_id <= 5;

-- idiom: strftime_date_names
-- from: DuckDB docs, strftime (%A %B %d)
SELECT strftime(DATE '2024-03-05', '%A %d %B %Y') AS s;

-- idiom: strptime
-- from: DuckDB docs, strptime
SELECT strptime('05/03/2024 14:30', '%d/%m/%Y %H:%M') AS t;

-- idiom: to_char_timestamp
-- from: PostgreSQL 9.8 to_char (finsight takes strftime patterns)
SELECT to_char(TIMESTAMP '2024-03-05 14:30:00', '%Y%m%d') AS s;
-- duckdb: SELECT strftime(TIMESTAMP '2024-03-05 14:30:00', '%Y%m%d') AS s

-- idiom: to_timestamp_epoch
-- from: PostgreSQL 9.9 to_timestamp(double precision)
SELECT to_timestamp(1700000000) AS t;

-- idiom: epoch_functions
-- from: DuckDB docs, epoch / epoch_ms
SELECT epoch(TIMESTAMP '2024-01-01 00:00:01') AS s, epoch_ms(TIMESTAMP '2024-01-01 00:00:01') AS ms;

-- idiom: cast_string_to_date
-- from: PostgreSQL 8.5 date input
SELECT CAST('2024-02-29' AS DATE) AS d, '2024-02-29 10:00:00'::TIMESTAMP AS t;

-- idiom: date_literal_comparison
-- from: PostgreSQL 8.5 (string literal compared with a date column)
SELECT count(*) FROM accounts WHERE opened_on >= '2022-01-01';

-- idiom: between_dates
-- from: PostgreSQL 9.2 BETWEEN
SELECT count(*) FROM transactions WHERE ts BETWEEN TIMESTAMP '2024-02-01' AND TIMESTAMP '2024-02-29 23:59:59';

-- idiom: generate_series_dates
-- from: PostgreSQL 9.25 generate_series(timestamp, timestamp, interval)
SELECT * FROM generate_series(TIMESTAMP '2024-01-01', TIMESTAMP '2024-01-05', INTERVAL '1 day');

-- idiom: range_dates
-- from: DuckDB docs, range (end excluded)
SELECT * FROM range(DATE '2024-01-01', DATE '2024-04-01', INTERVAL '1 month');

-- idiom: time_bucket
-- from: DuckDB docs, time_bucket
SELECT time_bucket(INTERVAL '6 hours', ts) AS bucket, count(*) FROM transactions GROUP BY 1;

-- idiom: date_bin
-- from: PostgreSQL 9.9.3 date_bin
SELECT date_bin(INTERVAL '15 minutes', TIMESTAMP '2024-01-01 10:37:00', TIMESTAMP '2024-01-01 00:00:00') AS b;
-- duckdb: SELECT time_bucket(INTERVAL '15 minutes', TIMESTAMP '2024-01-01 10:37:00', TIMESTAMP '2024-01-01 00:00:00') AS b

-- idiom: interval_literals
-- from: PostgreSQL 8.5.4 interval input
SELECT INTERVAL '1 year 2 months 3 days' AS a, INTERVAL 90 MINUTE AS b;

-- idiom: interval_multiplication
-- from: PostgreSQL 9.9 (interval * number)
SELECT INTERVAL '1 day' * 3 AS d;
-- known: DataFusion 55 cannot multiply an interval by a number; write the interval out (INTERVAL '3 days') or add days to a date (d + 3)

-- idiom: timestamp_with_time_zone
-- from: PostgreSQL 9.9.4 AT TIME ZONE
SELECT TIMESTAMPTZ '2024-03-05 12:00:00+00' AT TIME ZONE 'Asia/Shanghai' AS local;
-- known: DataFusion 55 reads a TIMESTAMPTZ literal as a timestamp without time zone and AT TIME ZONE then takes it as Shanghai wall time (04:00 UTC), where PostgreSQL and DuckDB give the Shanghai local time (20:00); keep timestamps in UTC and convert with arrow_cast(ts, 'Timestamp(Microsecond, Some("Asia/Shanghai"))')

-- idiom: current_date_type
-- from: PostgreSQL 9.9.5 current_date (compared with itself: the value varies)
SELECT current_date = current_date AS same, current_date > DATE '2020-01-01' AS recent;

-- idiom: month_over_month
-- from: DuckDB docs, window functions (growth per month)
SELECT date_trunc('month', ts) AS m, sum(amount) AS s, sum(amount) - lag(sum(amount)) OVER (ORDER BY date_trunc('month', ts)) AS change FROM transactions GROUP BY 1;

-- idiom: cohort_by_month
-- from: BigQuery docs, DATE_TRUNC (a cohort table)
SELECT date_trunc('month', c.joined_at) AS cohort, date_trunc('month', t.ts) AS active, count(DISTINCT c.customer_id) AS n FROM customers c JOIN transactions t USING (customer_id) GROUP BY 1, 2;

-- ============================================================== strings

-- idiom: concat_operator
-- from: PostgreSQL 9.4 (||)
SELECT name || ' <' || email || '>' AS contact FROM customers WHERE customer_id <= 3;

-- idiom: concat_function_nulls
-- from: PostgreSQL 9.4 concat (NULL arguments are ignored)
SELECT concat(name, NULL, '!') AS a, concat_ws('-', region, segment, NULL) AS b FROM customers WHERE customer_id <= 6;

-- idiom: upper_lower_initcap
-- from: PostgreSQL 9.4
SELECT upper(name), lower(name) FROM customers WHERE customer_id <= 8;

-- idiom: length_functions
-- from: PostgreSQL 9.4 (char_length counts characters, octet_length bytes)
SELECT name, length(name), char_length(name), octet_length(name) FROM customers WHERE customer_id IN (7, 8);
-- duckdb: SELECT name, length(name), length(name), strlen(name) FROM customers WHERE customer_id IN (7, 8)

-- idiom: substring_from_for
-- from: PostgreSQL 9.4 substring(string FROM start FOR count)
SELECT substring(email FROM 1 FOR 5) AS a, substr(email, 3, 4) AS b, substring(email, 2) AS c FROM customers WHERE customer_id <= 3;

-- idiom: position_strpos
-- from: PostgreSQL 9.4
SELECT position('@' IN email) AS a, strpos(email, '.') AS b FROM customers WHERE customer_id <= 4;

-- idiom: replace_translate
-- from: PostgreSQL 9.4
SELECT replace(email, '@', ' at ') AS a, translate(name, 'aeiou', 'AEIOU') AS b FROM customers WHERE customer_id <= 4;

-- idiom: trim_variants
-- from: PostgreSQL 9.4 trim(BOTH/LEADING/TRAILING ... FROM ...)
SELECT trim('  x  ') AS a, ltrim('xxhixx', 'x') AS b, rtrim('xxhixx', 'x') AS c, trim(BOTH 'x' FROM 'xxhixx') AS d, trim(LEADING '0' FROM '000123') AS e;

-- idiom: lpad_rpad
-- from: PostgreSQL 9.4
SELECT lpad(CAST(customer_id AS VARCHAR), 6, '0') AS a, rpad(region, 8, '.') AS b FROM customers WHERE customer_id <= 3;

-- idiom: left_right
-- from: PostgreSQL 9.4 left/right
SELECT left(email, 3) AS a, right(email, 6) AS b FROM customers WHERE customer_id <= 3;

-- idiom: split_part
-- from: PostgreSQL 9.4 split_part
SELECT split_part(email, '@', 2) AS domain, split_part(email, '.', 1) AS first FROM customers WHERE customer_id <= 5;

-- idiom: string_split
-- from: DuckDB docs, string_split
SELECT string_split(email, '@') AS parts FROM customers WHERE customer_id <= 3;

-- idiom: string_to_array
-- from: PostgreSQL 9.19 string_to_array
SELECT string_to_array('a,b,,c', ',') AS parts;

-- idiom: reverse_repeat
-- from: PostgreSQL 9.4
SELECT reverse(region) AS a, repeat(region, 2) AS b FROM customers WHERE customer_id <= 4;

-- idiom: starts_ends_with
-- from: DuckDB docs, starts_with / ends_with
SELECT count(*) FILTER (WHERE starts_with(email, 'ann')) AS a, count(*) FILTER (WHERE ends_with(email, '.cn')) AS b FROM customers;

-- idiom: contains_function
-- from: DuckDB docs, contains
SELECT count(*) FROM customers WHERE contains(email, 'stone');

-- idiom: like_ilike
-- from: PostgreSQL 9.7.1 LIKE / ILIKE
SELECT count(*) FILTER (WHERE name LIKE 'A%') AS a, count(*) FILTER (WHERE name ILIKE '%ng%') AS b, count(*) FILTER (WHERE email NOT LIKE '%.com') AS c FROM customers;

-- idiom: like_escape
-- from: PostgreSQL 9.7.1 (LIKE ... ESCAPE)
SELECT 'a_b' LIKE 'a\_b' ESCAPE '\' AS escaped, 'axb' LIKE 'a\_b' ESCAPE '\' AS not_escaped;

-- idiom: regexp_matches_boolean
-- from: DuckDB docs, regexp_matches (the issue's example)
SELECT count(*) FROM customers WHERE regexp_matches(email, '^[a-z]+\.[a-z]+[0-9]+@example\.(com|org)$');

-- idiom: regexp_full_match
-- from: DuckDB docs, regexp_full_match
SELECT regexp_full_match('abc', 'a.c') AS a, regexp_full_match('abcd', 'a.c') AS b;

-- idiom: regexp_replace_global
-- from: PostgreSQL 9.7.3 regexp_replace with the g flag
SELECT regexp_replace(email, '[0-9]', '#', 'g') AS masked FROM customers WHERE customer_id IN (1, 12, 33);

-- idiom: regexp_replace_first
-- from: PostgreSQL 9.7.3 (without g: the first match only)
SELECT regexp_replace('a1b2c3', '[0-9]', '#') AS r;

-- idiom: regexp_extract
-- from: DuckDB docs, regexp_extract
SELECT regexp_extract(email, '@(.*)$', 1) AS domain FROM customers WHERE customer_id <= 4;

-- idiom: regexp_like
-- from: Snowflake/Oracle REGEXP_LIKE
SELECT count(*) FROM customers WHERE regexp_like(name, '^[A-D]');
-- duckdb: SELECT count(*) FROM customers WHERE regexp_matches(name, '^[A-D]')

-- idiom: tilde_operator
-- from: PostgreSQL 9.7.3 (~ and ~*)
SELECT count(*) FILTER (WHERE name ~ '^[A-C]') AS a, count(*) FILTER (WHERE name ~* '^[a-c]') AS b FROM customers;

-- idiom: regexp_split_to_array
-- from: PostgreSQL 9.7.3 regexp_split_to_array
SELECT regexp_split_to_array('a1b22c', '[0-9]+') AS parts;

-- idiom: ascii_chr
-- from: PostgreSQL 9.4 ascii / chr
SELECT ascii('A') AS a, chr(66) AS b;

-- idiom: md5_hash
-- from: PostgreSQL 9.4 md5
SELECT md5('finsight') AS h;

-- idiom: sha256_hash
-- from: DuckDB/PostgreSQL sha256 (hex text)
SELECT sha256('finsight') AS h;
-- known: sha256 returns bytes, as PostgreSQL's bytea; DuckDB returns hex text: write encode(sha256(x), 'hex')
-- duckdb: SELECT sha256('finsight') AS h

-- idiom: levenshtein
-- from: PostgreSQL fuzzystrmatch / DuckDB levenshtein
SELECT levenshtein('kitten', 'sitting') AS d;

-- idiom: format_printf
-- from: DuckDB docs, printf
SELECT printf('%s has %d accounts', 'Ann', 3) AS s;
-- known: no printf/format in DataFusion 55: build the text with || or concat

-- idiom: string_comparison_collation
-- from: PostgreSQL 9.2 (byte order comparison)
SELECT 'B' < 'a' AS upper_first, 'abc' < 'abd' AS lexical;

-- idiom: cjk_text
-- from: PostgreSQL 9.4 (characters, not bytes)
SELECT upper(name) AS u, length(name) AS n, substring(name, 1, 1) AS first FROM customers WHERE customer_id = 7;

-- idiom: empty_string_vs_null
-- from: PostgreSQL (an empty string is not NULL)
SELECT count(*) FILTER (WHERE note = '') AS empty, count(*) FILTER (WHERE note IS NULL) AS missing FROM transactions;

-- idiom: string_agg_distinct
-- from: PostgreSQL 4.2.7 (DISTINCT in an aggregate)
SELECT string_agg(DISTINCT channel, ',' ORDER BY channel) AS channels FROM transactions;

-- ============================================================== conditionals and casts

-- idiom: case_searched
-- from: PostgreSQL 9.18.1 CASE
SELECT customer_id, CASE WHEN income >= 80000 THEN 'high' WHEN income >= 50000 THEN 'mid' ELSE 'low' END AS band FROM customers;

-- idiom: case_simple
-- from: PostgreSQL 9.18.1 (simple CASE)
SELECT CASE region WHEN 'north' THEN 1 WHEN 'south' THEN 2 ELSE 0 END AS code, count(*) FROM customers GROUP BY 1;

-- idiom: coalesce_nullif
-- from: PostgreSQL 9.18.2-3
SELECT coalesce(segment, 'unknown') AS s, nullif(region, 'north') AS r FROM customers WHERE customer_id <= 10;

-- idiom: ifnull
-- from: DuckDB/MySQL IFNULL
SELECT ifnull(income, 0) AS i FROM customers WHERE customer_id <= 8;

-- idiom: nvl
-- from: Snowflake/Oracle NVL
SELECT nvl(segment, '-') AS s FROM customers WHERE customer_id <= 6;
-- duckdb: SELECT coalesce(segment, '-') AS s FROM customers WHERE customer_id <= 6

-- idiom: if_function
-- from: DuckDB docs, if / BigQuery IF
SELECT if(amount > 0, 'credit', 'debit') AS side, count(*) FROM transactions GROUP BY 1;

-- idiom: iff_function
-- from: Snowflake IFF
SELECT iff(amount > 0, 'credit', 'debit') AS side, count(*) FROM transactions GROUP BY 1;
-- duckdb: SELECT if(amount > 0, 'credit', 'debit') AS side, count(*) FROM transactions GROUP BY 1

-- idiom: greatest_least
-- from: PostgreSQL 9.18.4
SELECT greatest(1, 5, 3) AS g, least(2.5, -1, 4) AS l, greatest('a', 'c', 'b') AS s;

-- idiom: cast_functions
-- from: PostgreSQL 4.2.9 type casts
SELECT CAST(income AS INTEGER) AS i, CAST(customer_id AS VARCHAR) AS s, CAST('42' AS BIGINT) AS b FROM customers WHERE customer_id <= 3;

-- idiom: double_colon_cast
-- from: PostgreSQL 4.2.9 (:: cast)
SELECT '3.5'::DOUBLE * 2 AS d, 7::VARCHAR || 'x' AS s;

-- idiom: try_cast
-- from: DuckDB/Snowflake TRY_CAST
SELECT try_cast('abc' AS INTEGER) AS a, try_cast('12' AS INTEGER) AS b;

-- idiom: cast_to_decimal
-- from: PostgreSQL 8.1.2 numeric
SELECT CAST(amount AS DECIMAL(10, 1)) AS d FROM transactions WHERE tx_id <= 5;

-- idiom: is_distinct_from
-- from: PostgreSQL 9.2 comparison predicates
SELECT count(*) FILTER (WHERE segment IS DISTINCT FROM 'retail') AS a, count(*) FILTER (WHERE segment IS NOT DISTINCT FROM NULL) AS b FROM customers;

-- idiom: in_list
-- from: PostgreSQL 9.23
SELECT count(*) FROM customers WHERE region IN ('north', 'east') AND segment NOT IN ('retail');

-- idiom: boolean_logic_nulls
-- from: PostgreSQL 9.1 (three-valued logic)
SELECT NULL AND FALSE AS a, NULL OR TRUE AS b, NOT (NULL::BOOLEAN) AS c, NULL = NULL AS d;

-- idiom: is_true_unknown
-- from: PostgreSQL 9.2 (IS TRUE / IS UNKNOWN)
SELECT count(*) FILTER (WHERE (income > 50000) IS TRUE) AS t, count(*) FILTER (WHERE (income > 50000) IS UNKNOWN) AS u FROM customers;

-- ============================================================== numbers

-- idiom: rounding
-- from: PostgreSQL 9.3 mathematical functions
SELECT round(2.567, 2) AS a, round(-2.5) AS b, trunc(2.99) AS c, ceil(2.1) AS d, floor(-2.1) AS e;

-- idiom: round_negative_digits
-- from: PostgreSQL 9.3 (round to tens)
SELECT round(1234.5, -2) AS r;

-- idiom: integer_division_modulo
-- from: PostgreSQL 9.3 (integer / integer truncates; %)
SELECT 7 / 2 AS a, -7 / 2 AS b, 7 % 3 AS c, -7 % 3 AS d;
-- known: DuckDB's / divides integers as floats (7 / 2 = 3.5); finsight keeps PostgreSQL's and SQL Server's integer division (3): write 7 / 2.0 for 3.5

-- idiom: integer_division_operator
-- from: DuckDB docs, // operator
SELECT 7 // 2 AS a;

-- idiom: float_division
-- from: DuckDB docs (/ on floats)
SELECT 7.0 / 2 AS a, 1 / 4.0 AS b;

-- idiom: power_sqrt_exp_ln
-- from: PostgreSQL 9.3
SELECT power(2, 10) AS a, sqrt(2.0) AS b, exp(1.0) AS c, ln(10.0) AS d, log10(1000.0) AS e, cbrt(27.0) AS f;

-- idiom: abs_sign
-- from: PostgreSQL 9.3
SELECT abs(-3.5) AS a, sign(-2) AS b, sign(0.0) AS c;

-- idiom: trig_pi
-- from: PostgreSQL 9.3 trigonometric functions
SELECT pi() AS p, sin(pi() / 2) AS s, degrees(pi()) AS d, atan2(1, 1) AS a;

-- idiom: bitwise_operators
-- from: PostgreSQL 9.3 bit operators
SELECT 12 & 10 AS a, 12 | 10 AS b, 12 # 10 AS c, 1 << 4 AS d, 256 >> 2 AS e;
-- known: PostgreSQL's # (XOR) does not parse in DataFusion 55; write ^ (12 ^ 10 = 6)
-- duckdb: SELECT 12 & 10 AS a, 12 | 10 AS b, xor(12, 10) AS c, 1 << 4 AS d, 256 >> 2 AS e

-- idiom: gcd_lcm_factorial
-- from: PostgreSQL 9.3
SELECT gcd(12, 18) AS g, lcm(4, 6) AS l, factorial(5) AS f;

-- idiom: numeric_precision
-- from: PostgreSQL 8.1.2 (decimal arithmetic is exact)
SELECT CAST(0.1 AS DECIMAL(10, 2)) + CAST(0.2 AS DECIMAL(10, 2)) AS s;

-- idiom: nan_and_infinity
-- from: PostgreSQL 8.1.4 (special float values)
SELECT 'NaN'::DOUBLE = 'NaN'::DOUBLE AS nan_equal, 'Infinity'::DOUBLE > 1e308 AS inf;

-- idiom: isnan_isinf
-- from: DuckDB docs, isnan / isinf
SELECT isnan('NaN'::DOUBLE) AS a, isinf('-Infinity'::DOUBLE) AS b, isfinite(1.0) AS c;
-- duckdb: SELECT isnan('NaN'::DOUBLE) AS a, isinf('-Infinity'::DOUBLE) AS b, isfinite(1.0) AS c

-- idiom: random_range
-- from: PostgreSQL 9.3 random (only the range is checked)
SELECT bool_and(r >= 0 AND r < 1) AS ok FROM (SELECT random() AS r FROM transactions);

-- idiom: width_bucket
-- from: PostgreSQL 9.3 width_bucket
SELECT width_bucket(income, 20000, 110000, 9) AS bucket, count(*) FROM customers GROUP BY 1;
-- duckdb: SELECT CASE WHEN income IS NULL THEN NULL WHEN income < 20000 THEN 0 WHEN income >= 110000 THEN 10 ELSE floor((income - 20000) / 10000)::BIGINT + 1 END AS bucket, count(*) FROM customers GROUP BY 1

-- ============================================================== JSON

-- idiom: json_arrow_text
-- from: PostgreSQL 9.16 ->> operator / DuckDB JSON
SELECT payload->>'kind' AS kind, count(*) FROM events GROUP BY 1;
-- duckdb: SELECT payload::JSON->>'kind' AS kind, count(*) FROM events GROUP BY 1

-- idiom: json_nested_path
-- from: PostgreSQL 9.16 (chained -> and ->>)
SELECT payload->'device'->>'os' AS os, count(*) FROM events GROUP BY 1;
-- duckdb: SELECT payload::JSON->'device'->>'os' AS os, count(*) FROM events GROUP BY 1

-- idiom: json_extract_string
-- from: DuckDB docs, json_extract_string with a JSONPath
SELECT json_extract_string(payload, '$.device.os') AS os FROM events WHERE event_id <= 4;

-- idiom: json_extract_number
-- from: DuckDB docs, json_extract (cast to a number)
SELECT sum(CAST(json_extract(payload, '$.amount') AS DOUBLE)) AS total FROM events;

-- idiom: json_array_length
-- from: DuckDB docs, json_array_length
SELECT event_id, json_array_length(payload, '$.tags') AS n FROM events WHERE event_id <= 4;

-- idiom: json_valid
-- from: DuckDB docs, json_valid
SELECT json_valid('{"a": 1}') AS a, json_valid('{a: 1') AS b;
-- known: datafusion-functions-json 0.55 has no json_valid

-- idiom: json_keys
-- from: DuckDB docs, json_keys
SELECT json_keys('{"b": 1, "a": 2}') AS k;

-- idiom: json_contains_key
-- from: PostgreSQL 9.16 ? operator (has a key)
SELECT count(*) FROM events WHERE json_exists(payload, '$.amount');

-- idiom: json_filter_on_value
-- from: BigQuery JSON_VALUE in WHERE
SELECT count(*) FROM events WHERE json_extract_string(payload, '$.kind') = 'login';

-- ============================================================== arrays and structs

-- idiom: array_literal
-- from: DuckDB docs, list literal
SELECT [1, 2, 3] AS xs, ['a', NULL] AS ys;

-- idiom: array_constructor
-- from: PostgreSQL 4.2.12 ARRAY constructor
SELECT ARRAY[1, 2, 3] AS xs;

-- idiom: array_length_functions
-- from: DuckDB docs, len / array_length
SELECT basket_id, len(items) AS a, array_length(items) AS b FROM baskets WHERE basket_id <= 5;

-- idiom: cardinality
-- from: PostgreSQL 9.19 cardinality
SELECT cardinality(items) AS n FROM baskets WHERE basket_id <= 5;

-- idiom: array_index_one_based
-- from: PostgreSQL 8.15.3 (arrays are 1-based)
SELECT items[1] AS first, items[2] AS second FROM baskets WHERE basket_id <= 5;

-- idiom: array_slice
-- from: DuckDB docs, list slicing
SELECT items[1:2] AS head FROM baskets WHERE basket_id <= 5;

-- idiom: unnest_select
-- from: PostgreSQL 9.19 unnest
SELECT basket_id, unnest(items) AS item FROM baskets WHERE basket_id <= 6;

-- idiom: unnest_from
-- from: PostgreSQL 9.19 (unnest in FROM)
SELECT * FROM unnest([3, 1, 2]) AS t(x);

-- idiom: unnest_aggregate
-- from: DuckDB docs, unnest then aggregate
SELECT item, count(*) FROM (SELECT unnest(items) AS item FROM baskets) GROUP BY item;

-- idiom: array_contains
-- from: DuckDB docs, list_contains / array_contains
SELECT count(*) FILTER (WHERE list_contains(items, 3)) AS a, count(*) FILTER (WHERE array_contains(items, 0)) AS b FROM baskets;

-- idiom: array_position
-- from: PostgreSQL 9.19 array_position
SELECT array_position([10, 20, 30], 20) AS p;

-- idiom: array_append_prepend_concat
-- from: PostgreSQL 9.19
SELECT array_append([1, 2], 3) AS a, array_prepend(0, [1, 2]) AS b, array_cat([1], [2, 3]) AS c;

-- idiom: array_distinct_sort
-- from: DuckDB docs, list_distinct / list_sort
SELECT array_sort(array_distinct([3, 1, 3, 2])) AS s;

-- idiom: list_aggregates
-- from: DuckDB docs, list_sum / list_max
SELECT list_sum(items) AS s, list_max(items) AS m FROM baskets WHERE basket_id <= 5;

-- idiom: array_to_string
-- from: PostgreSQL 9.19 array_to_string
SELECT array_to_string(items, '-') AS s FROM baskets WHERE basket_id <= 5;

-- idiom: flatten
-- from: DuckDB docs, flatten
SELECT flatten([[1, 2], [3]]) AS f;

-- idiom: list_transform_lambda
-- from: DuckDB docs, list_transform with a lambda
SELECT list_transform(items, x -> x * 2) AS doubled FROM baskets WHERE basket_id <= 3;
-- known: DataFusion 55 has no lambda functions; unnest, compute and array_agg back
-- duckdb: SELECT list_transform(items, lambda x: x * 2) AS doubled FROM baskets WHERE basket_id <= 3

-- idiom: list_filter_lambda
-- from: DuckDB docs, list_filter with a lambda
SELECT list_filter(items, x -> x > 2) AS big FROM baskets WHERE basket_id <= 5;
-- known: DataFusion 55 has no lambda functions; unnest, filter and array_agg back
-- duckdb: SELECT list_filter(items, lambda x: x > 2) AS big FROM baskets WHERE basket_id <= 5

-- idiom: array_any_comparison
-- from: PostgreSQL 9.24 (= ANY (array))
SELECT count(*) FROM customers WHERE region = ANY(['north', 'west']);

-- idiom: struct_literal_access
-- from: DuckDB docs, struct literal and dot access
SELECT {'a': 1, 'b': 'x'}.b AS b;

-- idiom: struct_column_field
-- from: DuckDB docs, struct field access
SELECT meta.store AS store, count(*) FROM baskets GROUP BY 1;

-- idiom: struct_bracket_access
-- from: DuckDB docs, struct['field']
SELECT meta['score'] AS score FROM baskets WHERE basket_id <= 3;

-- idiom: struct_pack
-- from: DuckDB docs, struct_pack
SELECT struct_pack(a := 1, b := 'x') AS s;

-- idiom: named_struct
-- from: Spark/DataFusion named_struct
SELECT named_struct('a', 1, 'b', 'x') AS s;
-- duckdb: SELECT {'a': 1, 'b': 'x'} AS s

-- idiom: row_constructor
-- from: PostgreSQL 4.2.13 row constructors
SELECT ROW(1, 'x') AS r;
-- duckdb: SELECT {'c0': 1, 'c1': 'x'} AS r

-- idiom: generate_series_integers
-- from: PostgreSQL 9.25 generate_series
SELECT * FROM generate_series(1, 10, 3);

-- idiom: range_integers
-- from: DuckDB docs, range
SELECT * FROM range(5);

-- idiom: array_generate_range
-- from: DuckDB docs, range as a list
SELECT range(1, 4) AS r;

-- ============================================================== subqueries and CTEs

-- idiom: scalar_subquery
-- from: PostgreSQL 4.2.11 scalar subqueries
SELECT name, income - (SELECT avg(income) FROM customers) AS above FROM customers WHERE customer_id <= 5;

-- idiom: correlated_scalar_subquery
-- from: PostgreSQL 4.2.11
SELECT c.customer_id, (SELECT count(*) FROM accounts a WHERE a.customer_id = c.customer_id) AS n FROM customers c;

-- idiom: correlated_subquery_where
-- from: PostgreSQL 9.23
SELECT count(*) FROM transactions t WHERE amount > (SELECT avg(amount) FROM transactions u WHERE u.channel = t.channel);

-- idiom: derived_table
-- from: PostgreSQL 7.2.1.3 subqueries in FROM
SELECT region, max(n) FROM (SELECT region, segment, count(*) AS n FROM customers GROUP BY region, segment) s GROUP BY region;

-- idiom: cte_simple
-- from: PostgreSQL 7.8 WITH queries
WITH big AS (SELECT * FROM transactions WHERE amount > 400) SELECT channel, count(*) FROM big GROUP BY channel;

-- idiom: cte_chained
-- from: PostgreSQL 7.8
WITH per_customer AS (SELECT customer_id, sum(amount) AS total FROM transactions GROUP BY 1), ranked AS (SELECT *, rank() OVER (ORDER BY total DESC) AS r FROM per_customer) SELECT customer_id, total FROM ranked WHERE r <= 3;

-- idiom: cte_referenced_twice
-- from: PostgreSQL 7.8
WITH s AS (SELECT channel, sum(amount) AS total FROM transactions GROUP BY 1) SELECT a.channel, a.total / (SELECT sum(total) FROM s) AS share FROM s a;

-- idiom: recursive_cte
-- from: PostgreSQL 7.8.2 recursive queries
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10) SELECT sum(i) FROM n;

-- idiom: recursive_cte_dates
-- from: PostgreSQL 7.8.2 (a calendar)
WITH RECURSIVE days(d) AS (SELECT DATE '2024-02-26' UNION ALL SELECT CAST(d + INTERVAL '1 day' AS DATE) FROM days WHERE d < DATE '2024-03-02') SELECT d FROM days;

-- idiom: any_all_subquery
-- from: PostgreSQL 9.23 (> ALL, = ANY with a subquery)
SELECT count(*) FROM transactions WHERE amount > ALL (SELECT amount FROM transactions WHERE channel = 'atm');

-- idiom: exists_in_select
-- from: PostgreSQL 9.23 (EXISTS as a value)
SELECT customer_id, EXISTS (SELECT 1 FROM accounts a WHERE a.customer_id = c.customer_id) AS has_account FROM customers c;

-- idiom: in_subquery_multiple_columns
-- from: PostgreSQL 9.23 (row IN subquery)
SELECT count(*) FROM accounts WHERE (customer_id, product) IN (SELECT customer_id, product FROM accounts WHERE balance > 3000);

-- idiom: values_table
-- from: PostgreSQL 7.7 VALUES lists
SELECT * FROM (VALUES (1, 'one'), (2, 'two')) AS t(n, word);

-- idiom: select_without_from
-- from: PostgreSQL (SELECT without FROM)
SELECT 1 + 1 AS two, 'x' AS x;

-- ============================================================== PIVOT and UNPIVOT

-- idiom: pivot_standard
-- from: Snowflake/BigQuery PIVOT (agg FOR col IN (...)); the issue's example
SELECT * FROM monthly_sales PIVOT (sum(revenue) FOR month IN ('2024-01', '2024-02', '2024-03')) ORDER BY region, product;
-- ordered
-- names

-- idiom: pivot_standard_aliases
-- from: BigQuery PIVOT (value aliases)
SELECT * FROM (SELECT region, month, revenue FROM monthly_sales) PIVOT (sum(revenue) AS total FOR month IN ('2024-01' AS jan, '2024-02' AS feb)) ORDER BY region;
-- ordered
-- names

-- idiom: pivot_standard_count
-- from: Snowflake PIVOT (count: a missing cell is 0)
SELECT * FROM (SELECT region, product FROM monthly_sales) PIVOT (count(*) FOR product IN ('loan', 'card')) ORDER BY region;
-- ordered
-- names

-- idiom: pivot_standard_two_aggregates
-- from: BigQuery PIVOT (several aggregates)
SELECT * FROM (SELECT product, month, revenue FROM monthly_sales) PIVOT (sum(revenue) AS s, max(revenue) AS m FOR month IN ('2024-01', '2024-03')) ORDER BY product;
-- ordered
-- names

-- idiom: pivot_standard_aggregated_further
-- from: Snowflake PIVOT (the pivot as a subquery)
SELECT sum("2024-01") AS jan FROM (SELECT * FROM (SELECT region, month, revenue FROM monthly_sales) PIVOT (sum(revenue) FOR month IN ('2024-01', '2024-02')));

-- idiom: pivot_duckdb_using
-- from: DuckDB docs, PIVOT statement (ON ... USING)
PIVOT monthly_sales ON month USING sum(revenue) ORDER BY region, product;
-- ordered
-- names

-- idiom: pivot_duckdb_group_by
-- from: DuckDB docs, PIVOT statement (GROUP BY)
PIVOT monthly_sales ON product USING sum(revenue) GROUP BY region ORDER BY region;
-- ordered
-- names

-- idiom: pivot_duckdb_in_list
-- from: DuckDB docs, PIVOT statement (ON col IN (...))
PIVOT monthly_sales ON month IN ('2024-01', '2024-03') USING sum(revenue) GROUP BY region ORDER BY region;
-- ordered
-- names

-- idiom: pivot_duckdb_default_count
-- from: DuckDB docs, PIVOT statement (no USING: count(*))
PIVOT monthly_sales ON product GROUP BY region ORDER BY region;
-- ordered
-- names

-- idiom: pivot_duckdb_two_columns
-- from: DuckDB docs, PIVOT statement (ON two columns)
PIVOT monthly_sales ON region, product USING sum(revenue) GROUP BY month ORDER BY month;
-- ordered
-- names

-- idiom: pivot_duckdb_two_aggregates
-- from: DuckDB docs, PIVOT statement (several USING aggregates)
PIVOT monthly_sales ON product USING sum(revenue) AS total, count(*) AS n GROUP BY region ORDER BY region;
-- ordered
-- names

-- idiom: pivot_duckdb_in_cte
-- from: DuckDB docs, PIVOT as a subquery in a CTE
WITH p AS (PIVOT monthly_sales ON product USING sum(revenue) GROUP BY region) SELECT region, loan - card AS gap FROM p ORDER BY region;
-- ordered

-- idiom: unpivot_standard
-- from: Snowflake/BigQuery UNPIVOT (value FOR name IN (...)); NULLs excluded
SELECT * FROM quarterly UNPIVOT (revenue FOR quarter IN (q1, q2, q3, q4)) ORDER BY id, quarter;
-- ordered
-- names

-- idiom: unpivot_include_nulls
-- from: Databricks/BigQuery UNPIVOT INCLUDE NULLS
SELECT * FROM quarterly UNPIVOT INCLUDE NULLS (revenue FOR quarter IN (q1, q2, q3, q4)) ORDER BY id, quarter;
-- ordered
-- names

-- idiom: unpivot_standard_aliases
-- from: BigQuery UNPIVOT (column aliases)
SELECT id, quarter, revenue FROM quarterly UNPIVOT (revenue FOR quarter IN (q1 AS 'Q1', q2 AS 'Q2')) ORDER BY id, quarter;
-- ordered

-- idiom: unpivot_duckdb_on_into
-- from: DuckDB docs, UNPIVOT statement (ON ... INTO NAME ... VALUE ...)
UNPIVOT quarterly ON q1, q2, q3, q4 INTO NAME quarter VALUE revenue ORDER BY id, quarter;
-- ordered
-- names

-- idiom: unpivot_duckdb_columns_exclude
-- from: DuckDB docs, UNPIVOT ON COLUMNS(* EXCLUDE ...)
UNPIVOT quarterly ON COLUMNS(* EXCLUDE (id, region)) INTO NAME quarter VALUE revenue ORDER BY id, quarter;
-- ordered
-- names

-- idiom: unpivot_then_aggregate
-- from: Snowflake UNPIVOT in a subquery
SELECT quarter, sum(revenue) AS total FROM (SELECT * FROM quarterly UNPIVOT (revenue FOR quarter IN (q1, q2, q3, q4))) GROUP BY quarter ORDER BY quarter;
-- ordered

-- ============================================================== sampling

-- idiom: using_sample_percent_all
-- from: DuckDB docs, USING SAMPLE (100% keeps every row)
SELECT count(*) FROM transactions USING SAMPLE 100 PERCENT (bernoulli);

-- idiom: using_sample_rows
-- from: DuckDB docs, USING SAMPLE n ROWS (reservoir)
SELECT count(*) FROM (SELECT * FROM transactions USING SAMPLE 10 ROWS);

-- idiom: tablesample_bernoulli_all
-- from: PostgreSQL 7.2.1.2 TABLESAMPLE BERNOULLI
SELECT count(*) FROM transactions TABLESAMPLE BERNOULLI (100);
-- duckdb: SELECT count(*) FROM transactions USING SAMPLE 100 PERCENT (bernoulli)

-- idiom: tablesample_fraction_bounds
-- from: PostgreSQL 7.2.1.2 TABLESAMPLE (only the bounds are checked)
SELECT count(*) BETWEEN 300 AND 700 AS plausible FROM transactions TABLESAMPLE BERNOULLI (50);
-- duckdb: SELECT count(*) BETWEEN 300 AND 700 AS plausible FROM transactions USING SAMPLE 50 PERCENT (bernoulli)

-- idiom: order_by_random_limit
-- from: PostgreSQL (a random sample the portable way)
SELECT count(*) FROM (SELECT * FROM transactions ORDER BY random() LIMIT 25);

-- ============================================================== writing data

-- idiom: create_table_as
-- from: PostgreSQL CREATE TABLE AS
CREATE TABLE compat_big_tx AS SELECT * FROM transactions WHERE amount > 300;
SELECT count(*), round(sum(amount), 2) FROM compat_big_tx;

-- idiom: create_or_replace_table
-- from: DuckDB/Snowflake CREATE OR REPLACE TABLE
CREATE OR REPLACE TABLE compat_t AS SELECT 1 AS x;
CREATE OR REPLACE TABLE compat_t AS SELECT 2 AS x UNION ALL SELECT 3;
SELECT sum(x) FROM compat_t;

-- idiom: create_table_insert_values
-- from: PostgreSQL CREATE TABLE / INSERT
CREATE TABLE compat_limits (product VARCHAR, max_balance DECIMAL(12, 2));
INSERT INTO compat_limits VALUES ('loan', 5000), ('card', 2500.50);
SELECT * FROM compat_limits ORDER BY product;
-- ordered

-- idiom: insert_select
-- from: PostgreSQL INSERT ... SELECT
CREATE TABLE compat_ids (id BIGINT);
INSERT INTO compat_ids SELECT customer_id FROM customers WHERE region = 'west';
SELECT count(*), sum(id) FROM compat_ids;

-- idiom: create_view
-- from: PostgreSQL CREATE VIEW
CREATE VIEW compat_north AS SELECT * FROM customers WHERE region = 'north';
SELECT count(*) FROM compat_north;

-- idiom: drop_if_exists
-- from: PostgreSQL DROP TABLE IF EXISTS
DROP TABLE IF EXISTS compat_never_made;
SELECT 1 AS ok;

-- idiom: copy_to_parquet
-- from: DuckDB docs, COPY ... TO (FORMAT parquet)
COPY (SELECT * FROM accounts WHERE product = 'loan') TO '{out}/loans.parquet' (FORMAT parquet);
SELECT count(*), sum(balance) FROM read_parquet('{out}/loans.parquet');

-- idiom: copy_to_parquet_compression
-- from: DuckDB docs, COPY ... TO (FORMAT parquet, COMPRESSION zstd)
COPY (SELECT * FROM transactions) TO '{out}/tx.parquet' (FORMAT parquet, COMPRESSION zstd);
SELECT count(*) FROM '{out}/tx.parquet';

-- idiom: copy_to_csv_header
-- from: DuckDB docs, COPY ... TO (FORMAT csv, HEADER)
COPY (SELECT customer_id, region FROM customers) TO '{out}/customers.csv' (FORMAT csv, HEADER true);
SELECT count(*), count(DISTINCT region) FROM read_csv('{out}/customers.csv');

-- idiom: copy_partitioned
-- from: DuckDB docs, COPY ... TO (PARTITION_BY)
COPY (SELECT tx_id, channel, amount FROM transactions) TO '{out}/by_channel' (FORMAT parquet, PARTITION_BY (channel));
SELECT count(*) FROM read_parquet('{out}/by_channel/*/*.parquet');
-- known: a glob over folders ('dir/*/*.parquet') is not a path table in DataFusion 55; name the folder instead: FROM 'dir/' (reads the hive partitions too)

-- idiom: copy_partitioned_read_folder
-- from: DuckDB docs, COPY ... TO (PARTITION_BY) and hive partitions read back
COPY (SELECT tx_id, channel, amount FROM transactions) TO '{out}/by_channel' (FORMAT parquet, PARTITION_BY (channel));
SELECT channel, count(*) FROM '{out}/by_channel/' GROUP BY channel;
-- duckdb: SELECT channel, count(*) FROM read_parquet('{out}/by_channel/*/*.parquet', hive_partitioning = true) GROUP BY channel

-- idiom: read_parquet_function
-- from: DuckDB docs, read_parquet
COPY (SELECT * FROM regions) TO '{out}/regions.parquet' (FORMAT parquet);
SELECT region FROM read_parquet('{out}/regions.parquet') ORDER BY region;
-- ordered

-- idiom: query_file_directly
-- from: DuckDB docs, querying a file by its path
COPY (SELECT * FROM regions) TO '{out}/r.parquet' (FORMAT parquet);
SELECT count(*) FROM '{out}/r.parquet';

-- ============================================================== select list and ordering

-- idiom: select_star_exclude
-- from: DuckDB docs, SELECT * EXCLUDE
SELECT * EXCLUDE (email, joined_at, birth_date) FROM customers WHERE customer_id <= 3;
-- names

-- idiom: select_star_replace
-- from: DuckDB docs, SELECT * REPLACE
SELECT * REPLACE (upper(region) AS region) FROM regions;
-- names

-- idiom: columns_regex
-- from: DuckDB docs, COLUMNS('regex')
SELECT COLUMNS('q[0-9]') FROM quarterly;
-- known: DuckDB's COLUMNS('regex') star expression is not in DataFusion 55; name the columns, or SELECT * EXCLUDE / REPLACE
-- names

-- idiom: columns_aggregate
-- from: DuckDB docs, COLUMNS(*) with an aggregate
SELECT max(COLUMNS('q[0-9]')) FROM quarterly;
-- known: DuckDB's COLUMNS(...) star expression is not in DataFusion 55; write max(q1), max(q2), ...

-- idiom: qualified_star
-- from: PostgreSQL (table.*)
SELECT r.*, c.customer_id FROM regions r JOIN customers c ON c.region = r.region WHERE c.customer_id <= 4;

-- idiom: limit_offset
-- from: PostgreSQL 7.6 LIMIT and OFFSET
SELECT tx_id FROM transactions ORDER BY tx_id LIMIT 5 OFFSET 10;
-- ordered

-- idiom: fetch_first
-- from: SQL standard FETCH FIRST n ROWS ONLY
SELECT tx_id FROM transactions ORDER BY amount DESC, tx_id FETCH FIRST 3 ROWS ONLY;
-- ordered

-- idiom: order_by_nulls_first_last
-- from: PostgreSQL 7.5 (NULLS FIRST / LAST)
SELECT customer_id, income FROM customers ORDER BY income NULLS FIRST, customer_id LIMIT 8;
-- ordered

-- idiom: order_by_desc_nulls_default
-- from: PostgreSQL 7.5 (NULLs sort as larger than any value)
SELECT customer_id, segment FROM customers ORDER BY segment DESC, customer_id LIMIT 10;
-- ordered
-- known: DuckDB sorts NULLs last in both directions, PostgreSQL and DataFusion first in DESC: DuckDB's default (default_null_order) differs

-- idiom: order_by_ordinal_and_expression
-- from: PostgreSQL 7.5 (ORDER BY a position or an expression)
SELECT region, count(*) AS n FROM customers GROUP BY region ORDER BY 2 DESC, lower(region);
-- ordered

-- idiom: order_by_alias
-- from: PostgreSQL 7.5 (output column names)
SELECT customer_id, income * 2 AS doubled FROM customers WHERE income IS NOT NULL ORDER BY doubled DESC, customer_id LIMIT 5;
-- ordered

-- idiom: limit_percent_free_count
-- from: PostgreSQL LIMIT ALL
SELECT count(*) FROM (SELECT * FROM customers LIMIT ALL);

-- idiom: quoted_identifiers
-- from: PostgreSQL 4.1.1 (quoted identifiers keep case and spaces)
SELECT region AS "Sales Region", count(*) AS "N" FROM customers GROUP BY 1;
-- names

-- idiom: case_insensitive_identifiers
-- from: PostgreSQL 4.1.1 (unquoted identifiers are case-insensitive)
SELECT COUNT(*) FROM Customers WHERE Region = 'north';

-- idiom: comments_in_sql
-- from: PostgreSQL 4.1.5 comments
SELECT /* block */ 1 AS one -- trailing
;

-- idiom: dollar_quoted_string
-- from: PostgreSQL 4.1.2.4 dollar quoting
SELECT $$it's$$ AS s;

-- idiom: escape_string
-- from: PostgreSQL 4.1.2.2 (doubled quote)
SELECT 'O''Brien' AS s;

-- idiom: string_literal_concat_number
-- from: DuckDB docs (|| casts numbers to text)
SELECT 'id-' || 42 AS s;
