//! The one session factory. The REPL, `finsight run`, the demo, the tests and
//! (later) the Flight SQL server and Ballista executors all build their
//! `SessionContext` here, so every entry point gets the same functions, object
//! stores, configuration and tables.

use std::path::PathBuf;
use std::sync::Arc;

use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::catalog;
use crate::error::{Error, Result};
use crate::storage::FinsightObjectStoreRegistry;

/// How a session is set up. `Default` is an in-memory session with every
/// function registered and no tables.
#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    /// Directory whose datasets are registered as tables (see [`catalog::register_dir`]).
    pub data_dir: Option<PathBuf>,
    /// Upper bound on the memory that query operators may hold, in bytes;
    /// sorts, joins and aggregates spill to disk beyond it.
    pub memory_limit: Option<usize>,
    /// Number of partitions a query runs with; defaults to the number of cores.
    pub target_partitions: Option<usize>,
}

/// Builds a session: configuration, runtime, every finsight function, the
/// object store registry and, with `data_dir`, its tables.
pub async fn new_session(options: &SessionOptions) -> Result<SessionContext> {
    let ctx = new_session_without_tables(options)?;
    if let Some(dir) = &options.data_dir {
        catalog::register_dir(&ctx, dir).await?;
    }
    Ok(ctx)
}

/// Like [`new_session`], without scanning a data directory (cheap and sync).
pub fn new_session_without_tables(options: &SessionOptions) -> Result<SessionContext> {
    let mut config = SessionConfig::new()
        .with_information_schema(true)
        .with_create_default_catalog_and_schema(true);
    if let Some(partitions) = options.target_partitions {
        config = config.with_target_partitions(partitions.max(1));
    }
    let opts = config.options_mut();
    // Spans let planning errors point at the offending line and column.
    opts.sql_parser.collect_spans = true;
    // Pushing filters into the Parquet decoder skips rows of pruned pages
    // instead of decoding and filtering them afterwards.
    opts.execution.parquet.pushdown_filters = true;
    opts.execution.parquet.reorder_filters = true;

    let mut runtime = RuntimeEnvBuilder::new()
        .with_object_store_registry(Arc::new(FinsightObjectStoreRegistry::new()));
    if let Some(limit) = options.memory_limit {
        runtime = runtime.with_memory_pool(Arc::new(FairSpillPool::new(limit)));
    }
    let runtime = runtime.build_arc()?;
    // `SELECT * FROM 'file.parquet'` / `'s3://bucket/key.csv'`, as in DuckDB
    // and datafusion-cli. The governance layer must turn this off for
    // restricted identities: it reads any path the process can.
    let ctx = SessionContext::new_with_config_rt(config, runtime).enable_url_table();
    udfs::register_all(&ctx);
    Ok(ctx)
}

/// Parses a human memory size such as `512M`, `4G`, `2GiB` or `1073741824`.
pub fn parse_memory_size(text: &str) -> Result<usize> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let number: f64 = number.parse().map_err(|_| {
        Error::Usage(format!(
            "memory limit: expected a size such as 512M or 4G, got '{text}'"
        ))
    })?;
    let multiplier: f64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1.0,
        "K" | "KB" | "KIB" => 1024.0,
        "M" | "MB" | "MIB" => 1024.0 * 1024.0,
        "G" | "GB" | "GIB" => 1024.0 * 1024.0 * 1024.0,
        "T" | "TB" | "TIB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(Error::Usage(format!(
                "memory limit: unknown unit '{other}' in '{text}' (use K, M, G or T)"
            )));
        }
    };
    let bytes = number * multiplier;
    if !(bytes.is_finite() && bytes >= 1.0) {
        return Err(Error::Usage(format!(
            "memory limit: expected a positive size, got '{text}'"
        )));
    }
    Ok(bytes as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes_parse_with_binary_units() {
        assert_eq!(
            parse_memory_size("512M").expect("valid test input"),
            512 << 20
        );
        assert_eq!(parse_memory_size("4G").expect("valid test input"), 4 << 30);
        assert_eq!(
            parse_memory_size("1.5GiB").expect("valid test input"),
            3 << 29
        );
        assert_eq!(parse_memory_size("1000").expect("valid test input"), 1000);
        assert!(parse_memory_size("lots").is_err());
        assert!(parse_memory_size("5X").is_err());
        assert!(parse_memory_size("0").is_err());
    }
}
