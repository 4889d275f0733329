//! Differentially private queries through the binary, on private copies of
//! the demo bank and its policy: the saved release as the analyst within
//! its budget and the refused release after it; the researcher, who may
//! read customers and transactions only through DP aggregates, against
//! every bypass attempt; processes racing for the last epsilon; spends
//! surviving restarts; grants; EXPLAIN spending nothing; policy errors.
//! The noise itself is checked against OpenDP and scipy in
//! `tests/reference/dp.py`.

use std::path::PathBuf;
use std::process::{Output, Stdio};

use serde_json::Value;

use crate::common::{assert_exit, demo_copy, finsight, stderr, stdout, write};

type Row = serde_json::Map<String, Value>;

const OLIVIA: &[&str] = &["--user", "olivia"];
const ADAM: &[&str] = &["--user", "adam"];
const DANA: &[&str] = &["--user", "dana"];
const AUDREY: &[&str] = &["--user", "audrey"];

struct Bank {
    dir: PathBuf,
}

impl Bank {
    fn new(name: &str) -> Self {
        Self {
            dir: demo_copy(&format!("dp-{name}")),
        }
    }

    fn path(&self) -> &str {
        self.dir.to_str().expect("utf8 path")
    }

    fn sql(&self, identity: &[&str], sql: &str) -> Output {
        finsight()
            .args(["--dir", self.path(), "--format", "json"])
            .args(identity)
            .args(["-c", sql])
            .output()
            .expect("run finsight")
    }

    fn rows(&self, identity: &[&str], sql: &str) -> Vec<Row> {
        let output = self.sql(identity, sql);
        assert_exit(&output, 0);
        stdout(&output)
            .lines()
            .filter(|l| l.starts_with('{'))
            .map(|l| serde_json::from_str(l).expect("a JSON row"))
            .collect()
    }

    /// Runs `sql`, which must fail (without a panic) with `expected` in the error.
    fn refused(&self, identity: &[&str], sql: &str, expected: &str) -> String {
        let output = self.sql(identity, sql);
        let err = stderr(&output);
        assert_ne!(
            output.status.code(),
            Some(0),
            "not refused: {sql}\n{}",
            stdout(&output)
        );
        assert!(!err.contains("panicked"), "panic:\n{err}");
        assert!(
            err.contains(expected),
            "{sql}\nexpected '{expected}' in:\n{err}"
        );
        err
    }

    /// `user`'s epsilon spent on `dataset`, from privacy.budgets as `user`.
    fn spent(&self, identity: &[&str], dataset: &str) -> f64 {
        let rows = self.rows(
            identity,
            &format!("SELECT epsilon_spent FROM privacy.budgets WHERE dataset = '{dataset}'"),
        );
        assert_eq!(rows.len(), 1, "{rows:?}");
        rows[0]["epsilon_spent"].as_f64().expect("a number")
    }
}

