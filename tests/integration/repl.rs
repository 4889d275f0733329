//! The shell, through a pipe (statements and commands as a user types them)
//! and through a pseudo-terminal (line editing, Ctrl-C).

use crate::common::*;

#[test]
fn piped_session_keeps_state_after_errors() {
    let input = "CREATE TABLE t AS VALUES (1, 'x'),\n  (2, 'y');\n\
                 SELECT nope FROM t;\n\
                 SELEC 1;\n\
                 SELECT count(*) AS n FROM t;\n";
    let output = run_with_stdin(&["--format", "csv"], input);
    // Errors are reported and skipped; the exit code says some failed.
    assert_exit(&output, 1);
    assert!(stdout(&output).contains("n\n2\n"), "{}", stdout(&output));
    let err = stderr(&output);
    assert!(
        err.contains("Error: Schema error: No field named nope"),
        "{err}"
    );
    assert!(err.contains("Error: SQL error: ParserError"), "{err}");
}

#[test]
fn tables_are_right_aligned_and_row_limits_are_reported() {
    let output = run_with_stdin(
        &["--max-rows", "3"],
        "SELECT value AS n, 'v' || value AS label FROM generate_series(1, 10) ORDER BY n;\n",
    );
    assert_exit(&output, 0);
    let out = stdout(&output);
    assert!(out.contains("10 rows (3 shown)"), "{out}");
    assert!(
        out.contains("│      1 ┆ v1      │"),
        "numbers right, text left:\n{out}"
    );
}

