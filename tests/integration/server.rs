//! `finsight serve` driven by real Flight SQL clients: Python ADBC
//! (`adbc-driver-flightsql`, with pandas) and `pyarrow.flight`, from the
//! venv `tests/run.sh` installs. The scenarios live in
//! `tests/clients/flight_clients.py`; each starts its own server on
//! loopback on a private copy of the small demo bank. Without the venv the
//! tests are skipped, unless FINSIGHT_REQUIRE_REFERENCE=1 (as in CI).

use std::path::PathBuf;
use std::process::Command;

use crate::common::{assert_exit, demo_dir, run, scratch, stderr, write};

fn client_python() -> Option<PathBuf> {
    crate::common::venv_python("adbc_driver_flightsql.dbapi, pyarrow.flight, pandas")
}

/// Runs `script BINARY DEMO args...` and fails the test on a non-zero exit.
fn run_client_script(script: &str, args: &[&str]) {
    let Some(python) = client_python() else {
        assert!(
            std::env::var("FINSIGHT_REQUIRE_REFERENCE").is_err(),
            "FINSIGHT_REQUIRE_REFERENCE is set but no python with adbc-driver-flightsql and pyarrow was found (set FINSIGHT_PYTHON)"
        );
        eprintln!("skipping {script}: no python with the Flight SQL clients (run tests/run.sh)");
        return;
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new(python)
        .arg(root.join(script))
        .arg(env!("CARGO_BIN_EXE_finsight"))
        .arg(demo_dir())
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run the client script");
    let out = String::from_utf8_lossy(&output.stdout);
    let err = String::from_utf8_lossy(&output.stderr);
    println!("{out}");
    assert!(
        output.status.success(),
        "{script} {args:?} failed\n--- stdout\n{out}\n--- stderr\n{err}"
    );
}

#[test]
fn adbc_and_pyarrow_clients_see_what_their_policies_allow() {
    run_client_script("tests/clients/flight_clients.py", &["clients"]);
}

#[test]
fn flight_errors_give_grpc_statuses_and_never_stop_the_server() {
    run_client_script("tests/clients/flight_clients.py", &["errors"]);
}

#[test]
fn flight_limits_per_query_and_per_user() {
    run_client_script("tests/clients/flight_clients.py", &["limits"]);
}

#[test]
fn sigterm_cancels_in_flight_queries_and_keeps_the_audit_trail_whole() {
    run_client_script("tests/clients/flight_clients.py", &["shutdown"]);
}

#[test]
fn flight_differential_privacy_for_a_dp_only_role() {
    run_client_script("tests/clients/flight_clients.py", &["dp"]);
}

#[test]
fn flight_over_tls() {
    if Command::new("openssl").arg("version").output().is_err() {
        assert!(
            std::env::var("FINSIGHT_REQUIRE_REFERENCE").is_err(),
            "openssl is needed to make the test certificate"
        );
        return;
    }
    run_client_script("tests/clients/flight_clients.py", &["tls"]);
}

#[test]
fn readme_flight_example_runs_as_written() {
    run_client_script("tests/clients/flight_clients.py", &["readme"]);
}

/// 32 concurrent ADBC clients for 60 s (FINSIGHT_LOAD_SECONDS to change):
/// no error, one audit entry per query.
#[test]
fn thirty_two_clients_under_load_lose_no_query_and_no_audit_entry() {
    let seconds = std::env::var("FINSIGHT_LOAD_SECONDS").unwrap_or_else(|_| "60".into());
    run_client_script(
        "benches/flight_load.py",
        &["--clients", "32", "--seconds", &seconds],
    );
}

#[test]
fn serve_needs_a_policy_with_passwords() {
    let dir = scratch("serve-no-policy");
    write(&dir, "t.csv", "a\n1\n");
    let output = run(&[
        "serve",
        "--dir",
        dir.to_str().expect("utf8"),
        "--addr",
        "127.0.0.1:0",
    ]);
    assert_exit(&output, 2);
    assert!(
        stderr(&output).contains("serve needs a policy file"),
        "{}",
        stderr(&output)
    );

    let policy = write(
        &dir,
        "policy.toml",
        "[roles.analyst]\n[users.adam]\nroles = [\"analyst\"]\n",
    );
    let output = run(&[
        "serve",
        "--dir",
        dir.to_str().expect("utf8"),
        "--policy",
        policy.to_str().expect("utf8"),
        "--addr",
        "127.0.0.1:0",
    ]);
    assert_exit(&output, 2);
    assert!(
        stderr(&output).contains("no user in"),
        "{}",
        stderr(&output)
    );

    let output = run(&[
        "serve",
        "--dir",
        demo_dir().to_str().expect("utf8"),
        "--addr",
        "127.0.0.1:0",
        "--query-timeout",
        "soon",
    ]);
    assert_exit(&output, 2);
    assert!(
        stderr(&output).contains("expected a duration"),
        "{}",
        stderr(&output)
    );
}
