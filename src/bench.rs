//! `finsight bench`: times saved queries in one warm session, the way the
//! DuckDB comparison (benches/compare.py) times DuckDB: every statement of a
//! file is planned and its result collected into Arrow batches, `warmup`
//! times untimed, then `runs` times timed.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::DataFusionError;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::prelude::SessionContext;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::governance::Access;
use crate::sql;

/// How to time the files.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub runs: usize,
    pub warmup: usize,
    /// Write each file's result (from its last run) to DIR/<file stem>.parquet.
    pub save_dir: Option<PathBuf>,
    /// Statements run once, untimed, before the first file.
    pub setup: Option<PathBuf>,
}

/// The timings of one file, printed as one JSON line.
#[derive(Debug, Clone, Serialize)]
pub struct BenchResult {
    pub query: String,
    pub seconds: Vec<f64>,
    pub median_s: f64,
    pub rows: usize,
    /// The process's peak resident memory so far (Linux: VmHWM), MiB.
    pub peak_rss_mib: Option<f64>,
}

/// Times every file in `ctx`; results come back in file order.
pub async fn run_files(
    ctx: &SessionContext,
    files: &[PathBuf],
    options: &BenchOptions,
) -> Result<Vec<BenchResult>> {
    if let Some(setup) = &options.setup {
        let statements = read_statements(setup)?;
        let texts: Vec<&str> = statements.iter().map(String::as_str).collect();
        run_once(ctx, &texts).await?;
    }
    let mut results = Vec::with_capacity(files.len());
    for file in files {
        let statements = read_statements(file)?;
        if statements.is_empty() {
            return Err(Error::Usage(format!(
                "{}: no SQL statement to time",
                file.display()
            )));
        }
        let texts: Vec<&str> = statements.iter().map(String::as_str).collect();
        for _ in 0..options.warmup {
            run_once(ctx, &texts).await?;
        }
        let mut seconds = Vec::with_capacity(options.runs);
        let mut last: Output = (Arc::new(Schema::empty()), Vec::new());
        for _ in 0..options.runs.max(1) {
            let start = Instant::now();
            last = run_once(ctx, &texts).await?;
            seconds.push(start.elapsed().as_secs_f64());
        }
        let query = file.file_stem().map_or_else(
            || file.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
        if let Some(dir) = &options.save_dir {
            save(dir, &query, &last)?;
        }
        results.push(BenchResult {
            rows: last.1.iter().map(RecordBatch::num_rows).sum(),
            median_s: median(&seconds),
            seconds,
            query,
            peak_rss_mib: peak_rss_mib(),
        });
    }
    Ok(results)
}

fn read_statements(file: &Path) -> Result<Vec<String>> {
    let source = std::fs::read_to_string(file).map_err(|e| Error::io("read query", file, e))?;
    let statements = sql::split_statements(&source)
        .map_err(|e| Error::Usage(format!("{}: {e}", file.display())))?;
    Ok(statements.into_iter().map(|s| s.text).collect())
}

/// Runs the statements in order and returns the last one's result.
async fn run_once(ctx: &SessionContext, statements: &[&str]) -> Result<Output> {
    let mut output = (Arc::new(Schema::empty()), Vec::new());
    for text in statements {
        let mut access = Access::default();
        let frame = sql::dataframe(ctx, text, &mut access).await?;
        let schema = Arc::clone(frame.schema().inner());
        output = (schema, frame.collect().await?);
    }
    Ok(output)
}

type Output = (SchemaRef, Vec<RecordBatch>);

fn save(dir: &Path, query: &str, (schema, batches): &Output) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    let path = dir.join(format!("{query}.parquet"));
    let file = File::create(&path).map_err(|e| Error::io("create", &path, e))?;
    let mut writer =
        ArrowWriter::try_new(file, Arc::clone(schema), None).map_err(DataFusionError::from)?;
    for batch in batches {
        writer.write(batch).map_err(DataFusionError::from)?;
    }
    writer.close().map_err(DataFusionError::from)?;
    Ok(())
}

/// VmHWM of /proc/self/status: the high-water mark of this process's
/// resident memory (None where there is no procfs).
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The median of `values` (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn peak_memory_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            let mib = peak_rss_mib().expect("VmHWM in /proc/self/status");
            assert!(mib > 1.0 && mib < 1024.0 * 1024.0, "{mib}");
        }
    }
}
