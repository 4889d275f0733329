//! The privacy toolkit end to end through the binary: PII-detection
//! precision and recall on a labelled sample of the demo data, Parquet
//! encryption at rest with keyring keys (round trip, missing and wrong
//! keys), and key material never reaching plans, errors or output.

use std::collections::HashMap;

use crate::common::{assert_exit, demo_dir, finsight, scratch, stderr, stdout};

const TEST_KEYRING: &str = "tests/data/keyring/test.keyring";

/// `kind -> (precision, precision without the hard negatives, recall)`
/// from the first table of precision_recall.sql's CSV output.
fn detection_quality(csv: &str) -> HashMap<String, (f64, f64, f64)> {
    let mut quality = HashMap::new();
    for line in csv.lines().skip(1) {
        if line.is_empty() {
            break;
        }
        let fields: Vec<&str> = line.split(',').collect();
        let number = |i: usize| fields[i].parse::<f64>().expect("a number");
        quality.insert(fields[0].to_string(), (number(4), number(5), number(6)));
    }
    quality
}

#[test]
fn pii_detection_precision_and_recall_on_a_labelled_sample() {
    let output = finsight()
        .args([
            "--dir",
            demo_dir().to_str().expect("utf8"),
            "--format",
            "csv",
        ])
        .args(["run", "tests/data/pii/precision_recall.sql"])
        .output()
        .expect("run finsight");
    assert_exit(&output, 0);
    let text = stdout(&output);
    println!("{text}");
    let quality = detection_quality(&text);
    assert_eq!(quality.len(), 6, "{text}");
    for (kind, (precision, precision_without_hard, recall)) in &quality {
        assert!(*recall >= 0.99, "{kind}: recall {recall}");
        if kind == "card_pan" {
            // 13-19 digit numbers starting 2-6 pass the Luhn check one time
            // in ten by chance: the hard negatives are exactly those.
            assert!(
                *precision_without_hard >= 0.9,
                "{kind}: {precision_without_hard}"
            );
            assert!(*precision >= 0.8, "{kind}: {precision}");
        } else {
            assert!(*precision >= 0.99, "{kind}: precision {precision}");
        }
    }
}

fn run_sql(keyring: Option<&str>, sql: &str) -> std::process::Output {
    let mut command = finsight();
    command.env_remove("FINSIGHT_KEYRING");
    if let Some(keyring) = keyring {
        command.args(["--keyring", keyring]);
    }
    command
        .args(["--format", "csv", "-c", sql])
        .output()
        .expect("run finsight")
}

