//! Registers the datasets found in a data directory as tables, so that saved
//! scripts can say `FROM transactions` whichever entry point runs them.
//!
//! Each top-level entry of the directory is one table: a file
//! `customers.parquet` (or `.csv`, `.json`, `.ndjson`) becomes `customers`,
//! and a folder `transactions/` holding such files (at any depth, including
//! Hive-style `key=value/` partitions, which become columns) becomes
//! `transactions`. Hidden entries and names starting with `_` are skipped.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::csv::CsvFormat;
use datafusion::datasource::file_format::json::JsonFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::session_state::SessionState;
use datafusion::prelude::SessionContext;

use crate::error::{Error, Result};

/// One table found under a data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    pub name: String,
    pub path: PathBuf,
    pub format: DataFormat,
}

/// File formats finsight registers from a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataFormat {
    Parquet,
    Csv,
    Json,
}

impl DataFormat {
    fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "parquet" => Some(Self::Parquet),
            "csv" => Some(Self::Csv),
            "json" | "ndjson" | "jsonl" => Some(Self::Json),
            _ => None,
        }
    }

    fn listing_options(self, extension: &str, state: &SessionState) -> ListingOptions {
        let format: Arc<dyn FileFormat> = match self {
            // The session's Parquet options: pushdown settings and the
            // keyring's decryption factory.
            Self::Parquet => Arc::new(
                ParquetFormat::default().with_options(state.default_table_options().parquet),
            ),
            Self::Csv => Arc::new(CsvFormat::default().with_has_header(true)),
            Self::Json => Arc::new(JsonFormat::default()),
        };
        ListingOptions::new(format).with_file_extension(extension)
    }
}

/// Lists the datasets of `dir` without registering them.
pub fn discover(dir: &Path) -> Result<Vec<Dataset>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("read data directory", dir, e))?;
    let mut datasets = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("read data directory", dir, e))?;
        let path = entry.path();
        let file_name = entry.file_name().to_string_lossy().to_string();
        if file_name.starts_with('.') || file_name.starts_with('_') {
            continue;
        }
        let (stem, format) = if path.is_dir() {
            match first_data_file(&path)? {
                Some(file) => (file_name.clone(), DataFormat::from_path(&file)),
                None => continue,
            }
        } else {
            let stem = path.file_stem().map(|s| s.to_string_lossy().to_string());
            (stem.unwrap_or_default(), DataFormat::from_path(&path))
        };
        if let Some(format) = format {
            datasets.push(Dataset {
                name: table_name(&stem),
                path,
                format,
            });
        }
    }
    datasets.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(datasets)
}

/// Registers every dataset of `dir` in `ctx`; returns what was registered.
pub async fn register_dir(ctx: &SessionContext, dir: &Path) -> Result<Vec<Dataset>> {
    if !dir.is_dir() {
        return Err(Error::Usage(format!(
            "data directory {} does not exist or is not a directory (create one with `finsight demo --dir {}`)",
            dir.display(),
            dir.display()
        )));
    }
    let datasets = discover(dir)?;
    for dataset in &datasets {
        register_dataset(ctx, dataset).await.map_err(|e| {
            Error::Usage(format!(
                "cannot register table {} from {}: {e}",
                dataset.name,
                dataset.path.display()
            ))
        })?;
    }
    Ok(datasets)
}

/// Refuses a Parquet file that cannot be one (shorter than the 12 bytes of
/// its two magics and footer length, or without them), naming it:
/// DataFusion would otherwise list a 0-byte file as an empty table.
fn check_parquet_files(path: &Path) -> Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    if path.is_dir() {
        let entries = std::fs::read_dir(path).map_err(|e| Error::io("read", path, e))?;
        for entry in entries.flatten() {
            let child = entry.path();
            if child
                .file_name()
                .is_some_and(|n| !n.to_string_lossy().starts_with(['.', '_']))
            {
                check_parquet_files(&child)?;
            }
        }
        return Ok(());
    }
    if DataFormat::from_path(path) != Some(DataFormat::Parquet) {
        return Ok(());
    }
    let mut file = std::fs::File::open(path).map_err(|e| Error::io("open", path, e))?;
    let len = file
        .metadata()
        .map_err(|e| Error::io("stat", path, e))?
        .len();
    let mut head = [0u8; 4];
    let mut tail = [0u8; 4];
    let magic = len >= 12
        && file.read_exact(&mut head).is_ok()
        && file.seek(SeekFrom::End(-4)).is_ok()
        && file.read_exact(&mut tail).is_ok()
        // PARE: the magic of files whose footer is encrypted.
        && (&head == b"PAR1" || &head == b"PARE")
        && (&tail == b"PAR1" || &tail == b"PARE");
    if magic {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "{} is not a Parquet file ({len} bytes{}): remove it or write it again",
            path.display(),
            if len < 12 {
                "; a Parquet file has at least 12"
            } else {
                ", no PAR1 magic at its start and end"
            }
        )))
    }
}

async fn register_dataset(ctx: &SessionContext, dataset: &Dataset) -> Result<()> {
    if dataset.format == DataFormat::Parquet {
        check_parquet_files(&dataset.path)?;
    }
    let absolute =
        std::fs::canonicalize(&dataset.path).map_err(|e| Error::io("resolve", &dataset.path, e))?;
    let mut location = absolute.to_string_lossy().to_string();
    let extension = match dataset.path.extension() {
        Some(ext) if dataset.path.is_file() => format!(".{}", ext.to_string_lossy()),
        _ => {
            location.push('/');
            match first_data_file(&dataset.path)? {
                Some(file) => format!(
                    ".{}",
                    file.extension().unwrap_or_default().to_string_lossy()
                ),
                None => String::new(),
            }
        }
    };
    let url = ListingTableUrl::parse(&location)?;
    let state = ctx.state();
    let config = ListingTableConfig::new(url)
        .with_listing_options(dataset.format.listing_options(&extension, &state))
        .infer_partitions_from_path(&state)
        .await?
        .infer_schema(&state)
        .await?;
    let table = ListingTable::try_new(config)?;
    ctx.register_table(dataset.name.as_str(), Arc::new(table))?;
    Ok(())
}

/// The first data file under `dir`, depth first in name order, so a folder's
/// format is decided the same way on every run.
fn first_data_file(dir: &Path) -> Result<Option<PathBuf>> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io("read", dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| !n.to_string_lossy().starts_with(['.', '_']))
        })
        .collect();
    entries.sort();
    for path in &entries {
        if path.is_file() && DataFormat::from_path(path).is_some() {
            return Ok(Some(path.clone()));
        }
    }
    for path in entries.iter().filter(|p| p.is_dir()) {
        if let Some(found) = first_data_file(path)? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// SQL-friendly table name: lower case, other characters as `_`.
fn table_name(stem: &str) -> String {
    let mut name: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) || name.is_empty() {
        name.insert(0, 't');
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_sql_identifiers() {
        assert_eq!(table_name("Customers"), "customers");
        assert_eq!(table_name("market-prices 2024"), "market_prices_2024");
        assert_eq!(table_name("2024"), "t2024");
    }
}
