//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// The binary under test, built by cargo for this test run.
pub fn finsight() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_finsight"));
    command
        .env_remove("FINSIGHT_DIR")
        .env("NO_COLOR", "1")
        .env(
            "FINSIGHT_HISTORY",
            std::env::temp_dir().join("finsight-test-history"),
        )
        .stdin(Stdio::null());
    command
}

/// Runs `finsight` with `args` and `stdin`, returning its output.
pub fn run_with_stdin(args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = finsight()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn finsight");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("finsight output")
}

pub fn run(args: &[&str]) -> Output {
    finsight().args(args).output().expect("run finsight")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Panics with both streams when the exit code is not `expected`.
pub fn assert_exit(output: &Output, expected: i32) {
    assert_eq!(
        output.status.code(),
        Some(expected),
        "exit code\n--- stdout\n{}\n--- stderr\n{}",
        stdout(output),
        stderr(output)
    );
    let err = stderr(output);
    assert!(!err.contains("panicked"), "panic in stderr:\n{err}");
}

/// A small demo bank (1,000 customers), generated once per test run.
pub fn demo_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch("demo-small");
        let output = run(&[
            "demo",
            "--scale",
            "0.01",
            "--dir",
            dir.to_str().expect("utf8"),
            "--no-repl",
        ]);
        assert_exit(&output, 0);
        dir
    })
}

/// A fresh directory under the system temp dir, removed first if present.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("finsight-it-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// Copies the directory tree `from` to `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// A private copy of the demo bank with an empty audit trail (so its
/// privacy budgets are untouched), for tests that write to it.
pub fn demo_copy(name: &str) -> PathBuf {
    let dir = scratch(name);
    copy_dir(demo_dir(), &dir);
    for file in ["audit.db", "audit.db-wal", "audit.db-shm"] {
        let _ = std::fs::remove_file(dir.join(".finsight").join(file));
    }
    dir
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write file");
    path
}

/// The test venv's python (FINSIGHT_PYTHON, else the one tests/run.sh
/// makes), if it can import every module of `imports` ("a, b").
pub fn venv_python(imports: &str) -> Option<PathBuf> {
    let candidate = std::env::var_os("FINSIGHT_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".cache/finsight/venv/bin/python"))
        })?;
    let ok = Command::new(&candidate)
        .args(["-c", &format!("import {imports}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(candidate)
}