#[test]
fn encrypted_parquet_round_trips_and_refuses_missing_or_wrong_keys() {
    let dir = scratch("encrypted");
    let file = dir.join("customers.parquet");
    let path = file.to_str().expect("utf8");
    let data = "SELECT * FROM (VALUES (1, 'ann.lee@bank.com', 'GB82WEST12345698765432', 120.5), \
                (2, 'bob.ray@bank.com', NULL, 99.0)) AS t(id, email, iban, balance)";
    let copy = format!(
        "COPY ({data}) TO '{path}' STORED AS PARQUET OPTIONS (\
         'format.crypto.factory_id' 'finsight', \
         'format.crypto.factory_options.footer_key' 'test_footer', \
         'format.crypto.factory_options.column_key' 'test_pii', \
         'format.crypto.factory_options.columns' 'email,iban')"
    );
    assert_exit(&run_sql(Some(TEST_KEYRING), &copy), 0);

    // A Parquet file with an encrypted footer, and no plaintext PII in it.
    let bytes = std::fs::read(&file).expect("read encrypted file");
    assert_eq!(&bytes[..4], b"PARE");
    assert_eq!(&bytes[bytes.len() - 4..], b"PARE");
    for secret in ["ann.lee@bank.com", "GB82WEST", "email"] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} is readable in the file"
        );
    }

    // With the keyring: the same rows back.
    let output = run_sql(
        Some(TEST_KEYRING),
        &format!("SELECT count(*) AS n FROM (SELECT * FROM '{path}' EXCEPT {data})"),
    );
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "n\n0\n\n");
    let output = run_sql(
        Some(TEST_KEYRING),
        &format!("SELECT email FROM '{path}' ORDER BY id"),
    );
    assert_eq!(
        stdout(&output),
        "email\nann.lee@bank.com\nbob.ray@bank.com\n\n"
    );

    // Registered from a data directory, it is a table like any other.
    let output = finsight()
        .args([
            "--keyring",
            TEST_KEYRING,
            "--dir",
            dir.to_str().expect("utf8"),
        ])
        .args([
            "--format",
            "csv",
            "-c",
            "SELECT sum(balance) AS total FROM customers",
        ])
        .output()
        .expect("run finsight");
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "total\n219.5\n\n");

    // Without the keyring: a clear error naming the missing key, no rows.
    let output = run_sql(None, &format!("SELECT * FROM '{path}'"));
    assert_exit(&output, 1);
    let error = stderr(&output);
    assert!(
        error.contains("key 'test_footer@1' not found") && error.contains("keyring"),
        "{error}"
    );
    assert!(!stdout(&output).contains("bank.com"));

    // A wrong key under the right name: refused by AES-GCM, never garbage.
    let wrong = scratch("wrong-keyring");
    let wrong_keyring = crate::common::write(
        &wrong,
        "keyring",
        "test_footer@1 = hex:ffffffffffffffffffffffffffffffff\n",
    );
    let output = run_sql(
        Some(wrong_keyring.to_str().expect("utf8")),
        &format!("SELECT * FROM '{path}'"),
    );
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("unable to decrypt"),
        "{}",
        stderr(&output)
    );
    assert!(!stdout(&output).contains("bank.com"));

    // The right footer key but a wrong column key: opening the file
    // decrypts every column's metadata, so it is refused as a whole, with the
    // column named.
    let column_keyring = crate::common::write(
        &wrong,
        "keyring-columns",
        "test_footer@1 = hex:30313233343536373839303132333435\n\
         test_pii@1 = hex:ffffffffffffffffffffffffffffffff\n",
    );
    let keyring = column_keyring.to_str().expect("utf8");
    let output = run_sql(Some(keyring), &format!("SELECT email FROM '{path}'"));
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("Unable to decrypt column 'email'"),
        "{}",
        stderr(&output)
    );
    assert!(!stdout(&output).contains("bank.com"));

    // Misconfigured writes fail before writing.
    let output = run_sql(
        Some(TEST_KEYRING),
        &format!(
            "COPY ({data}) TO '{}' STORED AS PARQUET OPTIONS ('format.crypto.factory_id' 'finsight', \
             'format.crypto.factory_options.footer_key' 'test_footer', \
             'format.crypto.factory_options.columns' 'email')",
            dir.join("bad.parquet").display()
        ),
    );
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("'columns' and 'column_key' go together"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn key_material_never_reaches_plans_errors_or_output() {
    // Every key of the test keyring, in the forms it could leak in.
    let keyring = std::fs::read_to_string(TEST_KEYRING).expect("test keyring");
    let keys: Vec<String> = keyring
        .lines()
        .filter_map(|l| {
            l.split_once("hex:")
                .map(|(_, hex)| hex.trim().to_lowercase())
        })
        .collect();
    assert!(keys.len() >= 5);
    let statements = [
        "EXPLAIN VERBOSE SELECT pseudonymize(v, 'test_hmac'), tokenize_fpe(v, 'test_fpe', 'digits') \
         FROM (VALUES ('1234567890')) AS t(v)",
        "SELECT pseudonymize(v, 'test_hmac'), tokenize_fpe(v, 'test_fpe', 'digits') FROM (VALUES ('1234567890')) AS t(v)",
        "SELECT tokenize_fpe('123', 'test_fpe', 'digits')",
        "SELECT pseudonymize('x', 'absent_key')",
    ];
    let mut everything = String::new();
    for sql in statements {
        let output = finsight()
            .args(["--keyring", TEST_KEYRING, "-c", sql])
            .output()
            .expect("run finsight");
        everything.push_str(&stdout(&output));
        everything.push_str(&stderr(&output));
    }
    let everything = everything.to_lowercase();
    assert!(everything.contains("pseudonymize"), "{everything}");
    assert!(everything.contains("needs at least 6"), "{everything}");
    assert!(
        everything.contains("key 'absent_key' not found"),
        "{everything}"
    );
    for key in &keys {
        assert!(!everything.contains(key.as_str()), "key material in output");
    }
}

#[test]
fn demo_writes_a_private_keyring_the_privacy_functions_use() {
    let dir = demo_dir();
    let keyring = dir.join(".finsight/keyring");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&keyring)
            .expect("demo keyring")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the keyring is readable by others: {mode:o}"
        );
    }
    let output = finsight()
        .env_remove("FINSIGHT_KEYRING")
        .args(["--dir", dir.to_str().expect("utf8"), "--format", "csv", "-c"])
        .arg(
            "SELECT length(pseudonymize(email, 'demo_pii')) AS chars, \
             detokenize_fpe(tokenize_fpe(card_number, 'demo_fpe', 'luhn'), 'demo_fpe', 'luhn') = card_number AS round_trip \
             FROM customers WHERE email IS NOT NULL ORDER BY customer_id LIMIT 1",
        )
        .output()
        .expect("run finsight");
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "chars,round_trip\n64,true\n\n");
}
