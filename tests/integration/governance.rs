//! Governance end to end through the binary, on private copies of the demo
//! bank: three roles see exactly what the policy allows, with the expected
//! rows computed by the owner from the raw Parquet files (URL tables, which
//! bypass the governed catalog); every bypass attempt fails, each in its own
//! test, and is audited; the audit trail detects edits and deletions;
//! erasure removes a subject everywhere and survives a crash at each step of
//! a rewrite; subject access, retention and policy validation.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::{assert_exit, demo_copy, finsight, scratch, stderr, stdout};

type Row = serde_json::Map<String, Value>;

const OWNER: &[&str] = &[];
const OLIVIA: &[&str] = &["--user", "olivia"];
const ADAM: &[&str] = &["--user", "adam"];
const MARIA: &[&str] = &["--user", "maria"];
const AUDREY: &[&str] = &["--user", "audrey"];

/// The customer columns and what the analyst role must see of each,
/// written from the demo policy (`src/demo/policy.toml`).
const ANALYST_VIEW: &str = "customer_id, mask_name(name) AS name, mask_email(email) AS email, \
     mask_phone(phone) AS phone, mask_card_pan(card_number) AS card_number, \
     mask_national_id(national_id) AS national_id, mask_address(address) AS address, \
     generalize_postcode(postcode) AS postcode, numeric_bucket(income, 10000) AS income, \
     CAST(date_trunc('year', birth_date) AS DATE) AS birth_date, region";
const CUSTOMER_COLUMNS: &str = "customer_id, name, email, phone, card_number, national_id, \
     address, postcode, income, birth_date, region";
/// The demo policy's retention on customers.
const RETAINED: &str = "(closed_date IS NULL OR closed_date >= now() - INTERVAL '10 years')";

/// A private copy of the demo bank with an empty audit trail.
struct Bank {
    dir: PathBuf,
    /// Raw identifiers of every customer, read once.
    raw_pii: std::sync::OnceLock<Vec<String>>,
}

fn parse_rows(text: &str) -> Vec<Row> {
    text.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| match serde_json::from_str::<Value>(l) {
            Ok(Value::Object(row)) => row,
            other => panic!("not a JSON row: {l}: {other:?}"),
        })
        .collect()
}

fn field(row: &Row, name: &str) -> Value {
    row.get(name).cloned().unwrap_or(Value::Null)
}

fn text(row: &Row, name: &str) -> String {
    match field(row, name) {
        Value::String(s) => s,
        Value::Null => "NULL".to_string(),
        other => other.to_string(),
    }
}

fn int(row: &Row, name: &str) -> i64 {
    field(row, name)
        .as_i64()
        .unwrap_or_else(|| panic!("{name} is not an integer in {row:?}"))
}

fn column(rows: &[Row], name: &str) -> Vec<String> {
    rows.iter().map(|r| text(r, name)).collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every file under `dir` with the SHA-256 of its content.
fn file_hashes(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut hashes = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            hashes.extend(file_hashes(&path));
        } else {
            let bytes = std::fs::read(&path).expect("read file");
            hashes.insert(path, sha256_hex(&bytes));
        }
    }
    hashes
}

impl Bank {
    fn new(name: &str) -> Bank {
        let dir = demo_copy(&format!("gov-{name}"));
        Bank {
            dir,
            raw_pii: std::sync::OnceLock::new(),
        }
    }

    fn path(&self) -> &str {
        self.dir.to_str().expect("utf8 path")
    }

    fn run(&self, identity: &[&str], args: &[&str]) -> Output {
        finsight()
            .args(["--dir", self.path(), "--format", "json"])
            .args(identity)
            .args(args)
            .output()
            .expect("run finsight")
    }

    fn sql(&self, identity: &[&str], sql: &str) -> Output {
        self.run(identity, &["-c", sql])
    }

    /// The rows of `sql` run as `identity`, which must succeed.
    fn rows(&self, identity: &[&str], sql: &str) -> Vec<Row> {
        let output = self.sql(identity, sql);
        assert_exit(&output, 0);
        parse_rows(&stdout(&output))
    }

    /// Runs `sql` as `identity`, which must fail without a panic; its stderr.
    fn refused(&self, identity: &[&str], sql: &str) -> String {
        let output = self.sql(identity, sql);
        assert_ne!(
            output.status.code(),
            Some(0),
            "{sql} was not refused:\n{}",
            stdout(&output)
        );
        let err = stderr(&output);
        assert!(!err.contains("panicked"), "panic:\n{err}");
        err
    }

    /// Runs `sql` as `identity`; it must fail with a permission error.
    fn denied(&self, identity: &[&str], sql: &str) -> String {
        let err = self.refused(identity, sql);
        assert!(err.contains("permission denied"), "{sql}:\n{err}");
        err
    }

    /// A raw dataset as a URL table: the owner reads the files as they are,
    /// outside the governed catalog.
    fn raw(&self, table: &str) -> String {
        format!("'{}/{table}/*.parquet'", self.path())
    }

