//! The one session factory. The REPL, `finsight run`, the demo, the tests and
//! (later) the Flight SQL server and Ballista executors all build their
//! `SessionContext` here, so every entry point gets the same functions, object
//! stores, configuration and tables.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::execution::SessionStateBuilder;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::{SessionConfig, SessionContext};
use udfs::Keyring;

use crate::catalog;
use crate::encryption::{FACTORY_ID, KeyringEncryptionFactory};
use crate::engine::{self, EngineOptions};
use crate::error::{Error, Result};
use crate::governance::{self, Governance};
use crate::memory_pool::AggregateBorrowingPool;
use crate::storage::FinsightObjectStoreRegistry;

/// Where `finsight demo` writes its demo keyring, and where a session looks
/// for one when no keyring is given: `<data dir>/.finsight/keyring`.
pub const DATA_DIR_KEYRING: &str = ".finsight/keyring";

/// Environment variable naming the keyring file (same as `--keyring`).
pub const KEYRING_ENV: &str = "FINSIGHT_KEYRING";

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
    /// Keys for `pseudonymize`, the FPE functions and Parquet encryption
    /// (see [`load_keyring`]).
    pub keyring: Arc<Keyring>,
    /// Policy, identity and audit trail; `None` runs without governance.
    pub governance: Option<Arc<Governance>>,
    /// A runtime (memory pool, spill directory, metadata caches, object
    /// stores) shared with other sessions, as the Flight server shares one
    /// among its logins; `None` builds one from the options above.
    pub runtime: Option<Arc<RuntimeEnv>>,
}

/// The keyring a session uses: the file `explicit` (`--keyring`, else
/// `FINSIGHT_KEYRING`), else `<data dir>/.finsight/keyring` when present,
/// plus any `FINSIGHT_KEY_<NAME>[_V<N>]` variables.
pub fn load_keyring(explicit: Option<&Path>, data_dir: Option<&Path>) -> Result<Keyring> {
    let from_env = std::env::var_os(KEYRING_ENV).map(PathBuf::from);
    let file = explicit.map(Path::to_path_buf).or(from_env).or_else(|| {
        data_dir
            .map(|d| d.join(DATA_DIR_KEYRING))
            .filter(|p| p.is_file())
    });
    let mut keyring = match file {
        Some(path) => Keyring::from_file(&path).map_err(|e| Error::Usage(e.strip_backtrace()))?,
        None => Keyring::empty(),
    };
    keyring
        .extend_from_env(std::env::vars())
        .map_err(|e| Error::Usage(e.strip_backtrace()))?;
    Ok(keyring)
}

/// Builds a session: configuration, runtime, every finsight function, the
/// object store registry and, with `data_dir`, its tables.
pub async fn new_session(options: &SessionOptions) -> Result<SessionContext> {
    let ctx = new_session_without_tables(options)?;
    if let Some(dir) = &options.data_dir {
        catalog::register_dir(&ctx, dir).await?;
    }
    if let Some(governance) = &options.governance {
        governance::apply_tables(&ctx, governance, options.data_dir.as_deref()).await?;
    }
    Ok(ctx)
}

/// Like [`new_session`], without scanning a data directory (cheap and sync).
pub fn new_session_without_tables(options: &SessionOptions) -> Result<SessionContext> {
    let mut config = SessionConfig::new()
        .with_information_schema(true)
        .with_create_default_catalog_and_schema(true);
    if let Some(governance) = &options.governance {
        config = config.with_extension(Arc::clone(governance));
    }
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
    // Sort a partition's buffered rows in one pass up to 64 MiB instead of
    // sorting each batch and merging hundreds of runs (DataFusion's 1 MiB
    // default): 10-15% off the per-customer windows and joins of
    // benches/workload at scale 1.
    opts.execution.sort_in_place_threshold_bytes = 64 * 1024 * 1024;

    let runtime = match &options.runtime {
        Some(shared) => Arc::clone(shared),
        None => new_runtime(options)?,
    };
    // `SELECT * FROM 'file.parquet'` / `'s3://bucket/key.csv'`, as in DuckDB
    // and datafusion-cli, for the data owner and roles granted `files` only:
    // it reads any path the process can, around every policy.
    let files = options
        .governance
        .as_ref()
        .is_none_or(|g| g.may_use_files());
    let rules = engine::physical_optimizer_rules(&runtime);
    let mut state = SessionStateBuilder::new()
        .with_config(config.with_option_extension(EngineOptions::default()))
        .with_runtime_env(runtime)
        .with_default_features();
    state = state.with_physical_optimizer_rules(rules);
    for rule in engine::optimizer_rules() {
        state = state.with_optimizer_rule(rule);
    }
    state = state.with_query_planner(Arc::new(engine::FinsightQueryPlanner));
    let mut ctx = SessionContext::new_with_state(state.build());
    if files {
        ctx = ctx.enable_url_table();
    }
    // Every Parquet read goes through the keyring's encryption factory, so
    // encrypted files open like plain ones when their keys are present.
    ctx.state_ref()
        .write()
        .table_options_mut()
        .parquet
        .crypto
        .factory_id = Some(FACTORY_ID.to_string());
    udfs::register_all(&ctx, &options.keyring);
    // JSON access: json_get, json_get_str..., json_length, json_contains,
    // json_object_keys and the `->` / `->>` operators (datafusion-contrib).
    datafusion_functions_json::register_all(&mut *ctx.state_ref().write())?;
    // Replaces DataFusion's date_trunc: same results, faster calendar periods.
    ctx.register_udf(engine::date_trunc::date_trunc());
    if let Some(governance) = &options.governance {
        governance::apply_functions(&ctx, governance);
    }
    Ok(ctx)
}

/// The runtime of a session: memory pool (`memory_limit`), object stores,
/// and the keyring's Parquet encryption factory.
pub fn new_runtime(options: &SessionOptions) -> Result<Arc<RuntimeEnv>> {
    let mut runtime = RuntimeEnvBuilder::new()
        .with_object_store_registry(Arc::new(FinsightObjectStoreRegistry::new()));
    if let Some(limit) = options.memory_limit {
        runtime = runtime.with_memory_pool(Arc::new(AggregateBorrowingPool::new(limit)));
    }
    let runtime = runtime.build_arc()?;
    runtime.register_parquet_encryption_factory(
        FACTORY_ID,
        Arc::new(KeyringEncryptionFactory::new(Arc::clone(&options.keyring))),
    );
    Ok(runtime)
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
