//! Runs `sql/slt/**/*.slt`, each file against a fresh session from the same
//! factory users get (`finsight::new_session`).
//!
//!   cargo test --test sqllogictests                  # all files
//!   cargo test --test sqllogictests -- haversine     # paths containing the filter
//!   cargo test --test sqllogictests -- --complete    # rewrite expected output in place
//!
//! Files run with the package root as the working directory, so they can
//! read fixtures under `tests/data/`.

// `harness = false` targets are built without `--cfg test`, so clippy's
// test allowances do not apply here.
#![expect(
    clippy::expect_used,
    reason = "a test runner should abort loudly on setup errors"
)]

use std::process::ExitCode;

use async_trait::async_trait;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::error::DataFusionError;
use finsight::sql::{self, Outcome};
use sqllogictest::{
    AsyncDB, DBOutput, DefaultColumnType, Runner, default_normalizer, default_validator,
    strict_column_validator,
};

struct Engine {
    ctx: datafusion::prelude::SessionContext,
}

#[async_trait]
impl AsyncDB for Engine {
    type Error = DataFusionError;
    type ColumnType = DefaultColumnType;

    async fn run(
        &mut self,
        statement: &str,
    ) -> Result<DBOutput<DefaultColumnType>, DataFusionError> {
        // ASSERT is finsight's own statement; route it like `finsight run`.
        let (schema, batches) = match sql::execute(&self.ctx, statement, None).await? {
            Outcome::Rows {
                schema, batches, ..
            } => (schema, batches),
            Outcome::AssertPassed => return Ok(DBOutput::StatementComplete(0)),
            Outcome::AssertFailed { what, actual } => {
                return Err(DataFusionError::Execution(format!(
                    "assertion failed: {what}; actual: {actual}"
                )));
            }
        };
        if schema.fields().is_empty() {
            return Ok(DBOutput::StatementComplete(0));
        }
        let types = schema
            .fields()
            .iter()
            .map(|f| column_type(f.data_type()))
            .collect();
        let options = FormatOptions::new().with_null("NULL");
        let mut rows = Vec::new();
        for batch in &batches {
            let columns = batch
                .columns()
                .iter()
                .map(|array| ArrayFormatter::try_new(array.as_ref(), &options))
                .collect::<Result<Vec<_>, _>>()?;
            for row in 0..batch.num_rows() {
                rows.push(
                    columns
                        .iter()
                        .map(|c| cell(c.value(row).to_string()))
                        .collect(),
                );
            }
        }
        Ok(DBOutput::Rows { types, rows })
    }

    async fn shutdown(&mut self) {}
}

fn column_type(data_type: &DataType) -> DefaultColumnType {
    match data_type {
        t if t.is_integer() => DefaultColumnType::Integer,
        t if t.is_floating() || t.is_decimal() => DefaultColumnType::FloatingPoint,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => DefaultColumnType::Text,
        _ => DefaultColumnType::Any,
    }
}

/// `.slt` cannot show an empty cell; DataFusion's convention is `(empty)`.
fn cell(value: String) -> String {
    if value.is_empty() {
        "(empty)".to_string()
    } else {
        value
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let complete = args.iter().any(|a| a == "--complete");
    // cargo passes libtest flags (e.g. --quiet, --nocapture) to every test target.
    let filters: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with('-'))
        .map(String::as_str)
        .collect();
    let mut files: Vec<_> = sqllogictest::harness::glob("sql/slt/**/*.slt")
        .expect("valid glob")
        .flatten()
        .filter(|p| filters.is_empty() || filters.iter().any(|f| p.to_string_lossy().contains(f)))
        .collect();
    files.sort();
    if files.is_empty() {
        eprintln!("no .slt file matched {filters:?}");
        return ExitCode::FAILURE;
    }

    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let (mut passed, mut failed) = (0, 0);
    for path in &files {
        let mut runner = Runner::new(|| async {
            // The committed test keyring, for pseudonymize, FPE and encryption.
            let keyring =
                udfs::Keyring::from_file(std::path::Path::new("tests/data/keyring/test.keyring"))?;
            let options = finsight::SessionOptions {
                keyring: std::sync::Arc::new(keyring),
                ..finsight::SessionOptions::default()
            };
            let ctx = finsight::new_session(&options)
                .await
                .map_err(|e| DataFusionError::External(Box::new(e)))?;
            Ok(Engine { ctx })
        });
        let result = runtime.block_on(async {
            if complete {
                runner
                    .update_test_file(
                        path,
                        " ",
                        default_validator,
                        default_normalizer,
                        strict_column_validator,
                    )
                    .await
                    .map_err(|e| e.to_string())
            } else {
                runner.run_file_async(path).await.map_err(|e| e.to_string())
            }
        });
        match result {
            Ok(()) => {
                passed += 1;
                println!("ok   {}", path.display());
            }
            Err(e) => {
                failed += 1;
                eprintln!("FAIL {}\n{e}\n", path.display());
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
