//! `finsight run FILE.sql...`: saved analyses as CI checks.
//!
//! Statements run in order in one session. A failed `ASSERT` or an error stops
//! the run (or, with `--keep-going`, is reported and the run goes on) and is
//! reported as `file:line:column`, with the statement and the values found;
//! the exit code is then 1. `--junit` writes one test case per statement.
//!
//! A statement that must fail carries a comment just before it:
//!
//! ```sql
//! -- expect error: privacy budget exceeded
//! SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS (epsilon = 50, ...) ...;
//! ```
//!
//! It passes when it fails with an error containing the text (ignoring
//! case), and fails the run when it succeeds or fails otherwise.

mod junit;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;

use crate::error::{Error, Result};
use crate::output::{self, OutputFormat};
use crate::sql::{self, Outcome, Statement};

/// How `finsight run` behaves.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub vars: HashMap<String, String>,
    pub junit: Option<PathBuf>,
    pub format: OutputFormat,
    pub keep_going: bool,
}

/// The result of one statement, for the summary and JUnit.
#[derive(Debug, Clone)]
pub struct StatementResult {
    pub line: u64,
    pub column: u64,
    pub text: String,
    pub elapsed: Duration,
    pub status: Status,
}

/// How a statement ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Ok,
    AssertPassed,
    /// `ASSERT` was false or NULL.
    AssertFailed {
        what: String,
        actual: String,
    },
    /// The statement could not be planned or run.
    Error {
        message: String,
    },
    /// The statement failed as its `-- expect error:` comment said it would.
    ExpectedError {
        message: String,
    },
}

impl Status {
    fn failed(&self) -> bool {
        matches!(self, Self::AssertFailed { .. } | Self::Error { .. })
    }
}

/// All statements of one file.
#[derive(Debug, Clone)]
pub struct FileResult {
    pub path: PathBuf,
    pub statements: Vec<StatementResult>,
}

