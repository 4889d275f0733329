//! `finsight demo`: the synthetic bank is complete, plausible and
//! deterministic.

use crate::common::*;

#[test]
fn demo_tables_have_the_promised_shape() {
    let demo = demo_dir();
    let checks = "\
        ASSERT (SELECT count(*) FROM customers) = 1000, 'scale 0.01 is 1,000 customers';\n\
        ASSERT (SELECT count(DISTINCT customer_id) FROM customers) = 1000;\n\
        ASSERT (SELECT count(*) FROM transactions) BETWEEN 35000 AND 80000, 'about 55 transactions a customer';\n\
        ASSERT (SELECT min(ts) >= TIMESTAMP '2023-01-01' AND max(ts) < TIMESTAMP '2025-07-01' FROM transactions);\n\
        ASSERT (SELECT avg(CASE WHEN is_fraud THEN 1.0 ELSE 0.0 END) FROM transactions) BETWEEN 0.001 AND 0.02, 'labelled fraud share';\n\
        ASSERT (SELECT count(*) FROM customers WHERE status = 'closed') BETWEEN 120 AND 320, 'churned customers';\n\
        ASSERT NOT EXISTS (SELECT 1 FROM transactions t JOIN customers c USING (customer_id) WHERE c.closed_date IS NOT NULL AND CAST(t.ts AS DATE) > c.closed_date), 'no spending after closing';\n\
        ASSERT (SELECT approx_percentile_cont(amount, 0.99) / approx_percentile_cont(amount, 0.5) FROM transactions) > 8, 'heavy right tail of amounts';\n\
        ASSERT (SELECT count(*) FROM transactions WHERE date_part('month', ts) = 12) / 62.0 > (SELECT count(*) FROM transactions WHERE date_part('month', ts) = 2) / 85.0 * 1.15, 'December peak: more transactions a day than in February';\n\
        ASSERT (SELECT count(DISTINCT purpose) FROM consents) = 4;\n\
        ASSERT (SELECT count(*) FROM consents WHERE withdrawn_at < granted_at) = 0;\n\
        ASSERT (SELECT count(*) FROM loans) BETWEEN 100 AND 400;\n\
        ASSERT (SELECT avg(CASE WHEN defaulted THEN 1.0 ELSE 0.0 END) FROM loans) BETWEEN 0.03 AND 0.4;\n\
        ASSERT (SELECT corr(model_score, CASE WHEN defaulted THEN 1.0 ELSE 0.0 END) FROM loans) > 0.1, 'the model score predicts default';\n\
        ASSERT (SELECT count(DISTINCT group_name) FROM campaign_responses) = 2;\n\
        ASSERT (SELECT count(*) FROM campaigns) = 8;\n\
        ASSERT (SELECT count(DISTINCT symbol) FROM market_prices) = 22;\n\
        ASSERT (SELECT count(*) FROM market_prices WHERE close <= 0) = 0;\n\
        ASSERT (SELECT count(*) FROM positions p LEFT JOIN customers c USING (customer_id) WHERE c.customer_id IS NULL) = 0;\n\
        ASSERT (SELECT count(*) FROM accounts a LEFT JOIN customers c USING (customer_id) WHERE c.customer_id IS NULL) = 0;\n\
        ASSERT (SELECT count(*) FROM branches) > 40;\n\
        ASSERT (SELECT count(*) FROM app_events) > 5000;\n\
        ASSERT (SELECT count(*) FROM customers WHERE country = 'CN' AND length(national_id) <> 18) = 0, 'CN resident IDs have 18 characters';\n\
        ASSERT (SELECT count(*) FROM customers WHERE NOT regexp_like(card_number, '^[0-9]{16}$')) = 0;\n";
    let dir = scratch("demo-checks");
    let script = write(&dir, "checks.sql", checks);
    let output = run(&[
        "run",
        "--dir",
        demo.to_str().unwrap(),
        script.to_str().unwrap(),
    ]);
    assert_exit(&output, 0);
}

/// Runs `query` (which returns one column `bad`) on the small demo bank and
/// expects `bad` to be 0.
fn assert_no_bad_rows(query: &str) {
    let output = run(&[
        "--dir",
        demo_dir().to_str().expect("utf-8 path"),
        "--format",
        "csv",
        "-c",
        query,
    ]);
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "bad\n0\n\n");
}

