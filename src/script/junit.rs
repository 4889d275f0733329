//! JUnit XML for `finsight run --junit`: one suite per file, one case per
//! statement, so GitLab, Jenkins and GitHub show each check.

use std::path::Path;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::{FileResult, Status};
use crate::error::{Error, Result};

pub(super) fn write(path: &Path, files: &[FileResult]) -> Result<()> {
    let mut report = Report::new("finsight");
    for file in files {
        let file_name = file.path.display().to_string();
        let mut suite = TestSuite::new(file_name.clone());
        for statement in &file.statements {
            let first_line = statement.text.lines().next().unwrap_or_default();
            let name = format!(
                "{}:{} {}",
                statement.line,
                statement.column,
                truncate(first_line, 80)
            );
            let status = match &statement.status {
                Status::Ok | Status::AssertPassed | Status::ExpectedError { .. } => {
                    TestCaseStatus::success()
                }
                Status::AssertFailed { what, actual } => {
                    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    status
                        .set_message(format!("assertion failed: {what}"))
                        .set_type("assertion")
                        .set_description(format!(
                            "{file_name}:{}:{}\nstatement: {}\nactual: {actual}",
                            statement.line, statement.column, statement.text
                        ));
                    status
                }
                Status::Error { message } => {
                    let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
                    status
                        .set_message(message.clone())
                        .set_type("error")
                        .set_description(format!(
                            "{file_name}:{}:{}\nstatement: {}\n{message}",
                            statement.line, statement.column, statement.text
                        ));
                    status
                }
            };
            let mut case = TestCase::new(name, status);
            case.set_classname(file_name.clone())
                .set_time(statement.elapsed);
            if matches!(
                statement.status,
                Status::AssertPassed | Status::AssertFailed { .. }
            ) {
                case.set_assertions(1);
            }
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    let file =
        std::fs::File::create(path).map_err(|e| Error::io("create JUnit report", path, e))?;
    report
        .serialize(file)
        .map_err(|e| Error::Usage(format!("cannot write JUnit report {}: {e}", path.display())))
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() > max {
        format!("{}...", text.chars().take(max).collect::<String>())
    } else {
        text.to_string()
    }
}
