//! Parquet modular encryption (AES-GCM) with keys from the keyring: the
//! `finsight` encryption factory that DataFusion asks for file encryption
//! and decryption properties. Files name their keys (`name@version`) in the
//! Parquet key metadata, never the keys themselves, so reading needs only
//! the same keyring, and a rotated key still opens older files.
//!
//! Writing: `COPY t TO 'f.parquet' STORED AS PARQUET OPTIONS (
//!   'format.crypto.factory_id' 'finsight',
//!   'format.crypto.factory_options.footer_key' 'parquet_footer',
//!   'format.crypto.factory_options.column_key' 'pii',          -- optional
//!   'format.crypto.factory_options.columns' 'email,phone')`    -- with column_key
//! encrypts the footer (schema, statistics) under `footer_key` and the listed
//! columns under `column_key`; without `columns`, every column is encrypted
//! under the footer key. Reading needs nothing: every session reads Parquet
//! through this factory, which resolves the keys a file names.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::config::EncryptionFactoryOptions;
use datafusion::common::{DataFusionError, Result, plan_err};
use datafusion::execution::parquet_encryption::EncryptionFactory;
use datafusion::parquet::encryption::decrypt::{FileDecryptionProperties, KeyRetriever};
use datafusion::parquet::encryption::encrypt::FileEncryptionProperties;
use datafusion::parquet::errors::ParquetError;
use object_store::path::Path;
use udfs::Keyring;

/// The id sessions register the factory under.
pub const FACTORY_ID: &str = "finsight";

/// Prefix of the key metadata finsight writes.
const METADATA_PREFIX: &str = "finsight-keyring:";

/// The factory over one keyring.
#[derive(Debug)]
pub struct KeyringEncryptionFactory {
    keyring: Arc<Keyring>,
}

impl KeyringEncryptionFactory {
    pub fn new(keyring: Arc<Keyring>) -> Self {
        Self { keyring }
    }
}

/// AES-GCM keys are 128, 192 or 256 bits.
fn aes_key<'a>(keyring: &'a Keyring, option: &str, name: &str) -> Result<(String, &'a [u8])> {
    let key = keyring.get("parquet encryption", name)?;
    let bytes = key.secret.bytes();
    if ![16, 24, 32].contains(&bytes.len()) {
        return plan_err!(
            "parquet encryption: {option} '{name}' has {} bytes; AES-GCM needs 16, 24 or 32",
            bytes.len()
        );
    }
    Ok((key.versioned_name(), bytes))
}

#[async_trait]
impl EncryptionFactory for KeyringEncryptionFactory {
    async fn get_file_encryption_properties(
        &self,
        config: &EncryptionFactoryOptions,
        schema: &SchemaRef,
        _file_path: &Path,
    ) -> Result<Option<Arc<FileEncryptionProperties>>> {
        let options = &config.options;
        for option in options.keys() {
            if !["footer_key", "column_key", "columns"].contains(&option.as_str()) {
                return plan_err!(
                    "parquet encryption: unknown option '{option}' (expected footer_key, column_key, columns)"
                );
            }
        }
        let Some(footer_name) = options.get("footer_key") else {
            if options.is_empty() {
                // Reading sessions carry the factory id; a plain write stays plain.
                return Ok(None);
            }
            return plan_err!(
                "parquet encryption: option 'footer_key' (a keyring key name) is required"
            );
        };
        let (footer_versioned, footer_key) = aes_key(&self.keyring, "footer_key", footer_name)?;
        let mut builder = FileEncryptionProperties::builder(footer_key.to_vec())
            .with_footer_key_metadata(format!("{METADATA_PREFIX}{footer_versioned}").into_bytes());
        match (options.get("columns"), options.get("column_key")) {
            (Some(columns), Some(column_name)) => {
                let (column_versioned, column_key) =
                    aes_key(&self.keyring, "column_key", column_name)?;
                for column in columns.split(',').map(str::trim).filter(|c| !c.is_empty()) {
                    if schema.field_with_name(column).is_err() {
                        return plan_err!(
                            "parquet encryption: column '{column}' in 'columns' is not in the output ({})",
                            schema
                                .fields()
                                .iter()
                                .map(|f| f.name().as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        );
                    }
                    builder = builder.with_column_key_and_metadata(
                        column,
                        column_key.to_vec(),
                        format!("{METADATA_PREFIX}{column_versioned}").into_bytes(),
                    );
                }
            }
            (None, None) => {}
            _ => {
                return plan_err!(
                    "parquet encryption: 'columns' and 'column_key' go together (the columns to encrypt, and their key)"
                );
            }
        }
        Ok(Some(builder.build()?))
    }

    async fn get_file_decryption_properties(
        &self,
        _config: &EncryptionFactoryOptions,
        _file_path: &Path,
    ) -> Result<Option<Arc<FileDecryptionProperties>>> {
        let retriever = KeyringRetriever {
            keyring: Arc::clone(&self.keyring),
        };
        Ok(Some(
            FileDecryptionProperties::with_key_retriever(Arc::new(retriever)).build()?,
        ))
    }
}

struct KeyringRetriever {
    keyring: Arc<Keyring>,
}

impl KeyRetriever for KeyringRetriever {
    fn retrieve_key(&self, key_metadata: &[u8]) -> std::result::Result<Vec<u8>, ParquetError> {
        let name = std::str::from_utf8(key_metadata)
            .ok()
            .and_then(|m| m.strip_prefix(METADATA_PREFIX))
            .ok_or_else(|| {
                ParquetError::General(
                    "the file is encrypted with a key finsight did not write (no keyring key name in its key metadata)"
                        .into(),
                )
            })?;
        self.keyring
            .get("parquet decryption", name)
            .map(|key| key.secret.bytes().to_vec())
            .map_err(|e: DataFusionError| ParquetError::General(e.strip_backtrace()))
    }
}
