//! The SQL compatibility suite (tests/compat): every idiom of
//! `tests/compat/idioms.sql` runs on DuckDB (the reference, from the venv
//! `tests/run.sh` installs) and on a real `finsight serve` over Flight SQL,
//! on Parquet files DuckDB wrote. The script prints the pass rate and fails
//! on an idiom that differs without being listed as a known difference, or
//! on a known difference that no longer differs, or below 95%. Skipped without the venv
//! unless FINSIGHT_REQUIRE_REFERENCE=1 (as in CI).

use std::path::PathBuf;
use std::process::Command;

#[test]
fn sql_idioms_of_duckdb_postgresql_snowflake_and_bigquery_give_duckdbs_results() {
    let Some(python) = crate::common::venv_python("duckdb, pyarrow.flight") else {
        assert!(
            std::env::var("FINSIGHT_REQUIRE_REFERENCE").is_err(),
            "FINSIGHT_REQUIRE_REFERENCE is set but no python with duckdb and pyarrow was found (set FINSIGHT_PYTHON)"
        );
        eprintln!("skipping the compatibility suite: no python with duckdb (run tests/run.sh)");
        return;
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let report = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("compat-report.md");
    let output = Command::new(python)
        .arg(root.join("tests/compat/compat.py"))
        .arg(env!("CARGO_BIN_EXE_finsight"))
        .arg("--report")
        .arg(&report)
        // The rate the README states as the floor.
        .args(["--min-rate", "95"])
        .env("NO_COLOR", "1")
        .output()
        .expect("run tests/compat/compat.py");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "compatibility suite failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("idioms give DuckDB's result"),
        "no pass rate printed:\n{stdout}"
    );
}