/// Runs `files` in `ctx`, printing results to `out` and failures to `err`.
/// Returns an error (exit code 1) when anything failed.
pub async fn run_files(
    ctx: &SessionContext,
    files: &[PathBuf],
    options: &RunOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Vec<FileResult>> {
    let mut results = Vec::new();
    let mut stop = false;
    for path in files {
        if stop {
            break;
        }
        let file_result = run_file(ctx, path, options, out, err).await?;
        stop = !options.keep_going && file_result.statements.iter().any(|s| s.status.failed());
        results.push(file_result);
    }
    if let Some(junit_path) = &options.junit {
        junit::write(junit_path, &results)?;
    }
    let all: Vec<&StatementResult> = results.iter().flat_map(|f| &f.statements).collect();
    let failed = all.iter().filter(|s| s.status.failed()).count();
    let assertions = all
        .iter()
        .filter(|s| matches!(s.status, Status::AssertPassed | Status::AssertFailed { .. }))
        .count();
    let summary = format!(
        "finsight run: {} file(s), {} statement(s), {} assertion(s); {} ok, {} failed",
        results.len(),
        all.len(),
        assertions,
        all.len() - failed,
        failed
    );
    let _ = writeln!(err, "{summary}");
    if failed > 0 {
        return Err(Error::ScriptFailed(format!("{failed} statement(s) failed")));
    }
    Ok(results)
}

async fn run_file(
    ctx: &SessionContext,
    path: &Path,
    options: &RunOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<FileResult> {
    let source = std::fs::read_to_string(path).map_err(|e| Error::io("read script", path, e))?;
    run_source(ctx, path, &source, options, out, err).await
}

/// Runs `-c SQL` text like a one-file script without a summary line.
pub async fn run_text(
    ctx: &SessionContext,
    label: &str,
    source: &str,
    format: OutputFormat,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let options = RunOptions {
        vars: HashMap::new(),
        junit: None,
        format,
        keep_going: false,
    };
    let result = run_source(ctx, Path::new(label), source, &options, out, err).await?;
    let failed = result
        .statements
        .iter()
        .filter(|s| s.status.failed())
        .count();
    if failed > 0 {
        return Err(Error::ScriptFailed(format!("{failed} statement(s) failed")));
    }
    Ok(())
}

async fn run_source(
    ctx: &SessionContext,
    path: &Path,
    source: &str,
    options: &RunOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<FileResult> {
    let mut result = FileResult {
        path: path.to_path_buf(),
        statements: Vec::new(),
    };
    let statements = sql::substitute_variables(source, &options.vars)
        .and_then(|text| sql::split_statements(&text));
    let statements = match statements {
        Ok(statements) => statements,
        Err(e) => {
            let _ = writeln!(
                err,
                "error: {}:{}:{}: {}",
                path.display(),
                e.line,
                e.column,
                e.message
            );
            result.statements.push(StatementResult {
                line: e.line,
                column: e.column,
                text: String::new(),
                elapsed: Duration::ZERO,
                status: Status::Error { message: e.message },
            });
            return Ok(result);
        }
    };
    for statement in statements {
        let started = Instant::now();
        let outcome = sql::execute(ctx, &statement.text, None).await;
        let outcome = match (&statement.expect_error, outcome) {
            (None, outcome) => outcome,
            (Some(expected), Err(e)) => {
                let message = e.strip_backtrace();
                if message
                    .to_ascii_lowercase()
                    .contains(&expected.to_ascii_lowercase())
                {
                    result.statements.push(StatementResult {
                        line: statement.line,
                        column: statement.column,
                        text: statement.text,
                        elapsed: started.elapsed(),
                        status: Status::ExpectedError { message },
                    });
                    continue;
                }
                Err(DataFusionError::Plan(format!(
                    "expected an error containing '{expected}', got: {message}"
                )))
            }
            (Some(expected), Ok(_)) => Err(DataFusionError::Plan(format!(
                "expected an error containing '{expected}', but the statement succeeded"
            ))),
        };
        let status = match outcome {
            Ok(Outcome::Rows {
                schema,
                batches,
                total_rows,
            }) => {
                if !schema.fields().is_empty() {
                    let text = output::render(&schema, &batches, options.format, total_rows)?;
                    let _ = writeln!(out, "{text}");
                }
                Status::Ok
            }
            Ok(Outcome::AssertPassed) => Status::AssertPassed,
            Ok(Outcome::AssertFailed { what, actual }) => {
                let _ = writeln!(
                    err,
                    "error: {}:{}:{}: assertion failed: {what}\n  statement: {}\n  actual: {actual}",
                    path.display(),
                    statement.line,
                    statement.column,
                    one_line(&statement.text)
                );
                Status::AssertFailed { what, actual }
            }
            Err(e) => {
                let (line, column) = error_position(&e, &statement);
                let message = e.strip_backtrace();
                let _ = writeln!(
                    err,
                    "error: {}:{line}:{column}: {message}\n  statement: {}",
                    path.display(),
                    one_line(&statement.text)
                );
                Status::Error { message }
            }
        };
        let failed = status.failed();
        result.statements.push(StatementResult {
            line: statement.line,
            column: statement.column,
            text: statement.text,
            elapsed: started.elapsed(),
            status,
        });
        if failed && !options.keep_going {
            break;
        }
    }
    Ok(result)
}

/// The statement on one line, shortened, for messages.
fn one_line(text: &str) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.chars().count() > 200 {
        format!("{}...", joined.chars().take(200).collect::<String>())
    } else {
        joined
    }
}

/// Where in the file an error points: the span of DataFusion's diagnostic or
/// the parser's "at Line: L, Column: C", relative to the statement; else the
/// statement's start.
pub fn error_position(error: &DataFusionError, statement: &Statement) -> (u64, u64) {
    let relative = error
        .diagnostic()
        .and_then(|d| d.span)
        .map(|span| (span.start.line, span.start.column))
        .filter(|(line, column)| *line > 0 && *column > 0)
        .or_else(|| parser_location(&error.to_string()));
    match relative {
        Some((1, column)) => (statement.line, statement.column + column - 1),
        Some((line, column)) => (statement.line + line - 1, column),
        None => (statement.line, statement.column),
    }
}

fn parser_location(message: &str) -> Option<(u64, u64)> {
    let at = message.rfind("Line: ")?;
    let rest = &message[at + "Line: ".len()..];
    let (line, rest) = rest.split_once(',')?;
    let column = rest.trim().strip_prefix("Column: ")?;
    let column: String = column.chars().take_while(char::is_ascii_digit).collect();
    Some((line.trim().parse().ok()?, column.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parser_locations_are_read_from_messages() {
        assert_eq!(
            parser_location(
                "sql parser error: Expected: end of statement, found: x at Line: 2, Column: 8"
            ),
            Some((2, 8))
        );
        assert_eq!(parser_location("no location"), None);
    }

    #[test]
    fn positions_are_relative_to_the_statement() {
        let statement = Statement {
            text: "SELEC 1".into(),
            line: 10,
            column: 5,
            expect_error: None,
        };
        let e = DataFusionError::Plan("x at Line: 1, Column: 3".into());
        assert_eq!(error_position(&e, &statement), (10, 7));
        let e = DataFusionError::Plan("x at Line: 2, Column: 3".into());
        assert_eq!(error_position(&e, &statement), (11, 3));
    }
}