    fn raw_files(&self, table: &str) -> Vec<PathBuf> {
        std::fs::read_dir(self.dir.join(table))
            .expect("dataset dir")
            .map(|e| e.expect("dir entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
            .collect()
    }

    fn raw_file(&self, table: &str) -> PathBuf {
        self.raw_files(table)
            .into_iter()
            .next()
            .expect("a parquet file")
    }

    /// One value of the owner's query over the raw files.
    fn scalar(&self, sql: &str) -> i64 {
        let rows = self.rows(OWNER, sql);
        assert_eq!(rows.len(), 1, "{sql}");
        let value = rows[0].values().next().expect("a column").clone();
        value.as_i64().unwrap_or_else(|| panic!("{sql}: {value}"))
    }

    /// The audit trail, read by the owner.
    fn audit(&self) -> Vec<Row> {
        self.rows(OWNER, "SELECT * FROM audit.log ORDER BY seq")
    }

    /// The audit entries of `user`.
    fn audit_of(&self, user: &str) -> Vec<Row> {
        self.audit()
            .into_iter()
            .filter(|r| text(r, "user_name") == user)
            .collect()
    }

    /// `user`'s last audit entry must have `status`; it is returned.
    fn assert_audited(&self, user: &str, statement: &str, status: &str) -> Row {
        let entries = self.audit_of(user);
        let last = entries
            .iter()
            .rev()
            .find(|r| text(r, "statement") == statement.trim())
            .unwrap_or_else(|| panic!("no audit entry for {statement}: {entries:#?}"))
            .clone();
        assert_eq!(text(&last, "status"), status, "{last:#?}");
        last
    }

    /// The analyst's expected view of customers, from the raw files.
    fn analyst_customers(&self, region: &str) -> Vec<Row> {
        self.rows(
            OWNER,
            &format!(
                "SELECT {ANALYST_VIEW} FROM {} WHERE region = '{region}' AND {RETAINED} \
                 ORDER BY customer_id",
                self.raw("customers")
            ),
        )
    }

    /// Every raw value of a customer column (all regions).
    fn raw_values(&self, column: &str) -> BTreeSet<String> {
        let rows = self.rows(
            OWNER,
            &format!(
                "SELECT DISTINCT CAST({column} AS VARCHAR) AS v FROM {} WHERE {column} IS NOT NULL",
                self.raw("customers")
            ),
        );
        column_set(&rows, "v")
    }
}

fn column_set(rows: &[Row], name: &str) -> BTreeSet<String> {
    rows.iter().map(|r| text(r, name)).collect()
}

/// No raw email, national id, phone or card number of any customer in
/// `output`.
fn assert_no_raw_pii(bank: &Bank, output: &str) {
    let values = bank.raw_pii.get_or_init(|| {
        ["email", "national_id", "phone", "card_number"]
            .iter()
            .flat_map(|c| bank.raw_values(c))
            .collect()
    });
    for value in values {
        assert!(!output.contains(value), "raw {value} leaked in:\n{output}");
    }
}

// --- The three roles --------------------------------------------------------

#[test]
fn privacy_officer_sees_raw_values() {
    let bank = Bank::new("olivia");
    let sql = format!("SELECT {CUSTOMER_COLUMNS} FROM customers ORDER BY customer_id");
    let seen = bank.rows(OLIVIA, &sql);
    let raw = bank.rows(
        OWNER,
        &format!(
            "SELECT {CUSTOMER_COLUMNS} FROM {} WHERE {RETAINED} ORDER BY customer_id",
            bank.raw("customers")
        ),
    );
    assert!(seen.len() >= 900, "{} customers", seen.len());
    assert_eq!(seen, raw);
    let sums = "SELECT count(*) AS n, CAST(round(sum(lat) * 1000) AS BIGINT) AS lat FROM";
    assert_eq!(
        bank.rows(OLIVIA, &format!("{sums} transactions")),
        bank.rows(
            OWNER,
            &format!(
                "{sums} {} WHERE ts >= now() - INTERVAL '10 years'",
                bank.raw("transactions")
            )
        )
    );
    let entry = bank.assert_audited("olivia", &sql, "ok");
    assert_eq!(text(&entry, "role"), "privacy_officer");
    assert_eq!(text(&entry, "masks"), "[]");
}

#[test]
fn analyst_sees_masked_values_of_own_region_only() {
    let bank = Bank::new("adam");
    let sql = format!("SELECT {CUSTOMER_COLUMNS} FROM customers ORDER BY customer_id");
    let seen = bank.rows(ADAM, &sql);
    let expected = bank.analyst_customers("south");
    let south = bank.scalar(&format!(
        "SELECT count(*) FROM {} WHERE region = 'south' AND {RETAINED}",
        bank.raw("customers")
    ));
    assert_eq!(seen.len() as i64, south);
    assert!(south > 100, "{south} customers in the south");
    assert_eq!(seen, expected);
    // Independently of the mask functions: no raw identifier survives.
    for column in ["name", "email", "phone", "card_number", "national_id"] {
        let raw = bank.raw_values(column);
        for value in column_set(&seen, column) {
            if value == "NULL" {
                continue;
            }
            assert!(!raw.contains(&value), "raw {column} {value}");
            assert!(value.contains('*'), "{column} {value} is not masked");
        }
    }
    for row in &seen {
        let income = text(row, "income");
        assert!(income == "NULL" || income.starts_with('['), "{row:?}");
        let birth = text(row, "birth_date");
        assert!(birth == "NULL" || birth.ends_with("-01-01"), "{row:?}");
    }
    // Other tables: IBANs masked, coordinates coarsened, IPs pseudonymized.
    let accounts = bank.rows(ADAM, "SELECT iban FROM accounts");
    assert!(!accounts.is_empty());
    let raw_ibans = column_set(
        &bank.rows(OWNER, &format!("SELECT iban FROM {}", bank.raw("accounts"))),
        "iban",
    );
    for iban in column(&accounts, "iban") {
        assert!(
            iban == "NULL" || !raw_ibans.contains(&iban),
            "raw iban {iban}"
        );
    }
    // The region filter on customers reaches their transactions and
    // accounts through customer_id ([subjects] in the policy).
    for table in ["transactions", "accounts", "app_events"] {
        let expected = bank.scalar(&format!(
            "SELECT count(*) FROM {} WHERE customer_id IN \
             (SELECT customer_id FROM {} WHERE region = 'south')",
            bank.raw(table),
            bank.raw("customers")
        ));
        let seen = bank.rows(ADAM, &format!("SELECT count(*) AS n FROM {table}"));
        assert_eq!(int(&seen[0], "n"), expected, "{table}");
        assert!(expected > 0);
    }
    let fine = bank.scalar(&format!(
        "SELECT count(*) FROM {} WHERE lat <> round(lat, 1)",
        bank.raw("transactions")
    ));
    assert!(fine > 0);
    let rows = bank.rows(
        ADAM,
        "SELECT count(*) AS n FROM transactions WHERE lat <> round(lat, 1)",
    );
    assert_eq!(int(&rows[0], "n"), 0);
    let entry = bank.assert_audited("adam", &sql, "ok");
    assert_eq!(text(&entry, "role"), "analyst");
    assert_eq!(int(&entry, "rows"), south);
    assert!(text(&entry, "masks").contains("customers.email: mask_email(email)"));
    assert!(text(&entry, "filters").contains("region = current_user_attribute('region')"));
}

#[test]
fn marketing_sees_only_customers_with_active_consent_masked() {
    let bank = Bank::new("maria");
    let sql = "SELECT customer_id, email, income FROM customers ORDER BY customer_id";
    let seen = bank.rows(MARIA, sql);
    let consenting = format!(
        "SELECT DISTINCT customer_id FROM {} WHERE purpose = 'marketing' \
         AND granted_at <= now() AND (withdrawn_at IS NULL OR withdrawn_at > now())",
        bank.raw("consents")
    );
    let expected = bank.rows(
        OWNER,
        &format!(
            "SELECT customer_id, mask_email(email) AS email FROM {} \
             WHERE customer_id IN ({consenting}) AND {RETAINED} ORDER BY customer_id",
            bank.raw("customers")
        ),
    );
    assert!(
        expected.len() > 100 && expected.len() < 900,
        "{}",
        expected.len()
    );
    assert_eq!(seen.len(), expected.len());
    for (seen, expected) in seen.iter().zip(&expected) {
        assert_eq!(field(seen, "customer_id"), field(expected, "customer_id"));
        assert_eq!(field(seen, "email"), field(expected, "email"));
        // Income has no mask for marketing: NULL.
        assert_eq!(field(seen, "income"), Value::Null);
    }
    // National ids are denied to marketing: the column is not there at all.
    let err = bank.refused(MARIA, "SELECT national_id FROM customers");
    assert!(err.contains("national_id"), "{err}");
    // Consent covers every personal table: only consenting customers'
    // transactions, all of them.
    let rows = bank.rows(
        MARIA,
        "SELECT count(*) AS n, count(DISTINCT customer_id) AS c FROM transactions",
    );
    let expected_n = bank.scalar(&format!(
        "SELECT count(*) FROM {} WHERE customer_id IN ({consenting}) \
         AND ts >= now() - INTERVAL '10 years'",
        bank.raw("transactions")
    ));
    assert_eq!(int(&rows[0], "n"), expected_n);
    let entry = bank.assert_audited("maria", sql, "ok");
    assert_eq!(text(&entry, "purpose"), "marketing");
    assert!(text(&entry, "filters").contains("consent for marketing"));
}

#[test]
fn risk_role_sees_financial_attributes_raw_without_region_filter() {
    let bank = Bank::new("rita");
    let rita = &["--user", "rita", "--role", "risk"];
    let seen = bank.rows(
        rita,
        "SELECT customer_id, income, email, current_purpose() AS purpose FROM customers \
         ORDER BY customer_id",
    );
    let expected = bank.rows(
        OWNER,
        &format!(
            "SELECT customer_id, income, mask_email(email) AS email, 'risk' AS purpose FROM {} \
             WHERE {RETAINED} ORDER BY customer_id",
            bank.raw("customers")
        ),
    );
    assert_eq!(seen, expected);
    // Her other role, analyst, has the north region filter.
    let north = bank.rows(
        &["--user", "rita", "--role", "analyst"],
        "SELECT DISTINCT region FROM customers",
    );
    assert_eq!(column(&north, "region"), ["north"]);
}

#[test]
fn purposes_are_checked_against_the_role() {
    let bank = Bank::new("purposes");
    let output = bank.run(
        &["--user", "maria", "--purpose", "fraud"],
        &["-c", "SELECT 1"],
    );
    assert_ne!(output.status.code(), Some(0));
    let err = stderr(&output);
    assert!(err.contains("fraud") && err.contains("marketing"), "{err}");
    // Fraud prevention is exempt from consent: every customer is visible.
    let rows = bank.rows(
        &["--user", "rita", "--role", "risk", "--purpose", "fraud"],
        "SELECT current_purpose() AS p, count(*) AS n FROM customers GROUP BY 1",
    );
    let all = bank.scalar(&format!(
        "SELECT count(*) FROM {} WHERE {RETAINED}",
        bank.raw("customers")
    ));
    assert_eq!(text(&rows[0], "p"), "fraud");
    assert_eq!(int(&rows[0], "n"), all);
}

#[test]
fn identity_functions_and_policy_tables() {
    let bank = Bank::new("identity");
    let rows = bank.rows(
        ADAM,
        "SELECT current_user AS u, current_user() AS u2, current_role() AS r, \
         current_user_attribute('region') AS region",
    );
    assert_eq!(text(&rows[0], "u"), "adam");
    assert_eq!(text(&rows[0], "u2"), "adam");
    assert_eq!(text(&rows[0], "r"), "analyst");
    assert_eq!(text(&rows[0], "region"), "south");
    let classes = bank.rows(
        ADAM,
        "SELECT class, sensitive FROM governance.classifications \
         WHERE table_name = 'customers' AND column_name = 'national_id'",
    );
    assert_eq!(text(&classes[0], "class"), "national_id");
    assert_eq!(field(&classes[0], "sensitive"), Value::Bool(true));
    let filters = bank.rows(ADAM, "SELECT * FROM governance.row_filters");
    assert!(
        filters
            .iter()
            .any(|r| text(r, "role") == "analyst" && text(r, "table_name") == "customers"),
        "{filters:?}"
    );
    let grants = bank.rows(
        ADAM,
        "SELECT role, erase FROM governance.grants ORDER BY role",
    );
    assert!(grants.iter().any(|r| text(r, "role") == "privacy_officer"
        && field(r, "erase") == Value::Bool(true)));
}

#[test]
fn explain_shows_the_masks_and_filters_a_query_got() {
    let bank = Bank::new("explain");
    let output = bank.sql(
        ADAM,
        "EXPLAIN SELECT email FROM customers WHERE email LIKE 'a%'",
    );
    assert_exit(&output, 0);
    let plan = stdout(&output);
    assert!(plan.contains("GovernedExec"), "{plan}");
    assert!(plan.contains("mask_email(email)"), "{plan}");
    assert!(
        plan.contains("region = current_user_attribute('region')"),
        "{plan}"
    );
}

// --- Bypass attempts, as the analyst ----------------------------------------

/// The masked emails of the analyst's region, from the raw files.
fn south_emails(bank: &Bank) -> BTreeSet<String> {
    column_set(&bank.analyst_customers("south"), "email")
}

#[test]
fn bypass_select_column_directly() {
    let bank = Bank::new("direct");
    let sql = "SELECT email FROM customers";
    let seen = column_set(&bank.rows(ADAM, sql), "email");
    assert_eq!(seen, south_emails(&bank));
    let raw = bank.raw_values("email");
    assert!(seen.is_disjoint(&raw));
    let entry = bank.assert_audited("adam", sql, "ok");
    assert_eq!(text(&entry, "columns"), r#"["customers.email"]"#);
}

#[test]
fn bypass_through_a_view() {
    let bank = Bank::new("view");
    let sql = "CREATE VIEW everyone AS SELECT * FROM customers; SELECT email FROM everyone";
    let seen = column_set(&bank.rows(ADAM, sql), "email");
    assert_eq!(seen, south_emails(&bank));
    let entry = bank.assert_audited("adam", "SELECT email FROM everyone", "ok");
    assert!(text(&entry, "masks").contains("mask_email"), "{entry:?}");
}

#[test]
fn bypass_through_a_cte() {
    let bank = Bank::new("cte");
    let sql = "WITH c AS (SELECT * FROM customers) SELECT email FROM c";
    assert_eq!(
        column_set(&bank.rows(ADAM, sql), "email"),
        south_emails(&bank)
    );
    bank.assert_audited("adam", sql, "ok");
}

#[test]
fn bypass_through_subqueries() {
    let bank = Bank::new("subquery");
    let sql = "SELECT (SELECT max(email) FROM customers) AS m, \
               (SELECT count(*) FROM customers WHERE email IN (SELECT email FROM customers)) AS n";
    let rows = bank.rows(ADAM, sql);
    let emails = south_emails(&bank);
    assert_eq!(
        &text(&rows[0], "m"),
        emails.iter().next_back().expect("emails")
    );
    // NULL emails match nothing, masked or not.
    let with_email = bank.scalar(&format!(
        "SELECT count(email) FROM {} WHERE region = 'south' AND {RETAINED}",
        bank.raw("customers")
    ));
    assert_eq!(int(&rows[0], "n"), with_email);
    let sql2 = "SELECT email FROM (SELECT * FROM customers) AS t";
    assert_eq!(column_set(&bank.rows(ADAM, sql2), "email"), emails);
    bank.assert_audited("adam", sql, "ok");
    bank.assert_audited("adam", sql2, "ok");
}

#[test]
fn bypass_through_a_join() {
    let bank = Bank::new("join");
    let sql =
        "SELECT c.email, a.iban FROM customers c JOIN accounts a ON c.customer_id = a.customer_id";
    let rows = bank.rows(ADAM, sql);
    assert!(!rows.is_empty());
    let emails = south_emails(&bank);
    for row in &rows {
        assert!(emails.contains(&text(row, "email")), "{row:?}");
        let iban = text(row, "iban");
        assert!(iban == "NULL" || iban.contains('*'), "{row:?}");
    }
    // A self-join on the email pairs masked values, not raw ones.
    let pairs = "SELECT count(*) AS n FROM customers a JOIN customers b ON a.email = b.email";
    let expected = bank.scalar(&format!(
        "WITH m AS (SELECT {ANALYST_VIEW} FROM {} WHERE region = 'south' AND {RETAINED}) \
         SELECT count(*) FROM m a JOIN m b ON a.email = b.email",
        bank.raw("customers")
    ));
    assert_eq!(int(&bank.rows(ADAM, pairs)[0], "n"), expected);
    bank.assert_audited("adam", sql, "ok");
}

#[test]
fn bypass_through_union() {
    let bank = Bank::new("union");
    let sql = "SELECT email AS v FROM customers UNION SELECT national_id FROM customers";
    let seen = column_set(&bank.rows(ADAM, sql), "v");
    let expected = bank.analyst_customers("south");
    let mut want = column_set(&expected, "email");
    want.extend(column_set(&expected, "national_id"));
    assert_eq!(seen, want);
    bank.assert_audited("adam", sql, "ok");
}

#[test]
fn bypass_through_window_functions() {
    let bank = Bank::new("window");
    let sql = "SELECT first_value(email) OVER (ORDER BY email) AS f, \
               lag(email) OVER (ORDER BY customer_id) AS l, \
               max(national_id) OVER (PARTITION BY region) AS m FROM customers";
    let rows = bank.rows(ADAM, sql);
    let expected = bank.analyst_customers("south");
    let emails = column_set(&expected, "email");
    let ids = column_set(&expected, "national_id");
    for row in &rows {
        assert!(emails.contains(&text(row, "f")), "{row:?}");
        let lag = text(row, "l");
        assert!(lag == "NULL" || emails.contains(&lag), "{row:?}");
        assert!(ids.contains(&text(row, "m")), "{row:?}");
    }
    bank.assert_audited("adam", sql, "ok");
}

#[test]
fn bypass_through_casts() {
    let bank = Bank::new("cast");
    let sql = "SELECT CAST(CAST(email AS BYTEA) AS VARCHAR) AS e, \
               arrow_cast(national_id, 'LargeUtf8') AS n, CAST(income AS VARCHAR) AS i \
               FROM customers";
    let rows = bank.rows(ADAM, sql);
    let expected = bank.analyst_customers("south");
    assert_eq!(column_set(&rows, "e"), column_set(&expected, "email"));
    assert_eq!(column_set(&rows, "n"), column_set(&expected, "national_id"));
    assert_eq!(column_set(&rows, "i"), column_set(&expected, "income"));
    bank.assert_audited("adam", sql, "ok");
}

#[test]
fn bypass_through_string_functions() {
    let bank = Bank::new("strings");
    let probe = "substr(email, 1, 5) AS s, reverse(email) AS r, length(email) AS l, \
                 split_part(email, '@', 1) AS p, upper(national_id) AS u";
    let sql = format!("SELECT customer_id, {probe} FROM customers ORDER BY customer_id");
    let seen = bank.rows(ADAM, &sql);
    let expected = bank.rows(
        OWNER,
        &format!(
            "SELECT customer_id, {probe} FROM (SELECT {ANALYST_VIEW} FROM {} \
             WHERE region = 'south' AND {RETAINED}) ORDER BY customer_id",
            bank.raw("customers")
        ),
    );
    assert_eq!(seen, expected);
    bank.assert_audited("adam", &sql, "ok");
}

#[test]
fn bypass_by_probing_with_where_equals_and_like() {
    let bank = Bank::new("probe");
    let target = bank.rows(
        OWNER,
        &format!(
            "SELECT email, national_id FROM {} WHERE region = 'south' AND {RETAINED} \
             ORDER BY customer_id LIMIT 1",
            bank.raw("customers")
        ),
    );
    let email = text(&target[0], "email");
    let national_id = text(&target[0], "national_id");
    let equals = format!(
        "SELECT count(*) AS n FROM customers WHERE email = '{email}' OR national_id = '{national_id}'"
    );
    assert_eq!(int(&bank.rows(ADAM, &equals)[0], "n"), 0);
    // LIKE on a raw prefix and suffix matches what the masked values match.
    let prefix: String = email.chars().take(3).collect();
    let pattern = format!("{prefix}%");
    let like = format!("SELECT count(*) AS n FROM customers WHERE email LIKE '{pattern}'");
    let expected = bank.scalar(&format!(
        "SELECT count(*) FROM {} WHERE region = 'south' AND {RETAINED} \
         AND mask_email(email) LIKE '{pattern}'",
        bank.raw("customers")
    ));
    assert_eq!(int(&bank.rows(ADAM, &like)[0], "n"), expected);
    let raw_matches = bank.scalar(&format!(
        "SELECT count(*) FROM {} WHERE region = 'south' AND {RETAINED} AND email LIKE '{pattern}'",
        bank.raw("customers")
    ));
    assert!(raw_matches >= 1);
    bank.assert_audited("adam", &equals, "ok");
    bank.assert_audited("adam", &like, "ok");
}

#[test]
fn bypass_by_grouping_on_the_raw_column() {
    let bank = Bank::new("groupby");
    let sql = "SELECT email, national_id, count(*) AS n FROM customers GROUP BY email, national_id";
    let rows = bank.rows(ADAM, sql);
    let expected = bank.analyst_customers("south");
    assert_eq!(column_set(&rows, "email"), column_set(&expected, "email"));
    assert_eq!(
        column_set(&rows, "national_id"),
        column_set(&expected, "national_id")
    );
    bank.assert_audited("adam", sql, "ok");
}

#[test]
fn bypass_through_min_max_statistics() {
    let bank = Bank::new("minmax");
    let sql = "SELECT min(email) AS lo, max(email) AS hi, min(national_id) AS id FROM customers";
    let rows = bank.rows(ADAM, sql);
    let expected = bank.analyst_customers("south");
    let emails = column_set(&expected, "email");
    assert_eq!(&text(&rows[0], "lo"), emails.iter().next().expect("emails"));
    assert_eq!(
        &text(&rows[0], "hi"),
        emails.iter().next_back().expect("emails")
    );
    let ids = column_set(&expected, "national_id");
    assert_eq!(&text(&rows[0], "id"), ids.iter().next().expect("ids"));
    bank.assert_audited("adam", sql, "ok");
}

#[test]
fn bypass_through_explain_and_explain_analyze() {
    let bank = Bank::new("explain-analyze");
    for sql in [
        "EXPLAIN ANALYZE SELECT email FROM customers WHERE email LIKE 'a%'",
        "EXPLAIN VERBOSE SELECT min(email), max(national_id) FROM customers",
        "EXPLAIN FORMAT INDENT SELECT * FROM customers",
    ] {
        let output = bank.sql(ADAM, sql);
        assert_exit(&output, 0);
        let plan = stdout(&output);
        assert!(plan.contains("GovernedExec"), "{plan}");
        // The raw scan, its files and its statistics stay inside the
        // governed scan.
        assert!(!plan.contains("DataSourceExec"), "{plan}");
        assert!(!plan.contains(".parquet"), "{plan}");
        assert_no_raw_pii(&bank, &plan);
        bank.assert_audited("adam", sql, "ok");
    }
}

#[test]
fn bypass_through_information_schema() {
    let bank = Bank::new("information-schema");
    let mut everything = String::new();
    for table in [
        "tables",
        "columns",
        "views",
        "df_settings",
        "routines",
        "parameters",
    ] {
        let sql = format!("SELECT * FROM information_schema.{table}");
        let output = bank.sql(ADAM, &sql);
        assert_exit(&output, 0);
        everything.push_str(&stdout(&output));
        bank.assert_audited("adam", &sql, "ok");
    }
    assert!(everything.contains("customers"));
    assert_no_raw_pii(&bank, &everything);
    // SHOW ALL lists settings, none of which is a key or a raw value.
    let output = bank.sql(ADAM, "SHOW ALL");
    assert_exit(&output, 0);
    assert_no_raw_pii(&bank, &stdout(&output));
}

#[test]
fn bypass_by_set_to_change_configuration() {
    let bank = Bank::new("set");
    for sql in [
        "SET datafusion.execution.parquet.pushdown_filters = true",
        "SET datafusion.catalog.information_schema = false",
        "RESET datafusion.execution.batch_size",
    ] {
        bank.denied(ADAM, sql);
        bank.assert_audited("adam", sql, "denied");
    }
}

#[test]
fn bypass_by_create_external_table_on_raw_files() {
    let bank = Bank::new("external");
    let sql = format!(
        "CREATE EXTERNAL TABLE raw_customers STORED AS PARQUET LOCATION {}",
        bank.raw("customers")
    );
    bank.denied(ADAM, &sql);
    bank.assert_audited("adam", &sql, "denied");
}

#[test]
fn bypass_by_copy_to_a_file() {
    let bank = Bank::new("copy");
    let out = bank.dir.join("exported.csv");
    for sql in [
        format!("COPY customers TO '{}'", out.display()),
        format!("COPY (SELECT email FROM customers) TO '{}'", out.display()),
    ] {
        bank.denied(ADAM, &sql);
        bank.assert_audited("adam", &sql, "denied");
    }
    assert!(!out.exists());
}

#[test]
fn bypass_through_url_tables() {
    let bank = Bank::new("url");
    let file = bank.raw_file("customers");
    for sql in [
        format!("SELECT email FROM '{}'", file.display()),
        format!("SELECT email FROM {}", bank.raw("customers")),
    ] {
        let err = bank.refused(ADAM, &sql);
        assert_no_raw_pii(&bank, &err);
        bank.assert_audited("adam", &sql, "error");
    }
}

#[test]
fn bypass_through_parquet_metadata_functions() {
    let bank = Bank::new("metadata");
    let file = bank.raw_file("customers");
    for function in ["parquet_metadata", "read_parquet", "parquet_scan"] {
        let sql = format!("SELECT * FROM {function}('{}')", file.display());
        let err = bank.refused(ADAM, &sql);
        assert_no_raw_pii(&bank, &err);
        bank.assert_audited("adam", &sql, "error");
    }
    // Table functions that take a query read through the policies.
    let sql = "SELECT class FROM k_anonymity_classes('SELECT email FROM customers', 2)";
    let rows = bank.rows(ADAM, sql);
    let emails = south_emails(&bank);
    for class in column(&rows, "class") {
        let value = class.trim_start_matches("email=");
        assert!(emails.contains(value), "{class}");
    }
    let entry = bank.assert_audited("adam", sql, "ok");
    assert!(
        text(&entry, "masks").contains("customers.email"),
        "{entry:?}"
    );
}

#[test]
fn bypass_by_drop_insert_and_other_writes() {
    let bank = Bank::new("writes");
    for sql in [
        "DROP TABLE customers",
        "INSERT INTO customers SELECT * FROM customers",
        "DELETE FROM customers",
        "UPDATE customers SET email = 'x'",
        "CREATE TABLE customers AS SELECT 1 AS x",
        "CREATE OR REPLACE VIEW customers AS SELECT 1 AS x",
        "DROP VIEW customers",
    ] {
        bank.denied(ADAM, sql);
        bank.assert_audited("adam", sql, "denied");
    }
    let count = bank.scalar("SELECT count(*) FROM customers");
    assert!(count >= 900);
}

#[test]
fn bypass_by_calling_detokenize_fpe_without_the_role() {
    let bank = Bank::new("detokenize");
    let sql = "SELECT detokenize_fpe(tokenize_fpe('4111-1111-1111-1111', 'demo_fpe', 'luhn'), \
               'demo_fpe', 'luhn') AS pan";
    let err = bank.denied(ADAM, sql);
    assert!(
        err.contains("detokenize_fpe") && err.contains("privacy_officer"),
        "{err}"
    );
    bank.assert_audited("adam", sql, "denied");
    // Also inside a view or a subquery.
    let nested = "SELECT * FROM (SELECT detokenize_fpe('4111', 'demo_fpe') AS x)";
    bank.denied(ADAM, nested);
    // The privacy officer holds the grant.
    let rows = bank.rows(OLIVIA, sql);
    assert_eq!(text(&rows[0], "pan"), "4111-1111-1111-1111");
}

#[test]
fn bypass_through_error_messages_of_casts() {
    let bank = Bank::new("cast-error");
    for sql in [
        "SELECT CAST(email AS INT) FROM customers",
        "SELECT CAST(national_id AS BIGINT) FROM customers",
        "SELECT CAST(name AS DATE) FROM customers",
        "SELECT arrow_cast(phone, 'Int64') FROM customers",
    ] {
        let err = bank.refused(ADAM, sql);
        assert!(
            err.contains('*'),
            "the error should show a masked value: {err}"
        );
        assert_no_raw_pii(&bank, &err);
        let entry = bank.assert_audited("adam", sql, "error");
        assert_no_raw_pii(&bank, &text(&entry, "error"));
    }
}

#[test]
fn bypass_through_record_linkage_table_functions() {
    let bank = Bank::new("linkage");
    // The linkage functions read their table through the caller's session:
    // with a PII column as the record id, the ids that come back are the
    // masked values of the analyst's region, never the raw ones.
    let pairs = bank.rows(
        ADAM,
        "SELECT id_a, id_b FROM dedup_candidates('customers', 'email', 'name', 'gender', 0, 1000000)",
    );
    let clusters = bank.rows(
        ADAM,
        "SELECT id, cluster_id FROM dedup_clusters('customers', 'email', 'name', 'gender', 0, 1000000)",
    );
    let seen: BTreeSet<String> = column_set(&pairs, "id_a")
        .into_iter()
        .chain(column_set(&pairs, "id_b"))
        .chain(column_set(&clusters, "id"))
        .chain(column_set(&clusters, "cluster_id"))
        .collect();
    assert!(!seen.is_empty());
    assert!(seen.is_subset(&south_emails(&bank)), "{seen:?}");
    assert!(seen.is_disjoint(&bank.raw_values("email")));
    bank.assert_audited(
        "adam",
        "SELECT id_a, id_b FROM dedup_candidates('customers', 'email', 'name', 'gender', 0, 1000000)",
        "ok",
    );
}

#[test]
fn bypass_through_pivot_unpivot_using_joins_and_other_dialects_functions() {
    let bank = Bank::new("dialects");
    let emails = south_emails(&bank);
    let raw = bank.raw_values("email");
    // PIVOT over the masked column: the grouped values and the pivot
    // columns made of distinct values are masked, and the row filter keeps
    // other regions' customers out of every cell.
    let standard = "SELECT * FROM (SELECT email, region FROM customers) \
                    PIVOT (count(*) FOR region IN ('south', 'north'))";
    let rows = bank.rows(ADAM, standard);
    assert_eq!(column_set(&rows, "email"), emails);
    assert!(rows.iter().all(|r| int(r, "north") == 0), "{rows:?}");
    let duck = "PIVOT (SELECT email, customer_id FROM customers WHERE customer_id % 50 = 7) \
                ON email USING count(*)";
    let output = bank.sql(ADAM, duck);
    assert_exit(&output, 0);
    let text_out = stdout(&output);
    assert_no_raw_pii(&bank, &text_out);
    let columns: BTreeSet<String> = parse_rows(&text_out)
        .iter()
        .flat_map(|r| r.keys().cloned().collect::<Vec<_>>())
        .filter(|c| c != "customer_id")
        .collect();
    assert!(!columns.is_empty());
    assert!(columns.is_subset(&emails), "{columns:?}");
    bank.assert_audited("adam", duck, "ok");
    // UNPIVOT lists masked values only.
    let unpivot = "SELECT * FROM (SELECT customer_id, email, national_id FROM customers) \
                   UNPIVOT (v FOR k IN (email, national_id))";
    let output = bank.sql(ADAM, unpivot);
    assert_exit(&output, 0);
    assert_no_raw_pii(&bank, &stdout(&output));
    let unpivoted = parse_rows(&stdout(&output));
    let seen_emails: BTreeSet<String> = unpivoted
        .iter()
        .filter(|r| text(r, "k") == "email")
        .map(|r| text(r, "v"))
        .collect();
    // UNPIVOT drops NULLs.
    let present: BTreeSet<String> = emails.iter().filter(|e| *e != "NULL").cloned().collect();
    assert_eq!(seen_emails, present);
    // USING joins keep the row filter on both sides, in every clause and
    // join type; the merged column of a FULL JOIN is still the analyst's.
    for join in ["JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN"] {
        let sql = format!(
            "SELECT customer_id, email FROM customers {join} accounts USING (customer_id) \
             WHERE customer_id > 0 ORDER BY customer_id"
        );
        let rows = bank.rows(ADAM, &sql);
        assert!(!rows.is_empty(), "{sql}");
        let seen = column_set(&rows, "email");
        assert!(
            seen.iter().all(|e| e == "NULL" || emails.contains(e)),
            "{sql}: {seen:?}"
        );
        assert!(seen.is_disjoint(&raw), "{sql}");
    }
    // Other dialects' functions compute over masked values.
    let functions = "SELECT regexp_extract(email, '^(.*)@', 1) AS local_part, \
                     string_split(email, '@') AS parts, if(true, email, name) AS e \
                     FROM customers";
    let output = bank.sql(ADAM, functions);
    assert_exit(&output, 0);
    assert_no_raw_pii(&bank, &stdout(&output));
    let grouped = "SELECT region, arg_max(email, income) AS top, count_if(email LIKE '%@%') AS n, \
                   list(email ORDER BY email) AS all_emails FROM customers GROUP BY region";
    let output = bank.sql(ADAM, grouped);
    assert_exit(&output, 0);
    assert_no_raw_pii(&bank, &stdout(&output));
    // A table of one's own may be written; the policy's tables may not.
    bank.rows(
        ADAM,
        "CREATE TABLE mine AS SELECT email FROM customers LIMIT 0; \
         INSERT INTO mine SELECT email FROM customers; SELECT count(*) AS n FROM mine",
    );
    bank.denied(ADAM, "INSERT INTO customers SELECT * FROM customers");
    bank.denied(ADAM, "DROP TABLE customers");
}

#[test]
fn audit_log_is_for_auditors_only() {
    let bank = Bank::new("auditor");
    bank.rows(ADAM, "SELECT count(*) AS n FROM customers");
    bank.denied(ADAM, "SELECT * FROM audit.log");
    bank.assert_audited("adam", "SELECT * FROM audit.log", "denied");
    bank.denied(AUDREY, "SELECT * FROM customers");
    let rows = bank.rows(
        AUDREY,
        "SELECT user_name, status FROM audit.log WHERE user_name IN ('adam', 'audrey') ORDER BY seq",
    );
    let seen: Vec<(String, String)> = rows
        .iter()
        .map(|r| (text(r, "user_name"), text(r, "status")))
        .collect();
    assert_eq!(
        seen,
        [
            ("adam".to_string(), "ok".to_string()),
            ("adam".to_string(), "denied".to_string()),
            ("audrey".to_string(), "denied".to_string()),
        ]
    );
}

// --- Audit trail integrity --------------------------------------------------

fn audit_db(bank: &Bank) -> rusqlite::Connection {
    rusqlite::Connection::open(bank.dir.join(".finsight/audit.db")).expect("open audit db")
}

fn drop_triggers(conn: &rusqlite::Connection) {
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert!(
        !names.is_empty(),
        "the audit table has no append-only triggers"
    );
    for name in names {
        conn.execute_batch(&format!("DROP TRIGGER \"{name}\""))
            .expect("drop trigger");
    }
}

fn busy_bank(name: &str) -> Bank {
    let bank = Bank::new(name);
    bank.rows(ADAM, "SELECT count(*) AS n FROM customers");
    bank.rows(MARIA, "SELECT count(*) AS n FROM transactions");
    bank.refused(ADAM, "DROP TABLE customers");
    bank.rows(OLIVIA, "SELECT email FROM customers LIMIT 1");
    bank
}

#[test]
fn audit_verify_passes_on_an_intact_log() {
    let bank = busy_bank("verify-intact");
    let output = bank.run(OWNER, &["audit", "verify"]);
    assert_exit(&output, 0);
    let text = stdout(&output);
    assert!(text.contains("intact: 4 entries"), "{text}");
}

#[test]
fn the_audit_table_refuses_updates_and_deletes() {
    let bank = busy_bank("append-only");
    let conn = audit_db(&bank);
    assert!(
        conn.execute(
            "UPDATE audit_log SET statement = 'SELECT 1' WHERE seq = 2",
            []
        )
        .is_err()
    );
    assert!(
        conn.execute("DELETE FROM audit_log WHERE seq = 2", [])
            .is_err()
    );
}

#[test]
fn audit_verify_detects_an_edited_entry() {
    let bank = busy_bank("verify-edited");
    let conn = audit_db(&bank);
    drop_triggers(&conn);
    conn.execute(
        "UPDATE audit_log SET statement = 'SELECT 1' WHERE seq = 2",
        [],
    )
    .expect("edit");
    drop(conn);
    let output = bank.run(OWNER, &["audit", "verify"]);
    assert_exit(&output, 1);
    let all = format!("{}{}", stdout(&output), stderr(&output));
    assert!(all.contains("entry 2"), "{all}");
}

#[test]
fn audit_verify_detects_a_deleted_entry() {
    let bank = busy_bank("verify-deleted");
    let conn = audit_db(&bank);
    drop_triggers(&conn);
    conn.execute("DELETE FROM audit_log WHERE seq = 2", [])
        .expect("delete");
    drop(conn);
    let output = bank.run(OWNER, &["audit", "verify"]);
    assert_exit(&output, 1);
    let all = format!("{}{}", stdout(&output), stderr(&output));
    assert!(all.contains('2'), "{all}");
}

#[test]
fn audit_verify_detects_a_truncated_tail_against_a_known_head() {
    let bank = busy_bank("verify-tail");
    let head: String = audit_db(&bank)
        .query_row(
            "SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .expect("head");
    let output = bank.run(OWNER, &["audit", "verify", "--head", &head]);
    assert_exit(&output, 0);
    let conn = audit_db(&bank);
    drop_triggers(&conn);
    conn.execute(
        "DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)",
        [],
    )
    .expect("delete tail");
    drop(conn);
    let output = bank.run(OWNER, &["audit", "verify", "--head", &head]);
    assert_exit(&output, 1);
}

// --- Erasure, subject access, retention -------------------------------------

/// The demo's personal-data tables and their subject columns.
const PERSONAL_TABLES: [(&str, &str); 9] = [
    ("accounts", "customer_id"),
    ("app_events", "customer_id"),
    ("campaign_responses", "customer_id"),
    ("consents", "customer_id"),
    ("customers", "customer_id"),
    ("customers_raw", "true_customer_id"),
    ("loans", "customer_id"),
    ("positions", "customer_id"),
    ("transactions", "customer_id"),
];

/// A customer with rows in every personal table.
fn subject_everywhere(bank: &Bank) -> i64 {
    let conditions: Vec<String> = PERSONAL_TABLES
        .iter()
        .filter(|(t, _)| *t != "customers")
        .map(|(t, subject)| format!("customer_id IN (SELECT {subject} FROM {})", bank.raw(t)))
        .collect();
    bank.scalar(&format!(
        "SELECT min(customer_id) FROM {} WHERE {}",
        bank.raw("customers"),
        conditions.join(" AND ")
    ))
}

/// Per personal table, (rows of `subject`, all rows), read from the files.
fn counts(bank: &Bank, subject: i64) -> BTreeMap<&'static str, (i64, i64)> {
    PERSONAL_TABLES
        .iter()
        .map(|(t, column)| {
            let rows = bank.rows(
                OWNER,
                &format!(
                    "SELECT count(*) FILTER (WHERE {column} = {subject}) AS s, count(*) AS n FROM {}",
                    bank.raw(t)
                ),
            );
            (*t, (int(&rows[0], "s"), int(&rows[0], "n")))
        })
        .collect()
}

fn temp_files(dir: &Path) -> Vec<PathBuf> {
    file_hashes(dir)
        .into_keys()
        .filter(|p| p.to_string_lossy().contains("finsight-tmp"))
        .collect()
}

/// The value encodings (not the RLE of levels) of the first row group's
/// `ts` column, which must have no dictionary.
fn timestamp_encodings(file: &Path) -> Vec<String> {
    use datafusion::parquet::basic::Encoding;
    use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(std::fs::File::open(file).expect("open parquet"))
        .expect("parquet footer");
    let row_group = reader.metadata().row_group(0);
    let ts = row_group
        .columns()
        .iter()
        .find(|c| c.column_path().string() == "ts")
        .expect("a ts column");
    assert!(ts.dictionary_page_offset().is_none(), "ts has a dictionary");
    ts.encodings()
        .filter(|e| *e != Encoding::RLE)
        .map(|e| format!("{e:?}"))
        .collect()
}

#[test]
fn erasure_removes_a_subject_from_every_dataset_with_a_receipt() {
    let bank = Bank::new("erase");
    let subject = subject_everywhere(&bank);
    let before = counts(&bank, subject);
    assert!(before.values().all(|(s, _)| *s > 0), "{before:?}");
    let output = bank.run(OLIVIA, &["erase", "--subject", &subject.to_string()]);
    assert_exit(&output, 0);
    let after = counts(&bank, subject);
    for (table, (s, n)) in &before {
        assert_eq!(after[table], (0, n - s), "{table}");
    }
    // The receipt names the subject by hash only, with the rows per table.
    let entry = bank
        .audit()
        .into_iter()
        .rfind(|r| text(r, "kind") == "erasure")
        .expect("an erasure receipt");
    assert_eq!(text(&entry, "status"), "ok");
    let receipt = text(&entry, "detail");
    assert!(
        receipt.contains(&sha256_hex(subject.to_string().as_bytes())),
        "{receipt}"
    );
    assert!(!receipt.contains(&format!("\"{subject}\"")), "{receipt}");
    let removed: i64 = before.values().map(|(s, _)| s).sum();
    // The rewritten files keep the layout demo chose for scans.
    for file in bank.raw_files("transactions") {
        assert_eq!(
            timestamp_encodings(&file),
            ["DELTA_BINARY_PACKED"],
            "{}",
            file.display()
        );
    }
    assert!(
        stdout(&output).contains(&format!("({removed} rows)")),
        "{}",
        stdout(&output)
    );
    // Again: nothing to do, no file touched.
    let files = file_hashes(&bank.dir);
    let data_files: BTreeMap<_, _> = files
        .into_iter()
        .filter(|(p, _)| !p.starts_with(bank.dir.join(".finsight")))
        .collect();
    let output = bank.run(OLIVIA, &["erase", "--subject", &subject.to_string()]);
    assert_exit(&output, 0);
    assert!(stdout(&output).contains("(0 rows)"), "{}", stdout(&output));
    let again: BTreeMap<_, _> = file_hashes(&bank.dir)
        .into_iter()
        .filter(|(p, _)| !p.starts_with(bank.dir.join(".finsight")))
        .collect();
    assert_eq!(data_files, again);
}

#[test]
fn erasure_by_sql_statement_needs_the_erase_grant() {
    let bank = Bank::new("erase-sql");
    let subject = subject_everywhere(&bank);
    let sql = format!("ERASE SUBJECT '{subject}'");
    bank.denied(ADAM, &sql);
    bank.assert_audited("adam", &sql, "denied");
    assert!(counts(&bank, subject).values().all(|(s, _)| *s > 0));
    let output = bank.sql(OLIVIA, &sql);
    assert_exit(&output, 0);
    assert!(counts(&bank, subject).values().all(|(s, _)| *s == 0));
}

/// Kills the erasure at `step` of its first file rewrite, then checks that
/// every table is readable and whole (old or new file, never torn), and that
/// a rerun completes.
fn erasure_survives_a_crash_at(step: &str) {
    let bank = Bank::new(&format!("crash-{step}"));
    let subject = subject_everywhere(&bank);
    let before = counts(&bank, subject);
    let output = finsight()
        .args(["--dir", bank.path(), "--user", "olivia"])
        .args(["erase", "--subject", &subject.to_string()])
        .env("FINSIGHT_TEST_CRASH_AT", step)
        .output()
        .expect("run finsight");
    assert_eq!(
        output.status.code(),
        None,
        "not killed: {}",
        stderr(&output)
    );
    assert!(stderr(&output).contains(step), "{}", stderr(&output));
    let crashed = counts(&bank, subject);
    let mut rewritten = 0;
    for (table, (s, n)) in &before {
        let now = crashed[table];
        // Through the catalog too, stray temporary file and all.
        assert_eq!(
            bank.scalar(&format!("SELECT count(*) FROM {table}")),
            now.1,
            "{table}"
        );
        assert!(
            now == (*s, *n) || now == (0, n - s),
            "{table}: {now:?} of {s}, {n}"
        );
        rewritten += usize::from(now.0 == 0);
    }
    // The first table (accounts) is rewritten once the rename happened.
    assert_eq!(
        rewritten,
        usize::from(step == "after_rename"),
        "{crashed:?}"
    );
    let output = bank.run(OLIVIA, &["erase", "--subject", &subject.to_string()]);
    assert_exit(&output, 0);
    let after = counts(&bank, subject);
    for (table, (s, n)) in &before {
        assert_eq!(after[table], (0, n - s), "{table}");
    }
    assert_eq!(temp_files(&bank.dir), Vec::<PathBuf>::new());
}

#[test]
fn erasure_survives_a_crash_after_writing_the_temporary_file() {
    erasure_survives_a_crash_at("after_temp_write");
}

#[test]
fn erasure_survives_a_crash_after_fsync() {
    erasure_survives_a_crash_at("after_fsync");
}

#[test]
fn erasure_survives_a_crash_after_rename() {
    erasure_survives_a_crash_at("after_rename");
}

#[test]
fn subject_access_exports_every_table_with_a_manifest() {
    let bank = Bank::new("subject-access");
    let subject = subject_everywhere(&bank);
    let before = counts(&bank, subject);
    let out = bank.dir.join("export");
    let out_str = out.to_str().expect("utf8");
    let output = bank.run(
        OLIVIA,
        &[
            "subject-access",
            "--subject",
            &subject.to_string(),
            "--out",
            out_str,
        ],
    );
    assert_exit(&output, 0);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).expect("manifest"))
            .expect("manifest json");
    let tables = manifest["tables"].as_array().expect("tables");
    assert_eq!(tables.len(), PERSONAL_TABLES.len());
    for entry in tables {
        let table = entry["table"].as_str().expect("table");
        let file = out.join(entry["file"].as_str().expect("file"));
        let bytes = std::fs::read(&file).expect("export file");
        assert_eq!(entry["sha256"].as_str(), Some(sha256_hex(&bytes).as_str()));
        let lines = parse_rows(&String::from_utf8(bytes).expect("utf8"));
        let expected = before[table].0;
        assert_eq!(entry["rows"].as_i64(), Some(expected), "{table}");
        assert_eq!(lines.len() as i64, expected, "{table}");
        let column = PERSONAL_TABLES
            .iter()
            .find(|(t, _)| *t == table)
            .map_or("customer_id", |(_, c)| c);
        assert!(lines.iter().all(|r| field(r, column) == subject), "{table}");
    }
    // Raw values: the export is what the bank holds, not a masked view.
    let customer =
        parse_rows(&std::fs::read_to_string(out.join("customers.jsonl")).expect("customers"));
    let email = bank.rows(
        OWNER,
        &format!(
            "SELECT email FROM {} WHERE customer_id = {subject}",
            bank.raw("customers")
        ),
    );
    assert_eq!(field(&customer[0], "email"), field(&email[0], "email"));
    assert!(
        bank.audit()
            .iter()
            .any(|r| text(r, "kind") == "subject_access" && text(r, "status") == "ok")
    );
    let output = bank.run(
        ADAM,
        &[
            "subject-access",
            "--subject",
            &subject.to_string(),
            "--out",
            out_str,
        ],
    );
    assert_ne!(output.status.code(), Some(0));
    assert!(
        stderr(&output).contains("permission denied"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn retention_hides_expired_rows_and_apply_purges_them() {
    let bank = Bank::new("retention");
    // A period that puts the cutoff at 2024-06-01 whatever today is, inside
    // the demo's 2023-2025 transactions.
    let days = bank
        .scalar("SELECT CAST(date_part('day', now() - TIMESTAMP '2024-06-01 00:00:00') AS BIGINT)");
    let policy_path = bank.dir.join(".finsight/policy.toml");
    let policy = std::fs::read_to_string(&policy_path).expect("policy");
    let policy = policy.replace(
        r#"retention = { column = "ts", keep = "10 years" }"#,
        &format!(r#"retention = {{ column = "ts", keep = "{days} days" }}"#),
    );
    std::fs::write(&policy_path, policy).expect("write policy");
    let kept = format!("ts >= now() - INTERVAL '{days} days'");
    let raw_total = bank.scalar(&format!(
        "SELECT count(*) FROM {}",
        bank.raw("transactions")
    ));
    let expected = bank.scalar(&format!(
        "SELECT count(*) FROM {} WHERE {kept}",
        bank.raw("transactions")
    ));
    assert!(
        expected > 1000 && expected < raw_total - 1000,
        "{expected} of {raw_total}"
    );
    assert_eq!(bank.scalar("SELECT count(*) FROM transactions"), expected);
    let expected_south = bank.scalar(&format!(
        "SELECT count(*) FROM {} WHERE {kept} AND customer_id IN \
         (SELECT customer_id FROM {} WHERE region = 'south')",
        bank.raw("transactions"),
        bank.raw("customers")
    ));
    assert_eq!(
        int(
            &bank.rows(ADAM, "SELECT count(*) AS n FROM transactions")[0],
            "n"
        ),
        expected_south
    );
    let customers = bank.scalar(&format!("SELECT count(*) FROM {}", bank.raw("customers")));
    let output = bank.run(OWNER, &["retention", "apply"]);
    assert_exit(&output, 0);
    assert_eq!(
        bank.scalar(&format!(
            "SELECT count(*) FROM {}",
            bank.raw("transactions")
        )),
        expected
    );
    assert_eq!(
        bank.scalar(&format!("SELECT count(*) FROM {}", bank.raw("customers"))),
        customers
    );
    assert!(bank.audit().iter().any(|r| text(r, "kind") == "retention"));
}

// --- Policy validation ------------------------------------------------------

/// The demo policy with `from` replaced by `to`; `policy check` must fail
/// with `message` at the line where `to` is.
fn assert_policy_error(name: &str, from: &str, to: &str, message: &str) {
    let bank = Bank::new(name);
    let path = bank.dir.join(".finsight/policy.toml");
    let policy = std::fs::read_to_string(&path).expect("policy");
    assert!(policy.contains(from), "{from}");
    let policy = policy.replacen(from, to, 1);
    let line = policy[..policy.find(to).expect("edit")].lines().count()
        + usize::from(policy[..policy.find(to).expect("edit")].ends_with('\n'));
    std::fs::write(&path, &policy).expect("write policy");
    let output = bank.run(OWNER, &["policy", "check"]);
    assert_ne!(output.status.code(), Some(0), "{}", stdout(&output));
    let err = stderr(&output);
    assert!(
        err.contains(&format!("policy.toml:{line}")),
        "line {line}: {err}"
    );
    assert!(err.contains(message), "{message}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    // Every session refuses to start on an invalid policy.
    let output = bank.sql(OWNER, "SELECT 1");
    assert_ne!(output.status.code(), Some(0));
}

#[test]
fn policy_with_an_unknown_table_is_refused_with_its_line() {
    assert_policy_error("bad-table", "[tables.loans]", "[tables.loanz]", "loanz");
}

#[test]
fn policy_with_an_unknown_column_is_refused_with_its_line() {
    assert_policy_error(
        "bad-column",
        "columns = { iban = \"iban\" }",
        "columns = { ibann = \"iban\" }",
        "ibann",
    );
}

#[test]
fn policy_with_an_unknown_role_is_refused_with_its_line() {
    assert_policy_error(
        "bad-role",
        "row_filters = { analyst =",
        "row_filters = { analysts =",
        "analysts",
    );
}

#[test]
fn policy_with_an_unknown_function_is_refused_with_its_line() {
    assert_policy_error(
        "bad-function",
        "mask = \"mask_email(value)\"",
        "mask = \"mask_emial(value)\"",
        "mask_emial",
    );
}

#[test]
fn policy_with_an_unknown_class_is_refused_with_its_line() {
    assert_policy_error(
        "bad-class",
        "columns = { iban = \"iban\" }",
        "columns = { iban = \"ibn\" }",
        "ibn",
    );
}

// --- The CI script of the bank's rules --------------------------------------

const CHECKS: &str = "sql/governance_checks.sql";

#[test]
fn governance_checks_script_passes_for_every_role() {
    let bank = Bank::new("checks");
    for identity in [
        OWNER,
        ADAM,
        MARIA,
        OLIVIA,
        &["--user", "rita", "--role", "risk"],
        &["--user", "rita", "--role", "analyst"],
    ] {
        let output = bank.run(identity, &["run", CHECKS]);
        assert_exit(&output, 0);
        assert!(
            stderr(&output).contains("6 assertion(s); 9 ok, 0 failed"),
            "{identity:?}: {}",
            stderr(&output)
        );
    }
}

/// The demo policy with `from` replaced by `to`: the script, run as
/// `identity`, must fail on the rule named `message`.
fn assert_checks_catch(name: &str, from: &str, to: &str, identity: &[&str], message: &str) {
    let bank = Bank::new(name);
    let path = bank.dir.join(".finsight/policy.toml");
    let policy = std::fs::read_to_string(&path).expect("policy");
    assert!(policy.contains(from), "{from}");
    std::fs::write(&path, policy.replacen(from, to, 1)).expect("write policy");
    let output = bank.run(identity, &["run", CHECKS]);
    assert_exit(&output, 1);
    assert!(stderr(&output).contains(message), "{}", stderr(&output));
}

#[test]
fn governance_checks_script_catches_raw_emails_given_to_analysts() {
    assert_checks_catch(
        "hole-raw",
        "[roles.analyst]\n",
        "[roles.analyst]\nraw = [\"email\"]\n",
        ADAM,
        "identifiers are masked",
    );
}

#[test]
fn governance_checks_script_catches_a_dropped_row_filter() {
    assert_checks_catch(
        "hole-filter",
        "row_filters = { analyst = \"region = current_user_attribute('region')\" }\n",
        "",
        ADAM,
        "an analyst sees only their region",
    );
}

#[test]
fn governance_checks_script_catches_marketing_without_consent() {
    assert_checks_catch(
        "hole-consent",
        "[purposes.marketing]\nbasis = \"consent\"",
        "[purposes.marketing]\nbasis = \"legitimate_interest\"",
        MARIA,
        "only customers who consented",
    );
}

#[test]
fn files_grant_lets_the_privacy_officer_read_and_write_files() {
    let bank = Bank::new("files");
    let out = bank.dir.join("export.parquet");
    let copy = format!(
        "COPY (SELECT customer_id FROM customers) TO '{}'",
        out.display()
    );
    bank.denied(ADAM, &copy);
    let output = bank.sql(OLIVIA, &copy);
    assert_exit(&output, 0);
    let rows = bank.rows(
        OLIVIA,
        &format!("SELECT count(*) AS n FROM '{}'", out.display()),
    );
    assert_eq!(
        int(&rows[0], "n"),
        bank.scalar("SELECT count(*) FROM customers")
    );
    // Never under the name of a governed table.
    let replace = format!(
        "CREATE EXTERNAL TABLE customers STORED AS PARQUET LOCATION '{}'",
        out.display()
    );
    bank.denied(OLIVIA, &replace);
    bank.assert_audited("olivia", &replace, "denied");
}

// --- The audit trail in PostgreSQL ------------------------------------------

/// A throwaway PostgreSQL server on a Unix socket, stopped on drop.
struct Postgres {
    dir: PathBuf,
    server: std::process::Child,
    port: u16,
}

fn postgres_bin(name: &str) -> PathBuf {
    let in_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin").join(name))
                .collect()
        })
        .unwrap_or_default();
    debian.sort();
    in_path
        .into_iter()
        .chain(debian.into_iter().rev())
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("PostgreSQL's {name} not found: tests/run.sh installs it"))
}

/// `program` as the `postgres` system user when we are root (PostgreSQL
/// refuses to run as root).
fn as_postgres_user(program: PathBuf) -> std::process::Command {
    if running_as_root() {
        let mut command = std::process::Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        std::process::Command::new(program)
    }
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the process's effective user.
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

impl Postgres {
    fn start(name: &str) -> Postgres {
        let dir = scratch(&format!("pg-{name}"));
        if running_as_root() {
            let status = std::process::Command::new("chown")
                .args(["postgres:", dir.to_str().expect("utf8")])
                .status()
                .expect("chown");
            assert!(status.success());
        }
        let output = as_postgres_user(postgres_bin("initdb"))
            .args(["-D", dir.join("data").to_str().expect("utf8")])
            .args(["-U", "finsight", "--auth=trust", "--no-sync"])
            .output()
            .expect("initdb");
        assert!(output.status.success(), "initdb: {}", stderr(&output));
        // A port number per test process: the socket file is named after it.
        let port = 20000 + (std::process::id() % 20000) as u16;
        let server = as_postgres_user(postgres_bin("postgres"))
            .args(["-D", dir.join("data").to_str().expect("utf8")])
            .args(["-k", dir.to_str().expect("utf8")])
            .args(["-p", &port.to_string(), "-c", "listen_addresses="])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start postgres");
        let pg = Postgres { dir, server, port };
        for _ in 0..100 {
            if pg.psql("SELECT 1").status.success() {
                return pg;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("PostgreSQL did not start");
    }

    fn connection(&self) -> String {
        format!(
            "host={} port={} user=finsight dbname=postgres",
            self.dir.display(),
            self.port
        )
    }

    fn psql(&self, sql: &str) -> Output {
        std::process::Command::new(postgres_bin("psql"))
            .args(["-h", self.dir.to_str().expect("utf8")])
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "finsight",
                "-d",
                "postgres",
            ])
            .args(["-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
            .output()
            .expect("psql")
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // runuser forwards SIGTERM to postgres: a smart shutdown.
        let _ = std::process::Command::new("kill")
            .arg(self.server.id().to_string())
            .status();
        let _ = self.server.wait();
    }
}

#[test]
fn audit_trail_in_postgresql_is_chained_append_only_and_verified() {
    let pg = Postgres::start("audit");
    let bank = Bank::new("postgres-audit");
    let path = bank.dir.join(".finsight/policy.toml");
    let policy = std::fs::read_to_string(&path).expect("policy");
    let policy = policy.replacen(
        "path = \"audit.db\"",
        &format!("postgres = \"{}\"", pg.connection()),
        1,
    );
    std::fs::write(&path, policy).expect("write policy");

    bank.rows(ADAM, "SELECT count(*) AS n FROM customers");
    bank.denied(ADAM, "DROP TABLE customers");
    bank.rows(OLIVIA, "SELECT email FROM customers LIMIT 1");
    assert!(!bank.dir.join(".finsight/audit.db").exists());
    // Read back through SQL, by the auditor.
    let rows = bank.rows(
        AUDREY,
        "SELECT user_name, status, masks FROM audit.log ORDER BY seq",
    );
    let seen: Vec<(String, String)> = rows
        .iter()
        .map(|r| (text(r, "user_name"), text(r, "status")))
        .collect();
    assert_eq!(
        seen,
        [
            ("adam".into(), "ok".into()),
            ("adam".into(), "denied".into()),
            ("olivia".into(), "ok".into()),
        ]
    );
    // And directly from PostgreSQL.
    let count = pg.psql("SELECT count(*) FROM audit_log");
    assert_eq!(stdout(&count).trim(), "4"); // audrey's own read is recorded too

    let output = bank.run(OWNER, &["audit", "verify"]);
    assert_exit(&output, 0);
    assert!(
        stdout(&output).contains("intact: 4 entries"),
        "{}",
        stdout(&output)
    );

    // Append-only: UPDATE, DELETE and TRUNCATE are refused by triggers.
    for sql in [
        "UPDATE audit_log SET statement = 'SELECT 1' WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq = 2",
        "TRUNCATE audit_log",
    ] {
        let output = pg.psql(sql);
        assert!(!output.status.success(), "{sql} was allowed");
        assert!(
            stderr(&output).contains("append-only"),
            "{}",
            stderr(&output)
        );
    }
    // A superuser who disables the triggers is caught by the chain.
    let output = pg.psql(
        "ALTER TABLE audit_log DISABLE TRIGGER USER; \
         UPDATE audit_log SET statement = 'SELECT 1' WHERE seq = 2",
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let output = bank.run(OWNER, &["audit", "verify"]);
    assert_exit(&output, 1);
    assert!(
        stdout(&output).contains("entry 2 was modified"),
        "{}",
        stdout(&output)
    );
}