fn text(row: &Row, name: &str) -> String {
    match &row[name] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A DP count of transactions per merchant category at `epsilon`.
fn category_release(epsilon: f64) -> String {
    format!(
        "SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS (epsilon = {epsilon}, delta = 1e-7, \
         privacy_unit_column = customer_id, max_rows_per_group = 5) \
         merchant_category, COUNT(*) AS n FROM transactions GROUP BY merchant_category"
    )
}

#[test]
fn dp_release_script_as_the_analyst_then_the_next_release_is_refused() {
    let bank = Bank::new("release");
    let output = finsight()
        .args([
            "run",
            "--dir",
            bank.path(),
            "--user",
            "adam",
            "sql/dp_release.sql",
        ])
        .output()
        .expect("run finsight");
    assert_exit(&output, 0);
    let out = stdout(&output);
    // The release: regions and segments of adam's own region only (his row
    // filter holds inside DP queries), aggregates and nothing row-level.
    assert!(
        out.contains("south") && out.contains("mean_amount"),
        "{out}"
    );
    assert!(
        stderr(&output).contains("6 ok, 0 failed"),
        "{}",
        stderr(&output)
    );
    // Charged to both datasets: 1.0 + 0.5 on customers, 1.0 on transactions;
    // the refused release spent nothing.
    assert!((bank.spent(ADAM, "customers") - 1.5).abs() < 1e-9);
    assert!((bank.spent(ADAM, "transactions") - 1.0).abs() < 1e-9);
    // The audit trail holds both spends and the refusal.
    let audit = bank.rows(
        AUDREY,
        "SELECT kind, status, statement, tables, detail FROM audit.log WHERE user_name = 'adam' ORDER BY seq",
    );
    let spends: Vec<&Row> = audit
        .iter()
        .filter(|r| text(r, "kind") == "dp_spend")
        .collect();
    assert_eq!(spends.len(), 2, "{audit:#?}");
    assert!(text(spends[0], "tables").contains("transactions"));
    assert!(
        text(spends[0], "detail").contains("\"epsilon\":1.0"),
        "{:?}",
        spends[0]
    );
    let denied: Vec<&Row> = audit
        .iter()
        .filter(|r| text(r, "status") == "denied")
        .collect();
    assert_eq!(denied.len(), 1, "{audit:#?}");
    assert!(text(denied[0], "statement").contains("epsilon = 50"));
}

#[test]
fn the_researcher_reads_personal_tables_only_through_dp_aggregates() {
    let bank = Bank::new("researcher");
    let denied = "may read table";
    for attempt in [
        "SELECT * FROM transactions LIMIT 1",
        "SELECT count(*) FROM customers",
        "SELECT region, count(*) FROM customers GROUP BY region",
        "SELECT * FROM transactions WHERE false",
        "WITH t AS (SELECT * FROM transactions) SELECT count(*) FROM t",
        "SELECT * FROM (SELECT amount FROM transactions) s",
        "SELECT 1 FROM branches WHERE region IN (SELECT region FROM customers)",
        "SELECT (SELECT max(amount) FROM transactions) AS m",
        "SELECT region FROM branches UNION ALL SELECT region FROM customers",
        "SELECT b.name FROM branches b JOIN customers c ON b.region = c.region",
        "CREATE VIEW mine AS SELECT * FROM customers",
        "CREATE TABLE mine AS SELECT * FROM transactions",
        "EXPLAIN SELECT * FROM customers",
        "SELECT * FROM pii_scan('SELECT email FROM customers')",
        "SELECT percentile_cont(amount, 0.5) FROM transactions",
        // Other dialects' forms (src/dialect): PIVOT reads the distinct
        // values of its ON column through the same check.
        "PIVOT customers ON segment USING count(*)",
        "SELECT * FROM customers PIVOT (count(*) FOR segment IN ('retail'))",
        "UNPIVOT customers ON email, name INTO NAME k VALUE v",
        "SELECT count(*) FROM customers TABLESAMPLE (10 ROWS)",
        "SELECT arg_max(customer_id, income), count_if(income > 0) FROM customers",
        "SELECT count(*) FROM branches JOIN customers USING (region) WHERE region = 'south'",
    ] {
        bank.refused(DANA, attempt, denied);
    }
    // DP queries whose rows would not be one customer's, or that would
    // release more than aggregates, are refused by the DP layer.
    let head = "SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS (epsilon = 0.1, delta = 1e-7";
    for (rest, expected) in [
        (
            ", privacy_unit_column = region) region, COUNT(*) FROM customers GROUP BY region",
            "is not the privacy unit of every row",
        ),
        (
            ", privacy_unit_column = a.customer_id) a.merchant_category, COUNT(*) FROM transactions a JOIN transactions b ON a.merchant_id = b.merchant_id GROUP BY a.merchant_category",
            "must match their privacy units",
        ),
        (
            ", privacy_unit_column = t.customer_id) c.segment, COUNT(*) FROM transactions t JOIN customers c ON t.account_id = c.customer_id GROUP BY c.segment",
            "must match their privacy units",
        ),
        (
            ", privacy_unit_column = customer_id) segment, COUNT(*) FROM (SELECT min(customer_id) AS customer_id, segment FROM customers GROUP BY segment) s GROUP BY segment",
            "must group by the privacy unit",
        ),
        (
            ", privacy_unit_column = customer_id) segment, COUNT(*) FROM (SELECT * FROM customers ORDER BY income DESC LIMIT 10) s GROUP BY segment",
            "LIMIT over personal data",
        ),
        (
            ", privacy_unit_column = customer_id) segment, COUNT(*) FROM customers WHERE income > (SELECT avg(income) FROM customers) GROUP BY segment",
            "a subquery over personal data is not allowed",
        ),
        (
            ", privacy_unit_column = customer_id) segment, MAX(income) FROM customers GROUP BY segment",
            "'max' is not a DP aggregate",
        ),
        (
            ", privacy_unit_column = customer_id) segment, email FROM customers GROUP BY segment",
            "must appear in GROUP BY or inside a DP aggregate",
        ),
        (
            ", privacy_unit_column = customer_id) segment, (SELECT max(income) FROM customers) FROM customers GROUP BY segment",
            "subqueries are not allowed",
        ),
        (
            ", privacy_unit_column = customer_id, public_groups = customers) segment, COUNT(*) FROM customers GROUP BY segment",
            "may read table 'customers' only through",
        ),
        (
            ", privacy_unit_column = column_name) pii_type, COUNT(*) FROM pii_scan('SELECT email FROM customers') GROUP BY pii_type",
            "cannot be used in a DP query",
        ),
        // An input that fails on one customer's row would tell, by failing,
        // that the customer is there: refused before it runs or spends.
        (
            ", privacy_unit_column = customer_id) segment, SUM(1 / (customer_id - 42), 0, 1) FROM customers GROUP BY segment",
            "can fail on some row",
        ),
        (
            ", privacy_unit_column = customer_id) segment, COUNT(*) FROM customers WHERE CAST(email AS BIGINT) > 0 GROUP BY segment",
            "can fail on some row",
        ),
        (
            ", privacy_unit_column = customer_id) segment, COUNT(*) FROM customers WHERE regexp_like(email, email) GROUP BY segment",
            "can fail on some row",
        ),
    ] {
        bank.refused(DANA, &format!("{head}{rest}"), expected);
    }
    // Nothing refused was charged.
    assert_eq!(bank.spent(DANA, "customers"), 0.0);
    // Only tables the policy marks public may list groups without a threshold.
    bank.refused(
        ADAM,
        &format!("{head}, privacy_unit_column = customer_id, public_groups = customers) segment, COUNT(*) FROM customers GROUP BY segment"),
        "not marked public_groups = true",
    );
    // A DP release works and returns aggregates only.
    let rows = bank.rows(
        DANA,
        "SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS (epsilon = 0.5, delta = 1e-6, privacy_unit_column = customer_id) \
         segment, COUNT(*) AS customers, AVG(income, 0, 200000) AS mean_income FROM customers GROUP BY segment",
    );
    assert!(!rows.is_empty() && rows.len() <= 4, "{rows:?}");
    for row in &rows {
        assert_eq!(row.len(), 3, "{row:?}");
    }
    // The researcher's budget view is their own.
    let budgets = bank.rows(DANA, "SELECT user_name, dataset FROM privacy.budgets");
    assert!(
        budgets.iter().all(|r| text(r, "user_name") == "dana"),
        "{budgets:?}"
    );
    assert!((bank.spent(DANA, "customers") - 0.5).abs() < 1e-9);
}

#[test]
fn processes_racing_for_the_last_epsilon_cannot_both_spend_it() {
    let bank = Bank::new("race");
    // Dana's budget is 3.0 per dataset: 2.5 spent leaves 0.5 on transactions.
    bank.rows(DANA, &category_release(2.5));
    let racers: Vec<_> = (0..4)
        .map(|_| {
            finsight()
                .args(["--dir", bank.path(), "--format", "json", "--user", "dana"])
                .args(["-c", &category_release(0.5)])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn finsight")
        })
        .collect();
    let outputs: Vec<Output> = racers
        .into_iter()
        .map(|c| c.wait_with_output().expect("finsight output"))
        .collect();
    let won = outputs.iter().filter(|o| o.status.success()).count();
    assert_eq!(won, 1, "exactly one of four racers may spend the last 0.5");
    for lost in outputs.iter().filter(|o| !o.status.success()) {
        let err = stderr(lost);
        assert!(err.contains("privacy budget exceeded"), "{err}");
        assert!(err.contains("has epsilon 0 and delta"), "{err}");
    }
    assert!((bank.spent(DANA, "transactions") - 3.0).abs() < 1e-9);
}

#[test]
fn spends_survive_restarts_and_a_privacy_officer_can_grant_more() {
    let bank = Bank::new("restart");
    // Each statement is a new process: the ledger is the audit trail on disk.
    bank.rows(DANA, &category_release(2.0));
    bank.rows(DANA, &category_release(1.0));
    let err = bank.refused(DANA, &category_release(0.1), "privacy budget exceeded");
    assert!(err.contains("has epsilon 0 and delta"), "{err}");
    // Only roles that manage budgets may grant.
    bank.refused(
        ADAM,
        "GRANT PRIVACY BUDGET epsilon = 1.0 ON TABLE transactions TO USER dana",
        "permission denied",
    );
    bank.refused(
        OLIVIA,
        "GRANT PRIVACY BUDGET epsilon = 1.0 ON TABLE transactions TO USER nobody",
        "unknown user 'nobody'",
    );
    bank.refused(
        OLIVIA,
        "GRANT PRIVACY BUDGET epsilon = -1 ON transactions TO dana",
        "expected a positive epsilon",
    );
    let granted = bank.rows(
        OLIVIA,
        "GRANT PRIVACY BUDGET epsilon = 1.0, delta = 1e-6 ON TABLE transactions TO USER dana",
    );
    assert_eq!(granted.len(), 1);
    bank.rows(DANA, &category_release(1.0));
    bank.refused(DANA, &category_release(0.1), "privacy budget exceeded");
    // The privacy officer sees everyone's budgets, with the grant.
    let all = bank.rows(
        OLIVIA,
        "SELECT user_name, epsilon_limit, epsilon_granted, epsilon_spent, epsilon_remaining, queries \
         FROM privacy.budgets WHERE dataset = 'transactions' ORDER BY user_name",
    );
    let dana = all
        .iter()
        .find(|r| text(r, "user_name") == "dana")
        .expect("dana's row");
    assert_eq!(dana["epsilon_limit"].as_f64(), Some(3.0));
    assert_eq!(dana["epsilon_granted"].as_f64(), Some(1.0));
    assert_eq!(dana["epsilon_spent"].as_f64(), Some(4.0));
    assert_eq!(dana["queries"].as_i64(), Some(3));
    assert!(all.iter().any(|r| text(r, "user_name") == "adam"));
}

#[test]
fn explain_shows_the_noise_and_spends_nothing() {
    let bank = Bank::new("explain");
    let rows = bank.rows(
        DANA,
        "EXPLAIN SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS (epsilon = 1, delta = 1e-6, \
         privacy_unit_column = t.customer_id, max_groups_contributed = 1, max_rows_per_group = 10) \
         c.segment, COUNT(*), SUM(t.amount, 0, 500) FROM transactions t JOIN customers c \
         ON t.customer_id = c.customer_id GROUP BY c.segment",
    );
    let detail = |item: &str| {
        rows.iter()
            .find(|r| text(r, "item") == item)
            .map(|r| text(r, "detail"))
            .unwrap_or_else(|| panic!("no {item} row in {rows:#?}"))
    };
    // Three shares of epsilon 1: the selection, COUNT(*) and SUM.
    assert!(detail("privacy guarantee").contains("3 equal shares"));
    assert!(detail("privacy unit").contains("budget charged on customers, transactions"));
    // COUNT: sensitivity 1 group x 10 rows = 10, at epsilon 1/3: scale 30.
    assert!(
        detail("COUNT(*)").contains("L1 sensitivity 10, scale 30,"),
        "{}",
        detail("COUNT(*)")
    );
    // SUM: 10 rows x 500 = 5000, scale 15000.
    assert!(
        detail("SUM(t.amount, 0, 500)").contains("L1 sensitivity 5000, scale 15000"),
        "{}",
        detail("SUM(t.amount, 0, 500)")
    );
    assert!(detail("group selection").contains("released when >="));
    assert_eq!(bank.spent(DANA, "transactions"), 0.0);
}

#[test]
fn policy_errors_for_budgets_and_dp_only_tables_name_their_line() {
    let bank = Bank::new("policy");
    let policy = std::fs::read_to_string(bank.dir.join(".finsight/policy.toml")).expect("policy");
    for (from, to, expected) in [
        (
            "dp_budget = { epsilon = 3.0, delta = 1e-5, window = \"30 days\" }",
            "dp_budget = { epsilon = 0.0, delta = 1e-5, window = \"30 days\" }",
            "epsilon must be a positive finite number",
        ),
        (
            "dp_budget = { epsilon = 3.0, delta = 1e-5, window = \"30 days\" }",
            "dp_budget = { epsilon = 3.0, delta = 1e-5, window = \"fortnightly\" }",
            "window 'fortnightly'",
        ),
        (
            "dp_only = [\"customers\", \"transactions\"]",
            "dp_only = [\"customers\", \"transactionz\"]",
            "unknown table 'transactionz' in dp_only",
        ),
        (
            "[tables.branches]\npublic_groups = true",
            "[tables.branches]\npublic_groups = true\npersonal_data = true\nsubject = \"branch_id\"",
            "cannot be a public list of groups",
        ),
    ] {
        assert!(policy.contains(from), "the demo policy has {from}");
        let dir = demo_copy(&format!("dp-policy-{}", expected.len()));
        write(&dir, ".finsight/policy.toml", &policy.replacen(from, to, 1));
        let output = finsight()
            .args(["--dir", dir.to_str().expect("utf8"), "-c", "SELECT 1"])
            .output()
            .expect("run finsight");
        let err = stderr(&output);
        assert_ne!(output.status.code(), Some(0), "{to}");
        assert!(err.contains(expected), "{to}: {err}");
        assert!(
            err.contains("policy.toml:"),
            "the error names the file and line: {err}"
        );
    }
}