#[test]
fn card_numbers_and_resident_ids_pass_their_check_digits() {
    // Independent of the generator's own check-digit code: Luhn and
    // ISO 7064 MOD 11-2 written out here in SQL over the generated data.
    let luhn = "\
        WITH digits AS (\n\
          SELECT customer_id, pos, CAST(substr(reverse(card_number), pos, 1) AS INT) AS d\n\
          FROM customers CROSS JOIN generate_series(1, 16) AS g(pos)),\n\
        sums AS (\n\
          SELECT customer_id, sum(CASE WHEN pos % 2 = 0 THEN (CASE WHEN d * 2 > 9 THEN d * 2 - 9 ELSE d * 2 END) ELSE d END) AS s\n\
          FROM digits GROUP BY customer_id)\n\
        SELECT count(*) AS bad FROM sums WHERE s % 10 <> 0;";
    assert_no_bad_rows(luhn);

    let resident = "\
        WITH ids AS (SELECT national_id FROM customers WHERE country = 'CN'),\n\
        w AS (SELECT * FROM (VALUES (1,7),(2,9),(3,10),(4,5),(5,8),(6,4),(7,2),(8,1),(9,6),(10,3),(11,7),(12,9),(13,10),(14,5),(15,8),(16,4),(17,2)) AS t(pos, weight)),\n\
        sums AS (SELECT national_id, sum(CAST(substr(national_id, pos, 1) AS INT) * weight) % 11 AS r FROM ids CROSS JOIN w GROUP BY national_id)\n\
        SELECT count(*) AS bad FROM sums WHERE substr(national_id, 18, 1) <> substr('10X98765432', CAST(r AS INT) + 1, 1);";
    assert_no_bad_rows(resident);
}

#[test]
fn same_seed_same_bytes_and_reuse_is_detected() {
    let a = scratch("demo-a");
    let b = scratch("demo-b");
    for dir in [&a, &b] {
        assert_exit(
            &run(&[
                "demo",
                "--scale",
                "0.02",
                "--dir",
                dir.to_str().unwrap(),
                "--no-repl",
            ]),
            0,
        );
    }
    for table in ["customers", "transactions", "loans", "market_prices"] {
        let file = format!("{table}/part-00000.parquet");
        let left = std::fs::read(a.join(&file)).expect("file a");
        let right = std::fs::read(b.join(&file)).expect("file b");
        assert!(
            left == right,
            "{file} differs between two runs with the same seed"
        );
    }
    let output = run(&[
        "demo",
        "--scale",
        "0.02",
        "--dir",
        a.to_str().unwrap(),
        "--no-repl",
    ]);
    assert_exit(&output, 0);
    assert!(
        stderr(&output).contains("Reusing demo bank"),
        "{}",
        stderr(&output)
    );
    let output = run(&[
        "demo",
        "--scale",
        "0",
        "--dir",
        a.to_str().unwrap(),
        "--no-repl",
    ]);
    assert_exit(&output, 2);
}

#[test]
fn demo_opens_the_shell_with_example_queries_that_answer() {
    let dir = scratch("demo-shell");
    let examples: String = finsight::demo::EXAMPLE_QUERIES
        .iter()
        .map(|(_, q)| format!("{q}\n"))
        .collect();
    let output = run_with_stdin(
        &[
            "demo",
            "--scale",
            "0.01",
            "--dir",
            dir.to_str().unwrap(),
            "--format",
            "csv",
        ],
        &examples,
    );
    assert_exit(&output, 0);
    let err = stderr(&output);
    assert!(
        err.contains("Try:") && err.contains("Monthly card spend"),
        "{err}"
    );
    let out = stdout(&output);
    assert!(out.contains("month,transactions,spend,fraud_pct"), "{out}");
    assert!(
        out.contains("segment,customers,avg_recency_days,avg_frequency,avg_monetary"),
        "{out}"
    );
    assert!(
        out.contains("score_band,loans,default_rate,avg_score"),
        "{out}"
    );
}
