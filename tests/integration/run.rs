//! `finsight run`: scripts as CI checks.

use crate::common::*;

#[test]
fn passing_script_prints_results_and_exits_zero() {
    let dir = scratch("run-pass");
    let script = write(
        &dir,
        "ok.sql",
        "CREATE TABLE t AS VALUES (1, 'a'), (2, 'b');\n\
         -- a comment; with a semicolon\n\
         SELECT column1 AS n, column2 AS s FROM t ORDER BY n;\n\
         ASSERT (SELECT count(*) FROM t) = 2, 'two rows';\n",
    );
    let output = run(&["run", "--format", "csv", script.to_str().unwrap()]);
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "n,s\n1,a\n2,b\n\n");
    assert!(
        stderr(&output).contains("3 statement(s), 1 assertion(s); 3 ok, 0 failed"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn failed_assertion_reports_file_line_and_values() {
    let dir = scratch("run-fail");
    let script = write(
        &dir,
        "check.sql",
        "CREATE TABLE t AS VALUES (1), (2);\n\n  ASSERT (SELECT count(*) FROM t) = 3, 'three rows expected';\nSELECT 'not reached';\n",
    );
    let output = run(&["run", script.to_str().unwrap()]);
    assert_exit(&output, 1);
    let err = stderr(&output);
    assert!(
        err.contains("check.sql:3:3: assertion failed: three rows expected"),
        "{err}"
    );
    assert!(err.contains("actual: left: 2, right: 3"), "{err}");
    assert!(!stdout(&output).contains("not reached"));
}

#[test]
fn not_exists_assertion_shows_offending_rows() {
    let dir = scratch("run-exists");
    let script = write(
        &dir,
        "rows.sql",
        "CREATE TABLE scores (id INT, score DOUBLE) AS VALUES (1, 0.5), (2, 1.7);\n\
         ASSERT NOT EXISTS (SELECT * FROM scores WHERE score > 1);\n",
    );
    let output = run(&["run", script.to_str().unwrap()]);
    assert_exit(&output, 1);
    let err = stderr(&output);
    assert!(err.contains("offending rows"), "{err}");
    assert!(err.contains("1.7"), "{err}");
}

#[test]
fn keep_going_reports_every_failure_and_junit_records_them() {
    let dir = scratch("run-junit");
    let script = write(
        &dir,
        "many.sql",
        "ASSERT 1 = 2, 'first';\nSELECT no_such_column FROM (VALUES (1));\nASSERT 2 = 2;\nASSERT NULL, 'null fails';\n",
    );
    let junit = dir.join("report.xml");
    let output = run(&[
        "run",
        "--keep-going",
        "--junit",
        junit.to_str().unwrap(),
        script.to_str().unwrap(),
    ]);
    assert_exit(&output, 1);
    let err = stderr(&output);
    assert!(
        err.contains("many.sql:1:1: assertion failed: first"),
        "{err}"
    );
    assert!(err.contains("many.sql:2:8:"), "{err}");
    assert!(err.contains("no_such_column"), "{err}");
    assert!(
        err.contains("many.sql:4:1: assertion failed: null fails"),
        "{err}"
    );
    assert!(err.contains("condition is NULL"), "{err}");
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    assert!(xml.contains("tests=\"4\""), "{xml}");
    assert!(xml.contains("failures=\"2\""), "{xml}");
    assert!(xml.contains("errors=\"1\""), "{xml}");
    assert!(xml.contains("assertion failed: first"), "{xml}");
}

#[test]
fn unterminated_string_is_a_located_error_not_a_panic() {
    let dir = scratch("run-unterminated");
    let script = write(&dir, "bad.sql", "SELECT 1;\nSELECT 'oops;\n");
    let output = run(&["run", script.to_str().unwrap()]);
    assert_exit(&output, 1);
    let err = stderr(&output);
    assert!(err.contains("bad.sql:2:8:"), "{err}");
    assert!(err.contains("Unterminated string literal"), "{err}");
}

#[test]
fn syntax_and_unknown_function_errors_name_the_problem() {
    let dir = scratch("run-errors");
    let syntax = write(&dir, "syntax.sql", "SELECT 1;\nSELEC 2;\n");
    let output = run(&["run", syntax.to_str().unwrap()]);
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("syntax.sql:2:1:"),
        "{}",
        stderr(&output)
    );

    let unknown = write(&dir, "unknown.sql", "SELECT rfm_scroe(1, 2, 3);\n");
    let output = run(&["run", unknown.to_str().unwrap()]);
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("Invalid function 'rfm_scroe'"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn variables_are_substituted_and_missing_ones_rejected() {
    let dir = scratch("run-vars");
    let script = write(
        &dir,
        "vars.sql",
        "ASSERT ${n} + 1 = 43;\nSELECT '${label}' AS label;\n",
    );
    let output = run(&[
        "run",
        "--var",
        "n=42",
        "--var",
        "label=ok",
        "--format",
        "csv",
        script.to_str().unwrap(),
    ]);
    assert_exit(&output, 0);
    assert!(stdout(&output).contains("label\nok"), "{}", stdout(&output));

    let output = run(&["run", "--var", "n=42", script.to_str().unwrap()]);
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("vars.sql:2:9: variable 'label' is not defined"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn usage_errors_exit_two() {
    let output = run(&["run", "/nonexistent/script.sql"]);
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("does not exist"));
    let output = run(&["run", "--var", "novalue", "/nonexistent/script.sql"]);
    assert_exit(&output, 2);
    let output = run(&["--memory-limit", "lots", "-c", "SELECT 1"]);
    assert_exit(&output, 2);
    assert!(
        stderr(&output).contains("memory limit"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn example_analyses_in_sql_pass_on_demo_data() {
    let demo = demo_dir();
    let mut scripts: Vec<String> = std::fs::read_dir("sql")
        .expect("sql/ exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    scripts.sort();
    assert!(
        scripts.len() >= 3,
        "expected example scripts, found {scripts:?}"
    );
    // FINSIGHT_DIR stands in for --dir, so `finsight run sql/*.sql` works as written.
    let mut args = vec!["run", "--format", "csv"];
    args.extend(scripts.iter().map(String::as_str));
    let output = finsight()
        .env("FINSIGHT_DIR", demo)
        .args(&args)
        .output()
        .expect("run finsight");
    assert_exit(&output, 0);
}

/// The fairness audit is a gate: decisions that break the policy fail it.
/// Here the live decisions refuse women with a PD of 0.1 or more (men keep
/// the model's 0.25 cut-off): the four-fifths rule by gender must fail,
/// naming the rule and the offending group.
#[test]
fn fairness_audit_fails_on_decisions_that_break_the_policy() {
    let audit = std::fs::read_to_string("sql/fairness_audit.sql").expect("read the audit");
    let live = "SELECT d.*, CAST(1 - d.model_score >= t.threshold AS INT) AS approved_live";
    assert!(audit.contains(live), "the audit's live decisions changed");
    let biased = audit.replace(
        live,
        "SELECT d.*, CASE WHEN d.gender = 'F' THEN CAST(d.model_score < 0.1 AS INT) \
         ELSE d.approved END AS approved_live",
    );
    let dir = scratch("biased-audit");
    let script = dir.join("biased_audit.sql");
    std::fs::write(&script, biased).expect("write the script");
    let output = finsight()
        .args(["run", "--dir"])
        .arg(demo_dir())
        .arg(&script)
        .output()
        .expect("run finsight");
    assert_exit(&output, 1);
    let err = stderr(&output);
    assert!(
        err.contains("assertion failed: P1 four-fifths rule by gender"),
        "{err}"
    );
}

/// `bench --setup`: statements run once, untimed, in the session the files
/// are then timed in (a table loaded into memory, say).
#[test]
fn bench_setup_runs_once_before_the_timed_files() {
    let dir = scratch("bench-setup");
    let setup = write(
        &dir,
        "setup.sql",
        "CREATE TABLE t AS VALUES (1), (2), (3);\n",
    );
    let query = write(&dir, "q.sql", "SELECT sum(column1) AS total FROM t;\n");
    let output = run(&[
        "bench",
        "--runs",
        "2",
        "--setup",
        setup.to_str().unwrap(),
        query.to_str().unwrap(),
    ]);
    assert_exit(&output, 0);
    let line = stdout(&output);
    assert!(line.starts_with("{\"query\":\"q\""), "{line}");
    assert!(line.contains("\"rows\":1"), "{line}");
    // Without the setup the table does not exist.
    let output = run(&["bench", "--runs", "1", query.to_str().unwrap()]);
    assert_ne!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(stderr(&output).contains("t"), "{}", stderr(&output));
}

#[test]
fn version_names_the_engine_versions_and_the_build() {
    let long = run(&["--version"]);
    assert_exit(&long, 0);
    let text = stdout(&long);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], format!("finsight {}", env!("CARGO_PKG_VERSION")));
    // The versions of the design card: DataFusion 55, Arrow 59.
    assert!(
        lines[1].starts_with("DataFusion 55.") && lines[1].contains(", Arrow 59."),
        "{text}"
    );
    let profile = if cfg!(debug_assertions) {
        "build: debug"
    } else {
        "build: release"
    };
    assert!(lines[2].starts_with(profile), "{text}");
    let short = run(&["-V"]);
    assert_eq!(stdout(&short).trim(), lines[0]);
}