#[test]
fn backslash_commands_describe_tables_and_functions() {
    let demo = demo_dir();
    let input = "\\d\n\\d customers\n\\df\n\\df haversine\n\\h haversine_km\n\\h sum\n\\nope\n";
    let output = run_with_stdin(&["--dir", demo.to_str().unwrap()], input);
    let out = stdout(&output);
    assert!(
        out.contains("Tables:") && out.contains("transactions") && out.contains("market_prices"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.trim_start().starts_with("national_id ") && l.contains("varchar")),
        "{out}"
    );
    assert!(out.contains("haversine_km  scalar"), "{out}");
    assert!(
        out.contains("Syntax:\n  haversine_km(lat1, lon1, lat2, lon2)"),
        "{out}"
    );
    assert!(out.contains("lat1  Latitude of the first point"), "{out}");
    assert!(
        out.contains("sum — aggregate function (DataFusion built-in)"),
        "{out}"
    );
    assert!(
        stderr(&output).contains("unknown command \\nope"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn output_modes_and_redirection() {
    let dir = scratch("repl-output");
    let target = dir.join("out.md");
    let input = format!(
        "\\mode json\nSELECT 1 AS a, 'x' AS b;\n\\mode markdown\n\\o {}\nSELECT 2 AS a;\n\\o\nSELECT 3 AS a;\n",
        target.display()
    );
    let output = run_with_stdin(&[], &input);
    assert_exit(&output, 0);
    let out = stdout(&output);
    assert!(out.contains("{\"a\":1,\"b\":\"x\"}"), "{out}");
    assert!(out.contains("| 3 |"), "{out}");
    let written = std::fs::read_to_string(&target).expect("\\o wrote the file");
    assert!(
        written.contains("| a |") && written.contains("| 2 |"),
        "{written}"
    );
}

#[test]
fn include_runs_a_file_and_reports_its_location() {
    let dir = scratch("repl-include");
    let file = write(
        &dir,
        "inc.sql",
        "CREATE TABLE z AS VALUES (7);\nSELECT missing;\n",
    );
    let input = format!("\\i {}\nSELECT * FROM z;\n", file.display());
    let output = run_with_stdin(&["--format", "csv"], &input);
    assert!(
        stdout(&output).contains("column1\n7"),
        "{}",
        stdout(&output)
    );
    assert!(
        stderr(&output).contains("inc.sql:2:1:"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn memory_limit_is_enforced() {
    // A large sort under a tiny limit must fail cleanly or spill, never crash.
    let output = run_with_stdin(
        &["--memory-limit", "2M", "--format", "csv"],
        "SELECT count(*) AS n FROM (SELECT value, value % 7 AS k FROM generate_series(1, 3000000) ORDER BY k, value DESC);\n",
    );
    let code = output.status.code();
    assert!(code == Some(0) || code == Some(1), "{output:?}");
    assert!(!stderr(&output).contains("panicked"));
    if code == Some(0) {
        assert!(stdout(&output).contains("3000000"), "{}", stdout(&output));
    } else {
        assert!(
            stderr(&output).contains("Resources exhausted"),
            "{}",
            stderr(&output)
        );
    }
}

#[cfg(unix)]
mod pty {
    use std::time::Duration;

    use rexpect::session::spawn_command;

    fn history_file() -> std::path::PathBuf {
        std::env::temp_dir().join(format!("finsight-pty-history-{}", std::process::id()))
    }

    fn shell() -> rexpect::session::PtySession {
        // TERM=dumb: rustyline reads plain lines (no cursor queries that the
        // test would have to answer); statements still gather until `;`.
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_finsight"));
        command
            .env("TERM", "dumb")
            .env("NO_COLOR", "1")
            .env("PAGER", "cat")
            .env("FINSIGHT_HISTORY", history_file());
        spawn_command(command, Some(30_000)).expect("spawn finsight in a pty")
    }

    #[test]
    fn multiline_input_and_ctrl_c_cancel_keep_the_shell() {
        let mut p = shell();
        p.exp_string("finsight>").expect("prompt");
        // A statement over two lines runs once the `;` arrives.
        p.send_line("SELECT 40 +").expect("send");
        p.send_line("2 AS answer;").expect("send");
        p.exp_string("42").expect("result");
        // A long query, cancelled with Ctrl-C, leaves the shell usable.
        p.send_line(
            "SELECT count(*) FROM generate_series(1, 100000000000) a WHERE a.value % 3 = 7;",
        )
        .expect("send");
        std::thread::sleep(Duration::from_millis(1500));
        p.send_control('c').expect("ctrl-c");
        p.exp_string("query cancelled").expect("cancelled message");
        p.send_line("SELECT 'still here' AS s;").expect("send");
        p.exp_string("still here").expect("shell survived");
        // Bad SQL is rejected before it runs, and can be discarded.
        p.send_line("SELEC 1;").expect("send");
        p.exp_string("Syntax error")
            .expect("rejected before running");
        p.send_line("SELECT 'after error' AS s;").expect("send");
        p.exp_string("after error").expect("shell kept its state");
        p.send_line("\\q").expect("quit");
        p.exp_eof().expect("exit");
        // History survives the session, whole statements as typed.
        let history = std::fs::read_to_string(history_file()).expect("history file written");
        assert!(history.contains("2 AS answer;"), "{history}");
        assert!(history.contains("still here"), "{history}");
    }

    #[test]
    fn long_results_go_through_the_pager() {
        let dir = crate::common::scratch("pager");
        let paged = dir.join("paged.txt");
        let pager = crate::common::write(
            &dir,
            "pager.sh",
            &format!("#!/bin/sh\ncat > '{}'\necho PAGER-RAN\n", paged.display()),
        );
        std::fs::set_permissions(&pager, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod pager");
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_finsight"));
        command
            .env("TERM", "dumb")
            .env("NO_COLOR", "1")
            .env("PAGER", &pager)
            .env("FINSIGHT_HISTORY", history_file());
        let mut p = spawn_command(command, Some(30_000)).expect("spawn finsight in a pty");
        p.exp_string("finsight>").expect("prompt");
        p.send_line("SELECT value FROM generate_series(1, 500) ORDER BY value;")
            .expect("send");
        p.exp_string("PAGER-RAN").expect("pager started");
        p.send_line("\\q").expect("quit");
        p.exp_eof().expect("exit");
        let text = std::fs::read_to_string(&paged).expect("pager received the result");
        assert!(text.contains("500 rows (40 shown)"), "{text}");
    }
}
